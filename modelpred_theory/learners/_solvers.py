"""Batched exact solvers (damped Newton, truncated Newton-CG), a mixin of ConvexLearner.

They minimise F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 for k weight rows at
once and stop each subset on its own relative optimality residual (see docs/design.md). A subset
whose gradient or step turns non-finite is stopped and reported unconverged with residual inf:
the solvers never report convergence with a non-finite or large residual.
"""

from __future__ import annotations

import numpy as np
import torch

from ._math import packed_outer_or_none
from ._tensors import DTYPE, _as_tensor, augment, regularise_gauge
from ._validation import check_theta

# Tolerances keyed by purpose (float64 ground truth).
# Relative tolerance on ||grad F_S||: float64 Newton reaches ~1e-13; 1e-10 leaves margin for
# ill-conditioned subsets while keeping every returned theta(S) exact to ~1e-10 / mu_S.
DEFAULT_TOL = 1e-10
# Armijo slack in units of |F|: objective differences below ~4 ulp of F are rounding noise.
_ARMIJO_SLACK = 8 * np.finfo(np.float64).eps
# From this many parameters on, each Newton step is solved inexactly by Jacobi-preconditioned
# conjugate gradients on Hessian-vector products (truncated Newton) instead of forming and
# factorising k (p, p) Hessians. The gradient, line search and stopping test are unchanged
# (float64), so the fixed point is the same theta(S); the forcing term
# eta = min(0.5, sqrt(||g|| / scale)) keeps convergence superlinear.
_CG_MIN_P = 256
# Smallest forcing term eta for which the CG solve runs in float32 (float64 below it, i.e. in
# the last Newton iterations and for exact steps). Reason: float32 residual recurrences are
# accurate to ~1e-6 relative after a few hundred iterations; 1e-4 leaves a margin.
_CG_F32_MIN_ETA = 1e-4
# CG iterations per Newton step at most (each is one batched Hessian-vector product).
_CG_MAX_ITER = 250
# Direct-path Newton systems are formed and solved in float32 (the gradient, line search and
# stopping test stay float64, so the fixed point is the same theta(S)) until a subset's residual
# falls by less than this factor in one iteration; from then on that subset uses float64.
# Reason: a float32 step is the Newton step to ~1e-7 kappa relative, which keeps the iteration
# count on well-conditioned subsets (breast_cancer half-subsets: 4.07 either way, 1.35x faster)
# and an ill-conditioned subset falls back after one slow iteration.
_F32_MIN_DECREASE = 0.25
# Backtracking halvings per line search at most (2^-60 ~ 1e-18: the step is then rounding noise).
_MAX_HALVINGS = 60


