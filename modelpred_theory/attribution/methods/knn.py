"""KNN-Shapley: exact Shapley values of a nearest-neighbour surrogate, one test point at a time.

Model-free: the scores depend on (X, y, X_test, y_test) only, not on the learner, its fit or the
test output (the library's other methods explain theta(S), the minimiser of the sum objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int

__all__ = ["check_knn", "knn_shapley_scores"]


def check_knn(opts, dims):
    if not dims["classifier"]:
        raise ValueError("knn_shapley needs class labels (a classifier learner); its utility "
                         "is the KNN classifier's likelihood of the right label")
    opts["k"] = check_int(opts["k"], "k")
    return opts


def knn_shapley_scores(pb: Problem, k: int = 5) -> np.ndarray:
    """tau_ij = the exact KNN-Shapley value of point i for test point j.

    Parameters
    ----------
    pb : Problem
    k : int
        Neighbours of the surrogate KNN classifier.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    U_j(S) = (1/k) #{right-label points among the min(k, |S|) nearest of S to x_j}; its Shapley
    values have Jia et al.'s closed form (``applications.knn_shapley``, applied to each test
    point alone; that function returns their mean over a test set). O(m n log n), no model.

    References
    ----------
    Jia, R. et al. (2019). Efficient task-specific data valuation for nearest neighbor
    algorithms. PVLDB 12(11).
    """
    from ...applications import knn_shapley

    out = np.empty((pb.n, pb.m))
    for j in range(pb.m):
        out[:, j] = knn_shapley(pb.X, pb.y, pb.X_test[j:j + 1], pb.y_test[j:j + 1], k=k).values
    return out
