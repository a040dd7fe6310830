"""Data selection: remove points by value, or add points greedily by predicted gain.

Every model whose quality is *reported* here is exact: theta(S) is recomputed by the learner's
exact batched solver for every subset on the curve, minimising the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md). Oracles (ModelPred,
influence, a utility predictor) are only used to *choose* points. Subsets without a minimiser
(missing a class with an unpenalised intercept) score as the constant predictor
(:mod:`.oracles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..subsets import fixed_size_subsets
from .oracles import (
    STREAM_SUBSETS,
    ExactOracle,
    SubsetUtility,
    _check_positive_int,
    check_data,
    check_metric,
    derived_rng,
)
from .resolve import resolve_oracle, with_engine

__all__ = ["AdditionCurve", "SelectionCurve", "greedy_addition", "selection_curve"]


@dataclass
class SelectionCurve:
    """Test score of the exact retrained model as points are removed.

    Attributes
    ----------
    fractions : ndarray of shape (s,)
        Fraction of the pool removed at each step.
    n_removed : ndarray of shape (s,)
    scores : ndarray of shape (s,)
        Test metric of theta(remaining) (exact retraining).
    order : ndarray of shape (n,)
        Removal order (first removed first).
    """

    fractions: np.ndarray
    n_removed: np.ndarray
    scores: np.ndarray
    order: np.ndarray


def selection_curve(learner, X, y, X_test, y_test, values=None, *, remove: str = "low",
                    fractions=None, metric: str = "accuracy", seed: int = 0) -> SelectionCurve:
    """Remove the lowest- (or highest-) valued points in steps; score exact retrained models.

    theta(S) is the exact minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 on the
    remaining points, for every step (one batched solve).

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
    X_test, y_test : ndarray of shape (m, d), (m,)
    values : ndarray of shape (n,), optional
        Data values; None removes points in a uniformly random order (the baseline).
    remove : {"low", "high"}, default="low"
        Remove the lowest-valued first (should help or keep the score) or the highest-valued
        first (should hurt fastest). Ties break by index.
    fractions : array_like, optional
        Fractions of the pool removed, in [0, 1); default 0, 0.05, ..., 0.5.
    metric : {"accuracy", "neg_loss"}, default="accuracy"
    seed : int, default=0
        Random order when ``values`` is None.

    Returns
    -------
    SelectionCurve
    """
    X, y, X_test, y_test = check_data(learner, X, y, X_test, y_test)
    check_metric(learner, metric)
    n = X.shape[0]
    if remove not in ("low", "high"):
        raise ValueError(f"remove must be 'low' or 'high', got {remove!r}")
    fr = np.linspace(0.0, 0.5, 11) if fractions is None else np.asarray(fractions, float)
    if fr.ndim != 1 or fr.size == 0 or np.any(fr < 0) or np.any(fr >= 1):
        raise ValueError("fractions must be a non-empty 1-D array of values in [0, 1)")
    if values is None:
        order = derived_rng(seed, STREAM_SUBSETS).permutation(n)
    else:
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (n,) or not np.all(np.isfinite(v)):
            raise ValueError(f"values must be finite of shape ({n},), got {v.shape}")
        order = np.argsort(v if remove == "low" else -v, kind="stable")
    n_removed = np.round(fr * n).astype(int)
    if np.any(n_removed >= n):
        raise ValueError("fractions must leave at least one point")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    masks = rank[None, :] >= n_removed[:, None]  # shape: (s, n)
    util = SubsetUtility(learner, X, y, X_test, y_test, ExactOracle(learner), metric=metric)
    return SelectionCurve(fractions=fr, n_removed=n_removed, scores=util(masks), order=order)


@dataclass
class AdditionCurve:
    """Greedy forward selection.

    Attributes
    ----------
    selected : ndarray of shape (n_steps,)
        Points added, in order.
    init : ndarray of shape (n,), dtype bool
        The starting set.
    sizes : ndarray of shape (n_steps + 1,)
    predicted : ndarray of shape (n_steps + 1,)
        The oracle's utility of each nested set (NaN at step 0 and for ``oracle="random"``).
    exact : ndarray of shape (n_steps + 1,)
        The exact utility on the selection data (X_val, y_val) of each nested set.
    exact_test : ndarray of shape (n_steps + 1,) or None
        The exact ``eval_metric`` on (X_test, y_test), when given.
    oracle_seconds : float
        Time spent in the oracle choosing points.
    setup_seconds : float
    n_utility_calls : int
    """

    selected: np.ndarray
    init: np.ndarray
    sizes: np.ndarray
    predicted: np.ndarray
    exact: np.ndarray
    exact_test: np.ndarray | None
    oracle_seconds: float
    setup_seconds: float
    n_utility_calls: int


def greedy_addition(learner, X, y, X_val, y_val, oracle="exact", n_steps: int = 20,
                    seed: int = 0, *, init=None, init_size: int = 10, metric: str = "neg_loss",
                    X_test=None, y_test=None, eval_metric: str = "accuracy",
                    oracle_kwargs: dict | None = None, device=None,
                    n_jobs: int | None = None) -> AdditionCurve:
    """Add points one at a time, each time the one with the largest predicted utility gain.

    At each step every candidate j outside S is scored by U(S + {j}) from ``oracle`` in one
    batch, where U is -loss (or accuracy) on (X_val, y_val) of theta(S + {j}), the minimiser of
    sum_{i in S + {j}} loss_i(theta) + lam/2 ||P theta||^2; the best is added. The nested sets
    are then scored exactly (retraining) on the selection data and, if given, on a separate
    test set, so choices made by an approximate oracle are judged by the truth.

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
        The candidate pool.
    X_val, y_val : ndarray of shape (m, d), (m,)
        Data the utility that drives the choice is measured on.
    oracle : str or object, default="exact"
        As in :func:`.valuation.data_shapley`, or ``"random"`` (uniform random additions, the
        baseline).
    n_steps : int, default=20
    seed : int, default=0
        Draws the starting set (and the random order for ``oracle="random"``); seeds learned
        oracles.
    init : ndarray of shape (n,), dtype bool, optional
        The starting set; default ``init_size`` random points covering every class.
    init_size : int, default=10
    metric : {"neg_loss", "accuracy"}, default="neg_loss"
        Utility used to choose.
    X_test, y_test : optional
        Held-out data on which the exact nested models are also scored with ``eval_metric``.
    eval_metric : {"accuracy", "neg_loss"}, default="accuracy"
    oracle_kwargs : dict, optional
    device, n_jobs : optional
        Where a built-in oracle runs and over how many joblib workers its exact solves go
        (:func:`.resolve.with_engine`; as in :func:`.estimators.data_shapley`).

    Returns
    -------
    AdditionCurve
    """
    X, y, X_val, y_val = check_data(learner, X, y, X_val, y_val)
    check_metric(learner, metric)
    if not (isinstance(oracle, str) and oracle == "random"):
        oracle_kwargs = with_engine(oracle, oracle_kwargs, device, n_jobs)
    n = X.shape[0]
    n_steps = _check_positive_int(n_steps, "n_steps")
    rng = derived_rng(seed, STREAM_SUBSETS)
    if init is None:
        init_size = _check_positive_int(init_size, "init_size")
        if init_size >= n:
            raise ValueError(f"init_size must be < n={n}, got {init_size}")
        needs = (not learner.penalize_intercept) and learner.needs_all_classes()
        S = fixed_size_subsets(n, 1, init_size, rng=rng, y=y if needs else None,
                               require_all_classes=needs)[0]
    else:
        S = np.asarray(init)
        if S.shape != (n,) or S.dtype != bool:
            raise ValueError(f"init must be a boolean mask of shape ({n},)")
        S = S.copy()
    if n_steps > n - int(S.sum()):
        raise ValueError(f"n_steps={n_steps} exceeds the {n - int(S.sum())} candidates left")
    if X_test is not None or y_test is not None:
        _, _, X_test, y_test = check_data(learner, X, y, X_test, y_test)
        check_metric(learner, eval_metric)
    init_mask = S.copy()
    if isinstance(oracle, str) and oracle == "random":
        obj, setup, util = None, 0.0, None
    else:
        obj, _, setup = resolve_oracle(oracle, learner, X, y, seed=seed, X_test=X_val,
                                       y_test=y_val, metric=metric, oracle_kwargs=oracle_kwargs)
        util = SubsetUtility(learner, X, y, X_val, y_val, obj, metric=metric)
    selected, predicted = [], [np.nan]
    for _ in range(n_steps):
        cand = np.flatnonzero(~S)
        if util is None:
            j, best = int(rng.choice(cand)), np.nan
        else:
            masks = np.repeat(S[None, :], cand.size, axis=0)  # shape: (c, n)
            masks[np.arange(cand.size), cand] = True
            u = util(masks)
            j, best = int(cand[np.argmax(u)]), float(np.max(u))
        S[j] = True
        selected.append(j)
        predicted.append(best)
    selected = np.asarray(selected)
    nested = np.repeat(init_mask[None, :], n_steps + 1, axis=0)  # shape: (n_steps+1, n)
    for t, j in enumerate(selected):
        nested[t + 1:, j] = True
    exact = SubsetUtility(learner, X, y, X_val, y_val, ExactOracle(learner), metric=metric)
    exact_vals = exact(nested)
    exact_test = None
    if X_test is not None:
        exact_test = SubsetUtility(learner, X, y, X_test, y_test, ExactOracle(learner),
                                   metric=eval_metric)(nested)
    return AdditionCurve(selected=selected, init=init_mask, sizes=nested.sum(axis=1),
                         predicted=np.asarray(predicted), exact=exact_vals,
                         exact_test=exact_test,
                         oracle_seconds=0.0 if util is None else util.oracle_seconds,
                         setup_seconds=setup,
                         n_utility_calls=0 if util is None else util.n_calls)
