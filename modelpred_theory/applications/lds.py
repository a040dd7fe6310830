"""The linear datamodeling score (LDS) of any data attribution, and the attributions it rates.

An attribution tau (n,) or (n, m) predicts a model output f(S) additively, g(S) = sum_{i in S}
tau_i. LDS (Park et al. 2023, TRAK; the data-attribution field's standard) draws held-out
random subsets S_1..S_k of a fixed fraction of the pool, retrains EXACTLY on each, and reports
the Spearman correlation over j between g(S_j) and f(S_j), averaged over the m outputs (one per
test point, or the single mean output for a 1-D attribution). theta(S) minimises the SUM
objective F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).

:func:`attributions` produces the classical ones: leave-one-out effects tau_i = f(N) - f(N - i)
from any oracle (exact, influence, Newton step, ModelPred) and linear datamodels fitted on
outputs labelled by any oracle (exact retraining or ModelPred).

The outputs and the per-output score are the ones of :mod:`modelpred_theory.attribution`
(``attribution.outputs`` and ``attribution.evaluate.lds_per_output``); for ground truth at
benchmark scale (warm-started, cached, any engine, exact LOO effects) use
``attribution.ground_truth`` and ``attribution.evaluate``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..attribution.evaluate import lds_per_output
from ..attribution.outputs import OUTPUTS, check_output, outputs
from ..subsets import fixed_size_subsets, loo_masks
from ._common import _check_positive_int, check_data, derived_rng
from .oracles import ExactOracle, parse_oracle, resolve_oracle
from .resolve import with_engine

__all__ = ["LDSResult", "OUTPUTS", "attributions", "lds", "model_outputs", "subset_outputs"]

STREAM_LDS = 106
STREAM_DATAMODEL = 107


@dataclass
class LDSResult:
    """Outcome of :func:`lds`.

    Attributes
    ----------
    score : float
        Mean Spearman correlation over the outputs.
    stderr : float
        Standard error of that mean over the outputs (NaN for a single output).
    per_output : ndarray of shape (m,)
    masks : ndarray of shape (k, n)
        The held-out subsets.
    true_outputs, predicted : ndarray of shape (k, m)
    seconds : float
        Time of the exact retraining (0 when a reference was reused).
    """

    score: float
    stderr: float
    per_output: np.ndarray
    masks: np.ndarray = field(repr=False)
    true_outputs: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    seconds: float = 0.0


def _check_output(learner, output):
    return check_output(learner, output)


def model_outputs(learner, thetas, X_test, y_test, output: str = "neg_loss") -> np.ndarray:
    """f(theta) per test point: thetas (k, p) -> (k, m); :func:`attribution.outputs` (the one
    definition of ``neg_loss`` and ``margin``)."""
    return outputs(learner, thetas, X_test, y_test, output)


def subset_outputs(learner, X, y, X_test, y_test, masks, oracle="exact", *,
                   output: str = "neg_loss", seed: int = 0, oracle_kwargs=None, device=None,
                   n_jobs: int | None = None):
    """Outputs f(S) (k, m) of theta(S) from an oracle for each mask (k, n); ``device`` and
    ``n_jobs`` as in :func:`.estimators.data_shapley`."""
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    obj, _, _ = resolve_oracle(oracle, learner, X, y, seed=seed, oracle_kwargs=oracle_kwargs)
    thetas = np.asarray(obj.predict(X, y, masks))
    return model_outputs(learner, thetas, X_test, y_test, output)


def _random_masks(learner, y, k, fraction, stream, seed):
    n = y.shape[0]
    if not (np.isscalar(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    needs = (not learner.penalize_intercept) and learner._needs_all_classes()
    return fixed_size_subsets(n, k, max(1, round(fraction * n)), rng=derived_rng(seed, stream),
                              y=y if needs else None, require_all_classes=needs)


def lds(learner, X, y, X_test, y_test, attributions, *, n_subsets: int = 100,
        fraction: float = 0.5, output: str = "neg_loss", seed: int = 0,
        reference: LDSResult | None = None, device=None,
        n_jobs: int | None = None) -> LDSResult:
    """Linear datamodeling score of an attribution against exactly retrained models.

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
    X_test, y_test : ndarray of shape (m, d), (m,)
    attributions : ndarray of shape (n,) or (n, m)
        (n,): one score per point for the mean output over the test set (e.g. data values of
        U(S) = -mean test loss); (n, m): one column per test point.
    n_subsets : int, default=100
        Held-out subsets S_j, each of ``round(fraction * n)`` points (covering every class when
        the intercept is unpenalised), retrained exactly.
    fraction : float, default=0.5
    output : {"neg_loss", "margin"}, default="neg_loss"
    seed : int, default=0
        Seeds the held-out subsets (a stream of their own).
    reference : LDSResult, optional
        Reuse its subsets and exact outputs (rate several attributions on the same subsets).
    device, n_jobs : optional
        Where the exact retraining runs, and over how many joblib workers (``ExactOracle``;
        as in :func:`.estimators.data_shapley`).

    Returns
    -------
    LDSResult
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    _check_output(learner, output)
    exact = ExactOracle(learner, warm_start=False, device=device, n_jobs=n_jobs)
    n, m = X.shape[0], X_test.shape[0]
    tau = np.asarray(attributions, dtype=np.float64)
    if tau.ndim == 1:
        tau = tau[:, None]
        scalar = True
    else:
        scalar = False
    if tau.shape not in ((n, 1), (n, m)) or not np.all(np.isfinite(tau)):
        raise ValueError(f"attributions must be finite of shape ({n},) or ({n}, {m}), got "
                         f"{np.shape(attributions)}")
    t0 = time.perf_counter()
    if reference is not None:
        masks, full = reference.masks, reference.true_outputs
        if masks.shape[1] != n:
            raise ValueError("reference was computed for another pool")
        seconds = 0.0
    else:
        k = _check_positive_int(n_subsets, "n_subsets", minimum=3)
        masks = _random_masks(learner, y, k, fraction, STREAM_LDS, seed)
        thetas = exact.predict(X, y, masks)
        full = model_outputs(learner, thetas, X_test, y_test, output)  # shape: (k, m)
        seconds = time.perf_counter() - t0
    true = full.mean(axis=1, keepdims=True) if scalar else full
    if true.shape[1] != tau.shape[1]:
        raise ValueError("reference outputs do not match the attribution's outputs")
    pred = masks.astype(np.float64) @ tau  # shape: (k, m)
    rho = lds_per_output(pred, true)  # Spearman per output; constant columns score 0
    se = float(rho.std(ddof=1) / np.sqrt(rho.size)) if rho.size > 1 else float("nan")
    return LDSResult(score=float(rho.mean()), stderr=se, per_output=rho, masks=masks,
                     true_outputs=full, predicted=pred, seconds=seconds)


