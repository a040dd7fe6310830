"""Samplers of the Monte-Carlo semivalue estimators: one round of sampling units at a time.

Every sampler turns a round generator into masks, evaluates all of them in as few batched
utility calls as possible (one, unless truncating or ``batch_size`` splits it) and returns, per
sampling unit, an unbiased estimate of every point's semivalue

    phi_i = sum_{s=0}^{n-1} p(s) E_{S ~ Unif(s-subsets of N - {i})} [U(S + i) - U(S)],

weighted through ``weights[s] = n p(s)`` (all ones for Shapley). U is a utility of theta(S),
the minimiser of F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.

- ``permutation``: one uniform permutation per unit; the marginal of the point at position s
  is a draw of the size-s stratum with probability 1/n (Castro et al. 2009).
- ``antithetic``: a permutation and its reverse form one unit (Mitchell et al. 2022): a point
  early in one is late in the other, so the two marginals are negatively correlated for
  utilities with diminishing returns, and their mean is exact for U(S) = sum_i a_i + g(|S|)
  with g quadratic.
- ``stratified``: one unit is a cycle over every coalition size k = 0..n: a uniform k-subset
  S_k, U(S_k), and U(S_k xor {i}) for every i. Point i gets one marginal per set (to S_k if
  i not in S_k, at size k; from S_k - i if i in S_k, at size k - 1); each size stratum s receives
  (n - s)/n + (s + 1)/n = (n + 1)/n draws in expectation, so the plain mean of the n + 1
  weighted marginals of a cycle is unbiased, with the between-size variance largely removed.
  n + 1 evaluations per point per cycle, the same rate as permutations.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SAMPLERS", "antithetic_round", "msr_round", "permutation_round",
           "stratified_round", "units_cost"]

SAMPLERS = ("permutation", "antithetic", "stratified")
# Masks per round by default (a memory and latency bound: one round = one oracle call).
ROUND_MASKS = 16384


def units_cost(sampler: str, n: int) -> float:
    """Utility evaluations per sampling unit (the two end sets are shared and not counted)."""
    if sampler == "permutation":
        return max(1, n - 1)
    if sampler == "antithetic":
        return 2 * max(1, n - 1)
    if sampler == "stratified":
        return (n + 1) ** 2
    if sampler in ("msr", "bootstrap"):
        return 1
    raise ValueError(f"unknown sampler {sampler!r}")


def default_round_size(sampler: str, n: int) -> int:
    """Units per round so that a round evaluates about ``ROUND_MASKS`` subsets."""
    return max(1, int(ROUND_MASKS // units_cost(sampler, n)))


def draw_permutations(gen: np.random.Generator, k: int, n: int) -> np.ndarray:
    """k uniform permutations of range(n): (k, n); rows are a prefix of a larger draw."""
    return np.argsort(gen.random((k, n)), axis=1)


def prefix_utilities(perms, evaluate, u_empty, u_full, truncation=None, batch_size=None):
    """U(pi_p[:j]) for every permutation and prefix length: (k, n + 1), and skipped count.

    Without truncation all prefixes go to ``evaluate`` at once (or in ``batch_size`` chunks).
    With truncation (TMC-Shapley) prefix lengths are processed in blocks; once
    |U(N) - U(prefix)| < truncation * |U(N)| the permutation's later prefixes get U(prefix) (zero
    marginals) and are not evaluated; the values equal those of the sequential rule.
    """
    P, n = perms.shape
    ranks = np.empty_like(perms)
    np.put_along_axis(ranks, perms, np.broadcast_to(np.arange(n), (P, n)), axis=1)
    U = np.empty((P, n + 1))  # shape: (P, n+1)
    U[:, 0], U[:, n] = u_empty, u_full
    if truncation is None:
        sizes = np.arange(1, n)
        masks = (ranks[:, None, :] < sizes[None, :, None]).reshape(-1, n)  # shape: (P(n-1), n)
        step = batch_size or max(1, masks.shape[0])
        vals = np.concatenate([evaluate(masks[s:s + step]) for s in range(0, masks.shape[0], step)]
                              ) if masks.shape[0] else np.empty(0)
        U[:, 1:n] = vals.reshape(P, n - 1)
        return U, 0
    block = max(1, (batch_size or 4096) // P)
    block = min(block, max(1, math.ceil((n - 1) / 8)))  # keep wasted evaluations small
    tol = truncation * abs(u_full)
    active = np.arange(P)
    done_at = np.full(P, -1)
    if abs(u_full - u_empty) < tol:
        done_at[:] = 0
        active = active[:0]
    evaluated = 0
    for j0 in range(1, n, block):
        if active.size == 0:
            break
        sizes = np.arange(j0, min(n, j0 + block))
        masks = ranks[active][:, None, :] < sizes[None, :, None]  # shape: (a, b, n)
        vals = evaluate(masks.reshape(-1, n)).reshape(active.size, sizes.size)
        evaluated += vals.size
        U[active[:, None], sizes[None, :]] = vals
        close = np.abs(u_full - vals) < tol  # shape: (a, b)
        first = np.where(close.any(axis=1), close.argmax(axis=1), -1)
        stop = first >= 0
        done_at[active[stop]] = sizes[first[stop]]
        active = active[~stop]
    for p in np.flatnonzero(done_at >= 0):
        U[p, done_at[p] + 1:] = U[p, done_at[p]]  # zero marginals after truncation
    return U, P * (n - 1) - evaluated


def _contributions(perms, U, weights):
    """contrib[p, i] = weights[r] (U[p, r+1] - U[p, r]), r the position of i in pi_p."""
    marg = np.diff(U, axis=1) * weights[None, :]  # shape: (P, n)
    contrib = np.empty_like(marg)
    np.put_along_axis(contrib, perms, marg, axis=1)
    return contrib


def permutation_round(gen, k, n, evaluate, ctx):
    """k permutations: samples (k, n) and the permutations."""
    perms = draw_permutations(gen, k, n)
    U, skipped = prefix_utilities(perms, evaluate, ctx["u_empty"], ctx["u_full"],
                                  ctx.get("truncation"), ctx.get("batch_size"))
    return _contributions(perms, U, ctx["weights"]), skipped


def antithetic_round(gen, k, n, evaluate, ctx):
    """k antithetic pairs (pi, reversed pi): the mean of each pair's contributions (k, n)."""
    base = draw_permutations(gen, k, n)
    perms = np.vstack([base, base[:, ::-1]])  # shape: (2k, n)
    U, skipped = prefix_utilities(perms, evaluate, ctx["u_empty"], ctx["u_full"],
                                  ctx.get("truncation"), ctx.get("batch_size"))
    contrib = _contributions(perms, U, ctx["weights"])
    return 0.5 * (contrib[:k] + contrib[k:]), skipped


