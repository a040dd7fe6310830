"""Class labels as scikit-learn takes them: any sortable values, mapped to classes in sorted order.

A classifier sees its labels through ``classes_``, the sorted distinct labels (strings, ints,
{-1, +1}, {1, 2}, bools ...): label ``classes_[j]`` gets code ``j``, and for binary models
``classes_[1]`` is the positive class, as in scikit-learn. Encoded labels are returned as
:class:`EncodedLabels`, an ndarray that remembers ``classes_``, so that passing them back to the
learner (as the baselines and the set predictor do) never re-maps them.

Canonical codes: when a learner is given labels that already are codes ({0, 1} for binary
logistic, a subset of {0, ..., n_classes - 1} when ``n_classes`` is given, {-1, +1} or {0, 1} for
the SVM) they are kept as they are even if a class is absent, so a test set or a subset that
misses a class keeps the same codes as the full pool. See docs/design.md.
"""

from __future__ import annotations

import numpy as np


class EncodedLabels(np.ndarray):
    """Encoded labels (codes) with the ``classes_`` they decode to.

    Indexing, slicing, copies and ``astype`` keep the class; arithmetic and comparisons return
    plain ndarrays (they are no longer codes).
    """

    classes_: np.ndarray | None

    def __new__(cls, codes: np.ndarray, classes: np.ndarray):
        obj = np.asarray(codes).view(cls)
        obj.classes_ = classes
        return obj

    def __array_finalize__(self, obj):
        self.classes_ = getattr(obj, "classes_", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(np.asarray(a) if isinstance(a, EncodedLabels) else a for a in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(a) if isinstance(a, EncodedLabels) else a
                                  for a in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __reduce__(self):
        return (EncodedLabels, (np.asarray(self).copy(), self.classes_))


def _fmt(values, limit: int = 6) -> str:
    vals = list(np.asarray(values).tolist())
    shown = ", ".join(repr(v) for v in vals[:limit])
    return "[" + shown + (", ..." if len(vals) > limit else "") + "]"


def check_classes(classes, name: str = "classes") -> np.ndarray | None:
    """Validate an explicit list of class labels: 1-D, >= 2 distinct sortable values."""
    if classes is None:
        return None
    c = np.asarray(classes)
    if c.ndim != 1:
        raise ValueError(f"{name} must be a 1-D list of class labels, got shape {c.shape}")
    try:
        u = np.unique(c)
    except TypeError:
        raise ValueError(f"{name} must hold sortable labels of one kind (e.g. all strings or "
                         "all numbers)") from None
    if u.size != c.size:
        raise ValueError(f"{name} holds repeated labels: {_fmt(c)}")
    if u.size < 2:
        raise ValueError(f"{name} must hold at least 2 labels, got {_fmt(c)}")
    if u.dtype.kind == "f" and not np.all(np.isfinite(u)):
        raise ValueError(f"{name} contains NaN or inf")
    return u


def label_values(y, name: str = "y") -> np.ndarray:
    """Distinct labels of y (sorted), refusing NaN, unsortable mixtures and continuous values."""
    y = np.asarray(y)
    if y.dtype.kind == "c":
        raise ValueError(f"{name} must hold class labels, got complex values")
    if y.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y.tolist()):
            raise ValueError(f"{name} contains missing labels (None or NaN)")
    try:
        u = np.unique(y)
    except TypeError:
        raise ValueError(f"{name} mixes labels that cannot be sorted (e.g. strings and "
                         "numbers): use labels of one kind") from None
    if u.dtype.kind == "f":
        if not np.all(np.isfinite(u)):
            raise ValueError(f"{name} contains NaN or inf")
        if np.any(u != np.round(u)):
            bad = u[u != np.round(u)][0].item()
            raise ValueError(f"{name} holds the non-integer value {bad!r}: a classifier needs "
                             "discrete class labels (use Ridge for a real-valued target)")
    return u


def _same_kind(u: np.ndarray, ref: np.ndarray) -> bool:
    num = "biuf"
    return (u.dtype.kind in num) == (ref.dtype.kind in num)


def encode(y, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """Codes (int64) of y in the sorted ``classes``; ValueError naming the unknown labels."""
    y = np.asarray(y)
    u = label_values(y, name)
    if not _same_kind(u, classes):
        raise ValueError(f"{name} holds labels {_fmt(u)} of another kind than the classes "
                         f"{_fmt(classes)}")
    missing = np.setdiff1d(u, classes)
    if missing.size:
        raise ValueError(f"{name} holds labels {_fmt(missing)} that are not among the classes "
                         f"{_fmt(classes)}")
    return np.searchsorted(classes, y).astype(np.int64)


def infer_classes(y, *, canonical: tuple, n_classes: int | None, classes: np.ndarray | None,
                  learner: str, binary_only: bool = False, name: str = "y") -> np.ndarray:
    """The sorted classes_ that encode y for a learner (see the module docstring).

    Parameters
    ----------
    canonical : tuple of tuples
        Code sets taken as they are when y's labels fall inside one (first match wins).
    n_classes : int or None
        The learner's declared number of classes.
    classes : ndarray or None
        The learner's declared classes (win over everything else).
    """
    if classes is not None:
        return classes
    u = label_values(y, name)
    if u.size == 0:
        raise ValueError(f"{name} is empty")
    numeric = u.dtype.kind in "biuf"
    if numeric and n_classes is not None and np.all((u >= 0) & (u < n_classes)):
        return np.arange(n_classes, dtype=np.int64)
    if numeric:
        for codes in canonical:
            if set(u.tolist()) <= set(codes) and n_classes in (None, len(codes)):
                return np.asarray(codes, dtype=u.dtype)
    if u.size < 2:
        raise ValueError(
            f"{name} holds the single label {u[0].item()!r}: {learner} cannot tell which "
            "class it is; pass classes=[...] (all the labels) to the learner"
        )
    if binary_only and u.size > 2:
        raise ValueError(f"{name} holds {u.size} distinct labels {_fmt(u)}: {learner} is a "
                         "binary classifier (2 labels)")
    if n_classes is not None and u.size != n_classes:
        raise ValueError(
            f"{name} holds {u.size} distinct labels {_fmt(u)} but the learner has "
            f"n_classes={n_classes}; pass classes=[...] listing all {n_classes} labels, or "
            f"n_classes={u.size}"
        )
    return u
