"""A user's own data (arrays, pandas DataFrames, CSV and .npz files) as a :class:`Dataset`.

The preparation is the one the bundled data get (``datasets.load("breast_cancer")``): a
deterministic split from the seed (stratified for classification), standardisation with the
training statistics and unit-ball scaling by the largest training-row norm, recorded on the
Dataset (``ds.transform(X_new)`` maps new rows the same way). Labels are kept as given (strings,
{-1, +1}, {1, 2}, ...) and listed, sorted, in ``ds.classes_``. Models fitted on the result follow
the SUM objective ``F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2``
(docs/design.md).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from .._utils import check_int
from ._csv import NA_TOKENS, read_csv, read_npz
from ._dataset import Dataset
from ._labels import as_target, check_class_counts, infer_task
from ._split import check_test_size, prepare

__all__ = ["drop_identifiers", "from_arrays", "from_csv", "from_dataframe", "from_file",
           "from_npz"]

MIN_ROWS = 4
# Slack on the unit-ball test of unscaled rows. Reason: rows scaled elsewhere to norm 1 come
# back with norms 1 + a few ulps.
_UNIT_BALL_SLACK = 1e-12


def _check_scale(scale: object) -> bool:
    if scale is True or scale == "unit_ball":
        return True
    if scale is None or scale is False:
        return False
    raise ValueError(f"scale must be 'unit_ball' or None, got {scale!r}")


def _features(X: object, feature_names) -> np.ndarray:
    """X as a finite float64 (n, d) array; names the column (and row) of any bad entry."""
    import scipy.sparse as sp

    if sp.issparse(X):
        X = X.toarray()
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n rows, d features), got shape {arr.shape}")

    def col(j):
        return repr(feature_names[j]) if feature_names is not None else str(j)

    if arr.dtype.kind in ("m", "M"):
        raise ValueError(f"X holds dates/times (dtype {arr.dtype}); datetimes are refused "
                         "(they would become nanosecond counts): derive numeric features")

    if arr.dtype.kind not in "biuf":
        out = np.empty(arr.shape, dtype=np.float64)
        for j in range(arr.shape[1]):
            for i, v in enumerate(arr[:, j]):
                try:
                    out[i, j] = float(v)
                except (TypeError, ValueError):
                    v = v.item() if isinstance(v, np.generic) else v
                    raise ValueError(f"feature column {col(j)} is not numeric: row {i} holds "
                                     f"{v!r}; encode it as numbers or leave the column out"
                                     ) from None
        arr = out
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"feature column {col(j)} has a missing or non-finite value "
                         f"({arr[i, j]}) at row {i}")
    return arr


def _features_and_names(X, feature_names):
    """Checked features (n, d) and names; at least MIN_ROWS rows and one column."""
    if feature_names is not None and not isinstance(feature_names, (list, tuple, np.ndarray)):
        raise TypeError(f"feature_names must be a list of str, got "
                        f"{type(feature_names).__name__}")
    X = _features(X, list(feature_names) if feature_names is not None else None)
    n, d = X.shape
    names = _check_names(feature_names, d)
    if d == 0:
        raise ValueError("X has no feature columns")
    if n < MIN_ROWS:
        raise ValueError(f"X has {n} rows; a train/test split needs at least {MIN_ROWS}")
    return X, names


def _check_names(feature_names, d: int):
    if feature_names is None:
        return None
    names = [str(f) for f in feature_names]
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} entries but X has {d} columns")
    return names


def _check_magnitudes(pr, names, standardize: bool) -> None:
    """Refuse data whose statistics overflow float64 (they would silently become 0 or inf)."""
    for stat in (pr.mean, pr.std):
        if stat is not None and not np.all(np.isfinite(stat)):
            j = int(np.flatnonzero(~np.isfinite(stat))[0])
            raise ValueError(f"feature column {names[j] if names else j!r} has values too large "
                             "for float64 statistics (its variance overflows); rescale it")
    if not np.isfinite(pr.scale_factor) or not np.all(np.isfinite(pr.X_train)):
        raise ValueError("the training rows' norms overflow float64; rescale X"
                         + ("" if standardize else " or pass standardize=True"))


def from_arrays(X, y, *, task: str | None = None, test_size: float = 0.25, seed: int = 0,
                standardize: bool = True, scale: str | None = "unit_ball",
                n_train: int | None = None, feature_names=None, target_name: str | None = None,
                name: str = "arrays") -> Dataset:
    """A Dataset from a feature matrix and a target, prepared as the bundled data are.

    Parameters
    ----------
    X : array_like or sparse matrix of shape (n, d)
        Numeric features (no intercept column); NaN, inf and text are refused with the row and
        column named.
    y : array_like of shape (n,)
        Class labels (ints, strings, bools, {-1, +1}, ... kept as given) or regression targets.
    task : {None, "regression", "classification", "binary", "multiclass"}, default=None
        None infers it: strings/bools, and integers (or integer-valued floats) with at most 20
        distinct values, are class labels; other numbers are regression targets.
    test_size : float, default=0.25
        Fraction of rows held out, in (0, 1).
    seed : int, default=0
        ``random_state`` of the split (stratified for classification) and of the subsample.
    standardize : bool, default=True
        Standardise features with the training mean/std (constant columns keep std 1); for
        regression the target is standardised too (``target_mean``/``target_std``).
    scale : {"unit_ball", None}, default="unit_ball"
        Divide all rows by the largest training-row norm (after standardisation). The
        certificates of ``mpt.certify`` assume rows of norm <= 1; with ``scale=None`` and larger
        rows a UserWarning says they will mostly be infinite.
    n_train : int, optional
        Keep a deterministic (stratified) subsample of this many training rows.
    feature_names : sequence of str, optional
    target_name : str, optional
    name : str, default="arrays"

    Returns
    -------
    Dataset
        With ``classes_`` (classification), ``feature_transform`` (reusable on new rows via
        ``ds.transform``), ``train_rows``/``test_rows`` (row numbers into ``X``).

    Raises
    ------
    ValueError
        Bad shapes, non-numeric or non-finite features, missing targets, a single class, a
        class with one row, fewer than 4 rows, an invalid ``test_size``/``n_train``, or
        values whose statistics overflow float64. All raised before anything is computed.
    """
    X, names = _features_and_names(X, feature_names)
    n = X.shape[0]
    y = as_target(y, n)
    task, classes = infer_task(y, task)
    seed = check_int(seed, "seed", minimum=0)
    test_size = check_test_size(test_size)
    do_scale = _check_scale(scale)
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize must be True or False, got {standardize!r}")
    classification = task != "regression"
    if classification:
        check_class_counts(y, classes)
    else:
        y = y.astype(np.float64)
    K = classes.size if classification else 0
    pr = prepare(X, y, classification=classification, n_classes=K, seed=seed,
                 test_size=test_size, n_train=n_train, standardize=standardize, scale=do_scale,
                 what=f"{name} ({n} rows)")
    _check_magnitudes(pr, names, standardize)
    if not do_scale:
        _warn_outside_ball(pr.X_train, name)
    y_tr, y_te = pr.y_train, pr.y_test
    t_mean, t_std = 0.0, 1.0
    if not classification and standardize:
        y_tr, y_te, t_mean, t_std = _standardise_target(y_tr, y_te)
    return Dataset(X_train=pr.X_train, y_train=y_tr, X_test=pr.X_test, y_test=y_te, task=task,
                   n_classes=K, name=str(name), feature_names=names,
                   scale_factor=pr.scale_factor, feature_mean=pr.mean, feature_std=pr.std,
                   target_mean=t_mean, target_std=t_std, classes_=classes,
                   target_name=None if target_name is None else str(target_name),
                   train_rows=pr.train_rows, test_rows=pr.test_rows)


def _standardise_target(y_tr: np.ndarray, y_te: np.ndarray):
    """Regression targets mapped by the training mean/std (a constant target keeps std 1)."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow -> refused just below
        t_mean, t_std = float(np.mean(y_tr)), float(np.std(y_tr))
    if not (np.isfinite(t_mean) and np.isfinite(t_std)):
        raise ValueError("the target's statistics overflow float64; rescale y")
    t_std = t_std if t_std > 0 else 1.0
    return (y_tr - t_mean) / t_std, (y_te - t_mean) / t_std, t_mean, t_std


