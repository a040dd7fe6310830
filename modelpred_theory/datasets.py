"""Data sets: scikit-learn's bundled real data and synthetic data with a known truth.

Real data come only from the files packaged with scikit-learn (``load_iris``,
``load_breast_cancer``, ``load_wine``, ``load_digits``, ``load_diabetes``); nothing is ever
downloaded. Synthetic generators return the parameters that produced the labels in
:attr:`Dataset.theta_true`.

Parameter layout (the library-wide convention, see DESIGN.md): a learner minimises the SUM
objective ``F_S(theta) = sum_{i in S} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2``
whose parameters are ``theta = [w (d numbers), b]`` for ridge, binary logistic regression and the
SVM, and for K-class multinomial logistic regression the ``(K, d + 1)`` matrix of rows
``[w_k, b_k]`` flattened row by row. ``X`` never carries an intercept column. ``theta_true`` of a
synthetic data set follows the same layout, so it can be compared with a learner's output
directly (it is the generating parameter, not the regularised minimiser).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ._utils import as_generator as _as_generator
from ._utils import check_int as _check_int

__all__ = [
    "Dataset",
    "available",
    "load",
    "make_logistic",
    "make_multiclass_logistic",
    "make_regression",
]

_TASKS = ("regression", "binary", "multiclass")

# name -> (task, one-line description)
_REGISTRY: dict[str, tuple[str, str]] = {
    "iris2": ("binary", "iris classes 0/1 (setosa vs versicolor), 100 points, 4 features"),
    "breast_cancer": ("binary", "Wisconsin breast cancer, 569 points, 30 features"),
    "wine": ("multiclass", "wine cultivars, 178 points, 13 features, 3 classes"),
    "digits": ("multiclass", "8x8 handwritten digits, 1797 points, 64 features, 10 classes"),
    "diabetes": ("regression", "diabetes progression, 442 points, 10 features"),
}

# A feature whose train standard deviation is below this (relative to max(1, |mean|)) counts as
# constant and keeps std 1. Reason: the mean of equal floats can differ from them by a few ulps,
# so "std == 0" is not a reliable test for a constant column.
_CONSTANT_STD_RTOL = 1e-12

# Values below this in absolute value are flushed to zero in synthetic designs. Reason: house
# style rule 9 keeps subnormal numbers out of generated data.
_SUBNORMAL_FLUSH = 1e-300


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _check_real(value: object, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _finite_2d(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------------------------
# the container
# ----------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    """A train/test split with its task description.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, d)
        Training features, float64, finite. No intercept column.
    y_train : ndarray of shape (n_train,)
        Training targets: float64 for ``task="regression"``, int64 class labels in
        ``{0, ..., n_classes - 1}`` for classification.
    X_test : ndarray of shape (n_test, d)
        Test features, same columns as ``X_train``.
    y_test : ndarray of shape (n_test,)
        Test targets, same kind as ``y_train``.
    task : {"regression", "binary", "multiclass"}
        The learning task.
    n_classes : int
        Number of classes: 0 for regression (there are no classes), 2 for binary, K >= 3 for
        multiclass.
    name : str
        A short name ("breast_cancer", "synthetic_logistic", ...).
    feature_names : list of str or None
        One name per column, or None.
    theta_true : ndarray of shape (p,) or None
        The generating parameters of a synthetic data set in the library's layout
        (``[w, b]``, ``p = d + 1``; multiclass ``p = K * (d + 1)``, rows ``[w_k, b_k]``
        flattened row by row). None for real data.
    scale_factor : float
        The positive number every feature row was divided by for unit-ball scaling
        (the maximum training-row norm after standardisation); 1.0 when no scaling was done.
    feature_mean, feature_std : ndarray of shape (d,) or None
        Training statistics used to standardise the features (None when not standardised).
        Raw features are recovered as ``X * scale_factor * feature_std + feature_mean``.
    target_mean, target_std : float
        Regression targets were mapped ``y -> (y - target_mean) / target_std``; 0.0 and 1.0
        when the targets are untouched.

    Attributes
    ----------
    n_train, n_test, n_features : int
        Sizes.
    n_params : int
        Length ``p`` of the flat parameter vector of a linear model on this data
        (``d + 1``, or ``K * (d + 1)`` for multiclass).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    n_classes: int
    name: str = "unnamed"
    feature_names: list[str] | None = None
    theta_true: np.ndarray | None = None
    scale_factor: float = 1.0
    feature_mean: np.ndarray | None = field(default=None, repr=False)
    feature_std: np.ndarray | None = field(default=None, repr=False)
    target_mean: float = 0.0
    target_std: float = 1.0

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {self.task!r}")
        self.X_train = _finite_2d(self.X_train, "X_train")
        self.X_test = _finite_2d(self.X_test, "X_test")
        d = self.X_train.shape[1]
        if self.X_test.shape[1] != d:
            raise ValueError(
                f"X_test has {self.X_test.shape[1]} columns, expected {d} (as X_train)"
            )
        self.n_classes = _check_int(self.n_classes, "n_classes", minimum=0)
        if self.task == "regression" and self.n_classes != 0:
            raise ValueError(f"n_classes must be 0 for regression, got {self.n_classes}")
        if self.task == "binary" and self.n_classes != 2:
            raise ValueError(f"n_classes must be 2 for a binary task, got {self.n_classes}")
        if self.task == "multiclass" and self.n_classes < 3:
            raise ValueError(f"n_classes must be >= 3 for multiclass, got {self.n_classes}")
        self.y_train = self._check_y(self.y_train, "y_train", self.X_train.shape[0])
        self.y_test = self._check_y(self.y_test, "y_test", self.X_test.shape[0])
        if self.feature_names is not None:
            self.feature_names = [str(f) for f in self.feature_names]
            if len(self.feature_names) != d:
                raise ValueError(
                    f"feature_names has {len(self.feature_names)} entries, expected {d}"
                )
        if self.theta_true is not None:
            theta = np.asarray(self.theta_true, dtype=np.float64).ravel()
            if theta.shape != (self.n_params,):
                raise ValueError(f"theta_true must have {self.n_params} entries, got {theta.size}")
            if not np.all(np.isfinite(theta)):
                raise ValueError("theta_true contains NaN or inf")
            self.theta_true = theta
        self.scale_factor = _check_real(self.scale_factor, "scale_factor")
        if self.scale_factor <= 0:
            raise ValueError(f"scale_factor must be > 0, got {self.scale_factor}")
        for attr in ("feature_mean", "feature_std"):
            val = getattr(self, attr)
            if val is not None:
                arr = np.asarray(val, dtype=np.float64)
                if arr.shape != (d,) or not np.all(np.isfinite(arr)):
                    raise ValueError(f"{attr} must be a finite array of shape ({d},)")
                setattr(self, attr, arr)
        self.target_mean = _check_real(self.target_mean, "target_mean")
        self.target_std = _check_real(self.target_std, "target_std")
        if self.target_std <= 0:
            raise ValueError(f"target_std must be > 0, got {self.target_std}")

    def _check_y(self, y: object, name: str, n: int) -> np.ndarray:
        arr = np.asarray(y)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if self.task == "regression":
            arr = arr.astype(np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
            return arr
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"{name} must hold integer class labels")
        elif arr.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
        labels = arr.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(
                f"{name} labels must lie in {{0, ..., {self.n_classes - 1}}}, "
                f"got range [{labels.min()}, {labels.max()}]"
            )
        return labels

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return int(self.X_test.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns ``d`` (no intercept column)."""
        return int(self.X_train.shape[1])

    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector: ``d + 1``, or ``K * (d + 1)`` for multiclass."""
        if self.task == "multiclass":
            return self.n_classes * (self.n_features + 1)
        return self.n_features + 1


# ----------------------------------------------------------------------------------------------
# real data
# ----------------------------------------------------------------------------------------------
def available() -> list[str]:
    """Names accepted by :func:`load`.

    Returns
    -------
    list of str
        ``["iris2", "breast_cancer", "wine", "digits", "diabetes"]``.
    """
    return list(_REGISTRY)


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn import datasets as skd

    if name == "iris2":
        bunch = skd.load_iris()
        keep = bunch.target < 2
        return bunch.data[keep], bunch.target[keep], list(bunch.feature_names)
    if name == "breast_cancer":
        bunch = skd.load_breast_cancer()
    elif name == "wine":
        bunch = skd.load_wine()
    elif name == "digits":
        bunch = skd.load_digits()
    elif name == "diabetes":
        bunch = skd.load_diabetes(scaled=False)
    else:  # pragma: no cover - guarded by load()
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    return bunch.data, bunch.target, list(bunch.feature_names)


def _standardise(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train mean and std with constant columns given std 1 (shape (d,) each)."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    constant = std <= _CONSTANT_STD_RTOL * np.maximum(1.0, np.abs(mean))
    std = np.where(constant, 1.0, std)
    return mean, std


def load(
    name: str,
    seed: int = 0,
    test_size: float = 0.25,
    scale: bool = True,
    n_train: int | None = None,
) -> Dataset:
    """Load one of scikit-learn's bundled data sets as a deterministic train/test split.

    Parameters
    ----------
    name : {"iris2", "breast_cancer", "wine", "digits", "diabetes"}
        ``"iris2"`` is iris restricted to classes 0 and 1 (100 points, 4 features, labels
        ``{0, 1}``); ``"breast_cancer"`` is binary (569 points, 30 features, labels ``{0, 1}``);
        ``"wine"`` has 3 classes (178 points, 13 features); ``"digits"`` has 10 classes
        (1797 points, 64 features); ``"diabetes"`` is regression (442 points, 10 features).
    seed : int, default=0
        Seed of the split (``random_state`` of scikit-learn's ``train_test_split``) and of the
        ``n_train`` subsample. The same seed always gives the same split.
    test_size : float, default=0.25
        Fraction of the points held out for testing, in ``(0, 1)``.
    scale : bool, default=True
        After standardisation, divide every row (train and test) by the largest training-row
        norm, so that ``max_i ||x_i|| = 1`` over the training rows (the paper's unit-ball
        scaling). Test rows are scaled by the same number and may have norm above 1: slightly
        for most data sets, up to about 2 for digits, where rare pixels have a tiny train std.
    n_train : int or None, default=None
        If given, keep a deterministic (stratified for classification) subsample of this many
        training points; the test set does not depend on ``n_train``. Pools in the paper have
        67 to 500 points.

    Returns
    -------
    Dataset
        ``X_train`` of shape (n_train, d), ``y_train`` of shape (n_train,), ``X_test`` of shape
        (n_test, d), ``y_test`` of shape (n_test,). Classification labels are int64 in
        ``{0, ..., K - 1}``; regression targets are float64.

    Raises
    ------
    ValueError
        Unknown ``name``; ``test_size`` outside ``(0, 1)`` or too small/large for a stratified
        split; ``n_train`` larger than the training pool or too small to hold every class.

    Notes
    -----
    Pipeline, with all statistics computed on the final training rows only:

    1. Stratified (classification) or plain (regression) split with ``random_state=seed``.
    2. Optional stratified subsample of the training pool to ``n_train`` points.
    3. Standardise features: ``x <- (x - mean) / std`` with the train mean/std; a constant
       training column (digits has constant pixels) keeps ``std = 1`` so nothing divides by 0.
    4. If ``scale``: ``x <- x / s`` with ``s = max_i ||x_i||`` over training rows, stored as
       ``scale_factor``.
    5. ``"diabetes"`` only: the target is standardised to mean 0 and std 1 on the training rows
       (``target_mean``/``target_std`` record the map), so that regression problems have a
       target on the scale of the features.

    The parameters of a model fitted on this data follow the layout ``[w, b]`` (or rows
    ``[w_k, b_k]`` flattened, for multiclass) of the SUM objective described in DESIGN.md.
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    seed = _check_int(seed, "seed", minimum=0)
    if not isinstance(test_size, numbers.Real) or isinstance(test_size, bool):
        raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
    test_size = float(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
    task = _REGISTRY[name][0]

    X, y, feature_names = _raw(name)
    X = np.asarray(X, dtype=np.float64)
    classification = task != "regression"
    if classification:
        y = np.asarray(y, dtype=np.int64)
        n_classes = int(np.unique(y).size)
    else:
        y = np.asarray(y, dtype=np.float64)
        n_classes = 0

    try:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=y if classification else None
        )
    except ValueError as exc:
        raise ValueError(
            f"test_size={test_size} gives an invalid split of {name!r}: {exc}"
        ) from exc

    if n_train is not None:
        n_train = _check_int(n_train, "n_train", minimum=1)
        pool = X_tr.shape[0]
        if n_train > pool:
            raise ValueError(
                f"n_train={n_train} exceeds the training pool of {pool} points "
                f"({name!r} with test_size={test_size})"
            )
        if classification and n_train < n_classes:
            raise ValueError(
                f"n_train={n_train} is smaller than the number of classes ({n_classes}); "
                "a stratified subsample needs at least one point per class"
            )
        if n_train < pool:
            try:
                X_tr, _, y_tr, _ = train_test_split(
                    X_tr,
                    y_tr,
                    train_size=n_train,
                    random_state=seed,
                    stratify=y_tr if classification else None,
                )
            except ValueError as exc:
                raise ValueError(f"n_train={n_train} cannot be drawn: {exc}") from exc

    mean, std = _standardise(X_tr)
    X_tr = (X_tr - mean) / std
    X_te = (X_te - mean) / std
    scale_factor = 1.0
    if scale:
        max_norm = float(np.max(np.linalg.norm(X_tr, axis=1)))
        if max_norm > 0.0:
            scale_factor = max_norm
            X_tr = X_tr / scale_factor
            X_te = X_te / scale_factor

    target_mean, target_std = 0.0, 1.0
    if name == "diabetes":
        target_mean = float(np.mean(y_tr))
        target_std = float(np.std(y_tr))
        if target_std <= 0.0:  # pragma: no cover - only for a 1-point pool
            target_std = 1.0
        y_tr = (y_tr - target_mean) / target_std
        y_te = (y_te - target_mean) / target_std

    return Dataset(
        X_train=X_tr,
        y_train=y_tr,
        X_test=X_te,
        y_test=y_te,
        task=task,
        n_classes=n_classes,
        name=name,
        feature_names=feature_names,
        theta_true=None,
        scale_factor=scale_factor,
        feature_mean=mean,
        feature_std=std,
        target_mean=target_mean,
        target_std=target_std,
    )


# ----------------------------------------------------------------------------------------------
# synthetic data
# ----------------------------------------------------------------------------------------------
def _spectrum(d: int, condition_number: float) -> np.ndarray:
    """Singular values of the population design, geometric from 1 to 1/sqrt(cond); shape (d,)."""
    if d == 1:
        return np.ones(1)
    return np.geomspace(1.0, 1.0 / np.sqrt(condition_number), d)


def _design(
    n: int,
    n_test: int,
    d: int,
    condition_number: float,
    exact_design: bool,
    gen: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Training design (n, d) and test design (n_test, d) with population covariance Sigma.

    ``Sigma = Q diag(s^2) Q^T`` with ``s = _spectrum(d, condition_number)`` and ``Q`` a random
    orthogonal matrix, so ``cond(Sigma) = condition_number``. Test rows are i.i.d.
    ``N(0, Sigma)``. Training rows are ``Z diag(s) Q^T`` with ``Z`` either i.i.d. standard
    normal (``exact_design=False``) or ``sqrt(n)`` times an orthonormal basis of a column-centred
    Gaussian matrix (``exact_design=True``). In the exact case ``X^T X = n Sigma`` and the
    columns of ``X`` sum to zero, so ``cond(X^T X) = condition_number`` exactly (up to
    rounding), and the same holds for ``[X, 1]`` since the intercept column is orthogonal to X
    and ``||1||^2 = n`` lies in ``[n min(s^2), n max(s^2)]``.
    """
    s = _spectrum(d, condition_number)  # shape: (d,)
    Q, R = np.linalg.qr(gen.standard_normal((d, d)))
    Q = Q * np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))  # shape: (d, d), Haar
    Z = gen.standard_normal((n, d))  # shape: (n, d)
    if exact_design:
        Z = Z - Z.mean(axis=0)
        U, _ = np.linalg.qr(Z)  # shape: (n, d), orthonormal columns orthogonal to 1
        Z = np.sqrt(n) * U
    X = (Z * s) @ Q.T  # shape: (n, d)
    X_test = (gen.standard_normal((n_test, d)) * s) @ Q.T  # shape: (n_test, d)
    X[np.abs(X) < _SUBNORMAL_FLUSH] = 0.0
    X_test[np.abs(X_test) < _SUBNORMAL_FLUSH] = 0.0
    return X, X_test


