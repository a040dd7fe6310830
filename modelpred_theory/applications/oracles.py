"""Oracles for theta(S) and the subset utility U(S) that every application evaluates.

An *oracle* answers "which parameters would training on S give?" for a batch of subsets of a
fixed pool. Two kinds are accepted everywhere in :mod:`modelpred_theory.applications`:

- a parameter oracle: any object with ``predict(X, y, masks) -> ndarray (k, p)`` (a fitted
  :class:`~modelpred_theory.setfn.ModelPred`, :class:`ExactOracle`, :class:`InfluenceOracle`);
- a utility oracle: any object with ``predict_utility(masks) -> ndarray (k,)`` (a fitted
  :class:`UtilityPred`, the paper's baseline that regresses U(S) directly).

Strings name the built-in oracles: ``"exact"`` (retraining with the learner's batched exact
solver), ``"influence"`` (first-order group influence from the full fit), ``"newton"`` (one
exact Newton step from the full fit), ``"utility"`` (a :class:`UtilityPred` trained here on
exact utilities) and ``"modelpred"`` / ``"modelpred:<base>"`` (a ModelPred trained here on the
pool, the base forwarded as ``ModelPred(base=...)``); see :mod:`.resolve`.

Sum convention (docs/design.md): every learner minimises
``F_S(theta) = sum_{i in S} w_i loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2`` with a
regulariser that does not change with |S|; theta(S) is its minimiser, laid out as ``[w, b]``
(``(K, d + 1)`` rows flattened for multinomial logistic regression).

Degenerate subsets
------------------
With an unpenalised intercept, F_S has no unique minimiser on the empty set and, for the
classifiers, on any set that misses a class (the intercept runs to infinity). No oracle is asked
about such a set. Its utility is defined, identically for every oracle, as the utility of the
*best constant predictor*: ``theta_0 = [0, b_0]`` with ``b_0`` the exact minimiser of the
learner's own loss summed over the whole pool with the features ignored (for logistic regression
the log-odds / centred log-frequencies of the pool's classes; for ridge the pool mean of y; for
the squared-hinge SVM the best constant margin). It is the learner's answer when the features
carry no usable information, so U(S) is finite and well defined for every S. With
``penalize_intercept=True`` every non-empty set has a unique minimiser and the empty set has the
exact minimiser theta(empty) = 0, which is used (again for every oracle).
"""

from __future__ import annotations

import time

import numpy as np

from ..learners.tensors import resolve_device
from ..subsets import check_masks, covers_all_classes
from ._common import (  # noqa: F401  (re-exported: the applications import them from here)
    METRICS,
    MODELPRED_BASES,
    ORACLE_NAMES,
    STREAM_LABEL_NOISE,
    STREAM_MODELPRED,
    STREAM_PERMUTATIONS,
    STREAM_SUBSETS,
    STREAM_UTILITY_TRAIN,
    _check_positive_int,
    check_data,
    check_metric,
    derived_rng,
)
from .utility_pred import UtilityPred

__all__ = [
    "ExactOracle",
    "InfluenceOracle",
    "NewtonOracle",
    "SubsetUtility",
    "UtilityPred",
    "constant_predictor",
]

# ----------------------------------------------------------------------------------------------
# degenerate sets and the constant predictor
# ----------------------------------------------------------------------------------------------
def constant_predictor(learner, X, y) -> np.ndarray:
    """theta_0 = [0, b_0]: the best constant predictor of the pool under the learner's loss.

    Sum convention: b_0 minimises ``sum_i loss([0, b]; x_i, y_i) (+ lam/2 ||P [0, b]||^2)`` over
    the whole pool, i.e. the exact fit of the same learner on all-zero features (the weights
    are then exactly 0 by the penalty).

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (p,)
    """
    X, y = check_data(learner, X, y)
    res = learner.fit(np.zeros_like(X), y)
    theta = res.theta.copy()
    q = X.shape[1] + 1
    T = theta.reshape(-1, q)
    T[:, :-1] = 0.0  # exactly zero in exact arithmetic; remove rounding residue
    return T.reshape(-1)


# Subsets per parallel task of the exact oracle with n_jobs (the label engine's chunk).
ENGINE_CHUNK = 64


def degenerate_mask(learner, y, masks) -> np.ndarray:
    """Which subsets have no unique minimiser of F_S (see module docstring): bool (k,).

    Empty sets when the intercept is unpenalised; for classifiers with an unpenalised
    intercept also sets that miss one of the pool's classes.
    """
    masks = np.asarray(masks, dtype=bool)
    if learner.penalize_intercept:
        return np.zeros(masks.shape[0], dtype=bool)
    empty = ~masks.any(axis=1)
    if not learner.needs_all_classes():
        return empty
    return empty | ~covers_all_classes(masks, y)