class NewtonSolver:
    """Batched damped Newton with Armijo backtracking; CG inner solves for large p."""

    def uses_cg(self, p: int) -> bool:
        """True where Newton steps are solved by CG on Hessian-vector products (p >= 256, not
        quadratic): then no (p, p) Hessian and no packed outer products are ever formed."""
        return p >= _CG_MIN_P and not self.quadratic

    def _grad_scale(self, Xt, yt, W, K) -> torch.Tensor:
        """max(1, ||grad F_S(0)||) per subset: the scale of the relative tolerance."""
        p = K * (Xt.shape[1] + 1)
        zero = torch.zeros(W.shape[0], p, dtype=DTYPE, device=Xt.device)
        g0 = self.batch_grad(zero, Xt, yt, W, K).norm(dim=1)
        return torch.clamp(g0, min=1.0)

    def _solve(self, H: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
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

    def _column_scale(self, Xt, K) -> torch.Tensor | None:
        """c_j = max(1, max_i |x_ij|) per coordinate of theta (1 for intercepts), or None if all 1.

        The stopping test also asks ||grad / c|| <= tol * max(1, ||grad(0) / c||): invariant to
        rescaling a column of X, so one huge entry cannot make a large residual elsewhere pass.
        """
        c = Xt.abs().amax(dim=0).clamp(min=1.0)
        if bool((c == 1.0).all()):
            return None
        c = torch.cat([c, torch.ones(1, dtype=c.dtype, device=c.device)])
        return c.repeat(K)  # shape: (p,)

    def _cg_step(self, Ta, Xt, yt, Wa, K, G, gn, scale, u, A=None, rtol=None) -> torch.Tensor:
        """Truncated Newton step: solve H s = -G by Jacobi-preconditioned CG, per subset.

        Stops subset j when ||H s + G|| <= eta_j ||G_j||, eta_j = min(0.5, sqrt(||G_j|| /
        scale_j)), or eta_j = rtol when given (an exact Newton step to that relative residual,
        e.g. ``baselines.newton_step`` at large p). The gauge direction u (multinomial,
        unpenalised intercepts) gets curvature c u u^T as in the direct solve. Every CG iterate
        is a descent direction.
        """
        Xa = augment(Xt)
        k, p = Ta.shape
        if A is None:  # curvatures d^2 loss / dZ^2 at Ta, unless the caller has them
            A = self._derivatives(self._margins(Ta, Xa, K), yt, False,
                                  self._probability_curvature(K))[2][0]
        # A (k, n, K, K), or softmax probabilities S (k, n, K) with A_i = diag(s_i) - s_i s_i^T
        soft = A.dim() == 3
        WA = Wa[:, :, None] * A if soft else Wa[:, :, None, None] * A
        pen = self.lam * self._pen(Ta, Xt.shape[1], K)
        dA = (WA - Wa[:, :, None] * A**2) if soft else torch.diagonal(WA, dim1=2, dim2=3)
        diag = torch.einsum("kna,ni->kai", dA, Xa**2)
        diag = diag.reshape(k, p) + pen  # shape: (k, p), the Jacobi preconditioner
        c = diag.mean(1)
        if u is not None:
            diag = diag + c[:, None] * u**2

        eta = torch.clamp(torch.sqrt(gn / scale), max=0.5) if rtol is None else None
        target = (eta if rtol is None else rtol) * gn
        G64 = G
        if eta is not None and bool((eta >= _CG_F32_MIN_ETA).all()):
            # a loose forcing term: float32 Hessian-vector products are accurate enough
            WA, A, Xa, pen, diag, c, G, target = (t.float() for t in (WA, A, Xa, pen, diag, c,
                                                                       G, target))
            u = None if u is None else u.float()

        def hv(V):
            if soft:  # w_i (diag(s_i) - s_i s_i^T) (V x_i) = WS * Zv - WS (s . Zv)
                Zv = self._margins(V, Xa, K)  # shape: (k, n, K)
                WSZ = WA * Zv
                AZv = WSZ - WA * (A * Zv).sum(-1, keepdim=True)
                out = torch.einsum("kna,nj->kaj", AZv, Xa).reshape(V.shape) + pen * V
            else:
                out = self._curvature_product(WA, Xa, V, K) + pen * V
            if u is not None:
                out = out + c[:, None] * u * (V @ u)[:, None]
            return out

        floor = torch.finfo(G.dtype).tiny
        x = torch.zeros_like(G)
        r = -G
        z = r / diag.clamp(min=floor)
        d = z.clone()
        rz = (r * z).sum(1)
        live = r.norm(dim=1) > target
        for _ in range(min(_CG_MAX_ITER, 2 * p)):
            if not bool(live.any()):
                break
            Hd = hv(d)
            dHd = (d * Hd).sum(1)
            live = live & (dHd > floor)  # no curvature left along d: keep the current iterate
            alpha = torch.where(live, rz / dHd.clamp(min=floor), torch.zeros_like(rz))
            x = x + alpha[:, None] * d
            r = r - alpha[:, None] * Hd
            live = live & (r.norm(dim=1) > target)
            z = r / diag.clamp(min=floor)
            rz_new = (r * z).sum(1)
            beta = torch.where(live, rz_new / rz.clamp(min=floor), torch.zeros_like(rz))
            d = torch.where(live[:, None], z + beta[:, None] * d, d)
            rz = torch.where(live, rz_new, rz)
        x, diag = x.to(DTYPE), diag.to(DTYPE)
        # e.g. zero curvature on the first direction, or a float32 step that is not finite
        fallback = ((x * G64).sum(1) >= 0) | ~torch.isfinite(x).all(dim=1)
        if bool(fallback.any()):
            x[fallback] = -G64[fallback] / diag[fallback].clamp(min=torch.finfo(DTYPE).tiny)
        return x

    def _line_search(self, Ta, Za, step, G, f0, Xa, yt, Wa, K) -> torch.Tensor:
        """Armijo backtracking per subset; returns the accepted points (k_a, p).

        Margins are linear in theta, so a trial point's margins are Za + t * Z(step): one
        margin product per Newton step, whatever the number of trials. A subset whose objective
        stays above the Armijo line for every trial step keeps its current point (the next
        gradient test then reports it unconverged, never converged). Also returns the objective
        at the accepted points (k_a,), so the next iteration need not evaluate the loss again.
        """
        Zs = self._margins(step, Xa, K)  # shape: (k_a, n, K)
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
            f1 = self._objective_from(self._link(Zc, yt, "loss"), Wi, cand, K)
            ok = f1 <= f0i + 1e-4 * ti * si + _ARMIJO_SLACK * f0i.abs()
            rows = torch.nonzero(ok).squeeze(1) if idx is None else idx[ok]
            new[rows] = cand[ok]
            f_new[rows] = f1[ok]
            idx = torch.nonzero(~ok).squeeze(1) if idx is None else idx[~ok]
            if idx.numel() == 0:
                break
            t[idx] *= 0.5
        return new, f_new

    def _probability_curvature(self, K: int) -> bool:
        """Whether CG applies the curvature through class probabilities (multinomial)."""
        return K > 1 and hasattr(self, "_softmax_curvature")

    def _derivatives(self, Za, yt, need_loss: bool, low_rank: bool):
        """(loss or None, dZ, [curvature]) at margins Za: the loss only while the objective is
        not yet known (and never for quadratic learners); for the multinomial on the CG path the
        curvature is the class probabilities (k, n, K), never the (K, K) blocks."""
        need = "hess" if need_loss and not self.quadratic else "curv"
        if low_rank:
            _, dZ = self._link(Za, yt, "grad")
            loss = self._link(Za, yt, "loss") if need == "hess" else None
            return loss, dZ, [self._softmax_curvature(dZ, yt)]
        loss, dZ, *rest = self._link(Za, yt, need)
        return loss, dZ, rest

    def _direct_step(self, A, Wa, rows_by_dtype, Ta, G, u, f32) -> torch.Tensor:
        """-H^{-1} G from formed Hessians, float32 for the rows where ``f32`` is set (float64
        for the others, and again for any float32 row whose step is not finite): (k_a, p).

        ``rows_by_dtype[dtype] = (Xa, outer)`` in that precision (outer None: direct Hessians),
        converted once per solve by the caller."""
        lo = torch.float32

        def solve(rows, dtype):
            Ar, Wr, Tr = A[rows].to(dtype), Wa[rows].to(dtype), Ta[rows].to(dtype)
            Xd, outer_d = rows_by_dtype[dtype]
            if outer_d is None:
                H = self._hessian_direct(Ar, Wr, Xd, Tr)
            else:
                H = self._hessian_from_curvature(Ar, Wr, outer_d, Tr)
            uu = None if u is None else u.to(dtype)
            return -self._solve(regularise_gauge(H, uu), G[rows].to(dtype)).to(DTYPE)

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

    def _newton(self, Xt, yt, W, Theta, K, outer=None):
        """Batched damped Newton on k subsets; stops per subset on the relative residual.

        Returns Theta (k, p), grad norms (k,), iterations (k,), converged (k,). A subset is
        converged only when its residual is finite and below tol * max(1, ||grad F_S(0)||).
        """
        k, p = Theta.shape
        d = Xt.shape[1]
        dev = Xt.device
        use_cg = self.uses_cg(p)
        low_rank = use_cg and self._probability_curvature(K)
        if outer is None and not use_cg:
            outer = packed_outer_or_none(Xt)  # None at large d: direct Hessians
        scale = self._grad_scale(Xt, yt, W, K)
        tol_abs = self.tol * scale
        cs = self._column_scale(Xt, K)
        if cs is not None:
            zero = torch.zeros(1, p, dtype=DTYPE, device=dev).expand(k, p)
            tol_s = self.tol * torch.clamp(
                (self.batch_grad(zero, Xt, yt, W, K) / cs).norm(dim=1), min=1.0)
        n_iter = torch.zeros(k, dtype=torch.long, device=dev)
        gnorm = torch.full((k,), float("inf"), dtype=DTYPE, device=dev)
        g_prev = torch.full((k,), float("inf"), dtype=DTYPE, device=dev)
        f32 = torch.full((k,), not self.quadratic, dtype=torch.bool, device=dev)
        active = torch.arange(k, device=dev)
        met_s = torch.ones(k, dtype=torch.bool, device=dev)
        u = self._gauge_direction(d, K)
        u = None if u is None else u.to(dev)
        Theta = self._start(self._fix_gauge(Theta.clone(), d, K), Xt, yt, W, K)
        Xa = augment(Xt)
        # the data and the packed table in both precisions of the direct path, converted once
        by_dtype = {} if use_cg else {
            DTYPE: (Xa, outer), torch.float32: (Xa.float(),
                                                None if outer is None else outer.float())}
        # F_S at the current points, carried over from the line search (None: not known yet)
        f_all = None
        for _ in range(self.max_iter + 1):
            Ta, Wa = Theta[active], W[active]
            Za = self._margins(Ta, Xa, K)  # shape: (k_a, n, K)
            # one pass of the loss: gradient and curvature (and the objective, until known)
            loss, dZ, rest = self._derivatives(Za, yt, f_all is None, low_rank)
            G = self._grad_from(dZ, Wa, Xa, Ta, K)
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
            if active.numel() == 0 or int(n_iter[active].max()) >= self.max_iter:
                break
            if use_cg:
                step = self._cg_step(Ta, Xt, yt, Wa, K, G, gn[keep], scale[active], u,
                                     A=rest[0])
            else:  # float32 systems until a subset's residual falls too slowly
                gk, gp = gn[keep], g_prev[active]
                f32[active[torch.isfinite(gp) & (gk > _F32_MIN_DECREASE * gp)]] = False
                step = self._direct_step(rest[0], Wa, by_dtype, Ta, G, u, f32[active])
                g_prev[active] = gk
            finite = torch.isfinite(step).all(dim=1)
            if not bool(finite.all()):  # no usable curvature: report inf, stop the subset
                gnorm[active[~finite]] = float("inf")
                active, Ta, Wa, G, step, Za = (active[finite], Ta[finite], Wa[finite],
                                               G[finite], step[finite], Za[finite])
                loss = None if loss is None else loss[finite]
                if active.numel() == 0:
                    break
            if self.quadratic:
                Theta[active] = self._fix_gauge(Ta + step, d, K)
            else:
                if f_all is None:
                    f_all = torch.full((k,), float("nan"), dtype=DTYPE, device=dev)
                    f_all[active] = self._objective_from(loss, Wa, Ta, K)
                new, f_all[active] = self._line_search(Ta, Za, step, G, f_all[active], Xa, yt,
                                                       Wa, K)
                Theta[active] = self._fix_gauge(new, d, K)
            n_iter[active] += 1
        converged = torch.isfinite(gnorm) & torch.isfinite(tol_abs) & (gnorm <= tol_abs) & met_s
        return Theta, gnorm, n_iter, converged

    def _start(self, Theta, Xt, yt, W, K) -> torch.Tensor:
        """Keep a warm start only where F_S(theta0) <= F_S(0); start the others from zero.

        A far warm start (e.g. theta0 = 1e3 with logistic loss) saturates the loss, where the
        Hessian of the unpenalised intercept vanishes and Newton crawls; zero is the safe
        default start, so a warm start that is worse than zero is never worth keeping.
        """
        nonzero = (Theta != 0).any(dim=1)
        if not bool(nonzero.any()):
            return Theta
        f_warm = self.batch_objective(Theta, Xt, yt, W, K)
        f_zero = self.batch_objective(torch.zeros_like(Theta), Xt, yt, W, K)
        worse = nonzero & ~(f_warm <= f_zero)  # NaN / inf objectives count as worse
        if bool(worse.any()):
            Theta = Theta.clone()
            Theta[worse] = 0.0
        return Theta

    def _initial(self, theta0, k: int, p: int, device=None) -> torch.Tensor:
        if theta0 is None:
            return torch.zeros(k, p, dtype=DTYPE, device=device)
        T = check_theta(theta0, p, name="theta0")
        if T.shape[0] not in (1, k):
            raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T.shape}")
        return _as_tensor(np.broadcast_to(T, (k, p)).copy(), device=device)