def _check_synthetic_args(
    n: int, d: int, n_test: int, condition_number: float, exact_design: bool
) -> tuple[int, int, int, float]:
    n = _check_int(n, "n", minimum=1)
    d = _check_int(d, "d", minimum=1)
    n_test = _check_int(n_test, "n_test", minimum=0)
    condition_number = _check_real(condition_number, "condition_number")
    if condition_number < 1.0:
        raise ValueError(f"condition_number must be >= 1, got {condition_number}")
    if exact_design and n <= d:
        raise ValueError(
            f"n must exceed d when exact_design=True (got n={n}, d={d}); "
            "pass exact_design=False for n <= d"
        )
    return n, d, n_test, condition_number


def _check_vector(value: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _maybe_scale(
    X: np.ndarray, X_test: np.ndarray, W: np.ndarray, scale: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Unit-ball scaling that keeps the decision function: X/s and W*s (W of shape (..., d))."""
    if not scale:
        return X, X_test, W, 1.0
    s = float(np.max(np.linalg.norm(X, axis=1)))
    if s <= 0.0:
        return X, X_test, W, 1.0
    return X / s, X_test / s, W * s, s


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def make_regression(
    n: int = 200,
    d: int = 5,
    noise: float = 0.1,
    condition_number: float = 1.0,
    theta: np.ndarray | None = None,
    intercept: float = 0.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Linear-Gaussian regression ``y = X w + b + noise * eps`` with a chosen conditioning.

    Parameters
    ----------
    n : int, default=200
        Number of training rows.
    d : int, default=5
        Number of features.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise ``eps``; >= 0.
    condition_number : float, default=1.0
        Condition number (>= 1) of the population covariance of ``x`` and, with
        ``exact_design=True``, of ``X^T X`` on the training rows (and of the design with an
        intercept column ``[X, 1]``).
    theta : ndarray of shape (d,) or None, default=None
        The weights ``w``; None draws ``w ~ N(0, I_d)``.
    intercept : float, default=0.0
        The intercept ``b``.
    n_test : int, default=1000
        Number of test rows (i.i.d. from the population).
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling as in :func:`load`: divide all rows by the largest training-row norm
        ``s`` and multiply ``w`` by ``s`` so that the regression function is unchanged.
    exact_design : bool, default=True
        Whiten the training design so its sample covariance equals the population one (see
        Notes); requires ``n > d``. With False, rows are i.i.d. Gaussian.

    Returns
    -------
    Dataset
        ``task="regression"``, ``n_classes=0``, ``theta_true = [w, b]`` of shape (d + 1,).

    Notes
    -----
    The population covariance is ``Sigma = Q diag(s^2) Q^T`` with singular values ``s``
    geometrically spaced from 1 to ``1 / sqrt(condition_number)`` and ``Q`` Haar-orthogonal,
    so ``cond(Sigma) = condition_number``. With ``exact_design=True`` the training design is
    ``X = sqrt(n) U diag(s) Q^T``, ``U`` an orthonormal basis of a column-centred Gaussian
    matrix; then ``X^T X = n Sigma`` and ``1^T X = 0``, so ``cond(X^T X)`` and
    ``cond([X, 1]^T [X, 1])`` both equal ``condition_number``. Test rows are i.i.d.
    ``N(0, Sigma)``. ``theta_true`` uses the library layout ``[w, b]``.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    noise = _check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    intercept = _check_real(intercept, "intercept")
    gen = _as_generator(rng)
    w = gen.standard_normal(d) if theta is None else _check_vector(theta, (d,), "theta")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = X @ w + intercept + noise * gen.standard_normal(n)
    y_test = X_test @ w + intercept + noise * gen.standard_normal(n_test)
    X, X_test, w, s = _maybe_scale(X, X_test, w, scale)
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="regression",
        n_classes=0,
        name="synthetic_regression",
        theta_true=np.concatenate([w, [intercept]]),
        scale_factor=s,
    )


def make_logistic(
    n: int = 200,
    d: int = 5,
    theta: np.ndarray | None = None,
    intercept: float = 0.0,
    condition_number: float = 1.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Binary logistic data: ``y ~ Bernoulli(sigmoid(x . w + b))`` with labels in ``{0, 1}``.

    Parameters
    ----------
    n : int, default=200
        Number of training rows.
    d : int, default=5
        Number of features.
    theta : ndarray of shape (d,) or None, default=None
        The weights ``w``; None draws ``w ~ N(0, I_d)``.
    intercept : float, default=0.0
        The intercept ``b``.
    condition_number : float, default=1.0
        Condition number of the design covariance (see :func:`make_regression`).
    n_test : int, default=1000
        Number of test rows.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling that keeps the decision function (``X / s``, ``w * s``).
    exact_design : bool, default=True
        Whitened training design as in :func:`make_regression`; requires ``n > d``.

    Returns
    -------
    Dataset
        ``task="binary"``, ``n_classes=2``, int64 labels, ``theta_true = [w, b]`` of shape
        (d + 1,). Both classes are not guaranteed to appear when ``|b|`` or ``||w||`` is extreme
        relative to ``n``.

    Notes
    -----
    The design is built as in :func:`make_regression`. ``theta_true`` is the generating
    parameter; a regularised fit converges to it only as ``n -> infinity`` and ``lam / n -> 0``.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    intercept = _check_real(intercept, "intercept")
    gen = _as_generator(rng)
    w = gen.standard_normal(d) if theta is None else _check_vector(theta, (d,), "theta")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = (gen.random(n) < _sigmoid(X @ w + intercept)).astype(np.int64)
    y_test = (gen.random(n_test) < _sigmoid(X_test @ w + intercept)).astype(np.int64)
    X, X_test, w, s = _maybe_scale(X, X_test, w, scale)
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="binary",
        n_classes=2,
        name="synthetic_logistic",
        theta_true=np.concatenate([w, [intercept]]),
        scale_factor=s,
    )


def _sample_categorical(logits: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """One draw per row from softmax(logits); logits of shape (m, K) -> labels (m,) int64."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)  # shape: (m, K)
    cum = np.cumsum(p, axis=1)  # shape: (m, K)
    u = gen.random(logits.shape[0])[:, None]  # shape: (m, 1)
    labels = (u >= cum[:, :-1]).sum(axis=1)
    return labels.astype(np.int64)


def make_multiclass_logistic(
    n: int = 300,
    d: int = 5,
    n_classes: int = 3,
    theta: np.ndarray | None = None,
    intercept: float | np.ndarray = 0.0,
    condition_number: float = 1.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Multinomial logistic data: ``P(y = k | x) = softmax_k(W x + b)``.

    Parameters
    ----------
    n : int, default=300
        Number of training rows.
    d : int, default=5
        Number of features.
    n_classes : int, default=3
        Number of classes ``K >= 3`` (use :func:`make_logistic` for two classes).
    theta : ndarray of shape (K, d) or None, default=None
        The weight rows ``w_k``; None draws every entry from ``N(0, 1)``.
    intercept : float or ndarray of shape (K,), default=0.0
        The intercepts ``b_k`` (a scalar is broadcast; a common intercept does not change the
        class probabilities).
    condition_number : float, default=1.0
        Condition number of the design covariance (see :func:`make_regression`).
    n_test : int, default=1000
        Number of test rows.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling that keeps the logits (``X / s``, ``W * s``).
    exact_design : bool, default=True
        Whitened training design as in :func:`make_regression`; requires ``n > d``.

    Returns
    -------
    Dataset
        ``task="multiclass"``, int64 labels in ``{0, ..., K - 1}``, ``theta_true`` of shape
        (K * (d + 1),): the (K, d + 1) matrix of rows ``[w_k, b_k]`` flattened row by row.

    Notes
    -----
    The multinomial model is invariant to adding one vector to every row of ``[W, b]``;
    ``theta_true`` is the generating representative, not a normalised one.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    K = _check_int(n_classes, "n_classes", minimum=3)
    gen = _as_generator(rng)
    W = gen.standard_normal((K, d)) if theta is None else _check_vector(theta, (K, d), "theta")
    b = np.asarray(intercept, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(K, float(b))
    b = _check_vector(b, (K,), "intercept")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = _sample_categorical(X @ W.T + b, gen)  # logits shape: (n, K)
    y_test = _sample_categorical(X_test @ W.T + b, gen)
    X, X_test, W, s = _maybe_scale(X, X_test, W, scale)
    theta_true = np.concatenate([W, b[:, None]], axis=1).ravel()  # (K, d+1) row by row
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="multiclass",
        n_classes=K,
        name="synthetic_multiclass_logistic",
        theta_true=theta_true,
        scale_factor=s,
    )
