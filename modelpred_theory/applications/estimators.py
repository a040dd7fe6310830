"""Learner-level data values: Shapley, Beta Shapley, Banzhaf (MSR) and leave-one-out.

The value of training point i is a semivalue of the utility U(S) = -(mean test loss) or the test
accuracy of theta(S), where theta(S) minimises the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md; the
regulariser does not change with |S|) and comes from any oracle (exact retraining, first-order
influence, one Newton step, ModelPred with any base, or a utility predictor; see
:mod:`.oracles`, which also defines the utility of subsets without a minimiser). Every subset of
a round goes to the oracle in one batched call; every argument is checked before the oracle is
built or called.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from ._common import STREAM_PERMUTATIONS, _check_positive_int, check_data, check_metric
from .engine import resume_state
from .exact import loo_from_utility
from .oracles import ExactOracle, SubsetUtility
from .resolve import oracle_label, parse_oracle, resolve_oracle, with_engine
from .results import ValuationResult, deprecated_return_info
from .semivalues import (
    _check_beta,
    banzhaf_from_utility,
    beta_size_weights,
    check_sampler,
    check_truncation,
    default_stopping,
    semivalue_from_utility,
)
from .stopping import parse_stopping

__all__ = ["banzhaf", "beta_shapley", "data_shapley", "loo_values"]


def _fingerprint(learner, X, y, X_test, y_test, metric, oracle_name) -> str:
    h = hashlib.sha256()
    for a in (X, y, X_test, y_test):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((learner, metric, oracle_name)).encode())
    return h.hexdigest()[:24]


def _sample_seed(seed: int) -> np.random.SeedSequence:
    from ._common import derived_rng

    derived_rng(seed, STREAM_PERMUTATIONS)  # validates seed (non-negative int)
    return np.random.SeedSequence(int(seed), spawn_key=(STREAM_PERMUTATIONS,))


def _prepare(learner, X, y, X_test, y_test, oracle, seed, metric, oracle_kwargs):
    """Validate the data, metric, seed and oracle spec (no oracle work yet)."""
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    check_metric(learner, metric)
    parse_oracle(oracle, oracle_kwargs)
    return X, y, X_test, y_test, _sample_seed(seed)


def _utility(learner, X, y, X_test, y_test, oracle, seed, metric, oracle_kwargs):
    obj, name, setup = resolve_oracle(oracle, learner, X, y, seed=seed, X_test=X_test,
                                      y_test=y_test, metric=metric, oracle_kwargs=oracle_kwargs)
    return SubsetUtility(learner, X, y, X_test, y_test, obj, metric=metric), name, setup


def _finish(res: ValuationResult, name: str, setup: float, t0: float) -> ValuationResult:
    res.setup_seconds = setup
    res.total_seconds = time.perf_counter() - t0
    res.oracle = name
    return res


def _semivalue(learner, X, y, X_test, y_test, oracle, weights_fn, stopping, seed, *, metric,
               sampler, truncation, batch_size, round_size, resume, checkpoint, oracle_kwargs,
               progress, n_permutations, tag):
    X, y, X_test, y_test, ss = _prepare(learner, X, y, X_test, y_test, oracle, seed, metric,
                                        oracle_kwargs)
    sampler = check_sampler(sampler)
    check_truncation(truncation, sampler)
    n = X.shape[0]
    rule = default_stopping(stopping, n_permutations, sampler, n)
    weights = weights_fn(n)
    cfg = {"data": _fingerprint(learner, X, y, X_test, y_test, metric,
                                oracle_label(oracle, oracle_kwargs)), "estimator": tag}
    if resume is not None:  # load and check the saved run before any oracle work
        resume = resume_state(resume, "semivalue", sampler, n,
                              {"weights": [float(x) for x in weights],
                               "truncation": truncation, **cfg}, round_size)
    t0 = time.perf_counter()
    util, name, setup = _utility(learner, X, y, X_test, y_test, oracle, seed, metric,
                                 oracle_kwargs)
    res = semivalue_from_utility(util, n, weights, rule, ss, sampler=sampler,
                                 truncation=truncation, batch_size=batch_size,
                                 round_size=round_size, resume=resume, checkpoint=checkpoint,
                                 progress=progress, config=cfg)
    return _finish(res, name, setup, t0)


def data_shapley(learner, X, y, X_test, y_test, oracle="exact", n_permutations: int = 100,
                 seed: int = 0, *, metric: str = "neg_loss", sampler: str = "permutation",
                 stopping=None, truncation: float | None = None, batch_size: int | None = None,
                 round_size: int | None = None, resume=None, checkpoint=None,
                 oracle_kwargs: dict | None = None, progress: bool = False,
                 return_info: bool | None = None, device=None,
                 n_jobs: int | None = None) -> ValuationResult:
    """Data Shapley values of the pool points with U(S) = -test loss (or accuracy) of theta(S).

    theta(S) minimises the sum objective sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 and
    comes from ``oracle``; subsets without a minimiser get the constant predictor's utility
    (see :mod:`.oracles`).

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
        The pool being valued.
    X_test, y_test : ndarray of shape (m, d), (m,)
        Where the utility is measured.
    oracle : str or object, default="exact"
        ``"exact"``, ``"influence"``, ``"newton"``, ``"utility"``, ``"modelpred"``,
        ``"modelpred:<base>"``, or a fitted oracle (:func:`.resolve.resolve_oracle`).
    n_permutations : int, default=100
        The budget when ``stopping`` is None, in permutations (antithetic: half as many pairs;
        stratified: cycles with the same number of utility evaluations).
    seed : int, default=0
        The samples depend only on (seed, n, sampler, round size): every oracle values the same
        ones. They come from a seed stream of their own, so they differ from the permutations
        that ``ModelPred(seed=seed)`` or ``subsets.permutation_prefixes(rng=seed)`` draw.
    metric : {"neg_loss", "accuracy"}, default="neg_loss"
    sampler : {"permutation", "antithetic", "stratified"}, default="permutation"
    stopping : StoppingRule, int or str, optional
        :mod:`.stopping` (e.g. ``"stderr:1e-4 | time:60"``); overrides ``n_permutations``.
    truncation : float, optional
        TMC-Shapley tolerance (permutation samplers).
    batch_size : int, optional
        Subsets per utility call (default: a whole round).
    round_size : int, optional
        Sampling units per round (one oracle call each).
    resume : ValuationResult, ValuationState or path, optional
        Continue an earlier run with the same arguments (bit for bit).
    checkpoint : path, optional
        Save the state after every round.
    oracle_kwargs : dict, optional
        Passed to :func:`.resolve.resolve_oracle` for string oracles.
    progress : bool, default=False
        A progress bar in permutations (sampling units) with the budget as its total and an
        ETA.
    return_info : bool, optional
        Deprecated, no effect (a DeprecationWarning): the result is always returned.
    device : {"cpu", "cuda", "auto"}, optional
        Where a built-in oracle runs its float64 work (:func:`.resolve.with_engine`).
    n_jobs : int, optional
        Exact solves over joblib workers ("exact", "utility", "modelpred"; the engine is
        joblib's active backend: local processes, or Dask / Ray under
        ``joblib.parallel_config``). Values are the same bits for every n_jobs and engine.

    Returns
    -------
    ValuationResult
        ``.values`` (n,), ``.stderr`` (n,), ``.stopped_by`` (``"interrupted"`` after Ctrl-C:
        the values of the finished rounds; Ctrl-C before the first round re-raises
        KeyboardInterrupt), timing, and ``.state`` to pass as ``resume=``.
    """
    deprecated_return_info(return_info, "data_shapley")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    res = _semivalue(learner, X, y, X_test, y_test, oracle, lambda n: np.ones(n), stopping,
                     seed, metric=metric, sampler=sampler, truncation=truncation,
                     batch_size=batch_size, round_size=round_size, resume=resume,
                     checkpoint=checkpoint, oracle_kwargs=oracle_kwargs, progress=progress,
                     n_permutations=n_permutations, tag="shapley")
    return res


def beta_shapley(learner, X, y, X_test, y_test, oracle="exact", *, alpha: float = 16.0,
                 beta: float = 1.0, stopping=None, n_permutations: int = 100, seed: int = 0,
                 metric: str = "neg_loss", sampler: str = "permutation",
                 truncation: float | None = None, batch_size: int | None = None,
                 round_size: int | None = None, resume=None, checkpoint=None,
                 oracle_kwargs: dict | None = None, progress: bool = False, device=None,
                 n_jobs: int | None = None) -> ValuationResult:
    """Beta(alpha, beta) Shapley values (Kwon & Zou 2022) with per-point standard errors.

    The semivalue with coalition-size probabilities p(s) = C(n-1, s) B(s + beta, n-1-s+alpha) /
    B(alpha, beta) (:mod:`.semivalues`), estimated from the same samplers as
    :func:`data_shapley` with importance weights n p(s). alpha > beta weighs small coalitions
    (Beta(16, 1) is Kwon & Zou's recommendation for noisy-label detection); Beta(1, 1) is
    Shapley. U(S) and theta(S) (the minimiser of sum_{i in S} loss_i(theta) +
    lam/2 ||P theta||^2) as in :func:`data_shapley`, whose arguments these are.

    Returns
    -------
    ValuationResult
    """
    a, b = _check_beta(alpha, beta)
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    return _semivalue(learner, X, y, X_test, y_test, oracle,
                      lambda n: beta_size_weights(n, a, b), stopping, seed, metric=metric,
                      sampler=sampler, truncation=truncation, batch_size=batch_size,
                      round_size=round_size, resume=resume, checkpoint=checkpoint,
                      oracle_kwargs=oracle_kwargs, progress=progress,
                      n_permutations=n_permutations, tag=f"beta({a:g},{b:g})")


def banzhaf(learner, X, y, X_test, y_test, oracle="exact", *, stopping=1000, seed: int = 0,
            metric: str = "neg_loss", batch_size: int | None = None,
            round_size: int | None = None, resume=None, checkpoint=None,
            oracle_kwargs: dict | None = None, progress: bool = False, device=None,
            n_jobs: int | None = None) -> ValuationResult:
    """Data Banzhaf values by maximum sample reuse (Wang & Jia 2023).

    phi_i = mean U(S) over sampled S containing i - mean U(S) over S not containing i, with S
    including each point independently with probability 1/2; ``stopping`` (default 1000
    subsets) and the other arguments as in :func:`data_shapley`. U(S) is a test score of
    theta(S), the minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.

    Returns
    -------
    ValuationResult
    """
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    X, y, X_test, y_test, ss = _prepare(learner, X, y, X_test, y_test, oracle, seed, metric,
                                        oracle_kwargs)
    rule = parse_stopping(stopping)
    cfg = {"data": _fingerprint(learner, X, y, X_test, y_test, metric,
                                oracle_label(oracle, oracle_kwargs)), "estimator": "banzhaf"}
    if resume is not None:  # load and check the saved run before any oracle work
        resume = resume_state(resume, "msr", "msr", X.shape[0], cfg, round_size)
    t0 = time.perf_counter()
    util, name, setup = _utility(learner, X, y, X_test, y_test, oracle, seed, metric,
                                 oracle_kwargs)
    res = banzhaf_from_utility(util, X.shape[0], rule, ss, batch_size=batch_size,
                               round_size=round_size, resume=resume, checkpoint=checkpoint,
                               progress=progress, config=cfg)
    return _finish(res, name, setup, t0)


def loo_values(learner, X, y, X_test, y_test, oracle="exact", *, metric: str = "neg_loss",
               seed: int = 0, oracle_kwargs: dict | None = None,
               return_info: bool | None = None, device=None, n_jobs: int | None = None,
               progress: bool = False, chunk_size: int | None = None) -> ValuationResult:
    """Leave-one-out values U(N) - U(N minus {i}) with U from an oracle.

    theta(S) minimises the sum objective sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
    With ``oracle="influence"`` these are the first-order influence values: theta(N - {i}) is
    replaced by theta_N + H_N^{-1} grad loss_i(theta_N) and the utility is evaluated there;
    ``oracle="newton"`` takes one exact Newton step on F_{N - i} instead. ``"exact"`` refits
    each N - {i} exactly, warm-started from the full fit, in batches.

    Parameters
    ----------
    learner, X, y, X_test, y_test, oracle, metric, oracle_kwargs, device, n_jobs
        As in :func:`data_shapley`.
    seed : int, default=0
        Seeds the training of learned oracles (``"utility"``, ``"modelpred"``).
    return_info : bool, optional
        Deprecated, no effect (a DeprecationWarning): the result is always returned.
    progress : bool, default=False
        A progress bar over the n leave-one-out sets (refits for ``"exact"``) with an ETA.
    chunk_size : int, optional
        Leave-one-out sets per oracle call (default: about 2^23 / n): memory is
        O(n p + chunk_size n), never O(n^2).

    Returns
    -------
    ValuationResult
        ``.values`` (n,); ``.stderr`` NaN (no sampling); ``.stopped_by`` ``"exact"``.
    """
    deprecated_return_info(return_info, "loo_values")
    if chunk_size is not None:
        _check_positive_int(chunk_size, "chunk_size")
    oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    X, y, X_test, y_test, _ = _prepare(learner, X, y, X_test, y_test, oracle, seed, metric,
                                       oracle_kwargs)
    t0 = time.perf_counter()
    util, name, setup = _utility(learner, X, y, X_test, y_test, oracle, seed, metric,
                                 oracle_kwargs)
    fn = _exact_loo_utility(util) if _plain_exact(util.oracle) else util
    values = loo_from_utility(fn, X.shape[0], chunk_size=chunk_size, progress=progress,
                              unit="refit" if name == "exact" else "point")
    return ValuationResult(values=values, stderr=np.full(values.shape, np.nan),
                           n_utility_calls=util.n_calls, utility_seconds=util.oracle_seconds,
                           setup_seconds=setup, total_seconds=time.perf_counter() - t0,
                           oracle=name, stopped_by="exact", method="loo")


def _plain_exact(oracle) -> bool:
    """The built-in exact oracle solving in this process on the CPU (the fast LOO applies)."""
    return (type(oracle) is ExactOracle and oracle.n_jobs is None
            and oracle.device.type == "cpu" and oracle.chunk_size is None)


def _exact_loo_utility(util: SubsetUtility):
    """U of leave-one-out masks by ``baselines.loo_exact`` (chord iterations from the full fit,
    the same exact minimisers to the solver's tolerance, O(n p) per set instead of O(n p^2)).

    Masks are the full pool or leave-one-out sets (as :func:`.exact.loo_from_utility` builds
    them); degenerate sets get the degenerate utility, as in :class:`SubsetUtility`.
    """
    from ..baselines import loo_exact
    from .oracles import degenerate_mask

    X, y, lrn = util.X, util.y, util.learner

    def utility(masks):
        M = np.asarray(masks, dtype=bool)
        if M.all():
            return util(M)
        t0 = time.perf_counter()
        ids = np.argmin(M, axis=1)  # the one point each set leaves out
        out = np.full(M.shape[0], util.u_degenerate)
        ok = ~degenerate_mask(lrn, y, M)
        if ok.any():
            theta_full = util.oracle._theta_full(X, y)
            out[ok] = util.metric_of(loo_exact(lrn, X, y, theta_full=theta_full,
                                               indices=ids[ok]))
        util.oracle_seconds += time.perf_counter() - t0
        util.n_calls += M.shape[0]
        return out

    return utility
