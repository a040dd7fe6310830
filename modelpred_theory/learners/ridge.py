"""Ridge regression under the sum convention: loss_i = (1/2) (x_i.w + b - y_i)^2."""

from __future__ import annotations

import numpy as np
import torch

from ._validation import check_sample_weight
from .base import ConvexLearner


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

    def encode_y(self, y) -> np.ndarray:
        """Real-valued targets as float64 (n,); ridge has no classes."""
        y = np.asarray(y)
        if y.dtype == object or y.dtype.kind in "cUSV" or not (
                y.dtype == bool or np.issubdtype(y.dtype, np.number)):
            raise ValueError(f"y must be real-valued for Ridge, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or inf")
        return y

    def _link(self, Z, y, need):
        r = Z[..., 0] - y  # shape: (k, n)
        loss = 0.5 * r**2
        if need == "loss":
            return loss
        if need == "grad":
            return loss, r[..., None]
        return loss, r[..., None], torch.ones_like(Z)[..., None]

    def strong_convexity(self, X, y, sample_weight=None) -> float:
        """Exact smallest eigenvalue of the (constant) Hessian [X 1]^T W [X 1] + lam P."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        H = self.hessian(np.zeros(X.shape[1] + 1), X, y_enc, w)
        return float(max(np.linalg.eigvalsh(H)[0], 0.0))
