"""Exact semivalues by enumerating every subset (small pools): the tests' ground truth.

phi_i = sum_{S not containing i} q(|S|) (U(S + i) - U(S)) with the weight of one coalition
q(s) = p(s) / C(n-1, s): Shapley q(s) = s! (n-s-1)! / n!, Banzhaf q(s) = 1 / 2^(n-1), Beta
Shapley q(s) = B(s + beta, n-1-s + alpha) / B(alpha, beta) (:mod:`.semivalues`). The utility
is called ONCE on all 2^n masks. For data valuation U(S) is a score of theta(S), the minimiser
of F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).
"""

from __future__ import annotations

import math

import numpy as np

from ._common import _check_positive_int
from .engine import call_utility
from .semivalues import size_probabilities

__all__ = ["exact_banzhaf", "exact_beta_shapley", "exact_semivalue", "exact_shapley",
           "loo_from_utility"]

# Largest pool for enumeration: 2^n utility evaluations.
_EXACT_MAX_N = 20


def exact_semivalue(utility_fn, n: int, size_probs) -> np.ndarray:
    """Exact semivalue for size probabilities p(s), s = 0..n-1, by enumeration: (n,).

    Parameters
    ----------
    utility_fn : callable
        ``utility_fn(masks (2^n, n)) -> (2^n,)``, called once.
    n : int
        At most 20.
    size_probs : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (n,)
    """
    if not callable(utility_fn):
        raise ValueError("utility_fn must be callable: utility_fn(masks (k, n)) -> (k,)")
    n = _check_positive_int(n, "n")
    if n > _EXACT_MAX_N:
        raise ValueError(f"n must be <= {_EXACT_MAX_N} for exact enumeration "
                         f"(2^n utility evaluations), got {n}")
    p = np.asarray(size_probs, dtype=np.float64)
    if p.shape != (n,):
        raise ValueError(f"size_probs must have shape ({n},), got {p.shape}")
    q = np.r_[p / np.array([math.comb(n - 1, s) for s in range(n)]), 0.0]  # per coalition
    codes = np.arange(2**n)
    masks = ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)  # shape: (2^n, n)
    u = call_utility(utility_fn, masks)
    size = masks.sum(axis=1)
    values = np.empty(n)
    for i in range(n):
        without = codes[~masks[:, i]]
        values[i] = np.sum(q[size[without]] * (u[without | (1 << i)] - u[without]))
    return values


def exact_shapley(utility_fn, n: int) -> np.ndarray:
    """Exact Shapley values by enumerating all 2^n subsets (n <= 20): (n,).

    phi_i = sum_{S not containing i} |S|! (n - |S| - 1)! / n! * (U(S + {i}) - U(S)).
    """
    n = _check_positive_int(n, "n")
    return exact_semivalue(utility_fn, n, np.full(n, 1.0 / n))


def exact_banzhaf(utility_fn, n: int) -> np.ndarray:
    """Exact Banzhaf values, phi_i = 2^-(n-1) sum_{S not containing i} (U(S + i) - U(S)): (n,)."""
    n = _check_positive_int(n, "n")
    return exact_semivalue(utility_fn, n, np.array([math.comb(n - 1, s) for s in range(n)],
                                                   dtype=np.float64) / 2.0 ** (n - 1))


def exact_beta_shapley(utility_fn, n: int, alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """Exact Beta(alpha, beta) Shapley values by enumeration (:mod:`.semivalues`): (n,)."""
    n = _check_positive_int(n, "n")
    return exact_semivalue(utility_fn, n, size_probabilities(n, alpha, beta))


# Leave-one-out masks per utility call: about this many mask entries (memory O(n p + chunk n)).
LOO_CHUNK_ENTRIES = 2**23


def loo_from_utility(utility_fn, n: int, *, chunk_size: int | None = None,
                     progress: bool = False, unit: str = "subset") -> np.ndarray:
    """Leave-one-out values U(N) - U(N minus {i}) of a generic batched utility: (n,).

    The n leave-one-out sets go to ``utility_fn`` in chunks of ``chunk_size`` masks (default:
    about ``LOO_CHUNK_ENTRIES / n``), so memory grows as O(chunk_size * n), never O(n^2).
    ``progress`` shows a bar over the n sets (``unit`` names them, e.g. "refit") with an ETA.
    """
    n = _check_positive_int(n, "n", minimum=2)
    chunk = (max(1, LOO_CHUNK_ENTRIES // n) if chunk_size is None
             else _check_positive_int(chunk_size, "chunk_size"))
    u_full = call_utility(utility_fn, np.ones((1, n), bool))[0]
    values = np.empty(n)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="leave-one-out", unit=unit)
    try:
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            masks = np.ones((e - s, n), bool)  # shape: (chunk, n)
            masks[np.arange(e - s), np.arange(s, e)] = False
            values[s:e] = u_full - call_utility(utility_fn, masks)
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    return values
