"""Ridge regression under the sum convention: loss_i = (1/2) (x_i.w + b - y_i)^2."""

from __future__ import annotations

import numpy as np

from .base import ConvexLearner
from .losses import SquaredLoss
from .validation import check_sample_weight


class Ridge(ConvexLearner):
    """Ridge regression, F_S(theta) = sum_i w_i (1/2)(x_i.w + b - y_i)^2 + lam/2 ||P theta||^2.

    The loss is quadratic, so the exact fit is one linear solve (Cholesky; SVD fallback) followed
    by a residual check (and iterative refinement if the system is ill-conditioned). lam = 0 is
    allowed (least squares; the SVD fallback gives the minimum-norm solution when X^T X is
    singular). scikit-learn's ``Ridge(alpha=lam)`` minimises the same objective
    (see Notes).

    Notes
    -----
    scikit-learn's Ridge minimises ||y - Xw - b||^2 + alpha ||w||^2 = 2 F_S, so alpha = lam.
    theta = [w (d numbers), b].
    """

    name = "ridge"
    allow_zero_lam = True
    quadratic = True

    def loss_for(self, K: int):
        return SquaredLoss()

    def strong_convexity(self, X, y, sample_weight=None) -> float:
        """Exact smallest eigenvalue of the (constant) Hessian [X 1]^T W [X 1] + lam P."""
        X, y_enc, K = self.prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        H = self.hessian(np.zeros(X.shape[1] + 1), X, y_enc, w)
        return float(max(np.linalg.eigvalsh(H)[0], 0.0))
