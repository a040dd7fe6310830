"""The Dataset container and the feature transform it records.

Parameter layout (the library-wide convention, see docs/design.md): a learner minimises the SUM
objective ``F_S(theta) = sum_{i in S} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2``
whose parameters are ``theta = [w (d numbers), b]`` for ridge, binary logistic regression and the
SVM, and for K-class multinomial logistic regression the ``(K, d + 1)`` matrix of rows
``[w_k, b_k]`` flattened row by row. ``X`` never carries an intercept column.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .._utils import check_int as _check_int

__all__ = ["Dataset", "FeatureTransform"]

TASKS = ("regression", "binary", "multiclass")


def check_real(value: object, name: str) -> float:
    """A finite real number (bool refused) as float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def finite_2d(a: object, name: str) -> np.ndarray:
    """A finite float64 C-contiguous 2-D array."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 2-D array: {exc}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {i}, column {j})")
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class FeatureTransform:
    """The map from raw feature rows to the rows a Dataset holds: ``x -> ((x - mean) / std) / s``.

    Parameters
    ----------
    mean, std : ndarray of shape (d,) or None
        Training-row statistics (None: no standardisation). Constant columns have std 1.
    scale : float
        The unit-ball factor ``s`` (the largest standardised training-row norm), 1.0 if unscaled.
    n_features : int
        ``d``, checked on every call.
    """

    mean: np.ndarray | None
    std: np.ndarray | None
    scale: float
    n_features: int

    def _check(self, X, name: str) -> np.ndarray:
        X = finite_2d(X, name)
        if X.shape[1] != self.n_features:
            raise ValueError(f"{name} has {X.shape[1]} columns, expected {self.n_features}")
        return X

    def transform(self, X) -> np.ndarray:
        """Raw rows (m, d) -> model rows (m, d), as the training rows were mapped."""
        X = self._check(X, "X")
        if self.mean is not None:
            X = (X - self.mean) / self.std
        return X / self.scale

    def inverse_transform(self, Z) -> np.ndarray:
        """Model rows (m, d) -> raw rows (m, d)."""
        Z = self._check(Z, "Z") * self.scale
        if self.mean is not None:
            Z = Z * self.std + self.mean
        return Z


@dataclass
class Dataset:
    """A train/test split with its task description.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, d)
        Training features, float64, finite. No intercept column.
    y_train : ndarray of shape (n_train,)
        Training targets: float64 for ``task="regression"``; for classification the labels as
        given (int64 ``{0, ..., K - 1}`` for the bundled and synthetic data; any sortable values
        such as strings for a user's data, listed in ``classes_``).
    X_test : ndarray of shape (n_test, d)
        Test features, same columns as ``X_train``.
    y_test : ndarray of shape (n_test,)
        Test targets, same kind as ``y_train``.
    task : {"regression", "binary", "multiclass"}
        The learning task.
    n_classes : int
        Number of classes: 0 for regression, 2 for binary, K >= 3 for multiclass.
    name : str
        A short name ("breast_cancer", "synthetic_logistic", "my.csv", ...).
    feature_names : list of str or None
        One name per column, or None.
    theta_true : ndarray of shape (p,) or None
        The generating parameters of a synthetic data set in the library's layout
        (``[w, b]``, ``p = d + 1``; multiclass ``p = K * (d + 1)``). None for real data.
    scale_factor : float
        The positive number every feature row was divided by for unit-ball scaling; 1.0 when
        no scaling was done.
    feature_mean, feature_std : ndarray of shape (d,) or None
        Training statistics used to standardise the features (None when not standardised).
        Raw features are recovered as ``X * scale_factor * feature_std + feature_mean``
        (:meth:`inverse_transform`).
    target_mean, target_std : float
        Regression targets were mapped ``y -> (y - target_mean) / target_std``; 0.0 and 1.0
        when the targets are untouched.
    classes_ : ndarray of shape (K,) or None
        The sorted class labels (classification). None is filled with ``arange(n_classes)``,
        and then labels must be integers in ``{0, ..., K - 1}``. Label ``classes_[k]`` is class
        ``k`` of the learners (:meth:`encode_labels`).
    target_name : str or None
        Name of the target column of a user's file.
    train_rows, test_rows : ndarray of shape (n_train,) / (n_test,) or None
        Row numbers (0-based, data rows of the source, header excluded) of the training and
        test rows, so results can be traced back to the user's file.

    Attributes
    ----------
    n_train, n_test, n_features : int
    n_params : int
        Length ``p`` of the flat parameter vector of a linear model on this data
        (``d + 1``, or ``K * (d + 1)`` for multiclass).
    feature_transform : FeatureTransform
        The recorded map from raw rows to the rows held here (:meth:`transform`).
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
    classes_: np.ndarray | None = None
    target_name: str | None = None
    train_rows: np.ndarray | None = field(default=None, repr=False)
    test_rows: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        self.X_train = finite_2d(self.X_train, "X_train")
        self.X_test = finite_2d(self.X_test, "X_test")
        d = self.X_train.shape[1]
        if self.X_test.shape[1] != d:
            raise ValueError(
                f"X_test has {self.X_test.shape[1]} columns, expected {d} (as X_train)"
            )
        self._check_task()
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
        self._check_stats(d)
        for attr, n in (("train_rows", self.n_train), ("test_rows", self.n_test)):
            rows = getattr(self, attr)
            if rows is not None:
                rows = np.asarray(rows)
                if rows.shape != (n,) or rows.dtype.kind not in "iu":
                    raise ValueError(f"{attr} must be an integer array of shape ({n},)")
                setattr(self, attr, rows.astype(np.int64))

    def _check_task(self) -> None:
        self.n_classes = _check_int(self.n_classes, "n_classes", minimum=0)
        if self.task == "regression" and self.n_classes != 0:
            raise ValueError(f"n_classes must be 0 for regression, got {self.n_classes}")
        if self.task == "binary" and self.n_classes != 2:
            raise ValueError(f"n_classes must be 2 for a binary task, got {self.n_classes}")
        if self.task == "multiclass" and self.n_classes < 3:
            raise ValueError(f"n_classes must be >= 3 for multiclass, got {self.n_classes}")
        if self.task == "regression":
            if self.classes_ is not None:
                raise ValueError("classes_ must be None for regression")
            return
        if self.classes_ is None:
            self.classes_ = np.arange(self.n_classes)
            self._integer_labels = True
            return
        classes = np.asarray(self.classes_)
        if classes.ndim != 1 or classes.size != self.n_classes:
            raise ValueError(f"classes_ must have {self.n_classes} entries, got shape "
                             f"{classes.shape}")
        if np.unique(classes).size != classes.size or np.any(np.sort(classes) != classes):
            raise ValueError("classes_ must be sorted and without repeats")
        self.classes_ = classes
        self._integer_labels = False

    def _check_stats(self, d: int) -> None:
        self.scale_factor = check_real(self.scale_factor, "scale_factor")
        if self.scale_factor <= 0:
            raise ValueError(f"scale_factor must be > 0, got {self.scale_factor}")
        for attr in ("feature_mean", "feature_std"):
            val = getattr(self, attr)
            if val is not None:
                arr = np.asarray(val, dtype=np.float64)
                if arr.shape != (d,) or not np.all(np.isfinite(arr)):
                    raise ValueError(f"{attr} must be a finite array of shape ({d},)")
                setattr(self, attr, arr)
        if (self.feature_mean is None) != (self.feature_std is None):
            raise ValueError("feature_mean and feature_std must be given together")
        if self.feature_std is not None and np.any(self.feature_std <= 0):
            raise ValueError("feature_std must be > 0")
        self.target_mean = check_real(self.target_mean, "target_mean")
        self.target_std = check_real(self.target_std, "target_std")
        if self.target_std <= 0:
            raise ValueError(f"target_std must be > 0, got {self.target_std}")

    def _check_y(self, y: object, name: str, n: int) -> np.ndarray:
        arr = np.asarray(y)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        if self.task == "regression":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must hold numbers for regression") from None
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
            return arr
        if not self._integer_labels:
            bad = ~np.isin(arr, self.classes_)
            if np.any(bad):
                first = arr[bad][:1].tolist()[0]
                raise ValueError(f"{name} holds label {first!r} that is not in classes_ "
                                 f"{self.classes_.tolist()}")
            return arr
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"{name} must hold integer class labels")
        elif arr.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype} "
                             "(pass classes_ for other labels)")
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

    # ------------------------------------------------------------------ transforms of new rows
    @property
    def feature_transform(self) -> FeatureTransform:
        """The recorded raw-row -> model-row map (standardisation, then unit-ball scaling)."""
        return FeatureTransform(self.feature_mean, self.feature_std, self.scale_factor,
                                self.n_features)

    def transform(self, X) -> np.ndarray:
        """Map raw feature rows of shape (m, d) as the training rows were mapped."""
        return self.feature_transform.transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map model rows of shape (m, d) back to raw feature rows."""
        return self.feature_transform.inverse_transform(Z)

    def transform_target(self, y) -> np.ndarray:
        """Regression: raw targets (m,) -> ``(y - target_mean) / target_std``."""
        if self.task != "regression":
            raise ValueError("transform_target is for regression data sets")
        return (np.asarray(y, dtype=np.float64) - self.target_mean) / self.target_std

    def inverse_transform_target(self, t) -> np.ndarray:
        """Regression: model targets (m,) -> raw targets."""
        if self.task != "regression":
            raise ValueError("inverse_transform_target is for regression data sets")
        return np.asarray(t, dtype=np.float64) * self.target_std + self.target_mean

    def encode_labels(self, y) -> np.ndarray:
        """Labels (m,) -> int64 class indices into ``classes_`` (the learners' labels)."""
        if self.task == "regression":
            raise ValueError("encode_labels is for classification data sets")
        y = np.asarray(y)
        bad = ~np.isin(y, self.classes_)
        if np.any(bad):
            first = y[bad][:1].tolist()[0]
            raise ValueError(f"y holds label {first!r} that is not in classes_ "
                             f"{self.classes_.tolist()}")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def decode_labels(self, codes) -> np.ndarray:
        """Class indices (m,) in ``{0, ..., K - 1}`` -> the user's labels."""
        if self.task == "regression":
            raise ValueError("decode_labels is for classification data sets")
        codes = np.asarray(codes)
        if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0
                                                             or codes.max() >= self.n_classes)):
            raise ValueError(f"codes must be integers in {{0, ..., {self.n_classes - 1}}}")
        return self.classes_[codes]
