"""Batched exact solvers over an objective: damped Newton (direct systems) and truncated Newton-CG.

Functions of an :class:`~modelpred_theory.learners.objective.Objective`: they minimise
F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 for k weight rows at once and stop
each subset on its own relative optimality residual (see docs/design.md). ``newton`` is the
iteration; ``direct_step`` (Cholesky of formed Hessians) and ``cg_step`` (preconditioned CG on
Hessian-vector products: Jacobi, or a low-rank inverse Hessian at a common warm start, see
``preconditioner``; forcing terms from ``forcing``) its inner solves; ``line_search`` its
Armijo backtracking. A subset whose gradient or step turns non-finite is stopped and reported
unconverged with residual inf: the solvers never report convergence with a non-finite or large
residual.
"""

from __future__ import annotations

import numpy as np
import torch

from .preconditioner import ReferencePreconditioner
from .tensors import DTYPE, augment, packed_outer_or_none, regularise_gauge

# Tolerances keyed by purpose (float64 ground truth).
# Relative tolerance on ||grad F_S||: float64 Newton reaches ~1e-13; 1e-10 leaves margin for
# ill-conditioned subsets while keeping every returned theta(S) exact to ~1e-10 / mu_S.
DEFAULT_TOL = 1e-10
# Armijo slack in units of |F|: objective differences below ~4 ulp of F are rounding noise.
ARMIJO_SLACK = 8 * np.finfo(np.float64).eps
# From this many parameters on, each Newton step is solved inexactly by preconditioned
# conjugate gradients on Hessian-vector products (truncated Newton) instead of forming and
# factorising k (p, p) Hessians. The gradient, line search and stopping test are unchanged
# (float64), so the fixed point is the same theta(S); the forcing terms (``forcing``) keep
# convergence superlinear.
CG_MIN_P = 256
# Smallest forcing term eta for which a subset's CG solve runs in float32 (float64 below it,
# i.e. in the last Newton iterations and for exact steps). Reason: float32 residual recurrences are
# accurate to ~1e-6 relative after a few hundred iterations; 1e-4 leaves a margin.
_CG_F32_MIN_ETA = 1e-4
# Largest forcing term for a piecewise-quadratic loss (squared hinge). Reason: its quadratic model
# is exact on each piece, so a loose inner solve only wastes Newton iterations (n = 400, d = 300,
# 5 half subsets: cold 61-83 Newton iterations with the Eisenstat-Walker terms, 5-7 with this
# cap; from the full fit none converged in 100, all in 16-22).
_PIECEWISE_MAX_ETA = 1e-4
# CG iterations per Newton step at most (each is one batched Hessian-vector product).
CG_MAX_ITER = 250
# Direct-path Newton systems are formed and solved in float32 (the gradient, line search and
# stopping test stay float64, so the fixed point is the same theta(S)) until a subset's residual
# falls by less than this factor in one iteration; from then on that subset uses float64.
# Reason: a float32 step is the Newton step to ~1e-7 kappa relative, which keeps the iteration
# count on well-conditioned subsets (breast_cancer half-subsets: 4.07 either way, 1.35x faster)
# and an ill-conditioned subset falls back after one slow iteration.
_F32_MIN_DECREASE = 0.25
# Backtracking halvings per line search at most (2^-60 ~ 1e-18: the step is then rounding noise).
_MAX_HALVINGS = 60



def uses_cg(p: int, quadratic: bool) -> bool:
    """True where Newton steps are solved by CG on Hessian-vector products (p >= CG_MIN_P, not
    quadratic): then no (p, p) Hessian and no packed outer products are ever formed."""
    return p >= CG_MIN_P and not quadratic


