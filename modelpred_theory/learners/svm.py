"""Linear SVM with the squared hinge loss under the sum convention."""

from __future__ import annotations

import numpy as np

from .base import ConvexLearner
from .labels import EncodedLabels, check_classes, encode, infer_classes
from .losses import SquaredHingeLoss
from .validation import check_X, check_y_shape


class SquaredHingeSVM(ConvexLearner):
    """F_S(theta) = sum_i w_i max(0, 1 - y_i (x_i.w + b))^2 + lam/2 ||P theta||^2.

    Labels: any two sortable labels, taken as scikit-learn takes them: ``classes_`` is their
    sorted order, ``classes_[0]`` becomes -1 and ``classes_[1]`` (the positive class) +1; labels
    in {-1, +1} or {0, 1} keep their meaning even when only one of them is present. The
    objective is once continuously differentiable and piecewise quadratic; the exact fit uses a
    generalised Newton method (the generalised Hessian 2 sum_{active} x x^T + lam P) with line
    search, stopping on the optimality residual. scikit-learn's
    ``LinearSVC(loss="squared_hinge", C=1/lam)`` penalises the intercept (intercept_scaling=1),
    i.e. matches ``penalize_intercept=True`` (the paper's convention, 1/2 ||(w, b)||^2).

    Parameters
    ----------
    lam : float > 0
    classes : array_like of 2 labels, optional
        The two class labels (sorted; the second is the positive class).
    penalize_intercept : bool
    """

    name = "svm"
    numeric_y = False

    def __init__(self, lam: float = 1.0, *, classes=None, penalize_intercept: bool = False,
                 tol: float = 1e-10, max_iter: int = 100):
        super().__init__(lam, penalize_intercept=penalize_intercept, tol=tol, max_iter=max_iter)
        self.classes_ = check_classes(classes)
        if self.classes_ is not None and self.classes_.size != 2:
            raise ValueError(f"classes must list 2 labels for the binary SquaredHingeSVM, got "
                             f"{self.classes_.size}")

    def get_params(self) -> dict:
        classes = None if self.classes_ is None else self.classes_.tolist()
        return {**super().get_params(), "classes": classes}

    def encode_y(self, y) -> np.ndarray:
        """Labels as float -1 / +1 (EncodedLabels with ``classes_``); encoded labels unchanged."""
        if isinstance(y, EncodedLabels) and y.classes_ is not None and y.classes_.size == 2:
            if np.all(np.abs(np.asarray(y)) == 1.0):
                return y
        y = np.asanyarray(y)
        if isinstance(y, EncodedLabels):
            y = np.asarray(y)
        classes = infer_classes(y, canonical=((-1, 1), (0, 1)), n_classes=2,
                                classes=self.classes_, learner=type(self).__name__,
                                binary_only=True)
        return self.from_codes(encode(y, classes), classes)

    def from_codes(self, codes: np.ndarray, classes: np.ndarray) -> EncodedLabels:
        """Encoded labels from int codes {0, 1} in ``classes``: float -1 / +1."""
        return EncodedLabels(np.where(codes == 1, 1.0, -1.0), classes)

    def class_codes(self, y_enc, K):
        return np.array([-1.0, 1.0])

    def needs_all_classes(self) -> bool:
        return not self.penalize_intercept

    def loss_for(self, K: int):
        return SquaredHingeLoss()

    def predict(self, theta, X, classes=None) -> np.ndarray:
        """Predicted labels: -1 / +1, or ``classes[0]`` / ``classes[1]`` when ``classes`` is
        given (e.g. ``FitResult.classes_``)."""
        sign = np.where(self.decision_function(theta, X) >= 0, 1, -1)
        classes = check_classes(classes)
        if classes is None:
            return sign
        if classes.size != 2:
            raise ValueError(f"classes must list 2 labels, got {classes.size}")
        return classes[(sign > 0).astype(np.int64)]

    def accuracy(self, theta, X, y) -> np.ndarray | float:
        X = check_X(X)
        y = check_y_shape(y, X.shape[0], numeric=False)
        y = np.asarray(self.encode_y(y))
        acc = (np.where(self.decision_function(theta, X) >= 0, 1, -1) == y).mean(axis=-1)
        return float(acc) if np.ndim(theta) == 1 else acc
