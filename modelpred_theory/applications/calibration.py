"""Calibration by subset ensembles: average the predictive probabilities of models on subsamples.

A cheap bootstrap: draw ``n_models`` uniform random subsets of ``round(fraction * n)`` points
(half-sampling, a standard without-replacement alternative to the bootstrap), obtain each
theta(S) from an oracle, the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md), and average the
predicted class probabilities. ``oracle="exact"`` retrains every member (the reference
ensemble); ModelPred predicts all members in one batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .memorization import _CHUNK, subset_masks
from .oracles import check_data
from .resolve import resolve_oracle, with_engine

__all__ = ["EnsembleResult", "calibration_metrics", "expected_calibration_error",
           "subset_ensemble"]


def _check_probs(probs, y):
    P = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"probs must have shape (n, K) with K >= 2, got {P.shape}")
    if y.shape != (P.shape[0],):
        raise ValueError(f"y must have shape ({P.shape[0]},), got {y.shape}")
    if not np.all(np.isfinite(P)) or np.any(P < 0) or np.any(np.abs(P.sum(1) - 1) > 1e-6):
        raise ValueError("probs must be finite, non-negative rows summing to 1")
    yi = y.astype(int)
    if np.any(yi != y) or yi.min() < 0 or yi.max() >= P.shape[1]:
        raise ValueError(f"y must hold labels in {{0, ..., {P.shape[1] - 1}}}")
    return P, yi


def expected_calibration_error(probs, y, n_bins: int = 15) -> float:
    """Top-label expected calibration error with equal-width confidence bins.

    ECE = sum_b (|B_b| / n) |acc(B_b) - conf(B_b)|, conf = max_k p_k, bins (0, 1/B], ...

    Parameters
    ----------
    probs : ndarray of shape (n, K)
    y : ndarray of shape (n,)
    n_bins : int, default=15

    Returns
    -------
    float
    """
    P, yi = _check_probs(probs, y)
    if not (isinstance(n_bins, int | np.integer) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == yi).astype(float)
    b = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)  # shape: (n,)
    ece = 0.0
    for k in range(n_bins):
        sel = b == k
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def calibration_metrics(probs, y, n_bins: int = 15) -> dict:
    """ECE, negative log-likelihood (mean), Brier score (mean over points) and accuracy.

    Parameters
    ----------
    probs : ndarray of shape (n, K)
    y : ndarray of shape (n,)
    n_bins : int, default=15

    Returns
    -------
    dict with keys ``ece``, ``nll``, ``brier``, ``accuracy``
    """
    P, yi = _check_probs(probs, y)
    py = np.clip(P[np.arange(P.shape[0]), yi], 1e-300, None)
    onehot = np.zeros_like(P)
    onehot[np.arange(P.shape[0]), yi] = 1.0
    return {
        "ece": expected_calibration_error(P, yi, n_bins),
        "nll": float(-np.log(py).mean()),
        "brier": float(((P - onehot) ** 2).sum(axis=1).mean()),
        "accuracy": float((P.argmax(axis=1) == yi).mean()),
    }


@dataclass
class EnsembleResult:
    """Subset-ensemble predictions.

    Attributes
    ----------
    probs : ndarray of shape (m, K)
        Averaged probabilities on X_eval.
    member_probs : ndarray of shape (n_models, m, K) or None
    thetas : ndarray of shape (n_models, p)
    masks : ndarray of shape (n_models, n)
    oracle_seconds, setup_seconds : float
    """

    probs: np.ndarray
    member_probs: np.ndarray | None
    thetas: np.ndarray
    masks: np.ndarray
    oracle_seconds: float
    setup_seconds: float


def subset_ensemble(learner, X, y, X_eval, oracle="exact", n_models: int = 50,
                    fraction: float = 0.5, seed: int = 0, *, oracle_kwargs: dict | None = None,
                    return_info: bool = False, device=None, n_jobs: int | None = None):
    """Average predictive probabilities of models trained (or predicted) on random subsamples.

    Each member is theta(S), the minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2
    on a uniform random subset of ``round(fraction * n)`` points (covering every class when the
    intercept is unpenalised); the same subsets for every oracle given the seed.

    Parameters
    ----------
    learner : LogisticRegression
        Needs ``predict_proba``.
    X, y : ndarray of shape (n, d), (n,)
    X_eval : ndarray of shape (m, d)
    oracle : {"exact", "influence", "modelpred"} or object with predict(X, y, masks)
    n_models : int, default=50
    fraction : float in (0, 1), default=0.5
    seed : int, default=0
    oracle_kwargs : dict, optional
    return_info : bool, default=False
    device, n_jobs : optional
        Where a built-in oracle runs and over how many joblib workers its exact solves go
        (:func:`.resolve.with_engine`; as in :func:`.estimators.data_shapley`).

    Returns
    -------
    probs : ndarray of shape (m, K), or EnsembleResult
    """
    if not hasattr(learner, "predict_proba"):
        raise ValueError(f"learner must provide predict_proba; {type(learner).__name__} does not")
    X, y = check_data(learner, X, y)
    X_eval = np.asarray(X_eval, dtype=np.float64)
    if X_eval.ndim != 2 or X_eval.shape[1] != X.shape[1] or X_eval.shape[0] == 0:
        raise ValueError(f"X_eval must have shape (m, {X.shape[1]}) with m >= 1, "
                         f"got {X_eval.shape}")
    if not np.all(np.isfinite(X_eval)):
        raise ValueError("X_eval contains NaN or inf")
    if isinstance(oracle, str) and oracle == "utility" or hasattr(oracle, "predict_utility"):
        raise ValueError("oracle must predict parameters (predict(X, y, masks)); a utility "
                         "predictor cannot give an ensemble")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    masks = subset_masks(learner, y, n_models, fraction, seed)
    obj, _, setup = resolve_oracle(oracle, learner, X, y, seed=seed,
                                   oracle_kwargs=oracle_kwargs)
    t0 = time.perf_counter()
    thetas = np.vstack([np.asarray(obj.predict(X, y, masks[s:s + _CHUNK]))
                        for s in range(0, masks.shape[0], _CHUNK)])
    member = np.asarray(learner.predict_proba(thetas, X_eval))  # shape: (k, m, K)
    seconds = time.perf_counter() - t0
    probs = member.mean(axis=0)
    if not return_info:
        return probs
    return EnsembleResult(probs=probs, member_probs=member, thetas=thetas, masks=masks,
                          oracle_seconds=seconds, setup_seconds=setup)
