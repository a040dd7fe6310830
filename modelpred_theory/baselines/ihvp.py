"""Inverse-Hessian-vector products by batched conjugate gradient (no p x p matrix).

Sum convention: the Hessian is that of F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2,
penalty included; its products come from the learner's ``batch_hvp``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..learners.tensors import as_tensor as _as_tensor
from ..learners.validation import check_sample_weight, check_theta
from ._common import check_learner, prepare

# Default relative residual ||H s - v|| / ||v|| at which CG stops. Reason: float64 CG on the
# well-conditioned Hessians here reaches ~1e-13; 1e-10 makes s exact to ~1e-10 * cond(H).
DEFAULT_CG_TOL = 1e-10


def batched_cg(matvec, B: torch.Tensor, project, tol: float, maxiter: int):
    """Batched conjugate gradient for SPD systems: one independent CG per row of B.

    Parameters
    ----------
    matvec : callable
        (m, p) -> (m, p), the products H p_j of every row (one batched call per iteration).
    B : Tensor of shape (m, p)
        Right-hand sides.
    project : callable
        (m, p) -> (m, p), the projection onto the subspace where H is positive definite
        (identity when H has no null direction).
    tol : float
        Row j stops when ||H s_j - b_j|| <= tol ||b_j||.
    maxiter : int

    Returns
    -------
    S (m, p), the relative residuals (m,), the iterations run. A row stops early (keeping its
    iterate) on a direction without positive curvature.
    """
    B = project(B)
    S = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rr = (R * R).sum(1)  # shape: (m,)
    bnorm = B.norm(dim=1)
    target = (tol * bnorm) ** 2
    done = rr <= target
    it = 0
    while not bool(done.all()) and it < maxiter:
        HP = project(matvec(P))  # shape: (m, p)
        pHp = (P * HP).sum(1)
        alpha = torch.where(done | (pHp <= 0), torch.zeros_like(rr), rr / pHp.clamp_min(1e-300))
        S = S + alpha[:, None] * P
        R = R - alpha[:, None] * HP
        rr_new = (R * R).sum(1)
        beta = torch.where(done, torch.zeros_like(rr), rr_new / rr.clamp_min(1e-300))
        P = R + beta[:, None] * P
        rr = torch.where(done, rr, rr_new)
        done = done | (rr <= target) | (pHp <= 0)
        it += 1
    rel = torch.sqrt(rr) / bnorm.clamp_min(1e-300)
    return project(S), rel, it


def ihvp_cg(learner, theta, X, y, V, sample_weight=None, *, tol: float = DEFAULT_CG_TOL,
            maxiter: int | None = None, return_info: bool = False):
    """Solve H_S(theta) s = v for one or many v by conjugate gradient, using only HVPs.

    Sum convention: H_S(theta) is the Hessian of F_S(theta) = sum_i w_i loss_i(theta)
    + lam/2 ||P theta||^2 (penalty included; the generalised Hessian for the SVM).

    Parameters
    ----------
    learner : ConvexLearner
    theta : ndarray of shape (p,)
        Where the Hessian is taken (usually the fit).
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    V : ndarray of shape (p,) or (m, p)
        Right-hand sides.
    sample_weight : ndarray of shape (n,), optional
        Weights w (a subset mask); default all ones.
    tol : float in (0, 1)
        Stop each system when ||H s - v|| <= tol ||v||.
    maxiter : int, optional
        CG iterations at most (default 10 p).
    return_info : bool
        Also return a dict with ``n_iter`` and the final relative residuals (m,).

    Returns
    -------
    S : ndarray of shape (p,) or (m, p)
    info : dict, only when ``return_info``

    Notes
    -----
    Each iteration costs one batched ``learner.batch_hvp`` over all m right-hand sides,
    O(m n K^2 (d+1)); no p x p matrix is formed. For the multinomial model with unpenalised
    intercepts H is singular along the gauge direction u; right-hand sides are projected onto
    u^perp, where H is positive definite and CG returns the pseudo-inverse solution (the same as
    the direct solve of ``influence``). A RuntimeWarning is issued when some system has not
    reached ``tol`` within ``maxiter``.

    References
    ----------
    Hestenes, M. R. and Stiefel, E. (1952). Methods of conjugate gradients for solving linear
    systems. J. Res. NBS 49(6). Martens, J. (2010). Deep learning via Hessian-free optimization.
    """
    check_learner(learner)
    X, y_enc, K, p, Xt, yt = prepare(learner, X, y)
    w = check_sample_weight(sample_weight, X.shape[0])
    T = check_theta(theta, p, name="theta")
    if T.shape[0] != 1:
        raise ValueError(f"theta must have shape ({p},), got {np.shape(theta)}")
    Vm = check_theta(V, p, name="V")
    if not (isinstance(tol, float | int) and 0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    if maxiter is None:
        maxiter = 10 * p
    if not (isinstance(maxiter, int | np.integer) and maxiter >= 1):
        raise ValueError(f"maxiter must be a positive integer, got {maxiter!r}")
    m = Vm.shape[0]
    Theta = _as_tensor(np.broadcast_to(T, (m, p)).copy())
    W = _as_tensor(np.broadcast_to(w, (m, w.shape[0])).copy())
    u = learner.gauge_direction(X.shape[1], K)

    def project(B):
        return B if u is None else B - (B @ u)[:, None] * u[None, :]

    def matvec(P):
        return learner.batch_hvp(Theta, P, Xt, yt, W, K)

    with torch.no_grad():
        S, rel, it = batched_cg(matvec, _as_tensor(Vm), project, float(tol), int(maxiter))
    if bool((rel > tol).any()):
        warnings.warn(
            f"ihvp_cg: {int((rel > tol).sum())} of {m} systems did not reach tol={tol:g} in "
            f"{maxiter} iterations (worst relative residual {float(rel.max()):.3g})",
            RuntimeWarning,
            stacklevel=2,
        )
    out = S.numpy()
    out = out[0] if np.ndim(V) == 1 else out
    if return_info:
        return out, {"n_iter": int(it), "relative_residual": rel.numpy()}
    return out