def _warn_outside_ball(X_train: np.ndarray, name: str) -> None:
    r = float(np.max(np.linalg.norm(X_train, axis=1)))
    if r > 1.0 + _UNIT_BALL_SLACK:
        warnings.warn(
            f"{name}: training rows have norms up to {r:.3g} > 1 with scale=None; the "
            "certificates of mpt.certify assume rows in the unit ball and will mostly be "
            "infinite (pass scale='unit_ball')", UserWarning, stacklevel=3)


def _select(columns: list[str], target: str, features, where: str, drop=None) -> list[str]:
    if not isinstance(target, str):
        raise TypeError(f"target must be a column name (str), got {target!r}")
    if target not in columns:
        hint = ""
        if len(columns) == 1 and any(s in columns[0] for s in (";", "\t", "|")):
            sep = next(s for s in (";", "\t", "|") if s in columns[0])
            hint = (f" (one column whose name holds {sep!r}: the file is probably delimited "
                    f"by {sep!r}; pass delimiter={sep!r}, --sep {sep!r} on the command line)")
        raise ValueError(f"target column {target!r} not found in {where}; columns are "
                         f"{columns}{hint}")
    if drop is not None:
        if isinstance(drop, str) or not all(isinstance(c, str) for c in drop):
            raise TypeError("drop must be a list of column names")
        drop = list(drop)
        missing = [c for c in drop if c not in columns]
        if missing:
            raise ValueError(f"drop: columns {missing} not found in {where}; columns are "
                             f"{columns}")
        if target in drop:
            raise ValueError(f"drop contains the target column {target!r}")
        if features is not None:
            raise ValueError("pass features= (the columns to keep) or drop= (the columns to "
                             "leave out), not both")
    if features is None:
        out = [c for c in columns if c != target and c not in (drop or ())]
        if not out:
            raise ValueError(f"no feature column is left in {where} after dropping {drop}")
        return out
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise TypeError("features must be a list of column names")
    features = list(features)
    missing = [f for f in features if f not in columns]
    if missing:
        raise ValueError(f"features {missing} not found in {where}; columns are {columns}")
    if target in features:
        raise ValueError(f"features contains the target column {target!r}")
    if not features:
        raise ValueError("features is empty")
    return features