def solve_systems(H: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """Batched solve H s = G by Cholesky of the equilibrated D^-1 H D^-1 (D = sqrt diag H),
    with a pseudo-inverse fallback; a subset without a finite solution gets NaN.

    Equilibration makes the factorisation insensitive to badly scaled columns of X (an
    entry of 1e10 among entries of 1), which would otherwise defeat Cholesky.
    """
    diag = torch.diagonal(H, dim1=-2, dim2=-1)
    Dinv = torch.where(diag > 0, diag.clamp(min=torch.finfo(DTYPE).tiny).rsqrt(),
                       torch.ones_like(diag))  # shape: (k, p)
    Hs = H * Dinv[:, :, None] * Dinv[:, None, :]
    Gs = G * Dinv
    L, info = torch.linalg.cholesky_ex(Hs)
    S = torch.cholesky_solve(Gs.unsqueeze(-1), L).squeeze(-1)
    bad = (info != 0) | ~torch.isfinite(S).all(dim=1)
    if bool(bad.any()):
        Hb = Hs[bad]
        ok = torch.isfinite(Hb).all(dim=(1, 2))
        Sb = torch.full_like(G[bad], float("nan"))
        if bool(ok.any()):
            Sb[ok] = (torch.linalg.pinv(Hb[ok], hermitian=True)
                      @ Gs[bad][ok].unsqueeze(-1)).squeeze(-1)
        S[bad] = Sb
    return S * Dinv


def column_scale(Xt, K) -> torch.Tensor | None:
    """c_j = max(1, max_i |x_ij|) per coordinate of theta (1 for intercepts), or None if all 1.

    The stopping test also asks ||grad / c|| <= tol * scale(grad(0) / c): invariant to
    rescaling a column of X, so one huge entry cannot make a large residual elsewhere pass.
    """
    c = Xt.abs().amax(dim=0).clamp(min=1.0)
    if bool((c == 1.0).all()):
        return None
    c = torch.cat([c, torch.ones(1, dtype=c.dtype, device=c.device)])
    return c.repeat(K)  # shape: (p,)


def cg_step(obj, Ta, Xt, yt, Wa, G, gn, scale, u, A=None, rtol=None, precond=None,
            eta=None) -> torch.Tensor:
    """Truncated Newton step: solve H s = -G by preconditioned CG, per subset.

    Stops subset j when ||H s + G|| <= eta_j ||G_j|| with the forcing terms ``eta`` (k,)
    from ``newton`` (``forcing``), or eta_j = rtol when given (an exact Newton step to that
    relative residual, e.g. ``baselines.newton_step`` at large p); with neither, eta_j =
    min(0.5, sqrt(||G_j|| / scale_j)). The gauge direction u (multinomial,
    unpenalised intercepts) gets curvature c u u^T as in the direct solve. Every CG iterate
    is a descent direction. ``A``: the curvatures at Ta when the caller has them (k, n, K, K),
    or the class probabilities (k, n, K) of a low-rank (softmax) curvature. ``precond``:
    ``precond(R, idx, Z)`` overwrites the rows of Z (Jacobi-preconditioned residuals R of the
    subsets ``idx``) that have a reference preconditioner
    (``preconditioner.ReferencePreconditioner``); None: Jacobi for every subset. Subsets whose
    CG has stopped cost no further products.
    """
    Xa = augment(Xt)
    k, p = Ta.shape
    if A is None:  # curvatures d^2 loss / dZ^2 at Ta, unless the caller has them
        A = obj.derivatives(obj.margins(Ta, Xa), yt, False, obj.low_rank_curvature)[2][0]
    # A (k, n, K, K), or softmax probabilities S (k, n, K) with A_i = diag(s_i) - s_i s_i^T
    soft = A.dim() == 3
    WA = Wa[:, :, None] * A if soft else Wa[:, :, None, None] * A
    pen = obj.lam * obj.penalty(Xt.shape[1], Ta.dtype, Ta.device)
    dA = (WA - Wa[:, :, None] * A**2) if soft else torch.diagonal(WA, dim1=2, dim2=3)
    diag = torch.einsum("kna,ni->kai", dA, Xa**2)
    diag = diag.reshape(k, p) + pen  # shape: (k, p), the Jacobi preconditioner
    c = diag.mean(1)
    if u is not None:
        diag = diag + c[:, None] * u**2

    if rtol is None and eta is None:
        eta = torch.clamp(torch.sqrt(gn / scale), max=0.5)
    target = (eta if rtol is None else rtol) * gn
    G64 = G
    if rtol is None and bool((eta >= _CG_F32_MIN_ETA).all()):
        # a loose forcing term: float32 Hessian-vector products are accurate enough
        WA, A, Xa, pen, diag, c, G, target = (t.float() for t in (WA, A, Xa, pen, diag, c,
                                                                   G, target))
        u = None if u is None else u.float()
    floor = torch.finfo(G.dtype).tiny
    inv_diag = 1.0 / diag.clamp(min=floor)

    if soft:  # point-major layout (n, k, K): both products are plain GEMMs, no permuted copies
        n, K, q = Xa.shape[0], A.shape[2], Xa.shape[1]
        A, WA = A.permute(1, 0, 2).contiguous(), WA.permute(1, 0, 2).contiguous()

    def hv(V, idx):
        ci = c if idx is None else c[idx]
        if soft:  # w_i (diag(s_i) - s_i s_i^T) (V x_i) = w_i s_i * (Zv_i - s_i . Zv_i)
            Ai, WAi = (A, WA) if idx is None else (A[:, idx], WA[:, idx])
            kk = V.shape[0]
            Zv = (Xa @ V.reshape(kk * K, q).T).reshape(n, kk, K)
            AZv = WAi * (Zv - (Ai * Zv).sum(-1, keepdim=True))
            out = (AZv.reshape(n, kk * K).T @ Xa).reshape(V.shape) + pen * V
        else:
            WAi = WA if idx is None else WA[idx]
            out = obj.curvature_product(WAi, Xa, V) + pen * V
        if u is not None:
            out = out + ci[:, None] * u * (V @ u)[:, None]
        return out

    def prec(R, idx):
        Z = R * (inv_diag if idx is None else inv_diag[idx])
        return Z if precond is None else precond(R, idx, Z)

    x = torch.zeros_like(G)
    r = -G
    z = prec(r, None)
    d = z.clone()
    rz = (r * z).sum(1)
    live = r.norm(dim=1) > target
    for _ in range(min(CG_MAX_ITER, 2 * p)):
        n_live = int(live.sum())
        if n_live == 0:
            break
        idx = None if n_live == k else torch.nonzero(live).squeeze(1)
        if idx is None:
            dl, rl, xl, rzl, tl = d, r, x, rz, target
        else:
            dl, rl, xl, rzl, tl = d[idx], r[idx], x[idx], rz[idx], target[idx]
        Hd = hv(dl, idx)
        dHd = (dl * Hd).sum(1)
        ok = dHd > floor  # no curvature left along d: keep the current iterate
        alpha = torch.where(ok, rzl / dHd.clamp(min=floor), torch.zeros_like(rzl))
        xl = xl + alpha[:, None] * dl
        rl = rl - alpha[:, None] * Hd
        go = ok & (rl.norm(dim=1) > tl)
        zl = prec(rl, idx)
        rz_new = (rl * zl).sum(1)
        beta = torch.where(go, rz_new / rzl.clamp(min=floor), torch.zeros_like(rzl))
        dl = torch.where(go[:, None], zl + beta[:, None] * dl, dl)
        rzl = torch.where(go, rz_new, rzl)
        if idx is None:
            d, r, x, rz, live = dl, rl, xl, rzl, go
        else:
            d[idx], r[idx], x[idx], rz[idx] = dl, rl, xl, rzl
            live[idx] = go
    x, diag = x.to(DTYPE), diag.to(DTYPE)
    # e.g. zero curvature on the first direction, or a float32 step that is not finite
    fallback = ((x * G64).sum(1) >= 0) | ~torch.isfinite(x).all(dim=1)
    if bool(fallback.any()):
        x[fallback] = -G64[fallback] / diag[fallback].clamp(min=torch.finfo(DTYPE).tiny)
    return x


def forcing(gn, g_prev, eta_prev, scale, tol_abs, piecewise: bool = False) -> torch.Tensor:
    """Forcing terms of truncated Newton per subset (Eisenstat and Walker 1996, choice 2).

    eta = 0.9 (||g_k|| / ||g_{k-1}||)^2, kept >= 0.9 eta_{k-1}^2 where that exceeds 0.1 (the
    safeguard against a sudden tightening), at most 0.5, and at least 0.1 tol_abs / ||g_k||
    (a step solved more accurately than the stopping test needs is wasted); at the first
    iteration (no previous gradient) min(0.5, sqrt(||g|| / scale)). With ``piecewise`` (a
    piecewise-quadratic loss) eta is at most ``_PIECEWISE_MAX_ETA``. Reason: far from theta(S)
    the quadratic model is poor (a full Newton step reduces the gradient by a small factor
    however exactly it is solved), so tight inner solves there are wasted; the ratio of
    successive gradients measures that and tightens eta once convergence turns quadratic
    (multinomial logistic, half subsets warm-started from the full fit:
    bench/attribution_benchmark.py --sections per_fit).

    References
    ----------
    S. C. Eisenstat and H. F. Walker, "Choosing the forcing terms in an inexact Newton method",
    SIAM J. Sci. Comput. 17(1), 1996.
    """
    first = torch.clamp(torch.sqrt(gn / scale), max=0.5)
    ratio = gn / g_prev
    eta = 0.9 * ratio**2
    guard = 0.9 * eta_prev**2
    eta = torch.where(guard > 0.1, torch.maximum(eta, guard), eta)
    eta = torch.where(torch.isfinite(g_prev) & torch.isfinite(eta_prev), eta, first)
    eta = torch.clamp(eta, max=0.5)
    eta = torch.maximum(eta, torch.clamp(0.1 * tol_abs / gn, max=0.5))
    return torch.clamp(eta, max=_PIECEWISE_MAX_ETA) if piecewise else eta


def line_search(obj, Ta, Za, step, G, f0, Xa, yt, Wa):
    """Armijo backtracking per subset; returns the accepted points (k_a, p) and F_S there.

    Margins are linear in theta, so a trial point's margins are Za + t * Z(step): one
    margin product per Newton step, whatever the number of trials. A subset whose objective
    stays above the Armijo line for every trial step keeps its current point (the next
    gradient test then reports it unconverged, never converged). Also returns the objective
    at the accepted points (k_a,), so the next iteration need not evaluate the loss again.
    """
    Zs = obj.margins(step, Xa)  # shape: (k_a, n, K)
    slope = (G * step).sum(1)
    t = torch.ones(Ta.shape[0], dtype=DTYPE, device=Ta.device)
    new = Ta.clone()
    f_new = f0.clone()
    idx = None  # None: every subset still searching (the full step, no gathers)
    for _ls in range(_MAX_HALVINGS):
        if idx is None:
            cand, Zc, Wi, f0i, si, ti = Ta + step, Za + Zs, Wa, f0, slope, t
        else:
            ti = t[idx]
            cand = Ta[idx] + ti[:, None] * step[idx]
            Zc = Za[idx] + ti[:, None, None] * Zs[idx]
            Wi, f0i, si = Wa[idx], f0[idx], slope[idx]
        f1 = obj.value_from(obj.loss.derivatives(Zc, yt, "loss"), Wi, cand)
        ok = f1 <= f0i + 1e-4 * ti * si + ARMIJO_SLACK * f0i.abs()
        rows = torch.nonzero(ok).squeeze(1) if idx is None else idx[ok]
        new[rows] = cand[ok]
        f_new[rows] = f1[ok]
        idx = torch.nonzero(~ok).squeeze(1) if idx is None else idx[~ok]
        if idx.numel() == 0:
            break
        t[idx] *= 0.5
    return new, f_new


def direct_step(obj, A, Wa, rows_by_dtype, Ta, G, u, f32) -> torch.Tensor:
    """-H^{-1} G from formed Hessians, float32 for the rows where ``f32`` is set (float64
    for the others, and again for any float32 row whose step is not finite): (k_a, p).

    ``rows_by_dtype[dtype] = (Xa, outer)`` in that precision (outer None: direct Hessians),
    converted once per solve by the caller."""
    lo = torch.float32

    def solve(rows, dtype):
        Ar, Wr, Tr = A[rows].to(dtype), Wa[rows].to(dtype), Ta[rows].to(dtype)
        Xd, outer_d = rows_by_dtype[dtype]
        if outer_d is None:
            H = obj.hessian_direct(Ar, Wr, Xd, Tr)
        else:
            H = obj.hessian_from_curvature(Ar, Wr, outer_d, Tr)
        uu = None if u is None else u.to(dtype)
        return -solve_systems(regularise_gauge(H, uu), G[rows].to(dtype)).to(DTYPE)

    if not bool(f32.any()):
        return solve(slice(None), DTYPE)
    step = torch.empty_like(G)
    rows32 = torch.nonzero(f32).squeeze(1)
    step[rows32] = solve(rows32, lo)
    redo = ~f32 | ~torch.isfinite(step).all(dim=1)
    if bool(redo.any()):
        rows = torch.nonzero(redo).squeeze(1)
        step[rows] = solve(rows, DTYPE)
    return step


def safe_start(obj, Theta, Xt, yt, W) -> torch.Tensor:
    """Keep a warm start only where F_S(theta0) <= F_S(0); start the others from zero.

    A far warm start (e.g. theta0 = 1e3 with logistic loss) saturates the loss, where the
    Hessian of the unpenalised intercept vanishes and Newton crawls; zero is the safe
    default start, so a warm start that is worse than zero is never worth keeping.
    """
    nonzero = (Theta != 0).any(dim=1)
    if not bool(nonzero.any()):
        return Theta
    f_warm = obj.value(Theta, Xt, yt, W)
    f_zero = obj.value(torch.zeros_like(Theta), Xt, yt, W)
    worse = nonzero & ~(f_warm <= f_zero)  # NaN / inf objectives count as worse
    if bool(worse.any()):
        Theta = Theta.clone()
        Theta[worse] = 0.0
    return Theta


def newton(obj, Xt, yt, W, Theta, *, tol: float, max_iter: int, outer=None, reference=None):
    """Batched damped Newton on k subsets; stops per subset on the relative residual.

    Parameters
    ----------
    obj : Objective
    Xt : Tensor of shape (n, d), float64
    yt : Tensor of shape (n,), encoded labels
    W : Tensor of shape (k, n), weights
    Theta : Tensor of shape (k, p), the starts (p = K (d + 1))
    tol : float
        Relative tolerance on the optimality residual.
    max_iter : int
    outer : Tensor, optional
        ``tensors.outer_products(Xt)`` for the direct path (computed here when None).
    reference : Tensor of shape (p,), optional
        The common warm start of the rows (e.g. the full fit): on the CG path, CG is then
        preconditioned by a low-rank inverse Hessian there (``preconditioner``), which changes the
        iterations' cost, not the fixed point.

    Returns
    -------
    Theta (k, p), grad norms (k,), iterations (k,), converged (k,). A subset is converged only
    when its residual is finite and below tol * ``obj.grad_scale`` (||grad F_S(0)||, floored
    where it is below 1; see there), and the column-scaled residual below its own such bound
    (see ``column_scale``).
    """
    K = obj.K
    k, p = Theta.shape
    d = Xt.shape[1]
    dev = Xt.device
    cg = uses_cg(p, obj.quadratic)
    low_rank = cg and obj.low_rank_curvature
    if outer is None and not cg:
        outer = packed_outer_or_none(Xt)  # None at large d: direct Hessians
    scale = obj.grad_scale(Xt, yt, W)
    tol_abs = tol * scale
    cs = column_scale(Xt, K)
    if cs is not None:
        tol_s = tol * obj.grad_scale(Xt, yt, W, col_scale=cs)
    n_iter = torch.zeros(k, dtype=torch.long, device=dev)
    gnorm = torch.full((k,), float("inf"), dtype=DTYPE, device=dev)
    g_prev = torch.full((k,), float("inf"), dtype=DTYPE, device=dev)
    eta_prev = torch.full((k,), float("inf"), dtype=DTYPE, device=dev)  # CG forcing terms
    f32 = torch.full((k,), not obj.quadratic, dtype=torch.bool, device=dev)
    active = torch.arange(k, device=dev)
    met_s = torch.ones(k, dtype=torch.bool, device=dev)
    u = obj.gauge_direction(d)
    u = None if u is None else u.to(dev)
    Theta = safe_start(obj, obj.fix_gauge(Theta.clone(), d), Xt, yt, W)
    Xa = augment(Xt)
    # the data and the packed table in both precisions of the direct path, converted once
    by_dtype = {} if cg else {
        DTYPE: (Xa, outer), torch.float32: (Xa.float(),
                                            None if outer is None else outer.float())}
    pre = None
    if cg and reference is not None:
        pre = ReferencePreconditioner(obj, Xt, yt, reference.to(dev), W)
        pre = pre if pre.active else None
    # F_S at the current points, carried over from the line search (None: not known yet)
    f_all = None
    for _ in range(max_iter + 1):
        Ta, Wa = Theta[active], W[active]
        Za = obj.margins(Ta, Xa)  # shape: (k_a, n, K)
        # one pass of the loss: gradient and curvature (and the objective, until known)
        loss, dZ, rest = obj.derivatives(Za, yt, f_all is None, low_rank)
        G = obj.grad_from(dZ, Wa, Xa, Ta)
        gn = G.norm(dim=1)
        gn = torch.where(torch.isfinite(gn), gn, torch.full_like(gn, float("inf")))
        gnorm[active] = gn
        # stop the converged and the broken (non-finite gradient) subsets
        unmet = gn > tol_abs[active]
        if cs is not None:
            scaled = (G / cs).norm(dim=1) > tol_s[active]
            met_s[active] = ~scaled
            unmet = unmet | scaled
        keep = unmet & torch.isfinite(gn)
        if not bool(keep.all()):
            active, Ta, Wa, G, Za = active[keep], Ta[keep], Wa[keep], G[keep], Za[keep]
            loss = None if loss is None else loss[keep]
            rest = [r[keep] for r in rest]
        if active.numel() == 0 or int(n_iter[active].max()) >= max_iter:
            break
        if cg:
            gk = gn[keep]
            eta = forcing(gk, g_prev[active], eta_prev[active], scale[active], tol_abs[active],
                          piecewise=obj.piecewise_quadratic)
            step = torch.empty_like(G)
            # CG in float32 for the subsets whose forcing term allows it, float64 for the others
            lo = eta >= _CG_F32_MIN_ETA
            for rows in (torch.nonzero(lo).squeeze(1), torch.nonzero(~lo).squeeze(1)):
                if rows.numel() == 0:
                    continue
                whole = rows.numel() == G.shape[0]
                sel = (lambda t: t) if whole else (lambda t, r=rows: t[r])  # noqa: E731
                step[rows] = cg_step(
                    obj, sel(Ta), Xt, yt, sel(Wa), sel(G), sel(gk), sel(scale[active]), u,
                    A=sel(rest[0]), eta=sel(eta),
                    precond=None if pre is None else pre.for_rows(sel(active)))
            g_prev[active], eta_prev[active] = gk, eta
        else:  # float32 systems until a subset's residual falls too slowly
            gk, gp = gn[keep], g_prev[active]
            f32[active[torch.isfinite(gp) & (gk > _F32_MIN_DECREASE * gp)]] = False
            step = direct_step(obj, rest[0], Wa, by_dtype, Ta, G, u, f32[active])
            g_prev[active] = gk
        finite = torch.isfinite(step).all(dim=1)
        if not bool(finite.all()):  # no usable curvature: report inf, stop the subset
            gnorm[active[~finite]] = float("inf")
            active, Ta, Wa, G, step, Za = (active[finite], Ta[finite], Wa[finite],
                                           G[finite], step[finite], Za[finite])
            loss = None if loss is None else loss[finite]
            if active.numel() == 0:
                break
        if obj.quadratic:
            Theta[active] = obj.fix_gauge(Ta + step, d)
        else:
            if f_all is None:
                f_all = torch.full((k,), float("nan"), dtype=DTYPE, device=dev)
                f_all[active] = obj.value_from(loss, Wa, Ta)
            new, f_all[active] = line_search(obj, Ta, Za, step, G, f_all[active], Xa, yt, Wa)
            Theta[active] = obj.fix_gauge(new, d)
        n_iter[active] += 1
    converged = torch.isfinite(gnorm) & torch.isfinite(tol_abs) & (gnorm <= tol_abs) & met_s
    return Theta, gnorm, n_iter, converged
