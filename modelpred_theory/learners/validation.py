"""Input validation shared by the learners: every check raises before any work starts."""

from __future__ import annotations

import numbers

import numpy as np


def check_lam(lam: float, *, allow_zero: bool) -> float:
    """Return ``lam`` as a float, or raise ValueError naming it."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise ValueError(f"lam must be a real number, got {type(lam).__name__}")
    lam = float(lam)
    if not np.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam}")
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    if lam == 0 and not allow_zero:
        raise ValueError(
            "lam must be > 0 for this learner: with lam = 0 the minimiser may not exist "
            "(e.g. separable data)"
        )
    return lam


# Largest dense copy (bytes) made from a scipy.sparse input. Reason: the exact solvers work on
# dense float64 arrays; beyond ~2 GiB densifying would exhaust a typical machine's memory.
_MAX_DENSE_BYTES = 2 * 2**30


def densify(A, name: str):
    """A dense ndarray from a scipy.sparse matrix/array (checked for size), else A unchanged."""
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a hard dependency
        return A
    if not sp.issparse(A):
        return A
    nbytes = 8 * int(np.prod(A.shape, dtype=np.float64))
    if nbytes > _MAX_DENSE_BYTES:
        raise ValueError(
            f"{name} is a sparse matrix of shape {A.shape}; the exact solvers need it dense "
            f"({nbytes / 2**30:.1f} GiB as float64, above the {_MAX_DENSE_BYTES / 2**30:.0f} GiB "
            "limit): reduce it (e.g. feature selection or TruncatedSVD) first"
        )
    return A.toarray()


def _positions(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    return str(idx[:limit].tolist())[:-1] + (", ...]" if idx.size > limit else "]")


def from_pandas(A, name: str):
    """An ndarray from a pandas DataFrame or Series; any other input is returned unchanged.

    pandas' nullable extension dtypes (``Int64``, ``Float64``, ``boolean``, ...) are converted
    to their numpy dtypes (a DataFrame mixing them would otherwise become an object array);
    missing values (``pd.NA``, NaN, None) and non-numeric DataFrame columns are refused naming
    the columns. A DataFrame of numeric columns gives float64 (n, d) (mixed dtypes included), a
    Series its values with the numpy dtype of its extension dtype (``Int64`` labels become
    int64 labels, as if given as a numpy array).

    Raises
    ------
    ValueError
        Naming ``name``, the offending columns (DataFrame) with their dtypes and the first row
        positions of missing values.
    """
    if not type(A).__module__.startswith("pandas"):
        return A
    import pandas as pd

    if isinstance(A, pd.Series):
        na = A.isna().to_numpy(dtype=bool)
        if na.any():
            raise ValueError(f"{name} has missing values (NaN / pd.NA / None) at positions "
                             f"{_positions(na)} (dtype {A.dtype}): drop or impute them first")
        numpy_dtype = getattr(A.dtype, "numpy_dtype", None)
        if not isinstance(A.dtype, np.dtype) and numpy_dtype is not None \
                and np.dtype(numpy_dtype).kind in "biuf":
            return A.to_numpy(dtype=numpy_dtype)
        return A.to_numpy()
    if not isinstance(A, pd.DataFrame):
        return A
    dtypes = list(A.dtypes)
    cols = list(A.columns)
    bad = [f"{c!r} ({dt})" for c, dt in zip(cols, dtypes, strict=True) if dt.kind not in "biufc"]
    if bad:
        raise ValueError(f"{name} must be numeric: column(s) {', '.join(bad[:5])}"
                         f"{' ...' if len(bad) > 5 else ''} are not; encode them as numbers "
                         "or leave them out")
    na = A.isna().to_numpy(dtype=bool)
    if na.any():
        where = [f"{cols[j]!r} ({dtypes[j]}) at rows {_positions(na[:, j])}"
                 for j in np.flatnonzero(na.any(axis=0))]
        raise ValueError(f"{name} has missing values (NaN / pd.NA) in column(s) "
                         f"{'; '.join(where[:5])}{' ...' if len(where) > 5 else ''}: drop or "
                         "impute them first")
    if any(dt.kind == "c" for dt in dtypes):
        return A.to_numpy()  # refused as complex by the caller
    return A.to_numpy(dtype=np.float64)


def check_X(X, name: str = "X") -> np.ndarray:
    """Validate a design matrix: 2-D, real, finite, non-empty; returns float64.

    Accepts ndarrays, lists, pandas DataFrames (nullable ``Int64`` / ``Float64`` / ``boolean``
    columns included, see :func:`from_pandas`), boolean arrays and scipy.sparse matrices (made
    dense, with a clear error when that would be too large).
    """
    X = from_pandas(densify(X, name), name)
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a 2-D numeric array (n_samples, n_features): {exc}") \
            from None
    if X.dtype == bool:
        X = X.astype(np.float64)
    if X.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got complex dtype {X.dtype}")
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_samples, n_features), got ndim={X.ndim}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {X.shape}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf")
    return X


def check_y_shape(y, n: int, name: str = "y", numeric: bool = True) -> np.ndarray:
    """Validate y of shape (n,); ``numeric=False`` also admits string/object class labels.

    Encoded labels (``EncodedLabels``) are returned as they are (their ``classes_`` kept).
    """
    y = from_pandas(densify(y, name), name)
    y = np.asanyarray(y)
    if y.ndim == 2 and 1 in y.shape and y.size == n and n > 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}; "
                         "use y.ravel()")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} entries but X has {n} rows")
    if y.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got complex dtype {y.dtype}")
    is_num = y.dtype == bool or np.issubdtype(y.dtype, np.number)
    if numeric and not is_num:
        raise ValueError(f"{name} must be numeric, got dtype {y.dtype}")
    if is_num and not np.all(np.isfinite(y.astype(np.float64))):
        raise ValueError(f"{name} contains NaN or inf")
    return y


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Validate non-negative finite weights of shape (n,); None means all ones.

    The same rules as a row of ``subsets.check_masks(..., weights=True)``: booleans or
    non-negative reals (fractional weights allowed; weight 2 counts a point twice).
    """
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(from_pandas(densify(sample_weight, "sample_weight"), "sample_weight"))
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if w.dtype == object or not (w.dtype == bool or np.issubdtype(w.dtype, np.number)) \
            or w.dtype.kind == "c":
        raise ValueError(f"sample_weight must be boolean or real, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or inf")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero everywhere: the subset is empty")
    return w


