"""Monte-Carlo semivalues of a batched utility: Shapley, Beta Shapley and Banzhaf (MSR).

A semivalue of player i is phi_i = sum_{s=0}^{n-1} p(s) E[U(S + i) - U(S)] over uniform
s-subsets S of the other players, for a probability p over coalition sizes:

- Shapley (Shapley 1953; Data Shapley, Ghorbani & Zou 2019): p(s) = 1/n;
- Beta(alpha, beta) Shapley (Kwon & Zou 2022): the others join independently with a
  probability t ~ Beta(beta, alpha), so p(s) = C(n-1, s) B(s + beta, n - 1 - s + alpha) /
  B(alpha, beta); Beta(1, 1) is Shapley, alpha > beta favours small coalitions;
- Banzhaf (Banzhaf 1965; Data Banzhaf, Wang & Jia 2023): p(s) = C(n-1, s) / 2^(n-1), estimated
  by maximum sample reuse: phi_i = mean U(S) over sampled S containing i minus the mean over S
  not containing i, every sampled subset informing every point.

Every estimator returns a :class:`~.results.ValuationResult` with per-point standard errors,
takes a stopping rule (:mod:`.stopping`) and can be resumed (:mod:`.engine`). U(S) is any
batched utility; for data valuation it is a test score of theta(S), the minimiser of the SUM
objective F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import gammaln

from ._common import _check_positive_int
from .engine import new_state, resume_state, run
from .results import ValuationResult, deprecated_return_info
from .samplers import ROUNDS, SAMPLERS, msr_round
from .stopping import FixedBudget, parse_stopping

__all__ = ["banzhaf_from_utility", "beta_size_weights", "check_sampler", "check_truncation",
           "semivalue_from_utility", "shapley_from_utility", "size_probabilities"]


def check_sampler(sampler) -> str:
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    return sampler


def check_truncation(truncation, sampler: str = "permutation") -> None:
    if truncation is not None and not (isinstance(truncation, numbers.Real)
                                       and not isinstance(truncation, bool)
                                       and 0 <= truncation < 1):
        raise ValueError(f"truncation must be None or a float in [0, 1), got {truncation!r}")
    if truncation is not None and sampler == "stratified":
        raise ValueError("truncation applies to permutations; sampler='stratified' has none")


def _check_beta(alpha, beta) -> tuple[float, float]:
    for name, v in (("alpha", alpha), ("beta", beta)):
        if not (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    return float(alpha), float(beta)


def size_probabilities(n: int, alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """p(s), s = 0..n-1, of Beta(alpha, beta) Shapley (module docstring): (n,), sums to 1."""
    a, b = _check_beta(alpha, beta)
    s = np.arange(n)
    log_p = (gammaln(n) - gammaln(s + 1) - gammaln(n - s) + gammaln(s + b) + gammaln(n - 1 - s + a)
             - gammaln(n - 1 + a + b) - (gammaln(a) + gammaln(b) - gammaln(a + b)))
    return np.exp(log_p)


def beta_size_weights(n: int, alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """Importance weights n p(s) that turn uniform-size marginals into Beta Shapley: (n,)."""
    if alpha == 1 and beta == 1:
        return np.ones(n)  # Shapley, exactly
    return n * size_probabilities(n, alpha, beta)


def _check_common(utility_fn, n, rng):
    if not callable(utility_fn):
        raise ValueError("utility_fn must be callable: utility_fn(masks (k, n)) -> (k,)")
    if isinstance(n, numbers.Integral) and not isinstance(n, bool) and n == 0:
        raise ValueError("n must be >= 1: the pool is empty")
    return _check_positive_int(n, "n")


def semivalue_from_utility(utility_fn, n: int, weights, stopping, rng=0, *,
                           sampler: str = "permutation", truncation: float | None = None,
                           batch_size: int | None = None, round_size: int | None = None,
                           resume=None, checkpoint=None, progress: bool = False,
                           config: dict | None = None):
    """Monte-Carlo semivalue with size weights ``weights[s] = n p(s)``: a ValuationResult.

    Parameters
    ----------
    utility_fn : callable
        ``utility_fn(masks (k, n) bool) -> (k,)``; it must accept the empty set.
    n : int
    weights : ndarray of shape (n,)
        n p(s) for coalition sizes s = 0..n-1 (ones: Shapley).
    stopping : StoppingRule, int or str
        See :mod:`.stopping`.
    rng : int, numpy.random.Generator or SeedSequence
        Root of the per-round generators (ignored on resume: the saved root is used).
    sampler : {"permutation", "antithetic", "stratified"}
    truncation : float, optional
        TMC rule for the permutation samplers (:func:`.samplers.prefix_utilities`).
    batch_size : int, optional
        Masks per utility call (default: all masks of a round in one call).
    round_size : int, optional
        Sampling units per round (default: about ``ROUND_MASKS`` masks per round).
    resume : ValuationResult, ValuationState or path, optional
        Continue that run (same arguments required).
    checkpoint : path, optional
        Save the state there after every round (an .npz file; pass it as ``resume`` later).
    progress : bool
    config : dict, optional
        Extra JSON-able facts that must match on resume (e.g. a data fingerprint).

    Returns
    -------
    ValuationResult
    """
    n = _check_common(utility_fn, n, rng)
    sampler = check_sampler(sampler)
    check_truncation(truncation, sampler)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite of shape ({n},), got {w.shape}")
    rule = parse_stopping(stopping)
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    cfg = {"weights": [float(x) for x in w], "truncation": truncation, **(config or {})}
    state = (new_state("semivalue", sampler, n, cfg, rng, round_size) if resume is None
             else resume_state(resume, "semivalue", sampler, n, cfg, round_size))
    ctx = {"weights": w, "truncation": truncation, "batch_size": batch_size}
    return run(utility_fn, state, ROUNDS[sampler], ctx, rule, progress=progress,
               checkpoint=checkpoint)


def shapley_from_utility(utility_fn, n: int, n_permutations: int | None = 100,
                         rng: np.random.Generator | int = 0, truncation: float | None = None, *,
                         sampler: str = "permutation", stopping=None,
                         batch_size: int | None = None, round_size: int | None = None,
                         resume=None, checkpoint=None, progress: bool = False,
                         return_info: bool | None = None) -> ValuationResult:
    """Monte-Carlo Shapley values of a generic batched utility.

    Parameters
    ----------
    utility_fn : callable
        ``utility_fn(masks) -> ndarray (k,)`` for boolean masks (k, n); it must accept the empty
        set.
    n : int
        Number of players (pool size).
    n_permutations : int, default=100
        The budget when ``stopping`` is None: that many permutations (``permutation``), half as
        many antithetic pairs, or stratified cycles with the same number of evaluations.
    rng : numpy.random.Generator or int, default=0
        Root of the per-round generators; the samples depend only on it, ``n``, the sampler
        and the round size (not on the utility), so every utility sees the same ones.
    truncation : float, optional
        TMC-Shapley: once |U(N) - U(prefix)| < truncation * |U(N)| the remaining marginal
        contributions of that permutation are 0 and its later prefixes are not evaluated.
    sampler : {"permutation", "antithetic", "stratified"}, default="permutation"
        See :mod:`.samplers`.
    stopping : StoppingRule, int or str, optional
        See :mod:`.stopping`; overrides ``n_permutations``.
    batch_size, round_size, resume, checkpoint, progress
        See :func:`semivalue_from_utility`.
    return_info : bool, optional
        Deprecated, no effect (a DeprecationWarning): the result is always returned.

    Returns
    -------
    ValuationResult
        ``.values`` (n,), ``.stderr`` (n,), ``.stopped_by``, the state to resume from.

    Notes
    -----
    With pi_p the p-th permutation and U_{p,j} = U(pi_p[:j]), the permutation estimate is
    phi_i = (1/P) sum_p (U_{p, r+1} - U_{p, r}) with r the position of i in pi_p; its standard
    error is the sample standard deviation over permutations / sqrt(P). Every marginal of an
    additive utility equals its summand and every marginal of a null player is 0, so the
    estimators are exact for those; without truncation the permutation samplers satisfy
    efficiency, sum_i phi_i = U(N) - U(empty), for any number of permutations (telescoping).
    """
    deprecated_return_info(return_info, "shapley_from_utility")
    n = _check_common(utility_fn, n, rng)
    sampler = check_sampler(sampler)
    rule = default_stopping(stopping, n_permutations, sampler, n)
    return semivalue_from_utility(utility_fn, n, np.ones(n), rule, rng, sampler=sampler,
                                  truncation=truncation, batch_size=batch_size,
                                  round_size=round_size, resume=resume, checkpoint=checkpoint,
                                  progress=progress)


def default_stopping(stopping, n_permutations, sampler: str, n: int):
    """The stopping rule: ``stopping`` if given, else the budget of ``n_permutations``
    permutations in the sampler's units (equal utility evaluations)."""
    if stopping is not None:
        return parse_stopping(stopping)
    if n_permutations is None:
        raise ValueError("give n_permutations or stopping")
    P = _check_positive_int(n_permutations, "n_permutations")
    if sampler == "antithetic":
        return FixedBudget(samples=max(1, math.ceil(P / 2)))
    if sampler == "stratified":
        return FixedBudget(evaluations=P * max(1, n - 1) + 2)
    return FixedBudget(samples=P)