# ----------------------------------------------------------------------------------------------
# parameter oracles
# ----------------------------------------------------------------------------------------------
class ExactOracle:
    """Exact retraining: theta(S) = argmin F_S by the learner's batched exact solver.

    Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.

    Parameters
    ----------
    learner : ConvexLearner
    warm_start : bool, default=True
        Start every Newton solve at the full-pool fit (cached per pool), which typically
        saves a third of the iterations; the minimiser does not depend on the start.
    chunk_size : int, optional
        Passed to ``learner.fit_subsets`` (with ``n_jobs``: subsets per parallel task, default
        ``ENGINE_CHUNK``).
    progress : bool, default=False
        tqdm progress in fits (the solver's subsets, advanced chunk by chunk).
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the exact solves run (float64).
    n_jobs : int, optional
        None: one in-process batched solve per call. An integer (-1: all cores): chunks of
        subsets through the label engine (``setfn.fit_subsets_parallel``) on joblib's active
        backend, local processes by default or Dask / Ray under ``joblib.parallel_config``; one
        torch thread per chunk, so every ``n_jobs`` (1 included) and every engine gives the
        same bits. CPU only.
    """

    name = "exact"

    def __init__(self, learner, *, warm_start: bool = True, chunk_size: int | None = None,
                 progress: bool = False, device="cpu", n_jobs: int | None = None):
        from ..setfn.engine import check_n_jobs

        self.learner = learner
        self.warm_start = bool(warm_start)
        self.chunk_size = chunk_size
        self.progress = bool(progress)
        self.device = resolve_device(device)  # bad values fail here, before any work
        self.n_jobs = check_n_jobs(n_jobs)
        if self.n_jobs is not None and self.device.type != "cpu":
            raise ValueError(f"n_jobs={n_jobs} solves in CPU processes; it cannot be combined "
                             f"with device={device!r} (use one or the other)")
        self._cache: tuple | None = None

    def _theta_full(self, X, y):
        key = (X.shape, hash(np.ascontiguousarray(X).tobytes()), hash(np.asarray(y).tobytes()))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.learner.fit(X, y).theta)
        return self._cache[1]

    def predict(self, X, y, masks) -> np.ndarray:
        """Exact theta(S) for each mask: masks (k, n) -> ndarray of shape (k, p)."""
        X = np.asarray(X, dtype=np.float64)
        theta0 = self._theta_full(X, y) if self.warm_start else None
        if self.n_jobs is None:
            return self.learner.fit_subsets(X, y, masks, theta0=theta0,
                                            chunk_size=self.chunk_size, progress=self.progress,
                                            device=self.device)
        from ..setfn.engine import fit_subsets_parallel

        return fit_subsets_parallel(self.learner, X, y, masks, theta0=theta0,
                                    chunk_size=self.chunk_size or ENGINE_CHUNK,
                                    n_jobs=self.n_jobs, threads=1, progress=self.progress).thetas


class InfluenceOracle:
    """First-order group influence from the full fit (Koh & Liang; no refitting).

    Sum convention: with theta_N the minimiser of F_N and g_i = grad loss_i(theta_N),
    removing the group G = N minus S moves the minimiser by H_N^{-1} sum_{i in G} g_i, so

        theta(S) ~ theta_N + H_N^{-1} sum_{i not in S} g_i,

    with no 1/n factors (the regulariser does not change with |S|). Delegates to
    :func:`modelpred_theory.baselines.influence` (``order=1``), with the full fit cached.
    """

    name = "influence"

    def __init__(self, learner, *, order: int = 1, device="cpu"):
        self.learner = learner
        self.order = order
        self.device = resolve_device(device)
        self._exact = ExactOracle(learner)
        self._matrix: tuple | None = None  # (pool key, theta_N, A = G H^{-1}) for order 1

    def predict(self, X, y, masks) -> np.ndarray:
        """theta_N + H_N^{-1} sum_{i not in S} g_i for each mask: (k, n) -> (k, p).

        First order: the per-point influence matrix A (n, p) is computed once per pool and
        each call is one product (1 - masks) @ A (``baselines.influence_matrix``), so
        repeated calls (batches of leave-one-out or permutation sets) cost O(k n p) each.
        """
        from ..baselines import influence, influence_matrix

        X = np.asarray(X, dtype=np.float64)
        if self.order == 1 and self.device.type == "cpu":
            key = (X.shape, hash(X.tobytes()), hash(np.asarray(y).tobytes()))
            if self._matrix is None or self._matrix[0] != key:
                theta_full = self._exact._theta_full(X, y)
                self._matrix = (key, *influence_matrix(self.learner, X, y,
                                                       theta_base=theta_full))
            _, theta, A = self._matrix
            W = check_masks(masks, X.shape[0], weights=True)
            _, y_enc, K = self.learner.prepare(X, y)
            self.learner.check_existence(W, y_enc, K, "masks")  # as influence() refuses
            out = theta[None, :] + (1.0 - W) @ A  # shape: (k, p)
            if not np.all(np.isfinite(out)):
                raise ValueError("influence produced NaN or inf parameters")
            return out
        theta_full = self._exact._theta_full(X, y)
        return np.asarray(influence(self.learner, X, y, masks, order=self.order,
                                    theta_base=theta_full, device=self.device))


