"""Data valuation: Monte-Carlo permutation Shapley, leave-one-out, and noisy-label detection.

The value of training point i is computed from a utility U(S) of subsets of the pool. Here
U(S) = -(mean test loss) or the test accuracy of theta(S), where theta(S) minimises the SUM
objective F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (DESIGN.md; the
regulariser does not change with |S|) and comes from any oracle (exact retraining, ModelPred,
first-order influence, or a utility predictor); see :mod:`.oracles`, which also defines the
utility of subsets without a minimiser (those missing a class when the intercept is
unpenalised: the best constant predictor, the same for every oracle).

Shapley value (Shapley 1953; Data Shapley, Ghorbani & Zou 2019):

    phi_i = E_pi [ U(P_i^pi + {i}) - U(P_i^pi) ],

P_i^pi the points before i in a uniform random permutation pi. The estimator averages the
marginal contributions over ``n_permutations`` permutations; every prefix of every permutation
is evaluated in as few batched utility calls as possible. Truncation (TMC-Shapley) stops a
permutation once |U(N) - U(prefix)| < truncation * |U(N)| and gives the rest of that
permutation zero marginal contribution. Without truncation the estimate satisfies efficiency
exactly, sum_i phi_i = U(N) - U(empty), for any number of permutations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..subsets import _as_generator
from .oracles import (
    STREAM_LABEL_NOISE,
    STREAM_PERMUTATIONS,
    SubsetUtility,
    _check_positive_int,
    check_data,
    check_metric,
    derived_rng,
    resolve_oracle,
)

__all__ = [
    "NoisyLabelResult",
    "ValuationResult",
    "compare_values",
    "data_shapley",
    "detection_scores",
    "exact_shapley",
    "flip_labels",
    "loo_from_utility",
    "loo_values",
    "noisy_label_detection",
    "noisy_labels",
    "shapley_from_utility",
]

# Largest pool for exact_shapley: 2^n utility evaluations.
_EXACT_SHAPLEY_MAX_N = 20


@dataclass
class ValuationResult:
    """Data values and what they cost.

    Attributes
    ----------
    values : ndarray of shape (n,)
    stderr : ndarray of shape (n,)
        Monte-Carlo standard error of each value (NaN for LOO or one permutation).
    n_utility_calls : int
        Subsets whose utility was evaluated (each prefix or set counts once).
    utility_seconds : float
        Wall time inside the utility (oracle + metric).
    setup_seconds : float
        Wall time building the oracle (e.g. training ModelPred or UtilityPred); 0 otherwise.
    total_seconds : float
        Wall time of the whole call including setup.
    oracle : str
    permutations : ndarray of shape (n_permutations, n) or None
    truncated_fraction : float
        Fraction of prefix evaluations skipped by truncation.
    """

    values: np.ndarray
    stderr: np.ndarray
    n_utility_calls: int
    utility_seconds: float
    setup_seconds: float = 0.0
    total_seconds: float = 0.0
    oracle: str = ""
    permutations: np.ndarray | None = field(default=None, repr=False)
    truncated_fraction: float = 0.0

    @property
    def seconds_per_call(self) -> float:
        """Utility time per evaluated subset."""
        return self.utility_seconds / max(1, self.n_utility_calls)


def _call_utility(utility_fn, masks: np.ndarray) -> np.ndarray:
    out = np.asarray(utility_fn(masks), dtype=np.float64).reshape(-1)
    if out.shape != (masks.shape[0],):
        raise ValueError(f"utility_fn returned shape {out.shape} for {masks.shape[0]} masks; "
                         f"expected ({masks.shape[0]},)")
    if not np.all(np.isfinite(out)):
        raise ValueError("utility_fn returned NaN or inf")
    return out


def _check_truncation(truncation) -> None:
    if truncation is not None and not (isinstance(truncation, int | float | np.floating)
                                       and not isinstance(truncation, bool)
                                       and 0 <= truncation < 1):
        raise ValueError(f"truncation must be None or a float in [0, 1), got {truncation!r}")


def shapley_from_utility(utility_fn, n: int, n_permutations: int,
                         rng: np.random.Generator | int = 0, truncation: float | None = None, *,
                         batch_size: int | None = None, progress: bool = False,
                         return_info: bool = False):
    """Monte-Carlo permutation Shapley values of a generic batched utility.

    Parameters
    ----------
    utility_fn : callable
        ``utility_fn(masks) -> ndarray (k,)`` for boolean masks (k, n); it must accept the empty
        set.
    n : int
        Number of players (pool size).
    n_permutations : int
        Permutations sampled (uniform, i.i.d.).
    rng : numpy.random.Generator or int, default=0
        Source of the permutations; the permutations depend only on ``rng``, ``n`` and
        ``n_permutations`` (not on the utility), so every utility sees the same ones.
    truncation : float, optional
        TMC-Shapley: once |U(N) - U(prefix)| < truncation * |U(N)| the remaining marginal
        contributions of that permutation are 0 and its later prefixes are not evaluated.
        Prefix sizes are processed in blocks, so up to one block per permutation is evaluated
        past the truncation point; the values equal those of the sequential rule.
    batch_size : int, optional
        Masks per utility call (None: everything in one call when not truncating).
    progress : bool, default=False
        tqdm progress over blocks of prefix sizes.
    return_info : bool, default=False
        Return a :class:`ValuationResult` instead of the values.

    Returns
    -------
    values : ndarray of shape (n,), or ValuationResult

    Notes
    -----
    With pi_p the p-th permutation and U_{p,j} = U(pi_p[:j]), the estimate is
    phi_i = (1/P) sum_p (U_{p, r+1} - U_{p, r}) with r the position of i in pi_p. Every marginal
    of an additive utility equals its summand and every marginal of a null player is 0, so the
    estimator is exact for those with any P; without truncation sum_i phi_i = U(N) - U(empty)
    exactly (telescoping).
    """
    if not callable(utility_fn):
        raise ValueError("utility_fn must be callable: utility_fn(masks (k, n)) -> (k,)")
    n = _check_positive_int(n, "n")
    P = _check_positive_int(n_permutations, "n_permutations")
    _check_truncation(truncation)
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size")
    gen = _as_generator(rng)
    t_start = time.perf_counter()
    perms = np.argsort(gen.random((P, n)), axis=1)  # shape: (P, n)
    ranks = np.empty_like(perms)
    np.put_along_axis(ranks, perms, np.broadcast_to(np.arange(n), (P, n)), axis=1)

    t_util = 0.0
    n_calls = 0

    def evaluate(masks):
        nonlocal t_util, n_calls
        t0 = time.perf_counter()
        out = _call_utility(utility_fn, masks)
        t_util += time.perf_counter() - t0
        n_calls += masks.shape[0]
        return out

    ends = evaluate(np.stack([np.zeros(n, bool), np.ones(n, bool)]))
    u_empty, u_full = ends
    U = np.empty((P, n + 1))  # U[p, j] = U(pi_p[:j]); shape: (P, n+1)
    U[:, 0] = u_empty
    U[:, n] = u_full
    if truncation is None:
        block = max(1, n - 1) if batch_size is None else max(1, batch_size // P)
    else:
        block = max(1, (batch_size or 4096) // P)
        block = min(block, max(1, math.ceil((n - 1) / 8)))  # keep wasted evaluations small
    tol = None if truncation is None else truncation * abs(u_full)
    active = np.arange(P)
    done_at = np.full(P, -1)  # prefix length at which a permutation was truncated
    if tol is not None and abs(u_full - u_empty) < tol:
        done_at[:] = 0  # every permutation is truncated before its first point
        active = active[:0]
    starts = range(1, n, block)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=math.ceil((n - 1) / block), desc="Shapley prefixes",
                      unit="block")
    for j0 in starts:
        if active.size == 0:
            break
        sizes = np.arange(j0, min(n, j0 + block))  # shape: (b,)
        masks = ranks[active][:, None, :] < sizes[None, :, None]  # shape: (a, b, n)
        vals = evaluate(masks.reshape(-1, n)).reshape(active.size, sizes.size)
        U[active[:, None], sizes[None, :]] = vals
        if tol is not None:
            close = np.abs(u_full - vals) < tol  # shape: (a, b)
            first = np.where(close.any(axis=1), close.argmax(axis=1), -1)
            stop = first >= 0
            done_at[active[stop]] = sizes[first[stop]]
            active = active[~stop]
    for p in np.flatnonzero(done_at >= 0):
        j = done_at[p]
        U[p, j + 1:] = U[p, j]  # zero marginals after truncation (the last one included)
    marg = np.diff(U, axis=1)  # marg[p, j] = contribution of perms[p, j]; shape: (P, n)
    contrib = np.empty_like(marg)
    np.put_along_axis(contrib, perms, marg, axis=1)  # contrib[p, i]; shape: (P, n)
    values = contrib.mean(axis=0)
    if not return_info:
        return values
    stderr = (contrib.std(axis=0, ddof=1) / math.sqrt(P)) if P > 1 else np.full(n, np.nan)
    total_prefixes = P * (n - 1)
    return ValuationResult(
        values=values, stderr=stderr, n_utility_calls=n_calls, utility_seconds=t_util,
        total_seconds=time.perf_counter() - t_start, permutations=perms,
        truncated_fraction=(total_prefixes - (n_calls - 2)) / max(1, total_prefixes),
    )


def exact_shapley(utility_fn, n: int) -> np.ndarray:
    """Exact Shapley values by enumerating all 2^n subsets (n <= 20).

    phi_i = sum_{S not containing i} |S|! (n - |S| - 1)! / n! * (U(S + {i}) - U(S)).

    Parameters
    ----------
    utility_fn : callable
        ``utility_fn(masks (k, n)) -> (k,)``, called once on all 2^n masks.
    n : int

    Returns
    -------
    ndarray of shape (n,)
    """
    n = _check_positive_int(n, "n")
    if n > _EXACT_SHAPLEY_MAX_N:
        raise ValueError(f"n must be <= {_EXACT_SHAPLEY_MAX_N} for exact_shapley "
                         f"(2^n utility evaluations), got {n}")
    codes = np.arange(2**n)
    masks = ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)  # shape: (2^n, n)
    u = _call_utility(utility_fn, masks)
    size = masks.sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
                       if s < n else 0.0 for s in range(n + 1)])
    values = np.empty(n)
    for i in range(n):
        without = codes[~masks[:, i]]
        values[i] = np.sum(weight[size[without]] * (u[without | (1 << i)] - u[without]))
    return values


def loo_from_utility(utility_fn, n: int) -> np.ndarray:
    """Leave-one-out values U(N) - U(N minus {i}) of a generic batched utility: (n,)."""
    n = _check_positive_int(n, "n", minimum=2)
    masks = np.vstack([np.ones((1, n), bool), ~np.eye(n, dtype=bool)])
    u = _call_utility(utility_fn, masks)
    return u[0] - u[1:]


# ----------------------------------------------------------------------------------------------
# learner-level entry points
# ----------------------------------------------------------------------------------------------
def data_shapley(learner, X, y, X_test, y_test, oracle="exact", n_permutations: int = 100,
                 seed: int = 0, *, metric: str = "neg_loss", truncation: float | None = None,
                 batch_size: int | None = None, oracle_kwargs: dict | None = None,
                 progress: bool = False, return_info: bool = False):
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
    oracle : {"exact", "influence", "utility", "modelpred"} or object, default="exact"
        See :func:`.oracles.resolve_oracle`; a fitted ModelPred (anything with
        ``predict(X, y, masks)``) predicts all prefixes of all permutations in one batch.
    n_permutations : int, default=100
    seed : int, default=0
        The permutations depend only on (seed, n, n_permutations): every oracle values the same
        ones. They come from a seed stream of their own, so they differ from the permutations
        that ``ModelPred(seed=seed)`` or ``subsets.permutation_prefixes(rng=seed)`` draw.
    metric : {"neg_loss", "accuracy"}, default="neg_loss"
    truncation : float, optional
        TMC-Shapley tolerance (see :func:`shapley_from_utility`).
    batch_size : int, optional
        Subsets per utility call.
    oracle_kwargs : dict, optional
        Passed to :func:`.oracles.resolve_oracle` for string oracles.
    progress : bool, default=False
    return_info : bool, default=False
        Return a :class:`ValuationResult` (values, stderr, timing).

    Returns
    -------
    values : ndarray of shape (n,), or ValuationResult
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    check_metric(learner, metric)
    P = _check_positive_int(n_permutations, "n_permutations")
    _check_truncation(truncation)
    if batch_size is not None:
        _check_positive_int(batch_size, "batch_size")
    perm_rng = derived_rng(seed, STREAM_PERMUTATIONS)
    t0 = time.perf_counter()
    obj, name, setup = resolve_oracle(oracle, learner, X, y, seed=seed, X_test=X_test,
                                      y_test=y_test, metric=metric, oracle_kwargs=oracle_kwargs)
    util = SubsetUtility(learner, X, y, X_test, y_test, obj, metric=metric)
    res = shapley_from_utility(util, X.shape[0], P, perm_rng, truncation, batch_size=batch_size,
                               progress=progress, return_info=True)
    res.setup_seconds = setup
    res.total_seconds = time.perf_counter() - t0
    res.oracle = name
    return res if return_info else res.values


def loo_values(learner, X, y, X_test, y_test, oracle="exact", *, metric: str = "neg_loss",
               seed: int = 0, oracle_kwargs: dict | None = None, return_info: bool = False):
    """Leave-one-out values U(N) - U(N minus {i}) with U from an oracle.

    theta(S) minimises the sum objective sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
    With ``oracle="influence"`` these are the first-order influence values: theta(N - {i}) is
    replaced by theta_N + H_N^{-1} grad loss_i(theta_N) and the utility is evaluated there.

    Parameters
    ----------
    learner, X, y, X_test, y_test, oracle, metric, oracle_kwargs
        As in :func:`data_shapley`.
    seed : int, default=0
        Seeds the training of learned oracles (``"utility"``, ``"modelpred"``).
    return_info : bool, default=False

    Returns
    -------
    values : ndarray of shape (n,), or ValuationResult
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    check_metric(learner, metric)
    t0 = time.perf_counter()
    obj, name, setup = resolve_oracle(oracle, learner, X, y, seed=seed, X_test=X_test,
                                      y_test=y_test, metric=metric, oracle_kwargs=oracle_kwargs)
    util = SubsetUtility(learner, X, y, X_test, y_test, obj, metric=metric)
    values = loo_from_utility(util, X.shape[0])
    if not return_info:
        return values
    return ValuationResult(values=values, stderr=np.full(values.shape, np.nan),
                           n_utility_calls=util.n_calls, utility_seconds=util.oracle_seconds,
                           setup_seconds=setup, total_seconds=time.perf_counter() - t0,
                           oracle=name)


