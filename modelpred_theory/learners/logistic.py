"""L2 logistic regression (binary and multinomial) under the sum convention."""

from __future__ import annotations

import numpy as np
import torch

from .base import ConvexLearner
from .labels import EncodedLabels, check_classes, encode, infer_classes
from .losses import BinaryLogisticLoss, MultinomialLoss
from .validation import check_X, check_y_shape


class LogisticRegression(ConvexLearner):
    """L2-regularised logistic regression, binary or multinomial (softmax).

    F_S(theta) = sum_i w_i CE(theta; x_i, y_i) + lam/2 ||P theta||^2, i.e. scikit-learn's
    ``LogisticRegression(C=1/lam)`` (which leaves the intercept unpenalised).

    Parameters
    ----------
    lam : float > 0
    n_classes : int, optional
        Number of classes K. None infers it from the labels passed to each call (pass it, or
        ``classes``, when subsets or test sets may miss a class). K = 2 gives the binary model
        with theta = [w, b] (p = d + 1); K > 2 gives the multinomial model with theta the
        (K, d + 1) matrix of rows [w_k, b_k] flattened row by row (p = K (d + 1)).
    classes : array_like, optional
        All the class labels (any sortable values); they are sorted, and label classes[j] gets
        code j. Fixes K = len(classes).
    penalize_intercept : bool
        Penalise b (then F_S is lam-strongly convex in every direction).

    Notes
    -----
    Labels are taken as scikit-learn takes them: any sortable labels (ints, strings,
    {-1, +1}, {1, 2}, ...) are mapped to the codes 0..K-1 of their sorted order (``classes_``);
    for the binary model ``classes_[1]`` is the positive class. Labels that already are codes
    (a subset of {0, 1}, or of {0, ..., n_classes - 1} when ``n_classes`` is given) keep them,
    so a subset or a test set missing a class is encoded like the full pool.

    Gauge of the multinomial model: the softmax is invariant to adding a constant to every
    class's margin. The weights are fixed by the penalty (at the optimum sum_k w_k = 0), but
    unpenalised intercepts are not; we fix the gauge sum_k b_k = 0 (centred intercepts), so
    theta(S) is unique and the Newton system is regularised along the null direction only.
    """

    name = "logistic"
    numeric_y = False

    def __init__(self, lam: float = 1.0, *, n_classes: int | None = None, classes=None,
                 penalize_intercept: bool = False, tol: float = 1e-10, max_iter: int = 100):
        super().__init__(lam, penalize_intercept=penalize_intercept, tol=tol, max_iter=max_iter)
        if n_classes is not None and (isinstance(n_classes, bool) or not (
                isinstance(n_classes, int | np.integer) and n_classes >= 2)):
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        self.classes_ = check_classes(classes)
        if self.classes_ is not None and n_classes is not None \
                and self.classes_.size != n_classes:
            raise ValueError(f"classes lists {self.classes_.size} labels but n_classes="
                             f"{n_classes}")
        if self.classes_ is not None:
            n_classes = self.classes_.size
        self.n_classes = None if n_classes is None else int(n_classes)

    def get_params(self) -> dict:
        classes = None if self.classes_ is None else self.classes_.tolist()
        return {**super().get_params(), "n_classes": self.n_classes, "classes": classes}

    def encode_y(self, y) -> np.ndarray:
        """Codes of the labels y (EncodedLabels with ``classes_``): float {0, 1} for K = 2,
        int64 {0, ..., K-1} for K > 2. Encoded labels are returned unchanged."""
        if isinstance(y, EncodedLabels) and y.classes_ is not None:
            K = y.classes_.size
            if self.n_classes is not None and K != self.n_classes:
                raise ValueError(f"y is encoded with {K} classes but the learner has "
                                 f"n_classes={self.n_classes}")
            return y
        y = np.asanyarray(y)
        classes = infer_classes(y, canonical=((0, 1),), n_classes=self.n_classes,
                                classes=self.classes_, learner=type(self).__name__)
        return self.from_codes(encode(y, classes), classes)

    def from_codes(self, codes: np.ndarray, classes: np.ndarray) -> EncodedLabels:
        """Encoded labels from int codes in ``classes``: float {0, 1} for 2 classes, else int64."""
        if classes.size == 2:
            return EncodedLabels(codes.astype(np.float64), classes)
        return EncodedLabels(codes, classes)

    def n_outputs(self, y_enc) -> int:
        classes = getattr(y_enc, "classes_", None)
        if classes is not None:
            return 1 if classes.size == 2 else int(classes.size)
        if y_enc.dtype == np.float64:
            return 1
        return self.n_classes if self.n_classes is not None else int(y_enc.max()) + 1

    def needs_all_classes(self) -> bool:
        return not self.penalize_intercept

    def loss_for(self, K: int):
        """Softmax cross-entropy for K > 1 margins, the binary logistic loss for K = 1."""
        return MultinomialLoss() if K > 1 else BinaryLogisticLoss()

    def predict_proba(self, theta, X) -> np.ndarray:
        """Class probabilities: (n, 2) binary / (n, K) multinomial; leading k for (k, p)."""
        Z = self.decision_function(theta, X)
        K = np.shape(theta)[-1] // (np.shape(X)[1] + 1)
        if K > 1:
            return torch.softmax(torch.as_tensor(Z), dim=-1).numpy()
        s = 1.0 / (1.0 + np.exp(-Z))
        return np.stack([1 - s, s], axis=-1)

    def predict(self, theta, X, classes=None) -> np.ndarray:
        """Predicted labels: codes {0, ..., K-1}, or ``classes[code]`` when ``classes`` is given
        (e.g. ``FitResult.classes_``); shape (n,) or (k, n)."""
        codes = np.argmax(self.predict_proba(theta, X), axis=-1)
        classes = check_classes(classes)
        if classes is None:
            return codes
        K = max(2, np.shape(theta)[-1] // (np.shape(X)[1] + 1))
        if classes.size != K:
            raise ValueError(f"classes lists {classes.size} labels but theta has K={K} classes")
        return classes[codes]

    def accuracy(self, theta, X, y) -> np.ndarray | float:
        """Fraction of correct labels; float for theta (p,), (k,) for (k, p)."""
        X = check_X(X)
        y = check_y_shape(y, X.shape[0], numeric=False)
        y_enc = np.asarray(self.encode_y(y))
        pred = np.argmax(self.predict_proba(theta, X), axis=-1)
        acc = (pred == y_enc).mean(axis=-1)
        return float(acc) if np.ndim(theta) == 1 else acc
