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
from ..subsets import loo_masks
from ._common import base_fit, check_learner, prepare

# Smallest admissible 1 - h_ii in the closed-form ridge LOO. Reason: h_ii = 1 means point i is
# the only one pinning a direction (lam = 0), so theta_{-i} does not exist; below 1e-12 the
# division loses every significant digit.
_MIN_ONE_MINUS_LEVERAGE = 1e-12


def loo_exact(learner, X, y, *, theta_full=None, chunk_size=None, progress: bool = False):
    """theta_{-i} for every i by exact refits (batched Newton, warm-started from the full fit).

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
        Subsets per batched solve (see ``learner.fit_subsets``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    ndarray of shape (n, p)
        Row i is theta_{-i}.

    Raises
    ------
    ValueError
        Bad inputs, n < 2, or (unpenalised intercept) a point that is the only one of its class.
    """
    check_learner(learner)
    X, y_enc, K, p, _, _ = prepare(learner, X, y)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 rows for leave-one-out, got {n}")
    masks = loo_masks(n)
    learner.check_existence(masks.astype(np.float64), y_enc, K, "leave-one-out subsets")
    theta = base_fit(learner, X, y_enc, K, np.ones(n), theta_full, name="theta_full")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        out = learner.fit_subsets(X, y_enc, masks, theta0=theta, chunk_size=chunk_size,
                                  progress=progress)
    for w in caught:  # re-issue, naming the leave-one-out refits, with the caller's location
        if issubclass(w.category, ConvergenceWarning):
            warnings.warn(f"leave-one-out refits: {w.message}", ConvergenceWarning, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


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