def compare_values(values, reference) -> dict:
    """Agreement of estimated values with reference values (e.g. exact-retraining Shapley).

    Returns a dict with ``pearson``, ``spearman``, ``nrmse`` (RMSE / std of the reference) and
    ``max_abs`` (largest absolute difference).
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if v.shape != r.shape or v.ndim != 1:
        raise ValueError(f"values and reference must be 1-D of equal shape, got {v.shape}, "
                         f"{r.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(r))):
        raise ValueError("values and reference must be finite")
    rmse = float(np.sqrt(np.mean((v - r) ** 2)))
    sd = float(r.std())
    return {
        "pearson": float(stats.pearsonr(v, r)[0]) if v.std() > 0 and sd > 0 else float("nan"),
        "spearman": (float(stats.spearmanr(v, r)[0]) if v.std() > 0 and sd > 0
                     else float("nan")),
        "nrmse": rmse / sd if sd > 0 else float("nan"),
        "max_abs": float(np.max(np.abs(v - r))),
    }


# ----------------------------------------------------------------------------------------------
# noisy-label detection
# ----------------------------------------------------------------------------------------------
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
                          progress: bool = False) -> NoisyLabelResult:
    """Flip a fraction of the training labels, value the points, and score the detection.

    The labels flipped are ``flip_labels(y, noise_rate, rng)`` with a generator derived from
    ``seed`` (:func:`noisy_labels` reproduces them); the points are valued on the noisy pool
    with U(S) from theta(S), the minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2
    on the noisy labels.

    Parameters
    ----------
    learner, X, y, X_test, y_test
        As in :func:`data_shapley` (``y`` clean; ``y_test`` stays clean).
    oracle : str, fitted oracle, or callable
        A string (:func:`.oracles.resolve_oracle`; ``"modelpred"`` trains on the noisy pool), a
        fitted oracle (it must have been fitted on the NOISY labels, see
        :func:`noisy_labels`), or a factory ``oracle(X, y_noisy) -> fitted oracle``.
    n_permutations, seed, metric, truncation, oracle_kwargs, progress
        As in :func:`data_shapley`.
    noise_rate : float, default=0.1
    method : {"shapley", "loo"}, default="shapley"
        ``"loo"`` with ``oracle="influence"`` gives the first-order influence values.

    Returns
    -------
    NoisyLabelResult
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    if method not in ("shapley", "loo"):
        raise ValueError(f"method must be 'shapley' or 'loo', got {method!r}")
    _check_positive_int(n_permutations, "n_permutations")
    _check_truncation(truncation)
    y_noisy, flipped = noisy_labels(y, noise_rate, seed)
    if (not isinstance(oracle, str) and not hasattr(oracle, "predict")
            and not hasattr(oracle, "predict_utility") and callable(oracle)):
        t0 = time.perf_counter()
        oracle = oracle(X, y_noisy)
        setup = time.perf_counter() - t0
    else:
        setup = 0.0
    if method == "shapley":
        res = data_shapley(learner, X, y_noisy, X_test, y_test, oracle, n_permutations, seed,
                           metric=metric, truncation=truncation, oracle_kwargs=oracle_kwargs,
                           progress=progress, return_info=True)
    else:
        res = loo_values(learner, X, y_noisy, X_test, y_test, oracle, metric=metric, seed=seed,
                         oracle_kwargs=oracle_kwargs, return_info=True)
    res.setup_seconds += setup
    res.total_seconds += setup
    return NoisyLabelResult(values=res.values, flipped=flipped, y_noisy=y_noisy,
                            scores=detection_scores(res.values, flipped), valuation=res)


def noisy_labels(y, noise_rate: float = 0.1, seed: int = 0):
    """The noisy labels :func:`noisy_label_detection` uses for ``seed``: (y_noisy, flipped)."""
    return flip_labels(y, noise_rate, derived_rng(seed, STREAM_LABEL_NOISE))
