"""Leave-one-out parameters: exact batched refits, and the closed form for ridge.

Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam), and
theta_{-i} = argmin F_{[n] minus {i}}.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from ..exceptions import ConvergenceWarning
from ..learners.ridge import Ridge
from ..learners.tensors import augment
from ._common import HessianSolver, base_fit, check_learner, prepare

# Smallest admissible 1 - h_ii in the closed-form ridge LOO. Reason: h_ii = 1 means point i is
# the only one pinning a direction (lam = 0), so theta_{-i} does not exist; below 1e-12 the
# division loses every significant digit.
_MIN_ONE_MINUS_LEVERAGE = 1e-12


# Chord iterations per leave-one-out point before the batched Newton solver takes over. Reason:
# the chord contracts by about max_i h_ii + M ||theta_{-i} - theta_N|| = O(p / n) per step, so
# a handful reaches the solver's tolerance; points that do not (high leverage) get full Newton.
_CHORD_MAX_ITER = 8
# Leave-one-out sets per chord batch: about this many mask entries (memory O(chunk n)).
_LOO_CHUNK_ENTRIES = 2**21


def loo_exact(learner, X, y, *, theta_full=None, chunk_size=None, progress: bool = False,
              indices=None):
    """theta_{-i} for every i (or for ``indices``) by exact refits from the full fit.

    Sum convention: theta_{-i} minimises F_{-i}(theta) = sum_{j != i} loss_j(theta)
    + lam/2 ||P theta||^2 (the regulariser does not change with |S|; C = 1/lam).

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    theta_full : ndarray of shape (p,), optional
        The full-data fit (computed when None; checked for optimality when given).
    chunk_size : int, optional
        Leave-one-out sets per batch (default: about 2^21 / n).
    progress : bool
        Show a tqdm progress bar (in refits).
    indices : array_like of int, optional
        The points to leave out (default: all n), each at most once.

    Returns
    -------
    ndarray of shape (n, p), or (len(indices), p)
        Row r is theta_{-i} for the r-th left-out point i.

    Raises
    ------
    ValueError
        Bad inputs, n < 2, or (unpenalised intercept) a point that is the only one of its class.

    Notes
    -----
    Each theta_{-i} meets the solver's own criterion ||grad F_{-i}(theta)|| <= tol
    max(1, ||grad F_{-i}(0)||), so the result is an exact refit to the same tolerance as
    ``learner.fit_subsets``. It is reached by chord iterations from theta_N,

        theta <- theta - H_N^{-1} grad F_{-i}(theta),

    with the full-data Hessian H_N factorised once: the first step is the exact Newton step
    of F_{-i} at theta_N up to the rank-K term of point i, and the contraction factor is
    O(max_i h_ii + ||theta_{-i} - theta_N||), about p / n. A batch of leave-one-out sets costs
    one batched gradient per iteration (O(chunk n p)) instead of a Hessian per set
    (O(chunk n p^2)); the sets still above the tolerance after a few iterations are finished by
    ``learner.fit_subsets`` warm-started where the chord stopped (all together at the end).
    Memory is O(n p + chunk n).
    For a quadratic loss (ridge) one batched Newton step is exact, so it is used directly.
    """
    import torch

    check_learner(learner)
    X, y_enc, K, p, Xt, yt = prepare(learner, X, y)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 rows for leave-one-out, got {n}")
    if indices is None:
        idx = np.arange(n)
    else:
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0
                                           or idx.max() >= n)):
            raise ValueError(f"indices must be a 1-D array of row numbers in [0, {n}), got "
                             f"{indices!r}")
        if np.unique(idx).size != idx.size:
            raise ValueError("indices repeats a row")
    chunk = (max(1, _LOO_CHUNK_ENTRIES // n) if chunk_size is None
             else _check_chunk(chunk_size))
    for s in range(0, idx.size, chunk):  # every set checked before any work
        learner.check_existence(_loo_weights(idx[s:s + chunk], n), y_enc, K,
                                 "leave-one-out subsets")
    theta = base_fit(learner, X, y_enc, K, np.ones(n), theta_full, name="theta_full")
    Hs = HessianSolver(learner.hessian(theta, X, y_enc), learner.gauge_direction(X.shape[1], K))
    out = np.empty((idx.size, p))
    rest: list[int] = []  # positions in idx that the chord did not finish
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=idx.size, desc="leave-one-out refits", unit="refit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            for s in range(0, idx.size, chunk):
                ids = idx[s:s + chunk]
                W = _loo_weights(ids, n)  # shape: (c, n)
                Wt = torch.as_tensor(W)
                # the stopping rule of fit_subsets: tol * the scale of grad F_S(0) per subset
                tol = (learner.tol * learner.objective(K).grad_scale(Xt, yt, Wt)).numpy()
                T = np.broadcast_to(theta, (ids.size, p)).copy()  # shape: (c, p)
                todo = np.arange(ids.size)
                # a quadratic loss: the batched Newton step is exact in one step, use it
                for _ in range(0 if learner.quadratic else _CHORD_MAX_ITER):
                    G = learner.batch_grad(torch.as_tensor(T[todo]), Xt, yt, Wt[todo], K)
                    left = G.norm(dim=1).numpy() > tol[todo]
                    if not left.any():
                        todo = todo[:0]
                        break
                    todo, G = todo[left], G[torch.as_tensor(left)]
                    T[todo] -= Hs.solve(G).numpy()
                out[s:s + ids.size] = T
                rest.extend((s + todo).tolist())  # not there yet (high leverage)
                if bar is not None:
                    bar.update(ids.size - todo.size)
            for s in range(0, len(rest), chunk):  # batched Newton from where the chord stopped
                r = np.asarray(rest[s:s + chunk])
                out[r] = learner.fit_subsets(X, y_enc, _loo_weights(idx[r], n), theta0=out[r])
                if bar is not None:
                    bar.update(r.size)
        finally:
            if bar is not None:
                bar.close()
    for w in caught:  # re-issue, naming the leave-one-out refits, with the caller's location
        if issubclass(w.category, ConvergenceWarning):
            warnings.warn(f"leave-one-out refits: {w.message}", ConvergenceWarning, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _loo_weights(ids: np.ndarray, n: int) -> np.ndarray:
    """Weights (len(ids), n) of the leave-one-out sets of ``ids``: all ones but a 0 at i."""
    W = np.ones((ids.size, n))
    W[np.arange(ids.size), ids] = 0.0
    return W


def _check_chunk(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def loo_ridge(learner, X, y, *, theta_full=None):
    """Closed-form leave-one-out ridge parameters (Sherman-Morrison on the hat matrix).

    Sum convention: F_S(theta) = sum_{i in S} (1/2)(x~_i . theta - y_i)^2 + lam/2 ||P theta||^2
    with x~_i = [x_i, 1]. Exact to rounding, O(n p^2 + p^3) in total.

    Parameters
    ----------
    learner : Ridge
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    theta_full : ndarray of shape (p,), optional
        The full-data fit (computed when None).

    Returns
    -------
    ndarray of shape (n, p)
        Row i is theta_{-i}.

    Raises
    ------
    ValueError
        ``learner`` is not a Ridge, bad inputs, or a point of leverage 1 (its removal leaves a
        singular problem, possible only with lam = 0).

    Notes
    -----
    With H = X~^T X~ + lam P^T P the (constant) Hessian of F at full data, residuals
    r_i = x~_i . theta - y_i and leverages h_ii = x~_i^T H^{-1} x~_i,

        theta_{-i} = theta + r_i H^{-1} x~_i / (1 - h_ii),

    because F_{-i} has Hessian H - x~_i x~_i^T and gradient -r_i x~_i at theta, and
    (H - x x^T)^{-1} x = H^{-1} x / (1 - x^T H^{-1} x) (Sherman-Morrison). H is factorised once
    (Cholesky), and H^{-1} X~^T costs O(n p^2).

    References
    ----------
    Cook, R. D. (1977). Detection of influential observation in linear regression.
    Technometrics 19(1). The same identity gives statsmodels' OLSInfluence.dfbeta at lam = 0.
    """
    if not isinstance(learner, Ridge):
        raise ValueError(
            f"learner must be a Ridge for the closed-form leave-one-out, got "
            f"{type(learner).__name__}; use loo_exact or newton_step_loo"
        )
    X, y_enc, K, p, Xt, _ = prepare(learner, X, y)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 rows for leave-one-out, got {n}")
    theta = base_fit(learner, X, y_enc, K, np.ones(n), theta_full, name="theta_full")
    Xa = augment(Xt).numpy()  # shape: (n, p)
    H = learner.hessian(theta, X, y_enc)  # shape: (p, p)
    try:
        cf = scipy.linalg.cho_factor(H, lower=True)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the ridge Hessian X~^T X~ + lam P is singular (lam = 0 with a rank-deficient "
            "design): leave-one-out parameters are not unique"
        ) from None
    HinvXt = scipy.linalg.cho_solve(cf, Xa.T)  # shape: (p, n)
    lev = np.einsum("ij,ji->i", Xa, HinvXt)  # shape: (n,)
    one_minus = 1.0 - lev
    bad = np.flatnonzero(one_minus < _MIN_ONE_MINUS_LEVERAGE)
    if bad.size:
        raise ValueError(
            f"points {bad[:10].tolist()} have leverage 1: removing one leaves a singular "
            "problem (lam = 0), so theta_{-i} is not unique"
        )
    r = Xa @ theta - y_enc  # shape: (n,)
    return theta[None, :] + (HinvXt * (r / one_minus)[None, :]).T
