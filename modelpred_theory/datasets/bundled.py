"""scikit-learn's bundled real data sets as deterministic, standardised, unit-ball splits.

Real data come only from the files packaged with scikit-learn (``load_iris``,
``load_breast_cancer``, ``load_wine``, ``load_digits``, ``load_diabetes``); nothing is ever
downloaded. The preparation (split, standardisation, unit-ball scaling) is the one a user's data
gets (:mod:`.own`), and the parameters of a model fitted on it follow the SUM objective
``F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2`` (docs/design.md).
"""

from __future__ import annotations

import numpy as np

from .._utils import check_int as _check_int
from ._dataset import Dataset
from ._split import check_test_size, prepare

__all__ = ["available", "load_bundled"]

# name -> (task, one-line description)
_REGISTRY: dict[str, tuple[str, str]] = {
    "iris2": ("binary", "iris classes 0/1 (setosa vs versicolor), 100 points, 4 features"),
    "breast_cancer": ("binary", "Wisconsin breast cancer, 569 points, 30 features"),
    "wine": ("multiclass", "wine cultivars, 178 points, 13 features, 3 classes"),
    "digits": ("multiclass", "8x8 handwritten digits, 1797 points, 64 features, 10 classes"),
    "diabetes": ("regression", "diabetes progression, 442 points, 10 features"),
}



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




def load_bundled(
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
        ``{0, ..., K - 1}`` (``classes_ = arange(K)``); regression targets are float64.
        ``train_rows``/``test_rows`` give the rows of scikit-learn's array each came from.

    Raises
    ------
    ValueError
        Unknown ``name`` (``datasets.load`` also takes a path to a .csv/.npz file);
        ``test_size`` outside ``(0, 1)`` or too small/large for a stratified split;
        ``n_train`` larger than the training pool or too small to hold every class.

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
    ``[w_k, b_k]`` flattened, for multiclass) of the SUM objective described in docs/design.md.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    seed = _check_int(seed, "seed", minimum=0)
    test_size = check_test_size(test_size)
    task = _REGISTRY[name][0]
    X, y, feature_names = _raw(name)
    X = np.asarray(X, dtype=np.float64)
    classification = task != "regression"
    y = np.asarray(y, dtype=np.int64 if classification else np.float64)
    n_classes = int(np.unique(y).size) if classification else 0
    pr = prepare(X, y, classification=classification, n_classes=n_classes, seed=seed,
                 test_size=test_size, n_train=n_train, standardize=True, scale=bool(scale),
                 what=f"{name!r} (test_size={test_size})")
    y_tr, y_te = pr.y_train, pr.y_test
    target_mean, target_std = 0.0, 1.0
    if name == "diabetes":
        target_mean = float(np.mean(y_tr))
        target_std = float(np.std(y_tr))
        if target_std <= 0.0:  # pragma: no cover - only for a 1-point pool
            target_std = 1.0
        y_tr = (y_tr - target_mean) / target_std
        y_te = (y_te - target_mean) / target_std
    return Dataset(
        X_train=pr.X_train, y_train=y_tr, X_test=pr.X_test, y_test=y_te, task=task,
        n_classes=n_classes, name=name, feature_names=feature_names, theta_true=None,
        scale_factor=pr.scale_factor, feature_mean=pr.mean, feature_std=pr.std,
        target_mean=target_mean, target_std=target_std, train_rows=pr.train_rows,
        test_rows=pr.test_rows,
    )