def from_dataframe(df, target: str, *, features=None, drop=None, **kwargs) -> Dataset:
    """A Dataset from a pandas DataFrame: column ``target`` is y, the others (or ``features``)
    are X. Keyword arguments are those of :func:`from_arrays` (sum convention as there).

    Parameters
    ----------
    features : list of str, optional
        The feature columns. None: every column but the target, the ``drop`` columns and the
        identifier-like columns (see :func:`drop_identifiers`), which are dropped with a
        UserWarning naming them (list them here to keep them).
    drop : list of str, optional
        Columns left out (with ``features=None``).

    Raises
    ------
    ValueError
        Missing target/feature columns, non-numeric feature columns (named, with the first
        offending row), datetime columns (named), missing values (row and column named), and
        everything :func:`from_arrays` refuses. Nullable integer / float / boolean columns
        (``Int64``, ``Float64``, ``boolean``) without missing values are accepted.
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is optional
        raise ImportError("from_dataframe needs pandas (pip install pandas)") from exc
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("df has repeated column names")
    df = df.set_axis(columns, axis=1)
    explicit = features is not None
    features = _select(columns, target, features, "df", drop)
    for c in features:
        kind = df[c].dtype.kind if isinstance(df[c].dtype, np.dtype) else ""
        if kind in ("m", "M") or isinstance(df[c].dtype, pd.DatetimeTZDtype):
            raise ValueError(f"feature column {c!r} holds dates/times (dtype {df[c].dtype}); "
                             "datetimes are refused (they would become nanosecond counts): "
                             "derive numeric features from it or leave it out (drop=)")
    Xdf = df[features]
    for c in features:
        col = Xdf[c]
        if col.isna().any():
            i = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise ValueError(f"feature column {c!r} has a missing value at row {i}")
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            conv = pd.to_numeric(col, errors="coerce")
            i = int(np.flatnonzero(conv.isna().to_numpy())[0]) if conv.isna().any() else None
            if i is not None:
                raise ValueError(f"feature column {c!r} is not numeric: row {i} holds "
                                 f"{col.iloc[i]!r}; encode it as numbers or leave it out")
    yser = df[target]
    if yser.isna().any():
        i = int(np.flatnonzero(yser.isna().to_numpy())[0])
        raise ValueError(f"target column {target!r} has a missing value at row {i}")
    if pd.api.types.is_extension_array_dtype(yser.dtype) and (
            pd.api.types.is_numeric_dtype(yser.dtype) or pd.api.types.is_bool_dtype(yser.dtype)):
        yser = pd.Series(yser.to_numpy(dtype=yser.dtype.numpy_dtype), name=target)
    X = Xdf.apply(pd.to_numeric).to_numpy(dtype=np.float64)
    if not explicit:
        keep = drop_identifiers(X, features, "df")
        X, features = X[:, keep], [features[j] for j in keep]
    kwargs.setdefault("name", "dataframe")
    return from_arrays(X, yser.to_numpy(), feature_names=features, target_name=target, **kwargs)


def _check_path(path, suffix: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise ValueError(f"data file {str(p)!r} does not exist")
    if not p.is_file():
        raise ValueError(f"data file {str(p)!r} is not a file")
    if p.suffix.lower() != suffix:
        raise ValueError(f"data file {str(p)!r} must end in {suffix}")
    return p


def from_csv(path, target: str, *, features=None, drop=None, delimiter: str = ",",
             decimal: str = ".", encoding: str = "utf-8", **kwargs) -> Dataset:
    """A Dataset from a CSV file with a header row: column ``target`` is y, the other columns
    (or ``features``) are X. Keyword arguments are those of :func:`from_arrays`.

    Parameters
    ----------
    path : path to a .csv file
    target : str
    features : list of str, optional
        The feature columns. None: every column but the target, the ``drop`` columns and the
        identifier-like ones (:func:`drop_identifiers`: named ``id`` / ``*_id``, or strictly
        increasing integers), which are dropped with a UserWarning (list them to keep them).
    drop : list of str, optional
        Columns to leave out (with ``features=None``).
    delimiter : str, default=","
        One character (``";"``, ``"\t"``, ...).
    decimal : {".", ","}, default="."
        The decimal mark of the numbers (``","`` for 1,5; then the delimiter is not ",").
    encoding : str, default="utf-8"
        The file's text encoding (a UTF-8 byte-order mark is skipped).

    Messages name the file, the column and the line of any problem (empty file, no data rows,
    ragged rows, missing target column, non-numeric feature, dates, missing value) and suggest
    ``delimiter`` / ``decimal`` when the file looks like it needs them. No pandas needed.
    Models fitted on the result follow the sum convention of :func:`from_arrays`.
    """
    p = _check_path(path, ".csv")
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    if decimal == delimiter:
        raise ValueError(f"decimal and delimiter are both {decimal!r}; a decimal-comma file "
                         "needs another delimiter, e.g. delimiter=';'")
    header, cols, lines = read_csv(p, delimiter, encoding)
    explicit = features is not None
    features = _select(header, target, features, p.name, drop)
    X, y = _csv_arrays(p.name, cols, lines, features, target, decimal)
    if not explicit:
        keep = drop_identifiers(X, features, p.name)
        X, features = X[:, keep], [features[j] for j in keep]
    kwargs.setdefault("name", p.name)
    return from_arrays(X, y, feature_names=features, target_name=target, **kwargs)


# Cells that look like dates or times (ISO 8601, d/m/y, m/d/y): refused by name.
_DATETIME = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d*)?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
                       r"( \d{1,2}:\d{2}(:\d{2})?)?|\d{1,2}:\d{2}(:\d{2})?)\s*$")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+([eE][-+]?\d+)?\s*$")
# Column names read as row identifiers (besides names ending in "_id").
_ID_NAMES = frozenset({"id", "index", "row_id", "rowid", "unnamed: 0"})
# Fewest rows for "strictly increasing integers" to read as a row number (not a coincidence).
_ID_MIN_ROWS = 10


def drop_identifiers(X: np.ndarray, names: list[str], where: str) -> list[int]:
    """Indices of the columns to keep: identifier-like columns are dropped with a warning.

    A column is identifier-like when it is named like one (``id``, ``index``, ``*_id``, any
    case) or holds integers that strictly increase down the rows (a row number; 10 rows or
    more). Such a
    column would enter the model as a feature and value rows by their position. Pass
    ``features=[...]`` to keep one.
    """
    keep, dropped = [], []
    for j, name in enumerate(names):
        col = X[:, j]
        low = name.strip().lower()
        if low in _ID_NAMES or low.endswith("_id"):
            dropped.append(f"{name!r} (named like an identifier)")
        elif col.size >= 3 and np.all(col == np.round(col)) and np.all(np.diff(col) > 0):
            dropped.append(f"{name!r} (strictly increasing integers: a row number)")
        else:
            keep.append(j)
    if dropped and not keep:  # nothing else to learn from: keep them, but say so
        warnings.warn(f"{where}: every feature column looks like a row identifier "
                      f"({', '.join(dropped)}); they are kept as features, but a model of row "
                      f"numbers values rows by their position", UserWarning, stacklevel=3)
        return list(range(len(names)))
    if dropped:
        warnings.warn(f"{where}: dropped identifier-like column(s) {', '.join(dropped)}; "
                      f"list the columns in features= (--features) to keep them",
                      UserWarning, stacklevel=3)
    return keep


def _csv_arrays(fname: str, cols: dict, lines: list[int], features: list[str], target: str,
                decimal: str = "."):
    n = len(cols[target])
    X = np.empty((n, len(features)))
    for j, c in enumerate(features):
        for i, cell in enumerate(cols[c]):
            if cell.strip().lower() in NA_TOKENS:
                raise ValueError(f"{fname}: feature column {c!r} has a missing value "
                                 f"({cell.strip()!r}) at line {lines[i]} (data row {i})")
            try:
                X[i, j] = float(cell.replace(",", ".") if decimal == "," else cell)
            except ValueError:
                if _DATETIME.match(cell):
                    raise ValueError(f"{fname}: feature column {c!r} holds dates/times (line "
                                     f"{lines[i]}: {cell.strip()!r}); datetimes are refused: "
                                     "derive numeric features from it or leave it out "
                                     "(drop=[...], --drop)") from None
                hint = ("; it looks like a decimal comma: pass decimal=',' (--decimal ,)"
                        if decimal == "." and _DECIMAL_COMMA.match(cell) else
                        "; encode it as numbers or leave it out (drop=[...], --drop)")
                raise ValueError(f"{fname}: feature column {c!r} is not numeric: line {lines[i]} "
                                 f"(data row {i}) holds {cell!r}{hint}") from None
            if not np.isfinite(X[i, j]):
                raise ValueError(f"{fname}: feature column {c!r} has a missing or non-finite "
                                 f"value {cell!r} at line {lines[i]} (data row {i})")
    cells = [c.strip() for c in cols[target]]
    empty = [i for i, c in enumerate(cells) if c.lower() in NA_TOKENS]
    if empty:
        raise ValueError(f"{fname}: target column {target!r} has a missing value at line "
                         f"{lines[empty[0]]} (data row {empty[0]})")
    if decimal == ",":
        cells = [c.replace(",", ".") if _DECIMAL_COMMA.match(c) else c for c in cells]
    for kind in (int, float):
        try:
            y = np.array([kind(c) for c in cells])
            break
        except ValueError:
            continue
    else:
        if decimal == "." and all(_DECIMAL_COMMA.match(c) for c in cells):
            raise ValueError(f"{fname}: target column {target!r} holds numbers with a decimal "
                             f"comma ({cells[0]!r}); pass decimal=',' (--decimal ,)")
        y = np.array(cells, dtype=str)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"{fname}: target column {target!r} has a missing or non-finite value "
                         f"at line {lines[i]} (data row {i})")
    return X, y


def from_npz(path, target: str = "y", *, features: str = "X", **kwargs) -> Dataset:
    """A Dataset from a NumPy .npz file holding a feature array (key ``features``, default
    ``"X"``, shape (n, d)) and a target array (key ``target``, default ``"y"``, shape (n,));
    an optional ``feature_names`` array names the columns. Keyword arguments are those of
    :func:`from_arrays` (sum convention as there). Pickled objects are never loaded.
    """
    p = _check_path(path, ".npz")
    arrays = read_npz(p)
    for key, what in ((features, "features"), (target, "target")):
        if not isinstance(key, str):
            raise TypeError(f"{what} must be a key name (str), got {key!r}")
        if key not in arrays:
            raise ValueError(f"{p.name} has no array {key!r} ({what}); keys are "
                             f"{sorted(arrays)}")
    kwargs.setdefault("name", p.name)
    kwargs.setdefault("target_name", target)
    if "feature_names" in arrays and "feature_names" not in kwargs:
        kwargs["feature_names"] = [str(s) for s in arrays["feature_names"].tolist()]
    return from_arrays(arrays[features], arrays[target], **kwargs)


def from_file(path, target: str | None = None, **kwargs) -> Dataset:
    """:func:`from_csv` or :func:`from_npz` by the file's suffix (``target`` needed for CSV)."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".csv":
        if target is None:
            raise ValueError(f"{Path(str(path)).name}: a CSV file needs target=COLUMN (the "
                             "name of the label/target column)")
        return from_csv(path, target, **kwargs)
    if suffix == ".npz":
        return from_npz(path, "y" if target is None else target, **kwargs)
    raise ValueError(f"data file {str(path)!r} must end in .csv or .npz")
