"""Feldman-Zhang memorisation scores estimated from many (predicted) subset models.

mem(i) = P[h_S correct on x_i | i in S] - P[h_S correct on x_i | i not in S]

over random subsets S of a fixed fraction of the pool (Feldman 2020; Feldman & Zhang 2020),
where h_S has the parameters theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md). The expectation is
estimated with ``n_subsets`` models; an oracle supplies theta(S) for all of them in one batch,
so ModelPred or influence functions replace thousands of retrainings, and ``oracle="exact"``
gives the reference estimate from exact retraining on the same subsets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..subsets import fixed_size_subsets
from .oracles import (
    STREAM_SUBSETS,
    _check_positive_int,
    check_data,
    derived_rng,
)
from .resolve import resolve_oracle, with_engine

__all__ = ["MemorizationResult", "memorization", "per_point_scores", "subset_masks"]

SCORES = ("correct", "prob", "neg_loss")
# Subsets per oracle call and per score evaluation (bounds memory at (chunk, n[, K]) floats).
_CHUNK = 2048


@dataclass
class MemorizationResult:
    """Memorisation estimates.

    Attributes
    ----------
    scores : ndarray of shape (n,)
        mem(i) estimates.
    stderr : ndarray of shape (n,)
        Standard error of the difference of the two conditional means.
    mean_in, mean_out : ndarray of shape (n,)
        The two conditional means.
    masks : ndarray of shape (n_subsets, n)
        The subsets used.
    oracle_seconds, setup_seconds : float
    """

    scores: np.ndarray
    stderr: np.ndarray
    mean_in: np.ndarray
    mean_out: np.ndarray
    masks: np.ndarray
    oracle_seconds: float
    setup_seconds: float


def _needs_classes(learner) -> bool:
    return (not learner.penalize_intercept) and learner.needs_all_classes()


def subset_masks(learner, y, n_subsets: int, fraction: float, seed: int) -> np.ndarray:
    """Uniform random subsets of ``round(fraction * n)`` points (covering every class when the
    learner needs it), from the seed stream shared by memorisation and ensembles: (k, n)."""
    y = np.asarray(y)
    n = y.shape[0]
    n_subsets = _check_positive_int(n_subsets, "n_subsets")
    if not (np.isscalar(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    size = max(1, round(fraction * n))
    needs = _needs_classes(learner)
    return fixed_size_subsets(n, n_subsets, size, rng=derived_rng(seed, STREAM_SUBSETS),
                              y=y if needs else None, require_all_classes=needs)


def per_point_scores(learner, thetas, X, y, score: str = "correct") -> np.ndarray:
    """Per-point behaviour of each model: thetas (k, p) -> ndarray (k, n).

    ``correct``: 1 when the model's label equals y_i; ``prob``: the predicted probability of
    y_i (logistic regression only); ``neg_loss``: -loss(theta; x_i, y_i).
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    if score == "neg_loss":
        return -np.atleast_2d(learner.per_sample_loss(thetas, X, y))
    if score == "correct":
        if not hasattr(learner, "accuracy"):
            raise ValueError(f"score='correct' needs a classifier, not {type(learner).__name__}")
        target = learner.encode_y(y)
        return (np.atleast_2d(learner.predict(thetas, X)) == target[None, :]).astype(float)
    if not hasattr(learner, "predict_proba"):
        raise ValueError(f"score='prob' needs predict_proba; {type(learner).__name__} has none")
    proba = learner.predict_proba(thetas, X)  # shape: (k, n, K)
    yi = np.asarray(y).astype(int)
    return np.take_along_axis(proba, yi[None, :, None], axis=2)[..., 0]


def memorization(learner, X, y, oracle="exact", n_subsets: int = 1000, fraction: float = 0.7,
                 seed: int = 0, *, score: str = "correct", oracle_kwargs: dict | None = None,
                 return_info: bool = False, device=None, n_jobs: int | None = None):
    """Memorisation scores mem(i) = E[s_i(theta(S)) | i in S] - E[s_i(theta(S)) | i not in S].

    theta(S) minimises sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 and comes from
    ``oracle`` for ``n_subsets`` uniform random subsets of ``round(fraction * n)`` points (the
    same subsets for every oracle given the seed; they cover every class when the intercept is
    unpenalised, so every theta(S) exists).

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
    oracle : {"exact", "influence", "modelpred"} or object with predict(X, y, masks)
        A utility predictor cannot answer per-point questions and is rejected.
    n_subsets : int, default=1000
    fraction : float, default=0.7
        Subset size as a fraction of the pool (Feldman & Zhang use 0.7).
    seed : int, default=0
    score : {"correct", "prob", "neg_loss"}, default="correct"
        s_i: the 0/1 correctness of Feldman's definition, or a smooth surrogate (probability of
        the true label, minus the loss) that separates points a linear model never flips.
    oracle_kwargs : dict, optional
    return_info : bool, default=False
    device, n_jobs : optional
        Where a built-in oracle runs and over how many joblib workers its exact solves go
        (:func:`.resolve.with_engine`; as in :func:`.estimators.data_shapley`).

    Returns
    -------
    scores : ndarray of shape (n,), or MemorizationResult
    """
    X, y = check_data(learner, X, y)
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    if isinstance(oracle, str) and oracle == "utility" or hasattr(oracle, "predict_utility"):
        raise ValueError("oracle must predict parameters (predict(X, y, masks)); a utility "
                         "predictor cannot give per-point memorisation")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    masks = subset_masks(learner, y, n_subsets, fraction, seed)
    obj, _, setup = resolve_oracle(oracle, learner, X, y, seed=seed,
                                   oracle_kwargs=oracle_kwargs)
    n = X.shape[0]
    S = np.empty((masks.shape[0], n))  # shape: (k, n)
    t0 = time.perf_counter()
    for s in range(0, masks.shape[0], _CHUNK):
        thetas = np.asarray(obj.predict(X, y, masks[s:s + _CHUNK]))
        S[s:s + _CHUNK] = per_point_scores(learner, thetas, X, y, score)
    seconds = time.perf_counter() - t0
    inside = masks.astype(float)
    n_in, n_out = inside.sum(0), (1 - inside).sum(0)
    if np.any(n_in < 2) or np.any(n_out < 2):
        raise ValueError("n_subsets too small: some point is in (or out of) fewer than 2 "
                         "subsets; raise n_subsets")
    mean_in = (S * inside).sum(0) / n_in
    mean_out = (S * (1 - inside)).sum(0) / n_out
    var_in = ((S - mean_in) ** 2 * inside).sum(0) / (n_in - 1)
    var_out = ((S - mean_out) ** 2 * (1 - inside)).sum(0) / (n_out - 1)
    mem = mean_in - mean_out
    if not return_info:
        return mem
    return MemorizationResult(scores=mem, stderr=np.sqrt(var_in / n_in + var_out / n_out),
                              mean_in=mean_in, mean_out=mean_out, masks=masks,
                              oracle_seconds=seconds, setup_seconds=setup)