def stratified_round(gen, k, n, evaluate, ctx):
    """k size-stratified cycles (module docstring): samples (k, n).

    The sets of a cycle are evaluated in chunks of about ``batch_size`` (default
    ``ROUND_MASKS``) masks, so memory stays bounded for large pools.
    """
    w = ctx["weights"]
    w_add = np.r_[w, 0.0]  # adding i to S_s: stratum s (s = n never happens)
    w_rem = np.r_[0.0, w]  # removing i from S_s: stratum s - 1
    out = np.zeros((k, n))
    keys = gen.random((k, n + 1, n))  # all draws first: the cycle does not depend on chunking
    per_chunk = max(1, (ctx.get("batch_size") or ROUND_MASKS) // (n + 1))
    eye = np.eye(n, dtype=bool)
    for c in range(k):
        for s0 in range(0, n + 1, per_chunk):
            sizes = np.arange(s0, min(n + 1, s0 + per_chunk))  # shape: (b,)
            ranks = np.argsort(np.argsort(keys[c, sizes], axis=1), axis=1)
            S = ranks < sizes[:, None]  # shape: (b, n); S[j] has size sizes[j]
            masks = np.concatenate([S[:, None, :], S[:, None, :] ^ eye[None]], axis=1)
            u = evaluate(masks.reshape(-1, n)).reshape(sizes.size, n + 1)
            u_set, u_flip = u[:, :1], u[:, 1:]  # shapes: (b, 1), (b, n)
            marg = np.where(S, w_rem[sizes][:, None] * (u_set - u_flip),
                            w_add[sizes][:, None] * (u_flip - u_set))
            out[c] += marg.sum(axis=0)
    return out / (n + 1), 0


ROUNDS = {"permutation": permutation_round, "antithetic": antithetic_round,
          "stratified": stratified_round}


def msr_round(gen, k, n, evaluate, ctx):
    """k maximum-sample-reuse subsets (each point in with probability 1/2): (U, masks)."""
    M = gen.random((k, n)) < 0.5  # shape: (k, n)
    step = ctx.get("batch_size") or max(1, k)
    u = np.concatenate([evaluate(M[s:s + step]) for s in range(0, k, step)])
    return u, M
