"""Group influence functions (first and second order) from one base fit.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam); the
regulariser does not change with |S|, so the influence of a group has no 1/n factors.
"""

from __future__ import annotations

import numpy as np
import torch

from ..learners.tensors import as_tensor as _as_tensor
from ..learners.tensors import resolve_device
from ._common import (
    HessianSolver,
    base_fit,
    broadcast_theta,
    check_base_mask,
    check_finite_result,
    check_learner,
    check_subsets,
    penalty,
    prepare,
)
from .ihvp import DEFAULT_CG_TOL, ihvp_cg

_SOLVERS = ("direct", "cg")


def influence_matrix(learner, X, y, *, theta_base=None):
    """The full fit and its per-point influences: (theta_N (p,), A (n, p)), A = G H_N^{-1}.

    Sum convention: F_N(theta) = sum_i loss_i(theta) + lam/2 ||P theta||^2, theta_N its
    minimiser, G the per-sample gradients at theta_N (rows g_i) and H_N the Hessian there
    (penalty included; for multinomial logistic the solve runs in the centred subspace, as in
    :func:`influence`). The first-order influence of any removal mask w is then

        theta(S) ~ theta_N + (1 - w) @ A,

    one GEMM per batch of masks after O(n p^2 + p^3) setup, with O(n p) memory: the form that
    :func:`influence` (``order=1``, full base set) evaluates and that repeated callers (the
    influence oracle of the valuation estimators) cache.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    theta_base : ndarray of shape (p,), optional
        The full fit, if already computed (checked for optimality).

    Returns
    -------
    theta : ndarray of shape (p,)
    A : ndarray of shape (n, p)
    """
    check_learner(learner)
    X, y_enc, K, p, _, _ = prepare(learner, X, y)
    n, d = X.shape
    wb = np.ones(n)
    theta = base_fit(learner, X, y_enc, K, wb, theta_base)
    G = learner.per_sample_grads(theta, X, y_enc)  # shape: (n, p)
    Hs = HessianSolver(learner.hessian(theta, X, y_enc, sample_weight=wb),
                       learner.gauge_direction(d, K))
    return theta, Hs.solve(G).numpy()


