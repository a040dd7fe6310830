"""Linear SVM with the squared hinge loss under the sum convention."""

from __future__ import annotations

import numpy as np
import torch

from .base import ConvexLearner


class SquaredHingeSVM(ConvexLearner):
    """F_S(theta) = sum_i w_i max(0, 1 - y_i (x_i.w + b))^2 + lam/2 ||P theta||^2.

    Labels y in {-1, +1} or {0, 1} (0 is mapped to -1). The objective is once continuously
    differentiable and piecewise quadratic; the exact fit uses a generalised Newton method (the
    generalised Hessian 2 sum_{active} x x^T + lam P) with line search, stopping on the
    optimality residual. scikit-learn's ``LinearSVC(loss="squared_hinge", C=1/lam)`` penalises
    the intercept (intercept_scaling=1), i.e. matches ``penalize_intercept=True`` (the paper's
    convention, 1/2 ||(w, b)||^2).
    """

    name = "svm"

    def encode_y(self, y) -> np.ndarray:
        y = np.asarray(y).astype(np.float64)
        vals = np.unique(y)
        if not (set(vals.tolist()) <= {-1.0, 1.0} or set(vals.tolist()) <= {0.0, 1.0}):
            raise ValueError(f"y must hold labels in {{-1, +1}} or {{0, 1}}, got {vals[:5]}")
        return np.where(y > 0, 1.0, -1.0)

    def _needs_all_classes(self) -> bool:
        return not self.penalize_intercept

    def _check_existence(self, W, y_enc, K, name):
        if self._needs_all_classes() and np.unique(y_enc).size < 2:
            raise ValueError(
                "y holds a single class: with an unpenalised intercept the minimiser of "
                "SquaredHingeSVM is not unique; pass penalize_intercept=True"
            )
        super()._check_existence(W, y_enc, K, name)

    def _link(self, Z, y, need):
        m = 1.0 - y * Z[..., 0]  # shape: (k, n)
        h = torch.clamp(m, min=0.0)
        loss = h**2
        if need == "loss":
            return loss
        dZ = (-2.0 * y * h)[..., None]
        if need == "grad":
            return loss, dZ
        A = (2.0 * (m > 0).to(Z.dtype))[..., None, None]
        return loss, dZ, A

    def predict(self, theta, X) -> np.ndarray:
        """Predicted labels in {-1, +1}."""
        return np.where(self.decision_function(theta, X) >= 0, 1, -1)

    def accuracy(self, theta, X, y) -> np.ndarray | float:
        y = self.encode_y(y)
        acc = (self.predict(theta, X) == y).mean(axis=-1)
        return float(acc) if np.ndim(theta) == 1 else acc