def attributions(learner, X, y, X_test, y_test, method: str = "loo", oracle="influence", *,
                 output: str = "neg_loss", per_test: bool = True, n_train_subsets: int = 500,
                 fraction: float = 0.5, alpha: float = 1.0, seed: int = 0,
                 oracle_kwargs: dict | None = None, device=None,
                 n_jobs: int | None = None) -> np.ndarray:
    """Attributions tau for :func:`lds` from any oracle.

    Parameters
    ----------
    learner, X, y, X_test, y_test
        As in :func:`lds`.
    method : {"loo", "datamodels"}
        ``"loo"``: tau_i = f(N) - f(N - i) with theta(N - i) from ``oracle`` (exact retraining,
        first-order influence, a Newton step, ModelPred); ``"datamodels"``: the coefficients of
        a ridge datamodel (Ilyas et al. 2022) fitted on ``n_train_subsets`` random subsets of
        ``fraction`` of the pool (a stream separate from the LDS subsets) whose outputs come
        from ``oracle``.
    oracle : str or parameter oracle, default="influence"
    output : {"neg_loss", "margin"}
    per_test : bool, default=True
        (n, m) per test point; False: (n,) for the mean output.
    n_train_subsets, fraction, alpha
        Datamodel training subsets, their size, and its ridge penalty.
    seed : int
    oracle_kwargs : dict, optional
    device, n_jobs : optional
        As in :func:`.estimators.data_shapley`.

    Returns
    -------
    ndarray of shape (n, m) or (n,)
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    _check_output(learner, output)
    if method not in ("loo", "datamodels"):
        raise ValueError(f"method must be 'loo' or 'datamodels', got {method!r}")
    name, _ = parse_oracle(oracle, oracle_kwargs)
    if name == "utility" or hasattr(oracle, "predict_utility"):
        raise ValueError("attributions need a parameter oracle, not a utility predictor")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    n = X.shape[0]
    if method == "loo":
        masks = np.vstack([np.ones((1, n), bool), loo_masks(n)])
        f = subset_outputs(learner, X, y, X_test, y_test, masks, oracle, output=output,
                           seed=seed, oracle_kwargs=oracle_kwargs)
        tau = f[0][None, :] - f[1:]  # shape: (n, m)
    else:
        from ..baselines import Datamodel

        k = _check_positive_int(n_train_subsets, "n_train_subsets", minimum=2)
        masks = _random_masks(learner, y, k, fraction, STREAM_DATAMODEL, seed)
        f = subset_outputs(learner, X, y, X_test, y_test, masks, oracle, output=output,
                           seed=seed, oracle_kwargs=oracle_kwargs)
        target = f if per_test else f.mean(axis=1)
        dm = Datamodel(alpha=alpha).fit(masks, target)
        coef = np.asarray(dm.coef_)
        return coef.T if per_test else coef
    return tau if per_test else tau.mean(axis=1)
