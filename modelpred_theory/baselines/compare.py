"""Compare approximations of theta(S) against exact refits on held-out subsets.

Sum convention: theta(S) minimises F_S(theta) = sum_{i in S} w_i loss_i(theta)
+ lam/2 ||P theta||^2 (C = 1/lam); every method is scored against these exact minimisers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..learners.validation import check_theta, check_X, check_y_shape
from ._common import base_fit, check_learner, check_masks_weights, prepare
from ._compare_result import CompareResult, MethodResult, format_table
from .datamodels import Datamodel
from .influence import influence
from .newton import newton_step

__all__ = ["DEFAULT_METHODS", "METHODS", "CompareResult", "MethodResult", "compare",
           "format_table"]

METHODS = ("influence", "influence2", "newton_step", "datamodel")
DEFAULT_METHODS = METHODS
# Ridge strengths tried for the datamodel (scikit-learn's alpha), picked on a 20% validation
# split of its training pairs.
_DATAMODEL_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _draw_datamodel_masks(learner, y_enc, K, sizes: np.ndarray, m: int, rng) -> np.ndarray:
    """m uniform random subsets whose sizes are drawn from ``sizes`` (covering every class
    when the learner needs it)."""
    n = y_enc.shape[0]
    gen = np.random.default_rng(rng)
    need = learner.needs_all_classes()
    labels = y_enc if need else None
    out = np.empty((m, n), dtype=bool)
    todo = np.arange(m)
    for _ in range(1000):
        s = gen.choice(sizes, size=todo.size)
        ranks = np.argsort(gen.random((todo.size, n)), axis=1)
        out[todo] = ranks < s[:, None]
        if labels is None:
            return out
        cls = np.unique(labels)
        ok = np.stack([out[todo][:, labels == c].any(1) for c in cls], 1).all(1)
        todo = todo[~ok]
        if todo.size == 0:
            return out
    raise ValueError("could not draw datamodel training masks covering every class; pass "
                     "datamodel_masks")


def _fit_datamodel(learner, X, y_enc, K, theta_full, masks_train, alpha, rng):
    thetas = learner.fit_subsets(X, y_enc, masks_train, theta0=theta_full)
    if alpha is not None:
        return Datamodel(alpha=alpha).fit(masks_train, thetas)
    m = masks_train.shape[0]
    perm = np.random.default_rng(rng).permutation(m)
    n_val = max(1, m // 5)
    val, tr = perm[:n_val], perm[n_val:]
    best, best_err = None, np.inf
    for a in _DATAMODEL_ALPHAS:
        dm = Datamodel(alpha=a).fit(masks_train[tr], thetas[tr])
        err = np.mean((dm.predict(masks_train[val]) - thetas[val]) ** 2)
        if err < best_err:
            best, best_err = a, err
    return Datamodel(alpha=best).fit(masks_train, thetas)


def compare(learner, X, y, X_test, y_test, masks, methods: Sequence[str] = DEFAULT_METHODS,
            theta_true=None, predictors: Mapping[str, Callable] | None = None, *,
            groups=None, theta_full=None, datamodel_masks=None, n_datamodel: int | None = None,
            datamodel_alpha: float | None = None, rng: np.random.Generator | int = 0,
            progress: bool = False, certify: bool = False) -> CompareResult:
    """Score approximations of theta(S) against exact refits on held-out masks.

    Sum convention: theta(S) minimises F_S(theta) = sum_{i in S} w_i loss_i(theta)
    + lam/2 ||P theta||^2 (C = 1/lam), the regulariser independent of |S|.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
        The training pool.
    y : ndarray of shape (n,)
    X_test : ndarray of shape (n_test, d)
    y_test : ndarray of shape (n_test,)
    masks : ndarray of shape (k, n)
        Held-out subsets (boolean masks, or weights).
    methods : sequence of str
        Among "influence" (first-order group influence), "influence2" (second order),
        "newton_step" (one exact Newton step), "datamodel" (a ridge datamodel trained on
        ``datamodel_masks`` or on ``n_datamodel`` random subsets with the held-out sizes).
    theta_true : ndarray of shape (k, p), optional
        Exact theta(S) if already computed (otherwise batched exact refits, timed).
    predictors : mapping of str to callable, optional
        Extra methods: name -> f(masks (k, n)) -> thetas (k, p), e.g. a trained ModelPred.
    groups : array_like of shape (k,), optional
        A label per mask (e.g. the removed fraction); summaries are given per label.
    theta_full : ndarray of shape (p,), optional
        The full-data fit (checked for optimality when given).
    datamodel_masks : ndarray of shape (m, n), optional
        Training subsets of the datamodel (exact fits are computed for them).
    n_datamodel : int, optional
        Number of datamodel training subsets when ``datamodel_masks`` is None (default 2 n).
    datamodel_alpha : float, optional
        Ridge strength of the datamodel; None picks one on a validation split.
    rng : numpy.random.Generator or int
        Randomness of the datamodel's training masks and validation split.
    progress : bool
        Show progress bars for the exact refits.
    certify : bool
        Also bound each method's error with ``setfn.certify`` (no refit; the summary gains
        certified_fraction, median_bound and certificate_coverage).

    Returns
    -------
    CompareResult
        ``.summary()``, ``.to_json()``, ``.format_table()``.
    """
    check_learner(learner)
    X, y_enc, K, p, _, _ = prepare(learner, X, y)
    n = X.shape[0]
    X_test = check_X(X_test, name="X_test")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} columns but X has {X.shape[1]}")
    y_test = check_y_shape(y_test, X_test.shape[0], name="y_test")
    W = check_masks_weights(masks, n)
    k = W.shape[0]
    methods = tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"methods: unknown {bad}; choose among {METHODS}")
    predictors = dict(predictors or {})
    for name, fn in predictors.items():
        if not callable(fn):
            raise ValueError(f"predictors[{name!r}] must be callable(masks) -> thetas")
        if name in methods:
            raise ValueError(f"predictors[{name!r}] clashes with a built-in method name")
    if groups is None:
        groups = np.full(k, "all")
    groups = np.asarray([str(g) for g in np.asarray(groups).reshape(-1)])
    if groups.shape[0] != k:
        raise ValueError(f"groups has {groups.shape[0]} labels but masks has {k} rows")
    if theta_true is not None:
        theta_true = check_theta(theta_true, p, name="theta_true")
        if theta_true.shape[0] != k:
            raise ValueError(f"theta_true has {theta_true.shape[0]} rows but masks has {k}")
    if datamodel_masks is not None:
        datamodel_masks = check_masks_weights(datamodel_masks, n, name="datamodel_masks")
    if n_datamodel is not None and not (isinstance(n_datamodel, int | np.integer)
                                        and n_datamodel >= 10):
        raise ValueError(f"n_datamodel must be an integer >= 10, got {n_datamodel!r}")
    learner.check_existence(W, y_enc, K, "masks")

    t0 = time.perf_counter()
    theta = base_fit(learner, X, y_enc, K, np.ones(n), theta_full)
    full_fit_seconds = time.perf_counter() - t0
    exact_seconds = None
    if theta_true is None:
        t0 = time.perf_counter()
        theta_true = learner.fit_subsets(X, y_enc, W, theta0=theta, progress=progress)
        exact_seconds = time.perf_counter() - t0
    exact_loss = np.asarray(learner.mean_loss(theta_true, X_test, y_test))
    full_loss = float(learner.mean_loss(theta, X_test, y_test))

    true_norm = np.linalg.norm(theta_true, axis=1)
    change_norm = np.linalg.norm(theta_true - theta[None], axis=1)

    def score(name, thetas, seconds, setup=0.0) -> MethodResult:
        thetas = np.asarray(thetas, dtype=np.float64)
        if thetas.shape != (k, p):
            raise ValueError(f"method {name!r} returned shape {thetas.shape}, expected {(k, p)}")
        err = np.linalg.norm(thetas - theta_true, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = err / true_norm
            chg = np.where(change_norm > 0, err / np.where(change_norm > 0, change_norm, 1.0),
                           np.nan)
        loss = (np.asarray(learner.mean_loss(thetas, X_test, y_test))
                if np.all(np.isfinite(thetas)) else np.full(k, np.nan))
        bound = covered = None
        if certify:
            from ..setfn.certify import certify as _certify

            bound = np.asarray(_certify(learner, X, y_enc, W, thetas), dtype=np.float64)
            covered = bound >= err
        return MethodResult(name, thetas, rel, chg, loss, seconds, setup, bound, covered)

    builtins = {
        "influence": lambda M: influence(learner, X, y_enc, M, order=1, theta_base=theta),
        "influence2": lambda M: influence(learner, X, y_enc, M, order=2, theta_base=theta),
        "newton_step": lambda M: newton_step(learner, X, y_enc, M, theta_base=theta),
    }
    results = {}
    for name in methods:
        setup = 0.0
        if name == "datamodel":
            t0 = time.perf_counter()
            if datamodel_masks is None:
                sizes = np.rint(W.sum(1)).astype(np.int64)
                m = n_datamodel if n_datamodel is not None else 2 * n
                dm_masks = _draw_datamodel_masks(learner, y_enc, K, sizes, m, rng)
            else:
                dm_masks = datamodel_masks
            dm = _fit_datamodel(learner, X, y_enc, K, theta, dm_masks, datamodel_alpha, rng)
            setup = time.perf_counter() - t0
            fn = dm.predict
        else:
            fn = builtins[name]
        t0 = time.perf_counter()
        out = fn(W)
        results[name] = score(name, out, time.perf_counter() - t0, setup)
    for name, fn in predictors.items():
        t0 = time.perf_counter()
        out = fn(W.astype(bool) if np.all((W == 0) | (W == 1)) else W)
        results[name] = score(name, out, time.perf_counter() - t0)
    return CompareResult(
        learner={"class": type(learner).__name__, **learner.get_params()},
        n=n, p=p, k=k, groups=groups, exact_test_loss=exact_loss, full_test_loss=full_loss,
        exact_seconds=exact_seconds, full_fit_seconds=full_fit_seconds, methods=results)
