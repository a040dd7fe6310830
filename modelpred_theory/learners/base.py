"""Convex learners under the sum convention: the base class and its results.

Every learner minimises

    F_S(theta) = sum_{i} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2

where ``w`` is a subset mask (weights in {0, 1}) or fractional weights, the regulariser does not
change with |S|, and ``P`` selects the penalised coordinates (the intercept is unpenalised unless
``penalize_intercept=True``). In scikit-learn terms C = 1 / lam (see docs/design.md).

Parameter layout: a learner with K outputs (K = 1 for ridge, binary logistic and the SVM; K
classes for multinomial logistic) has theta of length p = K * (d + 1), the (K, d + 1) matrix of
rows [w_k, b_k] flattened row by row. ``X`` never carries an intercept column.

The class is assembled from one mixin per concept: the batched math (``_math``), the solvers
(``_solvers``), the numpy front end (``_frontend``) and the fitting entry points (``_fitting``).
The names other modules import from here (``DTYPE``, ``_as_tensor``, ``augment``,
``outer_products``, ``regularise_gauge``) are re-exported from ``_tensors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import torch

from ._fitting import Fitting
from ._frontend import FrontEnd
from ._labels import EncodedLabels
from ._math import BatchedMath
from ._solvers import _ARMIJO_SLACK, _CG_MAX_ITER, _CG_MIN_P, DEFAULT_TOL, NewtonSolver
from ._tensors import DTYPE, _as_tensor, _triu_indices, augment, outer_products, regularise_gauge
from ._validation import check_X, check_y_shape

__all__ = [
    "DEFAULT_TOL",
    "DTYPE",
    "ConvexLearner",
    "FitResult",
    "SubsetFitResult",
    "augment",
    "outer_products",
    "regularise_gauge",
]

_REEXPORTED = (_ARMIJO_SLACK, _CG_MAX_ITER, _CG_MIN_P, _as_tensor, _triu_indices)


@dataclass
class FitResult:
    """Result of an exact fit.

    Attributes
    ----------
    theta : ndarray of shape (p,)
        The minimiser of F_S under the sum convention (layout [w, b], or (K, d+1) flattened).
    grad_norm : float
        The optimality residual ||grad F_S(theta)||.
    n_iter : int
        Newton iterations used (1 for the direct ridge solve).
    converged : bool
        True when grad_norm is finite and <= tol * max(1, ||grad F_S(0)||).
    classes_ : ndarray of shape (K,) or None
        The class labels the codes decode to (sorted, as scikit-learn); None for ridge.
    """

    theta: np.ndarray
    grad_norm: float
    n_iter: int
    converged: bool
    classes_: np.ndarray | None = field(default=None)


@dataclass
class SubsetFitResult:
    """Batched exact fits: thetas (k, p), grad_norms (k,), n_iter (k,), converged (k,), classes_."""

    thetas: np.ndarray
    grad_norms: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    classes_: np.ndarray | None = field(default=None)


class ConvexLearner(BatchedMath, NewtonSolver, FrontEnd, Fitting, ABC):
    """Base class of the generalised-linear convex learners (see module docstring).

    Subclasses implement ``encode_y``, ``n_outputs`` and ``_link`` (per-sample loss, its
    derivative and curvature with respect to the K margins).
    """

    name = "convex"
    allow_zero_lam = False
    quadratic = False  # True when the loss is quadratic (Newton is exact in one step)
    numeric_y = True  # False for classifiers (labels may be strings)

    def __init__(self, lam: float = 1.0, *, penalize_intercept: bool = False,
                 tol: float = DEFAULT_TOL, max_iter: int = 100):
        from ._validation import check_lam

        self.lam = check_lam(lam, allow_zero=self.allow_zero_lam)
        if not isinstance(penalize_intercept, bool | np.bool_):
            raise ValueError("penalize_intercept must be a bool")
        self.penalize_intercept = bool(penalize_intercept)
        if isinstance(tol, bool) or not (isinstance(tol, float | int) and 0 < tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {tol!r}")
        self.tol = float(tol)
        if isinstance(max_iter, bool) or not (isinstance(max_iter, int | np.integer)
                                              and max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        self.max_iter = int(max_iter)

    # ------------------------------------------------------------------ configuration
    def get_params(self) -> dict:
        return {"lam": self.lam, "penalize_intercept": self.penalize_intercept,
                "tol": self.tol, "max_iter": self.max_iter}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def encode_y(self, y) -> np.ndarray:
        """Validate labels and return them encoded for ``_link`` (raises ValueError).

        Classifiers return :class:`EncodedLabels` carrying ``classes_`` (sorted labels, as
        scikit-learn); encoded labels passed back are returned unchanged.
        """

    def classes(self, y) -> np.ndarray | None:
        """The classes_ labels y are encoded with (sorted, as scikit-learn); None for ridge.

        Parameters
        ----------
        y : array_like of shape (n,)

        Returns
        -------
        ndarray of shape (K,) or None
            ``classes_[j]`` is the label of code j; for binary models ``classes_[1]`` is the
            positive class.
        """
        y = np.asanyarray(y)
        y = check_y_shape(y, y.shape[0] if y.ndim else -1, numeric=self.numeric_y)
        return getattr(self.encode_y(y), "classes_", None)

    def n_outputs(self, y_enc: np.ndarray) -> int:
        """K, the number of margins per point (1 except for multinomial logistic)."""
        return 1

    def param_dim(self, X, y) -> int:
        """p = K * (d + 1) for data (X, y)."""
        X, _, K = self._prepare(X, y)
        return K * (X.shape[1] + 1)

    @abstractmethod
    def _link(self, Z: torch.Tensor, y: torch.Tensor, need: str):
        """Per-sample loss quantities from margins Z (k, n, K).

        need: "loss" -> (k, n); "grad" -> (loss (k, n) or None, dZ (k, n, K));
        "hess" -> (loss, dZ, A) with A (k, n, K, K) the curvature d^2 loss / dZ^2;
        "curv" -> as "hess", the loss may be None (callers that do not need it: a learner
        whose loss is costly, e.g. logistic's float64 softplus, skips it).
        """

    def _needs_all_classes(self) -> bool:
        """Whether a subset must contain every class for the minimiser to exist and be unique."""
        return False

    # ------------------------------------------------------------------ validation
    def _prepare(self, X, y):
        """Validated (X float64 (n, d), y encoded (n,), K); kept for the set predictor."""
        X = check_X(X)
        y = check_y_shape(y, X.shape[0], numeric=self.numeric_y)
        y_enc = self.encode_y(y)
        K = self.n_outputs(y_enc)
        return X, y_enc, K

    def _class_codes(self, y_enc: np.ndarray, K: int) -> np.ndarray:
        return np.arange(K) if K > 1 else np.array([0.0, 1.0])

    def _check_existence(self, W: np.ndarray, y_enc: np.ndarray, K: int, name: str) -> None:
        """Refuse subsets (rows of W) missing a class when the minimiser would not exist.

        Labels missing from y itself are reported as a problem of y; subsets that drop a class
        as a problem of ``name`` (masks, sample_weight, ...).
        """
        if not self._needs_all_classes():
            return
        codes = self._class_codes(y_enc, K)
        classes = getattr(y_enc, "classes_", None)
        labels = codes if classes is None else np.asarray(classes)
        y_plain = np.asarray(y_enc)
        in_y = np.array([(y_plain == c).any() for c in codes])
        model = type(self).__name__
        if not in_y.all():
            absent = labels[~in_y].tolist()
            raise ValueError(
                f"y has no point of class {absent} (classes {labels.tolist()}): with an "
                f"unpenalised intercept the minimiser of {model} does not exist; pass labels "
                "with every class, fewer classes (n_classes / classes), or "
                "penalize_intercept=True"
            )
        W = np.atleast_2d(W)
        onehot = (y_plain[:, None] == np.asarray(codes)[None, :]).astype(np.float64)  # (n, K)
        present = ((W > 0).astype(np.float64) @ onehot) > 0  # shape: (k, K), one GEMM
        bad = np.flatnonzero(~present.all(axis=1))
        if bad.size:
            first = labels[~present[bad[0]]].tolist()
            raise ValueError(
                f"{name}: subsets {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} miss a "
                f"class (subset {bad[0]} has no point of class {first}); with an "
                f"unpenalised intercept the minimiser of {model} does not exist (or is not "
                "unique) there. Use penalize_intercept=True or subsets that contain every class "
                "(subsets.*(require_all_classes=True))"
            )

    # ------------------------------------------------------------------ curvature bounds
    def strong_convexity(self, X, y, sample_weight=None) -> float:
        """A global lower bound mu_S on the smallest eigenvalue of the Hessian of F_S.

        lam when every coordinate is penalised; subclasses refine (ridge: exact). Returns 0.0
        when no global bound exists (unpenalised intercept with a non-quadratic loss).
        """
        return self.lam if self.penalize_intercept else 0.0

    # ------------------------------------------------------------------ scikit-learn interop
    def to_sklearn(self, theta, classes=None, n_features=None):
        """A fitted scikit-learn estimator with the parameters theta (see ``interop.to_sklearn``).

        Its predict / decision_function / predict_proba equal the learner's at theta.
        """
        from .interop import to_sklearn

        return to_sklearn(self, theta, classes=classes, n_features=n_features)


def _is_encoded(y) -> bool:
    return isinstance(y, EncodedLabels)
