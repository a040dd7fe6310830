"""LiSSA: inverse-Hessian-vector products by a (stochastic) Neumann series.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int, check_positive, check_seed

__all__ = ["check_lissa", "lissa"]


def check_lissa(opts, dims):
    opts["depth"] = check_int(opts["depth"], "depth")
    opts["repeat"] = check_int(opts["repeat"], "repeat")
    if opts["batch_size"] is not None:
        opts["batch_size"] = check_int(opts["batch_size"], "batch_size", high=dims["n"],
                                       what=" (the pool size)")
    if opts["scale"] is not None:
        opts["scale"] = check_positive(opts["scale"], "scale")
    opts["damping"] = check_positive(opts["damping"], "damping", allow_zero=True)
    opts["seed"] = check_seed(opts["seed"])
    return opts


def lissa(pb: Problem, depth: int = 200, batch_size: int | None = None,
          scale: float | None = None, damping: float = 0.0, repeat: int = 1,
          seed: int = 0) -> np.ndarray:
    """Influence scores with LiSSA's recursive estimate of H^{-1} grad f_j.

    Parameters
    ----------
    pb : Problem
    depth : int >= 1
        Terms of the Neumann series (HVPs per recursion).
    batch_size : int, optional
        Points per stochastic Hessian-vector product; None uses the whole pool every step (a
        deterministic, truncated Neumann series).
    scale : float > 0, optional
        s in the recursion; must exceed the largest eigenvalue of H + damping I for the series
        to converge. None: 1.05 (lambda_max(H) + damping), lambda_max by 100 seeded power
        iterations on ``hvp``.
    damping : float >= 0
        delta: the recursion inverts H + delta I.
    repeat : int >= 1
        Independent recursions averaged (their variance falls as 1 / repeat).
    seed : int
        Seeds the minibatches and the power iteration; the scores are reproducible bit for bit.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    With v_j = grad f_j and H_t the Hessian-vector product of a minibatch B_t of size b, the
    weights (n / b) on B_t (an unbiased estimate of the data term) plus the full penalty,

        h_0 = v,   h_t = v + h_{t-1} - (H_t + delta I) h_{t-1} / s,   H^{-1} v ~ h_T / s,

    so E[h_T] / s = sum_{k=0}^{T} (I - (H + delta I)/s)^k v / s, whose error is
    (I - (H + delta I)/s)^{T+1} (H + delta I)^{-1} v: geometric in the depth with rate
    1 - lambda_min / s in the deterministic case (batch_size None), plus the Monte Carlo error
    of the minibatches, O(repeat^{-1/2}). tau_ij = -g_i^T (h_T / s).

    References
    ----------
    Agarwal, N., Bullins, B. and Hazan, E. (2017). Second-order stochastic optimization for
    machine learning in linear time. JMLR 18. Koh, P. W. and Liang, P. (2017). ICML.
    """
    n = pb.n
    rng = np.random.default_rng(seed)
    if scale is None:
        scale = 1.05 * (pb.top_eigenvalue(seed=seed) + damping)
    V = pb.project(pb.Gt)  # shape: (m, p)
    total = np.zeros_like(V)
    full = batch_size is None or batch_size == n
    for _ in range(repeat):
        h = V.copy()
        for _ in range(depth):
            w = None
            if not full:
                w = np.zeros(n)
                w[rng.choice(n, size=batch_size, replace=False)] = n / batch_size
            Hh = pb.hvp(h, sample_weight=w) + damping * h  # shape: (m, p)
            h = pb.project(V + h - Hh / scale)
        total += h
    S = total / (repeat * scale)  # shape: (m, p), ~ H^{-1} grad f_j
    return -(pb.G @ S.T)
