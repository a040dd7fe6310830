"""Noisy-label detection by data values: flip labels, value the points, score the ranking.

Values are computed on the noisy pool with U(S) a test score of theta(S), the minimiser of the
SUM objective F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md)
fitted on the NOISY labels; low values should flag the flipped points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._utils import as_generator as _as_generator
from ._common import STREAM_LABEL_NOISE, _check_positive_int, check_data, derived_rng
from .estimators import banzhaf, beta_shapley, data_shapley, loo_values
from .results import ValuationResult
from .semivalues import check_truncation

__all__ = ["METHODS", "NoisyLabelResult", "detection_scores", "flip_labels",
           "noisy_label_detection", "noisy_labels"]

METHODS = ("shapley", "loo", "banzhaf", "beta_shapley", "knn", "oob")


def flip_labels(y, fraction: float = 0.1, rng: np.random.Generator | int = 0,
                n_classes: int | None = None):
    """Flip the labels of ``round(fraction * n)`` uniformly chosen points.

    Binary labels {0, 1} (or {-1, 1}) are swapped; with K > 2 classes a flipped label moves to a
    uniformly random *other* class.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Integer class labels.
    fraction : float in (0, 1), default=0.1
    rng : numpy.random.Generator or int, default=0
    n_classes : int, optional
        Number of classes (default: the distinct labels of y).

    Returns
    -------
    y_noisy : ndarray of shape (n,)
    flipped : ndarray of shape (n,), dtype bool
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"y must be 1-D with at least 2 labels, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.all(y == np.round(y))):
        raise ValueError("y must hold integer class labels")
    if not (np.isscalar(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    labels = np.unique(y)
    if n_classes is not None:
        labels = np.arange(_check_positive_int(n_classes, "n_classes", minimum=2))
    if labels.size < 2:
        raise ValueError("y must hold at least 2 classes to flip labels")
    gen = _as_generator(rng)
    m = max(1, round(fraction * y.size))
    idx = gen.choice(y.size, size=m, replace=False)
    y_noisy = y.copy()
    for i in idx:
        others = labels[labels != y[i]]
        y_noisy[i] = others[gen.integers(others.size)] if others.size > 1 else others[0]
    flipped = np.zeros(y.size, dtype=bool)
    flipped[idx] = True
    return y_noisy, flipped


def detection_scores(values, flipped) -> dict:
    """How well low values flag the flipped points.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Data values; lower means more suspicious.
    flipped : ndarray of shape (n,), dtype bool

    Returns
    -------
    dict
        ``auc``: ROC AUC of -values for the flipped points (Mann-Whitney, ties count 1/2);
        ``f1``: F1 when the ``n_flipped`` lowest-valued points are flagged (equals precision and
        recall there); ``f1_negative``: F1 when every point with a negative value is flagged;
        ``average_precision``; ``n_flipped``.
    """
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=np.float64)
    f = np.asarray(flipped, dtype=bool)
    if v.ndim != 1 or f.shape != v.shape:
        raise ValueError(f"values and flipped must be 1-D of equal shape, got {v.shape}, "
                         f"{f.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    n_pos, n_neg = int(f.sum()), int((~f).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("flipped must contain both flipped and clean points")
    r = rankdata(-v)  # high rank = low value
    auc = (r[f].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    order = np.argsort(v, kind="stable")
    top = np.zeros_like(f)
    top[order[:n_pos]] = True
    tp = int((top & f).sum())
    f1 = tp / n_pos
    neg = v < 0
    tp_neg = int((neg & f).sum())
    f1_neg = 2 * tp_neg / (int(neg.sum()) + n_pos)
    hits = f[order]
    prec = np.cumsum(hits) / np.arange(1, v.size + 1)
    ap = float(prec[hits].mean())
    return {"auc": float(auc), "f1": float(f1), "f1_negative": float(f1_neg),
            "average_precision": ap, "n_flipped": n_pos}


@dataclass
class NoisyLabelResult:
    """Outcome of :func:`noisy_label_detection`: values, the flips, and detection scores."""

    values: np.ndarray
    flipped: np.ndarray
    y_noisy: np.ndarray
    scores: dict
    valuation: ValuationResult


def noisy_label_detection(learner, X, y, X_test, y_test, oracle="exact",
                          n_permutations: int = 100, seed: int = 0, *, noise_rate: float = 0.1,
                          method: str = "shapley", metric: str = "neg_loss",
                          truncation: float | None = None, oracle_kwargs: dict | None = None,
                          progress: bool = False, **method_kwargs) -> NoisyLabelResult:
    """Flip a fraction of the training labels, value the points, and score the detection.

    The labels flipped are ``flip_labels(y, noise_rate, rng)`` with a generator derived from
    ``seed`` (:func:`noisy_labels` reproduces them); the points are valued on the noisy pool
    with U(S) from theta(S), the minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2
    on the noisy labels.

    Parameters
    ----------
    learner, X, y, X_test, y_test
        As in :func:`.estimators.data_shapley` (``y`` clean; ``y_test`` stays clean).
    oracle : str, fitted oracle, or callable
        A string (:func:`.resolve.resolve_oracle`; ``"modelpred"`` trains on the noisy pool), a
        fitted oracle (it must have been fitted on the NOISY labels, see
        :func:`noisy_labels`), or a factory ``oracle(X, y_noisy) -> fitted oracle``.
    n_permutations, seed, metric, truncation, oracle_kwargs, progress
        As in :func:`.estimators.data_shapley` (``n_permutations`` is the budget of the
        Monte-Carlo methods: permutations; MSR subsets 10x it, bootstrap models max(2x, 50)).
    noise_rate : float, default=0.1
    method : {"shapley", "loo", "banzhaf", "beta_shapley", "knn", "oob"}, default="shapley"
        ``"loo"`` with ``oracle="influence"`` gives the first-order influence values; ``"knn"``
        ignores the oracle (closed form on the features).
    **method_kwargs
        Passed to the estimator (e.g. ``sampler``, ``alpha``/``beta``, ``k``, ``stopping``, and
        the oracle's ``device`` / ``n_jobs``).

    Returns
    -------
    NoisyLabelResult
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    P = _check_positive_int(n_permutations, "n_permutations")
    check_truncation(truncation)
    y_noisy, flipped = noisy_labels(y, noise_rate, seed)
    if (not isinstance(oracle, str) and not hasattr(oracle, "predict")
            and not hasattr(oracle, "predict_utility") and callable(oracle)):
        t0 = time.perf_counter()
        oracle = oracle(X, y_noisy)
        setup = time.perf_counter() - t0
    else:
        setup = 0.0
    data = (learner, X, y_noisy, X_test, y_test)
    kw = {"metric": metric, "oracle_kwargs": oracle_kwargs, "progress": progress}
    if method == "shapley":
        res = data_shapley(*data, oracle, P, seed, truncation=truncation,
                           **kw, **method_kwargs)
    elif method == "loo":
        res = loo_values(*data, oracle, metric=metric, seed=seed, oracle_kwargs=oracle_kwargs,
                         **method_kwargs)
    elif method == "banzhaf":
        method_kwargs.setdefault("stopping", 10 * P)
        res = banzhaf(*data, oracle, seed=seed, **kw, **method_kwargs)
    elif method == "beta_shapley":
        res = beta_shapley(*data, oracle, n_permutations=P, seed=seed, truncation=truncation,
                           **kw, **method_kwargs)
    elif method == "knn":
        from .knn import knn_shapley

        res = knn_shapley(X, y_noisy, X_test, y_test, **method_kwargs)
    else:
        from .oob import data_oob

        method_kwargs.setdefault("stopping", max(2 * P, 50))  # every point out of bag
        res = data_oob(learner, X, y_noisy, oracle, seed=seed, oracle_kwargs=oracle_kwargs,
                       progress=progress, **method_kwargs)
    res.setup_seconds += setup
    res.total_seconds += setup
    return NoisyLabelResult(values=res.values, flipped=flipped, y_noisy=y_noisy,
                            scores=detection_scores(res.values, flipped), valuation=res)


def noisy_labels(y, noise_rate: float = 0.1, seed: int = 0):
    """The noisy labels :func:`noisy_label_detection` uses for ``seed``: (y_noisy, flipped)."""
    return flip_labels(y, noise_rate, derived_rng(seed, STREAM_LABEL_NOISE))
