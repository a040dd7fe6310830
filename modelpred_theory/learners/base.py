"""Convex learners under the sum convention, and their exact (batched) solvers.

Every learner minimises

    F_S(theta) = sum_{i} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2

where ``w`` is a subset mask (weights in {0, 1}) or fractional weights, the regulariser does not
change with |S|, and ``P`` selects the penalised coordinates (the intercept is unpenalised unless
``penalize_intercept=True``). In scikit-learn terms C = 1 / lam.

Parameter layout: a learner with K outputs (K = 1 for ridge, binary logistic and the SVM; K
classes for multinomial logistic) has theta of length p = K * (d + 1), the (K, d + 1) matrix of
rows [w_k, b_k] flattened row by row. ``X`` never carries an intercept column.

All the math lives in the batched torch functions of this module (``_margins``, ``batch_objective``,
``batch_grad``, ``batch_hessian``, ``batch_hvp``); the solvers, influence functions, the set
predictor's optimality regulariser and the certificates call the same functions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from ._validation import (
    check_sample_weight,
    check_theta,
    check_weight_matrix,
    check_X,
    check_y_shape,
)

DTYPE = torch.float64

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
# CG iterations per Newton step at most (each is one batched Hessian-vector product).
_CG_MAX_ITER = 250
# Memory budget (bytes) per chunk of subsets in fit_subsets.
_CHUNK_BYTES = 256 * 2**20


@dataclass
class FitResult:
    """Result of an exact fit.

    Attributes
    ----------
    theta : ndarray of shape (p,)
        The minimiser of F_S under the sum convention (layout [w, b], or (K, d+1) flattened).
    grad_norm : float
        The optimality residual ||grad F_S(theta)||.
    n_iter : int
        Newton iterations used (1 for the direct ridge solve).
    converged : bool
        True when grad_norm <= tol * max(1, ||grad F_S(0)||).
    """

    theta: np.ndarray
    grad_norm: float
    n_iter: int
    converged: bool


@dataclass
class SubsetFitResult:
    """Batched exact fits: thetas (k, p), grad_norms (k,), n_iter (k,), converged (k,)."""

    thetas: np.ndarray
    grad_norms: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def _as_tensor(a, dtype=DTYPE) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.to(dtype)
    a = np.ascontiguousarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return torch.as_tensor(a, dtype=dtype)


def augment(X: torch.Tensor) -> torch.Tensor:
    """Append the intercept column: (n, d) -> (n, d + 1)."""
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    return torch.cat([X, ones], dim=1)


def _triu_indices(q: int, device=None):
    idx = torch.triu_indices(q, q, device=device)
    return idx[0], idx[1]


def outer_products(X: torch.Tensor) -> torch.Tensor:
    """Packed upper triangles of [x_i, 1][x_i, 1]^T: (n, d) -> (n, q(q+1)/2), q = d + 1.

    Computed once per pool; ``batch_hessian`` turns them into all k Hessians with one GEMM.
    """
    Xa = augment(X)
    i, j = _triu_indices(Xa.shape[1], Xa.device)
    return Xa[:, i] * Xa[:, j]


def regularise_gauge(H: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """H + c u u^T with c the mean diagonal of H, for H (p, p) or (k, p, p); H itself if u is None.

    The multinomial objective with unpenalised intercepts is flat along the unit gauge
    direction u. Gradients are orthogonal to u and H u = 0, so solving with H + c u u^T gives
    the solution in the centred subspace (the pseudo-inverse of H there) without harming the
    conditioning.
    """
    if u is None:
        return H
    c = torch.diagonal(H, dim1=-2, dim2=-1).mean(-1)[..., None, None]
    return H + c * torch.outer(u, u)


class ConvexLearner(ABC):
    """Base class of the generalised-linear convex learners (see module docstring).

    Subclasses implement ``encode_y``, ``n_outputs`` and ``_link`` (per-sample loss, its
    derivative and curvature with respect to the K margins).
    """

    name = "convex"
    allow_zero_lam = False
    quadratic = False  # True when the loss is quadratic (Newton is exact in one step)

    def __init__(self, lam: float = 1.0, *, penalize_intercept: bool = False,
                 tol: float = DEFAULT_TOL, max_iter: int = 100):
        from ._validation import check_lam

        self.lam = check_lam(lam, allow_zero=self.allow_zero_lam)
        if not isinstance(penalize_intercept, bool | np.bool_):
            raise ValueError("penalize_intercept must be a bool")
        self.penalize_intercept = bool(penalize_intercept)
        if not (isinstance(tol, float | int) and 0 < tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {tol!r}")
        self.tol = float(tol)
        if not (isinstance(max_iter, int | np.integer) and max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        self.max_iter = int(max_iter)

    # ------------------------------------------------------------------ configuration
    def get_params(self) -> dict:
        return {"lam": self.lam, "penalize_intercept": self.penalize_intercept,
                "tol": self.tol, "max_iter": self.max_iter}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def encode_y(self, y) -> np.ndarray:
        """Validate labels and return them encoded for ``_link`` (raises ValueError)."""

    def n_outputs(self, y_enc: np.ndarray) -> int:
        """K, the number of margins per point (1 except for multinomial logistic)."""
        return 1

    def param_dim(self, X, y) -> int:
        """p = K * (d + 1) for data (X, y)."""
        X = np.asarray(X)
        return self.n_outputs(self.encode_y(np.asarray(y))) * (X.shape[1] + 1)

    @abstractmethod
    def _link(self, Z: torch.Tensor, y: torch.Tensor, need: str):
        """Per-sample loss quantities from margins Z (k, n, K).

        need: "loss" -> (k, n); "grad" -> (loss (k, n), dZ (k, n, K));
        "hess" -> (loss, dZ, A) with A (k, n, K, K) the curvature d^2 loss / dZ^2.
        """

    def _needs_all_classes(self) -> bool:
        """Whether a subset must contain every class for the minimiser to exist and be unique."""
        return False

    # ------------------------------------------------------------------ validation
    def _prepare(self, X, y):
        X = check_X(X)
        y = check_y_shape(y, X.shape[0])
        y_enc = self.encode_y(y)
        K = self.n_outputs(y_enc)
        return X, y_enc, K

    def _check_existence(self, W: np.ndarray, y_enc: np.ndarray, K: int, name: str) -> None:
        if not self._needs_all_classes():
            return
        classes = np.arange(K) if K > 1 else np.unique(y_enc)
        if K == 1 and classes.size < 2:
            raise ValueError(
                f"y holds a single class: with an unpenalised intercept the minimiser of "
                f"{type(self).__name__} does not exist; pass penalize_intercept=True"
            )
        present = np.stack([(W[:, y_enc == c] > 0).any(axis=1) for c in classes], axis=1)
        bad = np.flatnonzero(~present.all(axis=1))
        if bad.size:
            raise ValueError(
                f"{name}: subsets {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} miss a "
                f"class; with an unpenalised intercept the minimiser of {type(self).__name__} "
                f"does not exist (or is not unique) there. Use penalize_intercept=True or "
                f"subsets that contain every class (subsets.*(require_all_classes=True))"
            )

    # ------------------------------------------------------------------ core math (torch)
    def penalty_vector(self, d: int, K: int, dtype=DTYPE) -> torch.Tensor:
        """Diagonal of P^T P as a (p,) 0/1 tensor (1 on penalised coordinates)."""
        P = torch.ones(K, d + 1, dtype=dtype)
        if not self.penalize_intercept:
            P[:, d] = 0.0
        return P.reshape(-1)

    @staticmethod
    def _margins(Theta: torch.Tensor, Xa: torch.Tensor, K: int) -> torch.Tensor:
        """Z[k, i, c] = <theta_k[c], [x_i, 1]>; Theta (k, p), Xa (n, d+1) -> (k, n, K)."""
        k = Theta.shape[0]
        T3 = Theta.reshape(k, K, Xa.shape[1])  # shape: (k, K, d+1)
        return torch.einsum("nj,kcj->knc", Xa, T3)

    def batch_objective(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """F_S(theta_k) for each row: Theta (k, p), X (n, d), y encoded (n,), W (k, n) -> (k,)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        loss = self._link(self._margins(Theta, Xa, K), y, "loss")  # shape: (k, n)
        pen = self.penalty_vector(X.shape[1], K, Theta.dtype)
        return (W * loss).sum(1) + 0.5 * self.lam * (pen * Theta**2).sum(1)

    def batch_grad(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """grad F_S(theta_k) per row, differentiable in Theta: (k, p)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        _, dZ = self._link(self._margins(Theta, Xa, K), y, "grad")  # shape: (k, n, K)
        G = torch.einsum("kn,knc,nj->kcj", W, dZ, Xa).reshape(Theta.shape)
        return G + self.lam * self.penalty_vector(X.shape[1], K, Theta.dtype) * Theta

    def batch_hessian(self, Theta, X, y, W, K: int | None = None,
                      outer: torch.Tensor | None = None) -> torch.Tensor:
        """Hessian of F_S at theta_k per row (generalised Hessian for the SVM): (k, p, p).

        All k Hessians come from one GEMM against the packed per-row outer products
        ``outer = outer_products(X)`` (n, q(q+1)/2), which callers may precompute once per pool.
        """
        Xa = augment(X)
        n, q = Xa.shape
        k = Theta.shape[0]
        K = K or Theta.shape[1] // q
        if outer is None:
            outer = outer_products(X)
        _, _, A = self._link(self._margins(Theta, Xa, K), y, "hess")  # shape: (k, n, K, K)
        M = (W[:, :, None, None] * A).reshape(k, n, K * K).transpose(1, 2)  # (k, K*K, n)
        packed = M.reshape(k * K * K, n) @ outer  # shape: (k*K*K, q(q+1)/2), the one GEMM
        i, j = _triu_indices(q, packed.device)
        H = packed.new_empty(k * K * K, q, q)
        H[:, i, j] = packed  # every (class a, class b) block is symmetric in (i, j)
        H[:, j, i] = packed
        if K == 1:
            H = H.reshape(k, q, q)
        else:
            H = H.reshape(k, K, K, q, q).permute(0, 1, 3, 2, 4).reshape(k, K * q, K * q)
        pen = self.lam * self.penalty_vector(X.shape[1], K, Theta.dtype)
        H.diagonal(dim1=1, dim2=2).add_(pen)
        return H

    def batch_hvp(self, Theta, V, X, y, W, K: int | None = None) -> torch.Tensor:
        """Hessian-vector products H_S(theta_k) v_k without forming H: (k, p)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        _, _, A = self._link(self._margins(Theta, Xa, K), y, "hess")
        out = self._curvature_product(W[:, :, None, None] * A, Xa, V, K)
        return out + self.lam * self.penalty_vector(X.shape[1], K, Theta.dtype) * V

    def _curvature_product(self, WA, Xa, V, K: int) -> torch.Tensor:
        """sum_i w_i (A_i (V x_i)) x_i^T for weighted curvatures WA (k, n, K, K): (k, p)."""
        Zv = self._margins(V, Xa, K)  # shape: (k, n, K)
        AZv = torch.einsum("knab,knb->kna", WA, Zv)
        return torch.einsum("kna,nj->kaj", AZv, Xa).reshape(V.shape)

    def _cg_step(self, Ta, Xt, yt, Wa, K, G, gn, scale, u) -> torch.Tensor:
        """Truncated Newton step: solve H s = -G by Jacobi-preconditioned CG, per subset.

        Stops subset j when ||H s + G|| <= eta_j ||G_j||, eta_j = min(0.5, sqrt(||G_j|| /
        scale_j)). The gauge direction u (multinomial, unpenalised intercepts) gets curvature
        c u u^T as in the direct solve. Every CG iterate is a descent direction.
        """
        Xa = augment(Xt)
        k, p = Ta.shape
        _, _, A = self._link(self._margins(Ta, Xa, K), yt, "hess")
        WA = Wa[:, :, None, None] * A  # shape: (k, n, K, K)
        pen = self.lam * self.penalty_vector(Xt.shape[1], K, Ta.dtype)
        diag = torch.einsum("kna,ni->kai", torch.diagonal(WA, dim1=2, dim2=3), Xa**2)
        diag = diag.reshape(k, p) + pen  # shape: (k, p), the Jacobi preconditioner
        c = diag.mean(1)
        if u is not None:
            diag = diag + c[:, None] * u**2

        def hv(V):
            out = self._curvature_product(WA, Xa, V, K) + pen * V
            if u is not None:
                out = out + c[:, None] * u * (V @ u)[:, None]
            return out

        target = torch.clamp(torch.sqrt(gn / scale), max=0.5) * gn
        floor = torch.finfo(DTYPE).tiny
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
        fallback = (x * G).sum(1) >= 0  # e.g. zero curvature on the first direction
        if bool(fallback.any()):
            x[fallback] = -G[fallback] / diag[fallback].clamp(min=floor)
        return x

    def batch_per_sample_loss(self, Theta, X, y, K: int | None = None) -> torch.Tensor:
        """Unweighted per-sample losses loss(theta_k; x_i, y_i): (k, n)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        return self._link(self._margins(Theta, Xa, K), y, "loss")

    def _gauge_direction(self, d: int, K: int) -> torch.Tensor | None:
        """Unit vector of the null direction of F_S (multinomial, unpenalised intercepts)."""
        return None

    def _fix_gauge(self, Theta: torch.Tensor, d: int, K: int) -> torch.Tensor:
        return Theta

    # ------------------------------------------------------------------ numpy front end
    def _tensors(self, X, y_enc):
        Xt = _as_tensor(X)
        yt = torch.as_tensor(y_enc)
        if yt.is_floating_point():
            yt = yt.to(DTYPE)
        return Xt, yt

    def loss(self, theta, X, y, sample_weight=None) -> float:
        """The objective F_S(theta) (sum convention, penalty included)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = check_theta(theta, K * (X.shape[1] + 1))
        Xt, yt = self._tensors(X, y_enc)
        return float(self.batch_objective(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0])

    def per_sample_loss(self, theta, X, y) -> np.ndarray:
        """Unweighted losses loss(theta; x_i, y_i): (n,) for theta (p,), (k, n) for (k, p)."""
        X, y_enc, K = self._prepare(X, y)
        T = check_theta(theta, K * (X.shape[1] + 1))
        Xt, yt = self._tensors(X, y_enc)
        out = self.batch_per_sample_loss(_as_tensor(T), Xt, yt, K).numpy()
        return out[0] if np.ndim(theta) == 1 else out

    def mean_loss(self, theta, X, y) -> np.ndarray | float:
        """Mean unweighted loss over (X, y) (the test loss): float, or (k,) for (k, p)."""
        out = np.asarray(self.per_sample_loss(theta, X, y))
        return float(out.mean()) if out.ndim == 1 else out.mean(axis=1)

    def grad(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """grad F_S(theta): (p,)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = check_theta(theta, K * (X.shape[1] + 1))
        Xt, yt = self._tensors(X, y_enc)
        return self.batch_grad(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0].numpy()

    def per_sample_grads(self, theta, X, y) -> np.ndarray:
        """Gradients of the unweighted losses loss(theta; x_i, y_i) (no penalty): (n, p)."""
        X, y_enc, K = self._prepare(X, y)
        T = check_theta(theta, K * (X.shape[1] + 1))
        if T.shape[0] != 1:
            raise ValueError("per_sample_grads takes a single theta of shape (p,)")
        Xt, yt = self._tensors(X, y_enc)
        Xa = augment(Xt)
        _, dZ = self._link(self._margins(_as_tensor(T), Xa, K), yt, "grad")
        return torch.einsum("nc,nj->ncj", dZ[0], Xa).reshape(X.shape[0], -1).numpy()

    def hessian(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """Hessian of F_S at theta (generalised Hessian for the SVM): (p, p)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = check_theta(theta, K * (X.shape[1] + 1))
        Xt, yt = self._tensors(X, y_enc)
        return self.batch_hessian(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0].numpy()

    def hvp(self, theta, v, X, y, sample_weight=None) -> np.ndarray:
        """Hessian-vector product H_S(theta) v: (p,) (or (k, p) for v of shape (k, p))."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        p = K * (X.shape[1] + 1)
        T = check_theta(theta, p)
        V = check_theta(v, p, name="v")
        Xt, yt = self._tensors(X, y_enc)
        T = np.broadcast_to(T, V.shape)
        W = _as_tensor(np.broadcast_to(w, (V.shape[0], w.shape[0])))
        out = self.batch_hvp(_as_tensor(T), _as_tensor(V), Xt, yt, W, K).numpy()
        return out[0] if np.ndim(v) == 1 else out

    def decision_function(self, theta, X) -> np.ndarray:
        """Margins: (n,) for K = 1, (n, K) for multinomial; (k, n[, K]) for theta (k, p)."""
        X = check_X(X)
        T = np.asarray(theta, dtype=np.float64)
        q = X.shape[1] + 1
        if T.shape[-1] % q:
            raise ValueError(f"theta has {T.shape[-1]} entries, not a multiple of d+1={q}")
        K = T.shape[-1] // q
        T2 = check_theta(T, K * q)
        Z = self._margins(_as_tensor(T2), augment(_as_tensor(X)), K).numpy()
        if K == 1:
            Z = Z[..., 0]
        return Z[0] if T.ndim == 1 else Z

    def optimality_residual(self, theta, X, y, sample_weight=None) -> float:
        """||grad F_S(theta)||, the optimality residual (zero exactly at theta(S))."""
        from .objective import optimality_residual

        W = None if sample_weight is None else np.asarray(sample_weight)[None]
        return float(optimality_residual(self, np.asarray(theta)[None], X, y, W)[0])

    # ------------------------------------------------------------------ solvers
    def _grad_scale(self, Xt, yt, W, K) -> torch.Tensor:
        """max(1, ||grad F_S(0)||) per subset: the scale of the relative tolerance."""
        p = K * (Xt.shape[1] + 1)
        zero = torch.zeros(W.shape[0], p, dtype=DTYPE)
        g0 = self.batch_grad(zero, Xt, yt, W, K).norm(dim=1)
        return torch.clamp(g0, min=1.0)

    def _solve(self, H: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """Batched solve H s = G by Cholesky, with an SVD (least-squares) fallback."""
        L, info = torch.linalg.cholesky_ex(H)
        S = torch.cholesky_solve(G.unsqueeze(-1), L).squeeze(-1)
        bad = info != 0
        if bool(bad.any()):
            Hb = H[bad]
            S[bad] = (torch.linalg.pinv(Hb, hermitian=True) @ G[bad].unsqueeze(-1)).squeeze(-1)
        return S

    def _newton(self, Xt, yt, W, Theta, K, outer=None):
        """Batched damped Newton on k subsets; stops per subset on the relative residual.

        Returns Theta (k, p), grad norms (k,), iterations (k,), converged (k,).
        """
        k, p = Theta.shape
        d = Xt.shape[1]
        if outer is None:
            outer = outer_products(Xt)
        scale = self._grad_scale(Xt, yt, W, K)
        tol_abs = self.tol * scale
        n_iter = torch.zeros(k, dtype=torch.long)
        gnorm = torch.full((k,), float("inf"), dtype=DTYPE)
        active = torch.arange(k)
        u = self._gauge_direction(d, K)
        use_cg = p >= _CG_MIN_P and not self.quadratic
        Theta = self._fix_gauge(Theta.clone(), d, K)
        for _ in range(self.max_iter + 1):
            Ta, Wa = Theta[active], W[active]
            G = self.batch_grad(Ta, Xt, yt, Wa, K)
            gn = G.norm(dim=1)
            gnorm[active] = gn
            keep = gn > tol_abs[active]
            active, Ta, Wa, G = active[keep], Ta[keep], Wa[keep], G[keep]
            if active.numel() == 0 or int(n_iter[active].max()) >= self.max_iter:
                break
            if use_cg:
                step = self._cg_step(Ta, Xt, yt, Wa, K, G, gn[keep], scale[active], u)
            else:
                H = self.batch_hessian(Ta, Xt, yt, Wa, K, outer=outer)
                step = -self._solve(regularise_gauge(H, u), G)
            if self.quadratic:
                Theta[active] = self._fix_gauge(Ta + step, d, K)
                n_iter[active] += 1
                continue
            f0 = self.batch_objective(Ta, Xt, yt, Wa, K)
            slope = (G * step).sum(1)
            t = torch.ones(active.numel(), dtype=DTYPE)
            done = torch.zeros(active.numel(), dtype=torch.bool)
            new = Ta.clone()
            for _ls in range(60):
                idx = torch.nonzero(~done).squeeze(1)
                cand = Ta[idx] + t[idx, None] * step[idx]
                f1 = self.batch_objective(cand, Xt, yt, Wa[idx], K)
                ok = f1 <= f0[idx] + 1e-4 * t[idx] * slope[idx] + _ARMIJO_SLACK * f0[idx].abs()
                new[idx[ok]] = cand[ok]
                done[idx[ok]] = True
                if bool(done.all()):
                    break
                t[idx[~ok]] *= 0.5
            Theta[active] = self._fix_gauge(new, d, K)
            n_iter[active] += 1
        converged = gnorm <= tol_abs
        return Theta, gnorm, n_iter, converged

    def _initial(self, theta0, k: int, p: int) -> torch.Tensor:
        if theta0 is None:
            return torch.zeros(k, p, dtype=DTYPE)
        T = check_theta(theta0, p, name="theta0")
        if T.shape[0] not in (1, k):
            raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T.shape}")
        return _as_tensor(np.broadcast_to(T, (k, p)).copy())

    def fit(self, X, y, sample_weight=None, theta0=None) -> FitResult:
        """Exact minimiser of F_S with weights ``sample_weight`` (sum convention, C = 1/lam).

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        sample_weight : ndarray of shape (n,), optional
            Non-negative weights (a subset mask is weights in {0, 1}); default all ones.
        theta0 : ndarray of shape (p,), optional
            Warm start.

        Returns
        -------
        FitResult
        """
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        self._check_existence(w[None], y_enc, K, "sample_weight")
        p = K * (X.shape[1] + 1)
        Theta = self._initial(theta0, 1, p)
        Xt, yt = self._tensors(X, y_enc)
        T, g, it, conv = self._newton(Xt, yt, _as_tensor(w)[None], Theta, K)
        return FitResult(T[0].numpy().copy(), float(g[0]), int(it[0]), bool(conv[0]))

    def default_chunk_size(self, n: int, p: int, K: int) -> int:
        per_subset = 8 * (4 * p * p + 6 * n * K * K + 8 * p)
        return int(max(1, min(4096, _CHUNK_BYTES // per_subset)))

    def fit_subsets(self, X, y, masks, theta0=None, *, chunk_size: int | None = None,
                    progress: bool = False, return_info: bool = False):
        """Exact theta(S) for k subsets at once (batched Newton, one GEMM per iteration).

        Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Boolean masks (or non-negative weights) over the pool.
        theta0 : ndarray of shape (p,) or (k, p), optional
            Warm start(s).
        chunk_size : int, optional
            Subsets per batch; by default sized to a ~256 MB budget.
        progress : bool
            Show a tqdm progress bar over chunks.
        return_info : bool
            Return a SubsetFitResult (thetas, grad_norms, n_iter, converged).

        Returns
        -------
        thetas : ndarray of shape (k, p), or SubsetFitResult
        """
        X, y_enc, K = self._prepare(X, y)
        n, d = X.shape
        W = check_weight_matrix(masks, n)
        self._check_existence(W, y_enc, K, "masks")
        k, p = W.shape[0], K * (d + 1)
        if theta0 is not None:
            T0 = check_theta(theta0, p, name="theta0")
            if T0.shape[0] not in (1, k):
                raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T0.shape}")
        if chunk_size is None:
            chunk_size = self.default_chunk_size(n, p, K)
        if not (isinstance(chunk_size, int | np.integer) and chunk_size >= 1):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        Xt, yt = self._tensors(X, y_enc)
        outer = outer_products(Xt)
        thetas = np.empty((k, p))
        gn = np.empty(k)
        its = np.empty(k, dtype=np.int64)
        conv = np.empty(k, dtype=bool)
        starts = range(0, k, chunk_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=math.ceil(k / chunk_size), desc=f"exact {self.name}",
                          unit="chunk")
        for s in starts:
            e = min(k, s + chunk_size)
            init = (None if theta0 is None
                    else (T0 if T0.shape[0] == 1 else T0[s:e]))
            T = self._initial(init, e - s, p)
            Tc, g, it, cv = self._newton(Xt, yt, _as_tensor(W[s:e]), T, K, outer=outer)
            thetas[s:e], gn[s:e], its[s:e], conv[s:e] = Tc.numpy(), g.numpy(), it.numpy(), cv
        if return_info:
            return SubsetFitResult(thetas, gn, its, conv)
        return thetas

    def residual_tolerance(self, X, y, masks=None) -> np.ndarray:
        """Absolute stopping tolerance tol * max(1, ||grad F_S(0)||) per subset: (k,).

        A fit is converged when its optimality residual ||grad F_S(theta)|| is below this.
        """
        X, y_enc, K = self._prepare(X, y)
        W = (np.ones((1, X.shape[0])) if masks is None
             else check_weight_matrix(masks, X.shape[0]))
        Xt, yt = self._tensors(X, y_enc)
        return (self.tol * self._grad_scale(Xt, yt, _as_tensor(W), K)).numpy()

    # ------------------------------------------------------------------ curvature bounds
    def strong_convexity(self, X, y, sample_weight=None) -> float:
        """A global lower bound mu_S on the smallest eigenvalue of the Hessian of F_S.

        lam when every coordinate is penalised; subclasses refine (ridge: exact). Returns 0.0
        when no global bound exists (unpenalised intercept with a non-quadratic loss).
        """
        return self.lam if self.penalize_intercept else 0.0