def influence(learner, X, y, masks, order: int = 1, base_mask=None, *, solver: str = "direct",
              theta_base=None, third_derivative: bool = True, cg_tol: float = DEFAULT_CG_TOL,
              cg_maxiter: int | None = None, device="cpu"):
    """Approximate theta(S) for many subsets S by influence functions around one base fit.

    Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 with a
    regulariser independent of |S| (C = 1/lam); no 1/n factors appear anywhere.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n)
        The subsets S (boolean masks, or non-negative weights).
    order : {1, 2}
        1: first-order group influence (the sum of the per-point influences). 2: the
        second-order expansion in the group (see Notes).
    base_mask : ndarray of shape (n,), optional
        The set the model is fitted on (default: the full pool). Masks may remove points of the
        base set and add points outside it.
    solver : {"direct", "cg"}
        "direct": one Cholesky factorisation of H serves every mask. "cg": conjugate gradient on
        Hessian-vector products (``ihvp_cg``), never forming the p x p matrix.
    theta_base : ndarray of shape (p,), optional
        The base fit, if already computed (checked for optimality).
    third_derivative : bool
        Include the third-derivative term in ``order=2`` (False keeps only the group-Hessian
        term, the form of Basu et al. 2020).
    cg_tol, cg_maxiter
        Passed to ``ihvp_cg`` when ``solver="cg"``.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the k-mask work runs in float64: the product of the masks with the per-point
        influence matrix, and for ``order=2`` the batched Hessian-vector products. The base fit,
        the one factorisation of H and CG solves stay on the CPU.

    Returns
    -------
    ndarray of shape (k, p)
        The approximations of theta(S).

    Notes
    -----
    Let theta^ minimise F_base, H = hess F_base(theta^) (penalty included) and, for a mask w,
    the signed change of weights delta = w_base - w (positive on removed points, negative on
    added ones), so F_S = F_base - D with D(theta) = sum_i delta_i loss_i(theta). Put
    g_D = sum_i delta_i grad loss_i(theta^) and H_D = sum_i delta_i hess loss_i(theta^).
    Scaling the change by t in [0, 1] gives a path theta(t) with theta(0) = theta^ and
    theta(1) = theta(S); differentiating grad F_base(theta(t)) - t grad D(theta(t)) = 0 gives

        theta'(0)  = H^{-1} g_D
        theta''(0) = H^{-1} (2 H_D theta'(0) - T[theta'(0), theta'(0)]),

    with T = the third derivative of F_base at theta^. Then

        order 1:  theta(S) ~ theta^ + H^{-1} g_D
                  (removal from the full set: theta^ + H^{-1} sum_{i not in S} grad loss_i;
                  addition: theta_base - H_base^{-1} sum_{i in S minus base} grad loss_i
                  + H_base^{-1} sum_{i in base minus S} grad loss_i),
        order 2:  theta(S) ~ theta^ + v + H^{-1} (H_D v - (1/2) T[v, v]),  v = H^{-1} g_D,

    the second-order Taylor polynomial of theta(t) at t = 1, whose error is O(t^3) where the
    first-order error is O(t^2). The group-Hessian term H^{-1} H_D H^{-1} g_D is the first term
    of the Neumann series of the exact Newton step (H - H_D)^{-1} g_D (see ``newton_step``) and
    is the correction of Basu et al. (2020), who drop the third-derivative term (pass
    ``third_derivative=False`` for that form). T[v, v] = grad_theta (v^T H(theta) v) is taken by
    automatic differentiation through ``learner.batch_hvp``; it vanishes for ridge (quadratic
    loss) and, almost everywhere, for the piecewise-quadratic squared hinge.

    Cost: the direct solver factorises H once (O(p^3)), solves with the n per-sample gradients
    at once (O(n p^2)) and combines them with one product delta @ (G H^{-1}); order 2 adds k
    Hessian-vector products, one gradient of k HVPs and a second solve with k right-hand sides.

    Gauge (multinomial, unpenalised intercepts): H is singular along u (every intercept shifted
    equally); every per-sample gradient, H_D v and T[v, v] are orthogonal to u, and the solves
    run in the centred subspace u^perp, where H is positive definite.

    References
    ----------
    Koh, P. W. and Liang, P. (2017). Understanding black-box predictions via influence
    functions. ICML. Koh, P. W., Ang, K.-S., Teo, H. H. K. and Liang, P. (2019). On the accuracy
    of influence functions for measuring group effects. NeurIPS. Basu, S., You, X. and Feizi, S.
    (2020). On second-order group influence functions for black-box predictions. ICML
    (arXiv:1911.00418).
    """
    check_learner(learner)
    dev = resolve_device(device)  # a bad device fails before any work
    X, y_enc, K, p, Xt, yt = prepare(learner, X, y)
    n, d = X.shape
    W = check_subsets(learner, masks, X, y_enc, K)
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}")
    wb = check_base_mask(base_mask, n)
    theta = base_fit(learner, X, y_enc, K, wb, theta_base)
    k = W.shape[0]
    delta = wb[None, :] - W  # shape: (k, n), signed: + removed, - added
    G = learner.per_sample_grads(theta, X, y_enc)  # shape: (n, p)
    u = learner.gauge_direction(d, K)

    if solver == "direct":
        Hs = HessianSolver(learner.hessian(theta, X, y_enc, sample_weight=wb), u)
        solve = Hs.solve
        # shape: (k, p); one solve for all masks, then one GEMM with the (n, p) influences
        v = (_as_tensor(delta, device=dev) @ solve(G).to(dev)).cpu().numpy()
    else:
        def solve(B):
            S = ihvp_cg(learner, theta, X, y_enc, np.asarray(B), sample_weight=wb,
                        tol=cg_tol, maxiter=cg_maxiter)
            return torch.as_tensor(np.atleast_2d(S))

        v = solve(delta @ G).numpy()
    if order == 1:
        return check_finite_result(theta[None, :] + v, "influence")

    if dev.type != "cpu":
        Xt, yt = learner.tensors(X, y_enc, device=dev)
    Theta = broadcast_theta(theta, k).to(dev)
    V = _as_tensor(v, device=dev)
    with torch.no_grad():
        HDv = learner.batch_hvp(Theta, V, Xt, yt, _as_tensor(delta, device=dev), K) - penalty(
            learner, d, K).to(dev) * V  # shape: (k, p), the group Hessian times v (no penalty)
    rhs = HDv
    if third_derivative and not learner.quadratic:
        Th = Theta.clone().requires_grad_(True)
        Wb = _as_tensor(np.broadcast_to(wb, (k, n)).copy(), device=dev)
        quad = (V * learner.batch_hvp(Th, V, Xt, yt, Wb, K)).sum()
        if quad.requires_grad:  # the squared hinge's curvature is piecewise constant: T = 0
            (T3,) = torch.autograd.grad(quad, Th)  # shape: (k, p), row j = T[v_j, v_j]
            rhs = HDv - 0.5 * T3.detach()
    corr = solve(rhs.cpu().numpy()).numpy()
    return check_finite_result(theta[None, :] + v + corr, "influence")
