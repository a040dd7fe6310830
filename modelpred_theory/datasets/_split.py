"""The one preparation pipeline shared by the bundled and the user's data.

Split (stratified for classification) -> optional stratified subsample of the training pool ->
standardise with training statistics -> optional unit-ball scaling by the largest training-row
norm. Every statistic comes from the final training rows only; the result is recorded so new
rows can be mapped the same way (:class:`FeatureTransform`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._utils import check_int

# A feature whose train standard deviation is below this (relative to max(1, |mean|)) counts as
# constant and keeps std 1. Reason: the mean of equal floats can differ from them by a few ulps,
# so "std == 0" is not a reliable test for a constant column.
CONSTANT_STD_RTOL = 1e-12


@dataclass
class Prepared:
    """Arrays and statistics produced by :func:`prepare`."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    mean: np.ndarray | None
    std: np.ndarray | None
    scale_factor: float


def check_test_size(test_size: object) -> float:
    """A float in (0, 1)."""
    if not isinstance(test_size, numbers.Real) or isinstance(test_size, bool):
        raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
    test_size = float(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
    return test_size


def standardise(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train mean and std with constant columns given std 1 (shape (d,) each)."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    constant = std <= CONSTANT_STD_RTOL * np.maximum(1.0, np.abs(mean))
    std = np.where(constant, 1.0, std)
    return mean, std


def _subsample(idx_tr, y, n_train, classification, n_classes, seed, what):
    from sklearn.model_selection import train_test_split

    n_train = check_int(n_train, "n_train", minimum=1)
    pool = idx_tr.size
    if n_train > pool:
        raise ValueError(f"n_train={n_train} exceeds the training pool of {pool} points ({what})")
    if classification and n_train < n_classes:
        raise ValueError(
            f"n_train={n_train} is smaller than the number of classes ({n_classes}); "
            "a stratified subsample needs at least one point per class"
        )
    if n_train == pool:
        return idx_tr
    try:
        idx_tr, _ = train_test_split(idx_tr, train_size=n_train, random_state=seed,
                                     stratify=y[idx_tr] if classification else None)
    except ValueError as exc:
        raise ValueError(f"n_train={n_train} cannot be drawn: {exc}") from exc
    return idx_tr


# Largest seed of the split: scikit-learn's random_state takes 32-bit seeds.
MAX_SEED = 2**32 - 1


def prepare(X: np.ndarray, y: np.ndarray, *, classification: bool, n_classes: int, seed: int,
            test_size: float, n_train: int | None, standardize: bool, scale: bool,
            what: str) -> Prepared:
    """Split, subsample, standardise and scale (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n, d), finite float64
    y : ndarray of shape (n,)
        Labels (any sortable values) or float targets; never transformed here.
    classification : bool
        Stratify the split and the subsample by ``y``.
    n_classes : int
    seed : int
        ``random_state`` of scikit-learn's ``train_test_split`` (split and subsample).
    test_size : float in (0, 1)
    n_train : int or None
        Stratified subsample of the training pool.
    standardize, scale : bool
    what : str
        Names the data in messages.

    Returns
    -------
    Prepared
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) \
            or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1] (scikit-learn's "
                         f"random_state of the split), got {seed!r}")
    idx = np.arange(X.shape[0])
    try:
        idx_tr, idx_te = train_test_split(idx, test_size=test_size, random_state=seed,
                                          stratify=y if classification else None)
    except ValueError as exc:
        raise ValueError(f"test_size={test_size} gives an invalid split of {what}: {exc}") from exc
    if n_train is not None:
        idx_tr = _subsample(idx_tr, y, n_train, classification, n_classes, seed, what)
    X_tr, X_te = X[idx_tr], X[idx_te]
    mean = std = None
    # overflow shows up as non-finite statistics, which the callers check and report by column
    with np.errstate(over="ignore", invalid="ignore"):
        if standardize:
            mean, std = standardise(X_tr)
            X_tr = (X_tr - mean) / std
            X_te = (X_te - mean) / std
        scale_factor = 1.0
        if scale:
            max_norm = float(np.max(np.linalg.norm(X_tr, axis=1)))
            if max_norm > 0.0:
                scale_factor = max_norm
                X_tr = X_tr / scale_factor
                X_te = X_te / scale_factor
    return Prepared(X_tr, X_te, y[idx_tr], y[idx_te], idx_tr, idx_te, mean, std, scale_factor)
