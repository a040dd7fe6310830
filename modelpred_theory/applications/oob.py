"""Data-OOB (Kwon & Zou 2023): out-of-bag scores of a bagged learner as data values.

B bootstrap resamples of the pool (n draws with replacement; w_b = the draw counts) give models
theta_b = argmin sum_i w_bi loss_i(theta) + lam/2 ||P theta||^2 (the SUM convention with
integer weights, docs/design.md). The value of point i is the mean of T(y_i, f_b(x_i)) over the
models whose bootstrap left i out: its correctness for classifiers, minus its loss otherwise.
Points that a model fits only when trained on them score low: noisy labels, outliers. Every
model of a round comes from one batched oracle call (exact retraining by default; influence,
Newton step or ModelPred predict weighted sets too).
"""

from __future__ import annotations

import time

import numpy as np

from ._common import STREAM_PERMUTATIONS, _check_positive_int, check_data, derived_rng
from .engine import new_state, resume_state, run
from .memorization import SCORES, per_point_scores
from .oracles import degenerate_mask
from .resolve import parse_oracle, resolve_oracle, with_engine
from .stopping import parse_stopping

__all__ = ["data_oob"]

# Redraws of a bootstrap that misses a class before giving up (each succeeds with probability
# about 1 - K (1 - 1/K)^n; more than a few means a class has one or two points).
_MAX_REDRAWS = 1000


def _bootstrap_weights(gen, k, n, learner, y):
    """k bootstrap count vectors (k, n), redrawn until each has a unique minimiser."""
    W = np.zeros((k, n))
    for b in range(k):
        for _ in range(_MAX_REDRAWS):
            w = np.bincount(gen.integers(0, n, n), minlength=n).astype(np.float64)
            if not degenerate_mask(learner, y, (w > 0)[None])[0]:
                break
        else:
            raise ValueError("data_oob: bootstrap resamples keep missing a class; every class "
                             "needs more points in the pool")
        W[b] = w
    return W


def data_oob(learner, X, y, oracle="exact", *, stopping=200, seed: int = 0,
             score: str | None = None, round_size: int | None = None, resume=None,
             checkpoint=None, oracle_kwargs: dict | None = None, progress: bool = False,
             device=None, n_jobs: int | None = None):
    """Data-OOB values: the out-of-bag score of every pool point over bootstrap models.

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
    oracle : {"exact", "influence", "newton", "modelpred", ...} or parameter oracle
        Supplies theta_b for the weighted bootstrap sets (a utility predictor cannot).
    stopping : StoppingRule, int or str, default=200
        An int is the number of bootstrap models B (:mod:`.stopping`).
    seed : int, default=0
    score : {"correct", "prob", "neg_loss"}, optional
        T(y_i, f_b(x_i)); default ``"correct"`` for classifiers, ``"neg_loss"`` otherwise.
    round_size, resume, checkpoint, oracle_kwargs, progress, device, n_jobs
        As in :func:`.estimators.data_shapley` (a round is ``round_size`` bootstrap models).

    Returns
    -------
    ValuationResult
        ``values`` (n,) (NaN for a point that no bootstrap left out: raise the budget),
        ``stderr`` (n,) over the out-of-bag models of each point (inf with fewer than 2),
        ``n_samples`` = B.
    """
    X, y = check_data(learner, X, y)
    if score is None:
        score = "correct" if hasattr(learner, "accuracy") else "neg_loss"
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    per_point_scores(learner, np.zeros((1, learner.param_dim(X, y))), X[:1], y[:1], score)
    name, _ = parse_oracle(oracle, oracle_kwargs)
    if name == "utility" or hasattr(oracle, "predict_utility"):
        raise ValueError("oracle must predict parameters (predict(X, y, masks)); a utility "
                         "predictor cannot give per-point out-of-bag scores")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    rule = parse_stopping(stopping)
    derived_rng(seed, STREAM_PERMUTATIONS)  # validates seed
    ss = np.random.SeedSequence(int(seed), spawn_key=(STREAM_PERMUTATIONS, 1))
    if round_size is None:
        round_size = 64
    n = X.shape[0]
    cfg = {"estimator": "oob", "score": score, "learner": repr(learner),
           "data": str(hash(np.ascontiguousarray(X).tobytes() + np.asarray(y).tobytes()))}
    state = (new_state("oob", "bootstrap", n, cfg, ss, round_size) if resume is None
             else resume_state(resume, "oob", "bootstrap", n, cfg, round_size))
    t0 = time.perf_counter()
    obj, oname, setup = resolve_oracle(oracle, learner, X, y, seed=seed,
                                       oracle_kwargs=oracle_kwargs)

    def scores_of(W):  # the "utility" of this estimator: per-point scores (k, n)
        thetas = np.asarray(obj.predict(X, y, W))
        return per_point_scores(learner, thetas, X, y, score)

    def round_fn(gen, k, n_, evaluate, ctx):
        W = _bootstrap_weights(gen, _check_positive_int(k, "k"), n_, learner, y)
        return (evaluate(W), W == 0), 0

    res = run(scores_of, state, round_fn, {"raw": True, "ends": False}, rule,
              progress=progress, checkpoint=checkpoint,
              merge_fn=lambda st, out: st.merge(out[0], out[1]))
    res.setup_seconds = setup
    res.total_seconds = time.perf_counter() - t0
    res.oracle = oname
    return res
