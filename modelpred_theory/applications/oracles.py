"""Oracles for theta(S) and the subset utility U(S) that every application evaluates.

An *oracle* answers "which parameters would training on S give?" for a batch of subsets of a
fixed pool. Two kinds are accepted everywhere in :mod:`modelpred_theory.applications`:

- a parameter oracle: any object with ``predict(X, y, masks) -> ndarray (k, p)`` (a fitted
  :class:`~modelpred_theory.setfn.ModelPred`, :class:`ExactOracle`, :class:`InfluenceOracle`);
- a utility oracle: any object with ``predict_utility(masks) -> ndarray (k,)`` (a fitted
  :class:`UtilityPred`, the paper's baseline that regresses U(S) directly).

Strings name the built-in oracles: ``"exact"`` (retraining with the learner's batched exact
solver), ``"influence"`` (first-order group influence from the full fit), ``"utility"`` (a
:class:`UtilityPred` trained here on exact utilities) and ``"modelpred"`` (a ModelPred trained
here on the pool).

Sum convention (DESIGN.md): every learner minimises
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

import math
import numbers
import time

import numpy as np
import torch

from ..subsets import check_masks, covers_all_classes, permutation_prefixes

__all__ = [
    "ExactOracle",
    "InfluenceOracle",
    "SubsetUtility",
    "UtilityPred",
    "constant_predictor",
    "resolve_oracle",
]

METRICS = ("neg_loss", "accuracy")
ORACLE_NAMES = ("exact", "influence", "utility", "modelpred")

# Seed-stream ids: derived generators for different purposes never share draws, so e.g. the
# permutations valued by data_shapley(seed=s) differ from those ModelPred(seed=s) trains on.
STREAM_PERMUTATIONS = 101
STREAM_UTILITY_TRAIN = 102
STREAM_MODELPRED = 103
STREAM_LABEL_NOISE = 104
STREAM_SUBSETS = 105


def derived_rng(seed: int, stream: int) -> np.random.Generator:
    """A generator for one purpose (``stream``) derived from an integer ``seed``."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream),)))


# ----------------------------------------------------------------------------------------------
# validation shared by the applications
# ----------------------------------------------------------------------------------------------
def check_data(learner, X, y, X_test=None, y_test=None):
    """Validate the pool (and an evaluation set) for ``learner``; raise ValueError naming them.

    Returns float64 ``X`` (n, d), ``y`` (n,), and ``X_test`` (m, d), ``y_test`` (m,) when given.
    """
    if not hasattr(learner, "fit_subsets") or not hasattr(learner, "_prepare"):
        raise ValueError(f"learner must be a modelpred_theory learner, got {type(learner)!r}")
    Xc, _, _ = learner._prepare(X, y)
    y = np.asarray(y)
    if Xc.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 points, got {Xc.shape[0]}")
    if X_test is None and y_test is None:
        return Xc, y
    if X_test is None or y_test is None:
        raise ValueError("X_test and y_test must be given together")
    try:
        Xt, _, _ = learner._prepare(X_test, y_test)
    except ValueError as exc:
        raise ValueError(f"X_test/y_test: {exc}") from exc
    if Xt.shape[1] != Xc.shape[1]:
        raise ValueError(f"X_test has {Xt.shape[1]} features, X has {Xc.shape[1]}")
    return Xc, y, Xt, np.asarray(y_test)


def check_metric(learner, metric: str) -> str:
    """Validate the utility metric for ``learner``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "accuracy" and not hasattr(learner, "accuracy"):
        raise ValueError(f"metric='accuracy' needs a classifier; {type(learner).__name__} is not")
    return metric


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


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


def degenerate_mask(learner, y, masks) -> np.ndarray:
    """Which subsets have no unique minimiser of F_S (see module docstring): bool (k,).

    Empty sets when the intercept is unpenalised; for classifiers with an unpenalised
    intercept also sets that miss one of the pool's classes.
    """
    masks = np.asarray(masks, dtype=bool)
    if learner.penalize_intercept:
        return np.zeros(masks.shape[0], dtype=bool)
    empty = ~masks.any(axis=1)
    if not learner._needs_all_classes():
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
        Passed to ``learner.fit_subsets``.
    progress : bool, default=False
        tqdm progress over the solver's chunks.
    """

    name = "exact"

    def __init__(self, learner, *, warm_start: bool = True, chunk_size: int | None = None,
                 progress: bool = False):
        self.learner = learner
        self.warm_start = bool(warm_start)
        self.chunk_size = chunk_size
        self.progress = bool(progress)
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
        return self.learner.fit_subsets(X, y, masks, theta0=theta0, chunk_size=self.chunk_size,
                                        progress=self.progress)


