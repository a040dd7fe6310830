"""KNN-Shapley: exact Shapley values of a K-nearest-neighbour utility in closed form.

For one test point (x_t, y_t) the utility of S is the KNN classifier's likelihood of the right
label, U_t(S) = (1/K) sum_{j <= min(K, |S|)} 1[y_{a_j(S)} = y_t], with a_j(S) the j-th nearest
point of S to x_t (U_t(empty) = 0). Jia et al. (2019, Theorem 1): with the pool sorted by
distance to x_t, a_1 closest, and m_j = 1[y_{a_j} = y_t],

    s_{a_n} = m_n min(K, n) / (K n),
    s_{a_j} = s_{a_{j+1}} + (m_j - m_{j+1}) / K * min(K, j) / j,

and the Shapley values for a test set are the means over its points (the utility is the mean
of the U_t). O(m n log n), no model is trained. (No theta(S) is involved here; the library's
other values use the SUM-convention minimiser F_S(theta) = sum_{i in S} w_i loss_i(theta) +
lam/2 ||P theta||^2.)
"""

from __future__ import annotations

import time

import numpy as np

from ._common import _check_positive_int
from .results import ValuationResult

__all__ = ["knn_shapley", "knn_utility"]


def _check_knn(X, y, X_test, y_test, k):
    X = np.asarray(X, dtype=np.float64)
    Xt = np.asarray(X_test, dtype=np.float64)
    y, yt = np.asarray(y), np.asarray(y_test)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n, d), got shape {X.shape}")
    if Xt.ndim != 2 or Xt.shape[0] == 0 or Xt.shape[1] != X.shape[1]:
        raise ValueError(f"X_test must be 2-D with {X.shape[1]} columns and at least one row, "
                         f"got shape {Xt.shape}")
    if y.shape != (X.shape[0],) or yt.shape != (Xt.shape[0],):
        raise ValueError(f"y and y_test must have shapes ({X.shape[0]},) and ({Xt.shape[0]},), "
                         f"got {y.shape} and {yt.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Xt))):
        raise ValueError("X and X_test must be finite")
    return X, y, Xt, yt, _check_positive_int(k, "k")


def _order(X, Xt):
    """Pool indices sorted by Euclidean distance to each test point (ties by index): (m, n)."""
    d2 = (Xt**2).sum(1)[:, None] - 2 * Xt @ X.T + (X**2).sum(1)[None, :]  # shape: (m, n)
    return np.argsort(d2, axis=1, kind="stable")


def knn_shapley(X, y, X_test, y_test, k: int = 5) -> ValuationResult:
    """Exact KNN-Shapley values (Jia et al. 2019) of the pool (X, y) for (X_test, y_test).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
        Class labels (any comparable values).
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    k : int, default=5
        Neighbours of the classifier.

    Returns
    -------
    ValuationResult
        ``values`` (n,), ``stderr`` zeros (closed form), ``stopped_by="closed form"``.
    """
    t0 = time.perf_counter()
    X, y, Xt, yt, K = _check_knn(X, y, X_test, y_test, k)
    n, m = X.shape[0], Xt.shape[0]
    order = _order(X, Xt)
    match = (y[order] == yt[:, None]).astype(np.float64)  # shape: (m, n), sorted by distance
    s = np.empty((m, n))
    s[:, n - 1] = match[:, n - 1] / K * min(K, n) / n  # = m_n / n when K <= n
    for j in range(n - 2, -1, -1):  # j is 0-based: the (j+1)-th nearest
        s[:, j] = s[:, j + 1] + (match[:, j] - match[:, j + 1]) / K * min(K, j + 1) / (j + 1)
    values = np.zeros((m, n))
    np.put_along_axis(values, order, s, axis=1)
    v = values.mean(axis=0)
    return ValuationResult(values=v, stderr=np.zeros(n), n_utility_calls=0,
                           utility_seconds=0.0, total_seconds=time.perf_counter() - t0,
                           oracle="knn", stopped_by="closed form", method="knn_shapley")


def knn_utility(X, y, X_test, y_test, k: int = 5):
    """The utility knn_shapley values, as a batched callable ``u(masks (b, n)) -> (b,)``.

    U(S) = mean over test points of (1/K) * (number of the min(K, |S|) nearest points of S that
    carry the test label). For brute-force checks (exact_shapley) and Monte-Carlo estimators.
    """
    X, y, Xt, yt, K = _check_knn(X, y, X_test, y_test, k)
    order = _order(X, Xt)
    match = y[order] == yt[:, None]  # shape: (m, n)

    def u(masks):
        M = np.asarray(masks, dtype=bool)
        sel = M[:, order]  # shape: (b, m, n): membership in distance order
        rank = np.cumsum(sel, axis=2)
        hit = sel & (rank <= K) & match[None]
        return hit.sum(axis=2).mean(axis=1) / K

    return u