def check_weight_matrix(masks, n: int, name: str = "masks") -> np.ndarray:
    """Validate a (k, n) matrix of subset masks (bool or 0/1) or non-negative weights.

    Returns float64 weights of shape (k, n). A 1-D input is treated as one subset. This is
    ``subsets.check_masks(masks, n, weights=True)``: one validator for masks everywhere.
    """
    from .._utils import check_masks

    return check_masks(densify(masks, name), n, weights=True, name=name)


def check_theta(theta, p: int, name: str = "theta") -> np.ndarray:
    """Validate parameters of shape (p,) or (k, p); returns float64 with a leading k axis."""
    try:
        T = np.asarray(densify(theta, name))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a real array of shape ({p},) or (k, {p}): {exc}") \
            from None
    if T.dtype == object or T.dtype.kind == "c" or not (
            T.dtype == bool or np.issubdtype(T.dtype, np.number)):
        raise ValueError(f"{name} must be a real numeric array, got dtype {T.dtype}")
    T = T.astype(np.float64)
    if T.ndim == 1:
        T = T[None, :]
    if T.ndim != 2 or T.shape[1] != p:
        raise ValueError(f"{name} must have shape ({p},) or (k, {p}), got {np.shape(theta)}")
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} contains NaN or inf")
    return T
