"""The estimators' base class: parameters, validation, labels and the public numpy methods.

Every learner minimises

    F_S(theta) = sum_{i} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2

where ``w`` is a subset mask (weights in {0, 1}) or fractional weights, the regulariser does not
change with |S|, and ``P`` selects the penalised coordinates (the intercept is unpenalised unless
``penalize_intercept=True``). In scikit-learn terms C = 1 / lam (see docs/design.md).

Parameter layout: a learner with K outputs (K = 1 for ridge, binary logistic and the SVM; K
classes for multinomial logistic) has theta of length p = K * (d + 1), the (K, d + 1) matrix of
rows [w_k, b_k] flattened row by row. ``X`` never carries an intercept column.

Composition: an estimator names its pointwise loss (``loss_for(K)``, from ``losses``); the math is
``objective.Objective`` built from that loss, lam, the penalty mask and K (``self.objective(K)``);
the solve is ``solvers.newton`` over that objective (``self.solve``); ``fitting`` runs fits and
batches of subsets (chunks, joblib, device). The methods here validate their arguments, convert
to float64 tensors and delegate; they hold no math of their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from . import fitting, solvers
from .export import to_sklearn
from .fitting import FitResult, SubsetFitResult
from .labels import EncodedLabels, encode
from .objective import Objective, optimality_residual
from .solvers import DEFAULT_TOL
from .tensors import DTYPE, as_tensor, augment
from .validation import check_lam, check_sample_weight, check_theta, check_X, check_y_shape

__all__ = ["DEFAULT_TOL", "ConvexLearner", "FitResult", "SubsetFitResult"]


class ConvexLearner(ABC):
    """Base class of the generalised-linear convex learners (see module docstring).

    Subclasses implement ``loss_for(K)`` (the pointwise loss of their family) and, for labels
    other than real targets, ``encode_y`` / ``n_outputs``.
    """

    name = "convex"
    allow_zero_lam = False
    quadratic = False  # True when the loss is quadratic (Newton is exact in one step)
    numeric_y = True  # False for classifiers (labels may be strings)

    def __init__(self, lam: float = 1.0, *, penalize_intercept: bool = False,
                 tol: float = DEFAULT_TOL, max_iter: int = 100):
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

    # ------------------------------------------------------------------ composition
    @abstractmethod
    def loss_for(self, K: int):
        """The pointwise loss (``losses``) of this learner's family for K margins per point."""

    def objective(self, K: int) -> Objective:
        """The batched objective F_S of this learner for K margins per point (float64 math)."""
        return Objective(self.loss_for(K), self.lam, penalize_intercept=self.penalize_intercept,
                         K=K)

    def solve(self, Xt, yt, W, Theta, K: int, outer=None, reference=None):
        """Exact theta(S) for the rows of W from the starts Theta (``solvers.newton``).

        Tensors: Xt (n, d), yt (n,) encoded, W (k, n), Theta (k, p), reference (p,) or None
        (the rows' common warm start: preconditions CG there). Returns Theta (k, p), grad
        norms (k,), iterations (k,), converged (k,).
        """
        return solvers.newton(self.objective(K), Xt, yt, W, Theta, tol=self.tol,
                              max_iter=self.max_iter, outer=outer, reference=reference)

    def uses_cg(self, p: int) -> bool:
        """True where Newton steps are solved by CG on Hessian-vector products (p >= 256, not
        quadratic): then no (p, p) Hessian and no packed outer products are ever formed."""
        return solvers.uses_cg(p, self.quadratic)

    # ------------------------------------------------------------------ labels
    def encode_y(self, y) -> np.ndarray:
        """Validate real-valued targets and return them as float64 (n,) (regression learners;
        classifiers return :class:`EncodedLabels` carrying ``classes_``, and encoded labels
        passed back are returned unchanged). Raises ValueError naming y."""
        y = np.asarray(y)
        if y.dtype == object or y.dtype.kind in "cUSV" or not (
                y.dtype == bool or np.issubdtype(y.dtype, np.number)):
            raise ValueError(f"y must be real-valued for {type(self).__name__}, got dtype "
                             f"{y.dtype}")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or inf")
        return y

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

    def from_codes(self, codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Encoded labels (as ``encode_y`` returns them) from int codes into ``classes``."""
        raise ValueError(f"{type(self).__name__} has no classes: its targets are real values")

    def encode_like(self, y, reference, name: str = "y_test") -> np.ndarray:
        """Labels y encoded with the classes of ``reference``, the encoded training labels.

        A label of y that is not among the training classes is refused (ValueError naming
        ``name``); a y that misses some classes keeps the training codes, so parameters fitted
        on the training labels (p = K (d + 1) with the training K) apply to it. Learners without
        classes (ridge) validate y as ``encode_y`` does.

        Parameters
        ----------
        y : array_like of shape (m,)
        reference : ndarray of shape (n,)
            ``encode_y`` of the training labels (carrying ``classes_``).
        name : str
            The argument's name in messages.
        """
        classes = getattr(reference, "classes_", None)
        y = np.asanyarray(y)
        y = check_y_shape(y, y.shape[0] if y.ndim else -1, name=name, numeric=self.numeric_y)
        if classes is None:
            return self.encode_y(y)
        if isinstance(y, EncodedLabels):
            if y.classes_ is not None and np.array_equal(np.asarray(y.classes_), classes):
                return y
            y = np.asarray(y)
        return self.from_codes(encode(y, classes, name=name), classes)

    def n_outputs(self, y_enc: np.ndarray) -> int:
        """K, the number of margins per point (1 except for multinomial logistic)."""
        return 1

    def param_dim(self, X, y) -> int:
        """p = K * (d + 1) for data (X, y)."""
        X, _, K = self.prepare(X, y)
        return K * (X.shape[1] + 1)

    def needs_all_classes(self) -> bool:
        """Whether a subset must contain every class for the minimiser to exist and be unique."""
        return False

    # ------------------------------------------------------------------ validation
    def prepare(self, X, y):
        """Validated (X float64 (n, d), y encoded (n,), K) (raises ValueError naming them)."""
        X = check_X(X)
        y = check_y_shape(y, X.shape[0], numeric=self.numeric_y)
        y_enc = self.encode_y(y)
        K = self.n_outputs(y_enc)
        return X, y_enc, K

    def tensors(self, X, y_enc, device=None):
        """(X, y_enc) as tensors: X float64 (n, d), y float64 or int64 (n,)."""
        Xt = as_tensor(X, device=device)
        yt = torch.as_tensor(np.ascontiguousarray(np.asarray(y_enc)))
        if yt.is_floating_point():
            yt = yt.to(DTYPE)
        return Xt, (yt if device is None else yt.to(device))

    def class_codes(self, y_enc: np.ndarray, K: int) -> np.ndarray:
        """The codes of the classes in encoded labels (0..K-1, or 0/1 for binary)."""
        return np.arange(K) if K > 1 else np.array([0.0, 1.0])

    def check_existence(self, W: np.ndarray, y_enc: np.ndarray, K: int, name: str) -> None:
        """Refuse subsets (rows of W) missing a class when the minimiser would not exist.

        Labels missing from y itself are reported as a problem of y; subsets that drop a class
        as a problem of ``name`` (masks, sample_weight, ...).
        """
        if not self.needs_all_classes():
            return
        codes = self.class_codes(y_enc, K)
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

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, sample_weight=None, theta0=None, *, device="cpu") -> FitResult:
        """Exact minimiser of F_S with weights ``sample_weight`` (sum convention, C = 1/lam).

        F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Dense, pandas or scipy.sparse (made dense).
        y : ndarray of shape (n,)
            Targets (ridge) or class labels of any sortable kind (classifiers; see
            ``learner.classes``).
        sample_weight : ndarray of shape (n,), optional
            Non-negative weights (a subset mask is weights in {0, 1}; fractional weights are
            allowed); default all ones.
        theta0 : ndarray of shape (p,), optional
            Warm start.
        device : {"cpu", "cuda", "auto"} or torch.device
            Where the solve runs (float64 on every device).

        Returns
        -------
        FitResult
            ``converged`` is True only for a finite residual below tolerance; otherwise a
            ``ConvergenceWarning`` is issued.
        """
        return fitting.fit(self, X, y, sample_weight, theta0, device=device)

    def fit_subsets(self, X, y, masks, theta0=None, *, chunk_size: int | None = None,
                    progress: bool = False, return_info: bool = False, device="cpu",
                    n_jobs: int | None = None):
        """Exact theta(S) for k subsets at once (batched Newton, one GEMM per iteration).

        Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Boolean masks or non-negative weights over the pool (fractional weights allowed;
            validated by ``subsets.check_masks(masks, n, weights=True)``).
        theta0 : ndarray of shape (p,) or (k, p), or "pool", optional
            Warm start(s). "pool": start every subset from the fit on all of X (one extra
            fit; fewer Newton iterations for subsets near the pool, e.g. 3.5 instead of 5.0
            on 50-100% subsets of breast_cancer). A start worse than zero for a subset
            (F_S(theta0) > F_S(0)) is replaced by zero, so a warm start never hurts.
        chunk_size : int, optional
            Subsets per batch; by default sized to a ~256 MB budget. The chunks are the same
            whatever ``n_jobs`` is.
        progress : bool
            Show a tqdm progress bar in fits (total k, advanced chunk by chunk).
        return_info : bool
            Return a SubsetFitResult (thetas, grad_norms, n_iter, converged, classes_).
        device : {"cpu", "cuda", "auto"} or torch.device
            Where the chunks are solved (float64 everywhere); "auto" is CUDA when available.
        n_jobs : int, optional
            Solve chunks over this many joblib workers (-1: all cores) on joblib's active
            backend: local processes (loky) by default, Dask distributed or Ray under
            ``joblib.parallel_config(backend=...)``. Each chunk runs at this process's torch
            thread count, so the results are bit-identical to the serial run (None or 1).
            CPU only.

        Returns
        -------
        thetas : ndarray of shape (k, p), or SubsetFitResult
            A ``ConvergenceWarning`` names how many subsets did not converge and the worst
            residual.
        """
        return fitting.fit_subsets(self, X, y, masks, theta0, chunk_size=chunk_size,
                                   progress=progress, return_info=return_info, device=device,
                                   n_jobs=n_jobs)

    def residual_tolerance(self, X, y, masks=None) -> np.ndarray:
        """Absolute stopping tolerance tol * scale per subset, (k,), the scale ``||grad F_S(0)||``
        (floored below 1, see ``Objective.grad_scale``).

        A fit is converged when its optimality residual ||grad F_S(theta)|| is below this.
        """
        return fitting.residual_tolerance(self, X, y, masks)

    def default_chunk_size(self, n: int, p: int, K: int) -> int:
        """Subsets per chunk within ~256 MB: k (p, p) Hessians on the direct path; on the CG
        path (~384 MB, at most 256) the per-subset curvatures and a few (p,) CG vectors only."""
        return fitting.default_chunk_size(n, p, K, self.uses_cg(p),
                                          self.objective(K).low_rank_curvature)

    def hessian_chunk_size(self, n: int, p: int, K: int) -> int:
        """Subsets per chunk within ~256 MB for code that forms k (p, p) Hessians."""
        return fitting.hessian_chunk_size(n, p, K)

    # ------------------------------------------------------------------ tensor-level math
    # Thin delegations to ``self.objective(K)`` (K defaults to Theta's rows / (d + 1)), kept
    # because baselines, setfn and the applications call them on the learner.
    def _obj(self, Theta, X, K):
        return self.objective(K or Theta.shape[1] // (X.shape[1] + 1))

    def batch_objective(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """F_S(theta_k) for each row: Theta (k, p), X (n, d), y encoded (n,), W (k, n) -> (k,)."""
        return self._obj(Theta, X, K).value(Theta, X, y, W)

    def batch_grad(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """grad F_S(theta_k) per row, differentiable in Theta: (k, p)."""
        return self._obj(Theta, X, K).grad(Theta, X, y, W)

    def batch_hessian(self, Theta, X, y, W, K: int | None = None,
                      outer: torch.Tensor | None = None) -> torch.Tensor:
        """Hessian of F_S at theta_k per row (generalised Hessian for the SVM): (k, p, p)."""
        return self._obj(Theta, X, K).hessian(Theta, X, y, W, outer=outer)

    def batch_hvp(self, Theta, V, X, y, W, K: int | None = None) -> torch.Tensor:
        """Hessian-vector products H_S(theta_k) v_k without forming H: (k, p)."""
        return self._obj(Theta, X, K).hvp(Theta, V, X, y, W)

    def batch_per_sample_loss(self, Theta, X, y, K: int | None = None) -> torch.Tensor:
        """Unweighted per-sample losses loss(theta_k; x_i, y_i): (k, n)."""
        return self._obj(Theta, X, K).per_sample_loss(Theta, X, y)

    def penalty_vector(self, d: int, K: int, dtype=DTYPE, device=None) -> torch.Tensor:
        """Diagonal of P^T P as a (p,) 0/1 tensor (1 on penalised coordinates)."""
        return self.objective(K).penalty(d, dtype, device)

    def gauge_direction(self, d: int, K: int) -> torch.Tensor | None:
        """Unit vector of the null direction of F_S (multinomial, unpenalised intercepts)."""
        return self.objective(K).gauge_direction(d)

    def fix_gauge(self, Theta: torch.Tensor, d: int, K: int,
                  inplace: bool = False) -> torch.Tensor:
        """Theta moved to the learner's gauge (e.g. centred intercepts); in place on request."""
        return self.objective(K).fix_gauge(Theta, d, inplace=inplace)

    # ------------------------------------------------------------------ numpy front end
    def _theta_for(self, theta, X, K, name="theta"):
        p = K * (X.shape[1] + 1)
        try:
            return check_theta(theta, p, name=name)
        except ValueError as exc:
            try:
                last = np.shape(theta)[-1:]
            except ValueError:  # ragged: the message of check_theta says it all
                raise exc from None
            if K > 1 or last != (p,):
                raise ValueError(f"{exc} (p = K (d + 1) with K = {K} output(s) for these "
                                 "labels; pass n_classes / classes to the learner when the "
                                 "labels do not show every class)") from None
            raise

    def _numpy_args(self, theta, X, y, sample_weight=None):
        X, y_enc, K = self.prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = self._theta_for(theta, X, K)
        Xt, yt = self.tensors(X, y_enc)
        return self.objective(K), as_tensor(T), Xt, yt, w

    def loss(self, theta, X, y, sample_weight=None) -> float:
        """The objective F_S(theta) (sum convention, penalty included)."""
        obj, T, Xt, yt, w = self._numpy_args(theta, X, y, sample_weight)
        return float(obj.value(T, Xt, yt, as_tensor(w)[None])[0])

    def per_sample_loss(self, theta, X, y) -> np.ndarray:
        """Unweighted losses loss(theta; x_i, y_i): (n,) for theta (p,), (k, n) for (k, p)."""
        obj, T, Xt, yt, _ = self._numpy_args(theta, X, y)
        out = obj.per_sample_loss(T, Xt, yt).numpy()
        return out[0] if np.ndim(theta) == 1 else out

    def mean_loss(self, theta, X, y) -> np.ndarray | float:
        """Mean unweighted loss over (X, y) (the test loss): float, or (k,) for (k, p)."""
        out = np.asarray(self.per_sample_loss(theta, X, y))
        return float(out.mean()) if out.ndim == 1 else out.mean(axis=1)

    def grad(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """grad F_S(theta): (p,)."""
        obj, T, Xt, yt, w = self._numpy_args(theta, X, y, sample_weight)
        return obj.grad(T, Xt, yt, as_tensor(w)[None])[0].numpy()

    def per_sample_grads(self, theta, X, y) -> np.ndarray:
        """Gradients of the unweighted losses loss(theta; x_i, y_i) (no penalty): (n, p)."""
        X, y_enc, K = self.prepare(X, y)
        T = self._theta_for(theta, X, K)
        if T.shape[0] != 1:
            raise ValueError("per_sample_grads takes a single theta of shape (p,)")
        Xt, yt = self.tensors(X, y_enc)
        return self.objective(K).per_sample_grads(as_tensor(T), Xt, yt).numpy()

    def hessian(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """Hessian of F_S at theta (generalised Hessian for the SVM): (p, p)."""
        obj, T, Xt, yt, w = self._numpy_args(theta, X, y, sample_weight)
        return obj.hessian(T, Xt, yt, as_tensor(w)[None])[0].numpy()

    def hvp(self, theta, v, X, y, sample_weight=None) -> np.ndarray:
        """Hessian-vector product H_S(theta) v: (p,) (or (k, p) for v of shape (k, p))."""
        X, y_enc, K = self.prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        p = K * (X.shape[1] + 1)
        T = self._theta_for(theta, X, K)
        V = check_theta(v, p, name="v")
        if T.shape[0] not in (1, V.shape[0]):
            raise ValueError(f"theta has {T.shape[0]} rows but v has {V.shape[0]}")
        Xt, yt = self.tensors(X, y_enc)
        T = np.broadcast_to(T, V.shape)
        W = as_tensor(np.broadcast_to(w, (V.shape[0], w.shape[0])))
        out = self.objective(K).hvp(as_tensor(T), as_tensor(V), Xt, yt, W).numpy()
        return out[0] if np.ndim(v) == 1 else out

    def margins(self, Theta: torch.Tensor, Xa: torch.Tensor, K: int) -> torch.Tensor:
        """Z[k, i, c] = <theta_k[c], [x_i, 1]>; Theta (k, p), Xa (n, d+1) -> (k, n, K)."""
        return self.objective(K).margins(Theta, Xa)

    def decision_function(self, theta, X) -> np.ndarray:
        """Margins: (n,) for K = 1, (n, K) for multinomial; (k, n[, K]) for theta (k, p)."""
        X = check_X(X)
        q = X.shape[1] + 1
        if np.ndim(theta) not in (1, 2):
            raise ValueError(f"theta must have shape (p,) or (k, p), got {np.shape(theta)}")
        T = check_theta(theta, np.shape(theta)[-1])
        if T.shape[-1] % q:
            raise ValueError(f"theta has {T.shape[-1]} entries, not a multiple of d+1={q} "
                             f"(X has d={q - 1} features)")
        K = T.shape[-1] // q
        Z = self.margins(as_tensor(T), augment(as_tensor(X)), K).numpy()
        if K == 1:
            Z = Z[..., 0]
        return Z[0] if np.ndim(theta) == 1 else Z

    def optimality_residual(self, theta, X, y, sample_weight=None) -> float:
        """||grad F_S(theta)||, the optimality residual (zero exactly at theta(S))."""
        if sample_weight is not None:
            X_ = check_X(X)
            sample_weight = check_sample_weight(sample_weight, X_.shape[0])[None]
        return float(optimality_residual(self, np.asarray(theta)[None], X, y, sample_weight)[0])

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
        return to_sklearn(self, theta, classes=classes, n_features=n_features)