def _merge_msr(state, out) -> None:
    u, M = out
    S = np.broadcast_to(u[:, None], M.shape)
    state.merge(S, M, group=0)
    state.merge(S, ~M, group=1)


def banzhaf_from_utility(utility_fn, n: int, stopping=1000, rng=0, *,
                         batch_size: int | None = None, round_size: int | None = None,
                         resume=None, checkpoint=None, progress: bool = False,
                         config: dict | None = None):
    """Banzhaf values by maximum sample reuse (Wang & Jia 2023): a ValuationResult.

    Subsets S_1, S_2, ... include each point independently with probability 1/2; then
    phi_i = mean{U(S_j) : i in S_j} - mean{U(S_j) : i not in S_j}, with standard error
    sqrt(var_in / n_in + var_out / n_out). One utility evaluation per subset informs every point.

    Parameters
    ----------
    utility_fn : callable
    n : int
    stopping : StoppingRule, int or str, default=1000
        An int is a budget of subsets.
    rng, batch_size, round_size, resume, checkpoint, progress, config
        See :func:`semivalue_from_utility`.

    Returns
    -------
    ValuationResult
        ``stderr`` is inf for a point never (or once) seen in or out of a subset.
    """
    n = _check_common(utility_fn, n, rng)
    rule = parse_stopping(stopping)
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    cfg = dict(config or {})
    state = (new_state("msr", "msr", n, cfg, rng, round_size) if resume is None
             else resume_state(resume, "msr", "msr", n, cfg, round_size))
    return run(utility_fn, state, lambda g, k, n_, ev, ctx: (msr_round(g, k, n_, ev, ctx), 0),
               {"batch_size": batch_size}, rule, progress=progress, checkpoint=checkpoint,
               merge_fn=_merge_msr)