class InfluenceOracle:
    """First-order group influence from the full fit (Koh & Liang; no refitting).

    Sum convention: with theta_N the minimiser of F_N and g_i = grad loss_i(theta_N),
    removing the group G = N minus S moves the minimiser by H_N^{-1} sum_{i in G} g_i, so

        theta(S) ~ theta_N + H_N^{-1} sum_{i not in S} g_i,

    with no 1/n factors (the regulariser does not change with |S|). Delegates to
    :func:`modelpred_theory.baselines.influence` (``order=1``), with the full fit cached.
    """

    name = "influence"

    def __init__(self, learner, *, order: int = 1):
        self.learner = learner
        self.order = order
        self._exact = ExactOracle(learner)

    def predict(self, X, y, masks) -> np.ndarray:
        """theta_N + H_N^{-1} sum_{i not in S} g_i for each mask: (k, n) -> (k, p)."""
        from ..baselines import influence

        X = np.asarray(X, dtype=np.float64)
        theta_full = self._exact._theta_full(X, y)
        return np.asarray(influence(self.learner, X, y, masks, order=self.order,
                                    theta_base=theta_full))


# ----------------------------------------------------------------------------------------------
# the utility predictor (the paper's UtilityPred baseline)
# ----------------------------------------------------------------------------------------------
class _SetRegressor(torch.nn.Module):
    """DeepSets f(S) = rho(sum_{i in S} phi(z_i) / n_pool) with scalar output.

    phi has no biases and ELU(0) = 0, so a zero row contributes nothing (padding = masking);
    the division by the constant pool size keeps the pooled sum O(1) and is still a sum.
    """

    def __init__(self, d_in: int, hidden: int, generator: torch.Generator):
        super().__init__()
        act = torch.nn.ELU
        self.phi = torch.nn.Sequential(
            torch.nn.Linear(d_in, hidden, bias=False), act(),
            torch.nn.Linear(hidden, hidden, bias=False), act(),
            torch.nn.Linear(hidden, hidden, bias=False),
        )
        self.rho = torch.nn.Sequential(
            torch.nn.Linear(hidden, hidden), act(),
            torch.nn.Linear(hidden, 64), act(),
            torch.nn.Linear(64, 1),
        )
        for mod in self.modules():
            if isinstance(mod, torch.nn.Linear):
                bound = 1.0 / math.sqrt(mod.in_features)
                with torch.no_grad():
                    mod.weight.uniform_(-bound, bound, generator=generator)
                    if mod.bias is not None:
                        mod.bias.zero_()

    def forward(self, M: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        pooled = M @ self.phi(Z) / Z.shape[0]  # shape: (k, hidden), one GEMM for all sets
        return self.rho(pooled)[:, 0]  # shape: (k,)


class UtilityPred:
    """The paper's utility-predictor baseline: a DeepSets network regressing U(S) directly.

    Elements are z_i = [x_i, onehot(y_i)] for classification (``[x_i, y_i]`` for regression);
    subsets of the fixed pool are pooled as ``masks @ phi(pool)`` (one GEMM for all sets).

    Parameters
    ----------
    hidden : int, default=128
    epochs : int, default=200
    lr : float, default=1e-3
        Adam learning rate (cosine-annealed to 0).
    batch_size : int, default=256
    seed : int, default=0
        Seeds the initialisation and the minibatch order (a private torch.Generator).
    progress : bool, default=False
        tqdm progress over epochs.
    """

    def __init__(self, *, hidden: int = 128, epochs: int = 200, lr: float = 1e-3,
                 batch_size: int = 256, seed: int = 0, progress: bool = False):
        self.hidden = _check_positive_int(hidden, "hidden")
        self.epochs = _check_positive_int(epochs, "epochs")
        if not (isinstance(lr, numbers.Real) and 0 < lr < 1):
            raise ValueError(f"lr must be in (0, 1), got {lr!r}")
        self.lr = float(lr)
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.seed = _check_positive_int(seed, "seed", minimum=0)
        self.progress = bool(progress)
        self.net_: _SetRegressor | None = None

    @staticmethod
    def _features(X, y, onehot: bool) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if not onehot:
            return np.column_stack([X, np.asarray(y, dtype=np.float64)])
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        E = np.zeros((X.shape[0], classes.size))
        E[np.arange(X.shape[0]), codes] = 1.0
        return np.column_stack([X, E])

    def fit(self, X, y, masks, utilities, *, onehot: bool | None = None) -> UtilityPred:
        """Train on (S, U(S)) pairs over the pool (X, y).

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Training subsets (boolean).
        utilities : ndarray of shape (k,)
            Their utilities (e.g. from exact retraining).
        onehot : bool, optional
            One-hot encode y; default: when y holds integers.

        Returns
        -------
        self
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or not np.all(np.isfinite(X)):
            raise ValueError("X must be a finite 2-D array (n, d)")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        M = check_masks(masks, X.shape[0], allow_empty=True)
        u = np.asarray(utilities, dtype=np.float64)
        if u.shape != (M.shape[0],) or not np.all(np.isfinite(u)):
            raise ValueError(f"utilities must be finite of shape ({M.shape[0]},), got {u.shape}")
        if onehot is None:
            onehot = bool(np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_))
        self.onehot_ = bool(onehot)
        self.n_ = X.shape[0]
        Z = torch.as_tensor(self._features(X, y, self.onehot_), dtype=torch.float32)
        self.u_mean_, self.u_std_ = float(u.mean()), float(max(u.std(), 1e-12))
        target = torch.as_tensor((u - self.u_mean_) / self.u_std_, dtype=torch.float32)
        Mt = torch.as_tensor(M, dtype=torch.float32)
        gen = torch.Generator().manual_seed(self.seed)
        net = _SetRegressor(Z.shape[1], self.hidden, gen)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        steps_per_epoch = math.ceil(M.shape[0] / self.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs * steps_per_epoch)
        epochs = range(self.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="UtilityPred", unit="epoch")
        self.train_loss_ = []
        for _ in epochs:
            order = torch.randperm(M.shape[0], generator=gen)
            total = 0.0
            for s in range(0, M.shape[0], self.batch_size):
                idx = order[s:s + self.batch_size]
                loss = torch.mean((net(Mt[idx], Z) - target[idx]) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * idx.numel()
            self.train_loss_.append(total / M.shape[0])
        self.net_ = net.eval()
        self.Z_ = Z
        return self

    def predict_utility(self, masks) -> np.ndarray:
        """Predicted U(S) for subsets of the training pool: masks (k, n) -> ndarray (k,)."""
        if self.net_ is None:
            raise ValueError("UtilityPred is not fitted; call fit first")
        M = check_masks(masks, self.n_, allow_empty=True)
        out = np.empty(M.shape[0])
        with torch.no_grad():
            for s in range(0, M.shape[0], 65536):
                Mt = torch.as_tensor(M[s:s + 65536], dtype=torch.float32)
                out[s:s + 65536] = self.net_(Mt, self.Z_).double().numpy()
        return out * self.u_std_ + self.u_mean_


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


# ----------------------------------------------------------------------------------------------
# resolving oracle specifications
# ----------------------------------------------------------------------------------------------
def resolve_oracle(oracle, learner, X, y, *, seed: int = 0, X_test=None, y_test=None,
                   metric: str = "neg_loss", oracle_kwargs: dict | None = None):
    """Turn an oracle specification into an oracle object.

    Parameters
    ----------
    oracle : str or object
        ``"exact"``, ``"influence"``, ``"utility"`` (trains a :class:`UtilityPred` on exact
        utilities of ``n_train_permutations`` permutation prefixes, default 50, drawn from a
        stream separate from the valued permutations), ``"modelpred"`` (trains
        ``modelpred_theory.setfn.ModelPred(learner, seed=seed, **oracle_kwargs).fit(X, y)``),
        or an object with ``predict(X, y, masks)`` or ``predict_utility(masks)`` (used as is).
    learner : ConvexLearner
    X, y : the pool
    seed : int
        Seeds the training of learned oracles.
    X_test, y_test, metric
        Needed for ``"utility"`` (its regression target).
    oracle_kwargs : dict, optional
        For ``"utility"``: ``n_train_permutations`` plus :class:`UtilityPred` arguments; for
        ``"modelpred"``: ModelPred constructor arguments; for ``"exact"``: ExactOracle arguments.

    Returns
    -------
    oracle : object
    name : str
    setup_seconds : float
        Wall time spent building/training it (including exact labels for ``"utility"``).
    """
    kw = dict(oracle_kwargs or {})
    t0 = time.perf_counter()
    if isinstance(oracle, str):
        if oracle not in ORACLE_NAMES:
            raise ValueError(f"oracle must be one of {ORACLE_NAMES} or an object with "
                             f"predict(X, y, masks) / predict_utility(masks), got {oracle!r}")
        if oracle == "exact":
            obj = ExactOracle(learner, **kw)
        elif oracle == "influence":
            obj = InfluenceOracle(learner, **kw)
        elif oracle == "utility":
            if X_test is None:
                raise ValueError("oracle='utility' needs X_test and y_test (its target)")
            n_perm = _check_positive_int(kw.pop("n_train_permutations", 50),
                                         "n_train_permutations")
            rng = derived_rng(seed, STREAM_UTILITY_TRAIN)
            masks, _, _ = permutation_prefixes(X.shape[0], n_perm, rng=rng)
            exact = SubsetUtility(learner, X, y, X_test, y_test, ExactOracle(learner),
                                  metric=metric)
            masks = masks[~degenerate_mask(learner, y, masks)]
            u = exact(masks)
            kw.setdefault("seed", seed)
            obj = UtilityPred(**kw).fit(X, y, masks, u,
                                        onehot=hasattr(learner, "accuracy"))
        else:
            from ..setfn import ModelPred

            obj = ModelPred(learner, seed=seed, **kw).fit(X, y)
        return obj, oracle, time.perf_counter() - t0
    if hasattr(oracle, "predict") or hasattr(oracle, "predict_utility"):
        return oracle, type(oracle).__name__, 0.0
    raise ValueError(f"oracle must be one of {ORACLE_NAMES} or an object with "
                     f"predict(X, y, masks) / predict_utility(masks), got {type(oracle)!r}")
