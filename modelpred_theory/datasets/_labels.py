"""Targets of a user's data: task inference and label checks (labels are kept as given)."""

from __future__ import annotations

import numbers

import numpy as np

# Integer (or integer-valued float) targets with at most this many distinct values are taken as
# class labels when no task is given; more distinct values make the target a regression target.
MAX_INFERRED_CLASSES = 20

TASK_CHOICES = (None, "auto", "regression", "classification", "binary", "multiclass")


def as_target(y: object, n: int) -> np.ndarray:
    """y as a 1-D array of length n: numeric (int/float/bool) or strings; refuses missing values.

    Object arrays are turned into a numeric array when every entry is a number, into a string
    array when every entry is a string, and refused otherwise.
    """
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y could not be read as an array: {exc}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) (one target per row of X), got {arr.shape}")
    if arr.dtype.kind == "O":
        items = arr.tolist()
        missing = [i for i, v in enumerate(items) if v is None
                   or (isinstance(v, float) and not np.isfinite(v))]
        if missing:
            raise ValueError(f"y has a missing value at row {missing[0]}")
        if all(isinstance(v, str) for v in items):
            arr = np.asarray(items, dtype=str)
        elif all(isinstance(v, numbers.Real) for v in items):
            arr = np.asarray(items)
        else:
            kinds = sorted({type(v).__name__ for v in items})
            raise ValueError(f"y mixes value types {kinds}; give numbers or strings only")
    if arr.dtype.kind not in "biufUS":
        raise ValueError(f"y must hold numbers or strings, got dtype {arr.dtype}")
    if arr.dtype.kind == "S":
        arr = arr.astype(str)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"y has a missing or non-finite value ({arr[i]}) at row {i}")
    if arr.dtype.kind == "U":
        empty = np.flatnonzero(np.char.strip(arr) == "")
        if empty.size:
            raise ValueError(f"y has an empty label at row {int(empty[0])}")
    return arr


def infer_task(y: np.ndarray, task: str | None) -> tuple[str, np.ndarray | None]:
    """The task and the sorted classes of a checked target ``y`` (see :func:`as_target`).

    Rules without a task: strings and bools are class labels; integers and integer-valued floats
    with at most ``MAX_INFERRED_CLASSES`` distinct values are class labels; every other numeric
    target is a regression target. ``"classification"`` means binary or multiclass by the count.
    """
    if task not in TASK_CHOICES:
        raise ValueError(f"task must be one of {TASK_CHOICES[1:]} or None, got {task!r}")
    numeric = y.dtype.kind in "iuf"
    if task in (None, "auto"):
        if y.dtype.kind in "bU":
            task = "classification"
        else:
            vals = np.unique(y)
            integral = y.dtype.kind in "iu" or bool(np.all(vals == np.round(vals)))
            task = ("classification" if integral and vals.size <= MAX_INFERRED_CLASSES
                    else "regression")
    if task == "regression":
        if not numeric:
            raise ValueError(f"task='regression' needs a numeric target, got labels such as "
                             f"{_show(y[:1])}")
        return "regression", None
    classes = np.unique(y)
    K = classes.size
    if K < 2:
        raise ValueError(f"y has a single class {_show(classes)}; a classifier needs at least "
                         "two classes")
    if task == "binary" and K != 2:
        raise ValueError(f"task='binary' needs exactly 2 classes, y has {K}: "
                         f"{_show(classes)}")
    if task == "multiclass" and K < 3:
        raise ValueError(f"task='multiclass' needs at least 3 classes, y has {K}: "
                         f"{_show(classes)}")
    return ("binary" if K == 2 else "multiclass"), classes


def check_class_counts(y: np.ndarray, classes: np.ndarray) -> None:
    """A stratified split needs at least two rows of every class."""
    counts = np.array([(y == c).sum() for c in classes])
    if np.any(counts < 2):
        c = _show(classes[[int(np.argmin(counts))]])
        raise ValueError(f"class {c} has only {int(counts.min())} row; a stratified "
                         "train/test split needs at least 2 rows of every class")


def _show(classes: np.ndarray, limit: int = 8) -> str:
    items = [repr(c.item() if hasattr(c, "item") else c) for c in classes[:limit]]
    return ", ".join(items) + (", ..." if classes.size > limit else "")
