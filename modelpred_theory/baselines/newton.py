"""One exact Newton step on F_S from the base fit, batched; closed form for leave-one-out.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np
import torch

from ..learners.solvers import cg_step, solve_systems
from ..learners.tensors import as_tensor as _as_tensor
from ..learners.tensors import augment, packed_outer_or_none, regularise_gauge, resolve_device
from ..subsets import loo_masks
from ._common import (
    HessianSolver,
    base_fit,
    broadcast_theta,
    check_base_mask,
    check_finite_result,
    check_learner,
    check_subsets,
    prepare,
)


def newton_step(learner, X, y, masks, base_mask=None, *, theta_base=None,
                chunk_size: int | None = None, progress: bool = False, device="cpu"):
    """One exact Newton step on each F_S from the base fit theta^ (batched).

    Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 with a
    regulariser independent of |S| (C = 1/lam).

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n)
        The subsets S (boolean masks, or non-negative weights).
    base_mask : ndarray of shape (n,), optional
        The set the base model is fitted on (default: the full pool).
    theta_base : ndarray of shape (p,), optional
        The base fit, if already computed (checked for optimality).
    chunk_size : int, optional
        Subsets per batch (default: the learner's memory-sized chunk).
    progress : bool
        Show a tqdm progress bar in subsets (total k, advanced chunk by chunk).
    device : {"cpu", "cuda", "auto"} or torch.device
        Where the batched steps run (float64); the base fit runs on the CPU.

    Returns
    -------
    ndarray of shape (k, p)

    Notes
    -----
    With theta^ the base fit, grad F_S(theta^) = -g_D where g_D = sum_i delta_i grad loss_i(theta^)
    and delta = w_base - w, so the step is theta^ + (H - H_D)^{-1} g_D = theta^ +
    sum_{j >= 0} (H^{-1} H_D)^j H^{-1} g_D (when the series converges): it contains the first-
    and second-order group influence (``influence``) as its first terms, and it is exact for
    ridge (quadratic loss). All k Hessians H_S(theta^) come from one GEMM per chunk
    (``learner.batch_hessian``) and the k systems are solved batched (Cholesky, with a
    pseudo-inverse fallback). For the multinomial model with unpenalised intercepts the gauge
    direction u is regularised as in the exact solver (H_S + c u u^T) and the step is centred.

    References
    ----------
    Pregibon, D. (1981). Logistic regression diagnostics. Ann. Statist. 9(4) (one-step
    deletion estimates). Koh, P. W., Ang, K.-S., Teo, H. and Liang, P. (2019), NeurIPS.
    """
    check_learner(learner)
    dev = resolve_device(device)  # a bad device fails before any work
    X, y_enc, K, p, Xt, yt = prepare(learner, X, y)
    n, d = X.shape
    W = check_subsets(learner, masks, X, y_enc, K)
    wb = check_base_mask(base_mask, n)
    if chunk_size is None:
        chunk_size = step_chunk_size(learner, n, p, K)
    if isinstance(chunk_size, bool) or not (isinstance(chunk_size, int | np.integer)
                                            and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    theta = base_fit(learner, X, y_enc, K, wb, theta_base)
    if dev.type != "cpu":
        Xt, yt = learner.tensors(X, y_enc, device=dev)
    out = newton_step_from(learner, theta, Xt, yt, W, K, chunk_size=chunk_size,
                           progress=progress)
    return check_finite_result(out, "newton_step")


# Relative residual ||H s - g|| / ||g|| to which the CG path (p >= 256) solves the Newton system.
# Reason: the direct path's Cholesky solve is accurate to ~1e-13; 1e-11 keeps the step's own
# error far below any approximation error it is compared with, in ~2 sqrt(kappa) ln(1e11) CG
# iterations.
_STEP_RTOL = 1e-11


def step_chunk_size(learner, n: int, p: int, K: int) -> int:
    """Subsets per chunk of a Newton step: the solver's CG-path chunk at large p, else the
    Hessian-sized chunk."""
    if learner.uses_cg(p):
        return learner.default_chunk_size(n, p, K)
    return learner.hessian_chunk_size(n, p, K)


def newton_step_from(learner, theta, Xt, yt, W, K: int, *, chunk_size: int,
                     progress: bool = False) -> np.ndarray:
    """theta - H_S(theta)^{-1} grad F_S(theta) for each weight row of W, batched (no checks).

    Sum convention as in :func:`newton_step`, whose core this is (also used by ModelPred's
    Newton base from a stored pool fit, including sets of new rows).

    Parameters
    ----------
    theta : ndarray of shape (p,)
    Xt, yt : Tensors from ``learner.tensors(X, y_enc)``, X of shape (m, d)
    W : ndarray of shape (k, m)
    chunk_size : int
        Subsets per Hessian GEMM.

    Returns
    -------
    ndarray of shape (k, p)
    """
    d = Xt.shape[1]
    k, p = W.shape[0], K * (d + 1)
    cg = learner.uses_cg(p)  # large p: no (p, p) Hessians, as in the exact solver
    outer = None if cg else packed_outer_or_none(Xt)  # (m, q(q+1)/2); None at large d
    dev = Xt.device  # every tensor of the step lives where the data does
    u = learner.gauge_direction(d, K)
    u = None if u is None else u.to(dev)
    out = np.empty((k, p))
    starts = range(0, k, chunk_size)
    bar = None
    if progress:  # counted in subsets (total k), advanced by each chunk's size
        from tqdm.auto import tqdm

        bar = tqdm(total=k, desc="newton step", unit="subset")
    with torch.no_grad():
        for s in starts:
            e = min(k, s + chunk_size)
            Wc = _as_tensor(W[s:e], device=dev)
            Theta = broadcast_theta(theta, e - s).to(dev)
            G = learner.batch_grad(Theta, Xt, yt, Wc, K)  # shape: (k_c, p)
            if u is not None:
                G = G - (G @ u)[:, None] * u[None, :]
            if cg:  # H s = G by CG on Hessian-vector products, to relative residual _STEP_RTOL
                step = -cg_step(learner.objective(K), Theta, Xt, yt, Wc, G, G.norm(dim=1), None, u,
                                 rtol=_STEP_RTOL)
            else:
                H = learner.batch_hessian(Theta, Xt, yt, Wc, K, outer=outer)  # (k_c, p, p)
                step = solve_systems(regularise_gauge(H, u), G)
            out[s:e] = learner.fix_gauge(Theta - step, d, K).cpu().numpy()
            if bar is not None:
                bar.update(e - s)
    if bar is not None:
        bar.close()
    return out


def newton_step_loo(learner, X, y, *, theta_full=None):
    """Closed-form one-step leave-one-out estimates (leverage-corrected influence, ALO).

    Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam);
    row i approximates theta_{-i} = argmin F_{[n] minus {i}} by one exact Newton step from the
    full fit, and equals ``newton_step(learner, X, y, loo_masks(n))`` to rounding at O(n p^2)
    total cost instead of O(n p^3).

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    theta_full : ndarray of shape (p,), optional
        The full-data fit (computed when None; checked for optimality when given).

    Returns
    -------
    ndarray of shape (n, p)

    Notes
    -----
    Every learner here is a GLM in the K margins z_i = J_i theta, J_i = I_K (x) [x_i, 1] (K = 1
    except for multinomial logistic), so grad loss_i = J_i^T r_i and hess loss_i = J_i^T A_i J_i
    with r_i = d loss / dz (K,) and A_i = d^2 loss / dz^2 (K, K). The Newton step of F_{-i}
    from theta^ solves (H - J_i^T A_i J_i) s = J_i^T r_i (its gradient at theta^ is
    -J_i^T r_i); by the Woodbury identity

        theta_{-i} ~ theta^ + H^{-1} J_i^T (I_K - A_i M_i)^{-1} r_i,   M_i = J_i H^{-1} J_i^T.

    For K = 1 this is theta^ + r_i H^{-1} x~_i / (1 - h_ii) with the leverage
    h_ii = a_i x~_i^T H^{-1} x~_i: the one-step deletion estimate of Pregibon (1981), statsmodels'
    ``MLEInfluence.params_one`` (for lam = 0) and the approximate leave-one-out (ALO) of Rad and
    Maleki (2020). For ridge it is exact (``loo_ridge``). Gauge (multinomial, unpenalised
    intercepts): H^{-1} is the inverse of H + c u u^T; since 1^T A_i = 0 and 1^T r_i = 0 the
    u-component drops out and the estimate is centred (we use the pseudo-inverse on u^perp).

    References
    ----------
    Pregibon, D. (1981). Logistic regression diagnostics. Ann. Statist. 9(4), 705-724.
    Rad, K. R. and Maleki, A. (2020). A scalable estimate of the out-of-sample prediction error
    via approximate leave-one-out cross-validation. JRSS-B 82(4).
    """
    check_learner(learner)
    X, y_enc, K, p, Xt, yt = prepare(learner, X, y)
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X must have at least 2 rows for leave-one-out, got {n}")
    learner.check_existence(loo_masks(n).astype(np.float64), y_enc, K, "leave-one-out subsets")
    theta = base_fit(learner, X, y_enc, K, np.ones(n), theta_full, name="theta_full")
    q = d + 1
    u = learner.gauge_direction(d, K)
    with torch.no_grad():
        Hinv = HessianSolver(learner.hessian(theta, X, y_enc), u)
        Xa = augment(Xt)  # shape: (n, q)
        Z = learner.margins(_as_tensor(theta)[None], Xa, K)  # shape: (1, n, K)
        _, R, A = learner.objective(K).loss.derivatives(Z, yt, "curv")
        R, A = R[0], A[0]  # shapes: (n, K), (n, K, K)
        Hi = Hinv.inverse()  # shape: (p, p); the pseudo-inverse on u^perp (see Notes)
        Hi4 = Hi.reshape(K, q, K, q)
        M = torch.einsum("ni,aibj,nj->nab", Xa, Hi4, Xa)  # shape: (n, K, K)
        eye = torch.eye(K, dtype=M.dtype).expand(n, K, K)
        C = torch.linalg.solve(eye - A @ M, R[..., None])[..., 0]  # shape: (n, K)
        JtC = torch.einsum("na,ni->nai", C, Xa).reshape(n, p)  # J_i^T c_i; shape: (n, p)
        step = JtC @ Hi  # Hi symmetric; shape: (n, p)
        out = learner.fix_gauge(_as_tensor(theta)[None] + step, d, K)
    return out.numpy()