class NewtonOracle:
    """One exact Newton step on F_S from the full fit (no refitting to convergence).

    Sum convention: with theta_N the minimiser of F_N, theta(S) ~ theta_N - H_S(theta_N)^{-1}
    grad F_S(theta_N), with F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 and
    H_S its Hessian; exact for ridge. Delegates to :func:`modelpred_theory.baselines.newton_step`
    (batched: one GEMM and one batched Cholesky per chunk), with the full fit cached.
    """

    name = "newton"

    def __init__(self, learner, *, chunk_size: int | None = None, device="cpu"):
        self.learner = learner
        self.chunk_size = chunk_size
        self.device = resolve_device(device)
        self._exact = ExactOracle(learner)

    def predict(self, X, y, masks) -> np.ndarray:
        """theta_N - H_S^{-1} grad F_S(theta_N) for each mask: (k, n) -> (k, p)."""
        from ..baselines import newton_step

        X = np.asarray(X, dtype=np.float64)
        theta_full = self._exact._theta_full(X, y)
        return np.asarray(newton_step(self.learner, X, y, masks, theta_base=theta_full,
                                      chunk_size=self.chunk_size, device=self.device))


# ----------------------------------------------------------------------------------------------
# the utility
# ----------------------------------------------------------------------------------------------
class SubsetUtility:
    """U(S) = -mean test loss (or test accuracy) of theta(S), theta(S) from an oracle.

    Sum convention: theta(S) minimises sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2; the
    utility evaluates it on (X_test, y_test). Degenerate subsets (module docstring) get the
    utility of the constant predictor theta_0 for every oracle; with a penalised intercept the
    empty set gets the utility of its exact minimiser theta = 0.

    Parameters
    ----------
    learner : ConvexLearner
    X, y : ndarray of shape (n, d), (n,)
        The pool.
    X_test, y_test : ndarray of shape (m, d), (m,)
        Where the utility is measured.
    oracle : object
        Parameter oracle (``predict(X, y, masks) -> (k, p)``) or utility oracle
        (``predict_utility(masks) -> (k,)``); see :func:`resolve_oracle` for strings.
    metric : {"neg_loss", "accuracy"}, default="neg_loss"
        ``neg_loss``: minus the mean per-sample loss on the test set (cross-entropy for logistic
        regression, half squared error for ridge, squared hinge for the SVM).
    batch_size : int, optional
        Subsets per oracle call (None: all at once).

    Attributes
    ----------
    n_calls : int
        Subsets evaluated so far (degenerate ones included).
    oracle_seconds : float
        Wall time spent inside the oracle and the metric.
    u_degenerate : float
        The utility given to degenerate subsets (NaN when none can occur).
    """

    def __init__(self, learner, X, y, X_test, y_test, oracle, *, metric: str = "neg_loss",
                 batch_size: int | None = None):
        self.learner = learner
        self.X, self.y, self.X_test, self.y_test = check_data(learner, X, y, X_test, y_test)
        self.metric = check_metric(learner, metric)
        if batch_size is not None:
            batch_size = _check_positive_int(batch_size, "batch_size")
        self.batch_size = batch_size
        if not (hasattr(oracle, "predict") or hasattr(oracle, "predict_utility")):
            raise ValueError("oracle must have predict(X, y, masks) or predict_utility(masks)")
        self.oracle = oracle
        self.n = self.X.shape[0]
        self.n_calls = 0
        self.oracle_seconds = 0.0
        p = learner.param_dim(self.X, self.y)
        if learner.penalize_intercept:
            self.theta_degenerate = None
            self.u_degenerate = float("nan")
            self.u_empty = float(self.metric_of(np.zeros((1, p)))[0])
        else:
            self.theta_degenerate = constant_predictor(learner, self.X, self.y)
            self.u_degenerate = float(self.metric_of(self.theta_degenerate[None])[0])
            self.u_empty = self.u_degenerate

    def metric_of(self, thetas) -> np.ndarray:
        """The metric of parameters on the test set: thetas (k, p) -> (k,)."""
        thetas = np.asarray(thetas, dtype=np.float64)
        if self.metric == "accuracy":
            return np.atleast_1d(self.learner.accuracy(thetas, self.X_test, self.y_test))
        return -np.atleast_1d(self.learner.mean_loss(thetas, self.X_test, self.y_test))

    def __call__(self, masks) -> np.ndarray:
        """U(S) for each mask: (k, n) bool -> ndarray of shape (k,)."""
        M = check_masks(masks, self.n, allow_empty=True)
        out = np.empty(M.shape[0])
        empty = ~M.any(axis=1)
        degenerate = degenerate_mask(self.learner, self.y, M)
        out[empty] = self.u_empty
        out[degenerate] = self.u_degenerate
        todo = np.flatnonzero(~(empty | degenerate))
        t0 = time.perf_counter()
        step = self.batch_size or max(1, todo.size)
        for s in range(0, todo.size, step):
            idx = todo[s:s + step]
            if hasattr(self.oracle, "predict_utility"):
                out[idx] = self.oracle.predict_utility(M[idx])
            else:
                thetas = np.asarray(self.oracle.predict(self.X, self.y, M[idx]))
                out[idx] = self.metric_of(thetas)
        self.oracle_seconds += time.perf_counter() - t0
        self.n_calls += M.shape[0]
        return out

