"""The objective, in one place: F_S, its derivatives and the optimality condition, batched.

Sum convention (docs/design.md): for each of k weight rows W (k, n) at once,

    F_S(theta) = sum_i w_i loss(z_i; y_i) + (lam / 2) ||P theta||^2,   z_i = theta [x_i, 1],

with theta the (K, d + 1) matrix of rows [w_c, b_c] flattened row by row (K = 1 except for the
multinomial model). :class:`Objective` is built from a pointwise loss (``losses``), lam, the
penalty mask (every coordinate, or all but the intercepts) and K. It is the single place of the
math: the solvers, the baselines (influence, Newton step, IHVP), the set predictor's bases and
regulariser, the certificates and the applications all call it. Tensors are float64 by default,
on any device (the inputs' device).
"""

from __future__ import annotations

import numpy as np
import torch

from .tensors import DTYPE, as_tensor, augment, packed_outer_or_none, unpack_index
from .validation import check_theta, check_weight_matrix

# Fraction of the magnitude of the gradient's terms below which ||grad F_S(0)|| is taken as
# cancelled (theta = 0 nearly optimal) in the stopping scale. Reason: with the default tol 1e-10
# the test then sits at 1e-13 of the terms, ~450 ulps above the rounding of their sum.
CANCELLATION = 1e-3


class Objective:
    """F_S and its derivatives for a loss, lam, the penalty mask and K (sum convention).

    Parameters
    ----------
    loss : pointwise loss
        An object with ``derivatives(Z, y, need)`` (see ``losses``).
    lam : float >= 0
    penalize_intercept : bool
        P = I when True, else P zeroes the K intercepts.
    K : int
        Margins per point.

    Notes
    -----
    Tensors: Theta (k, p) with p = K (d + 1), X (n, d), y (n,) encoded labels, W (k, n) weights.
    The gradient is sum_i w_i (dZ_i (x) [x_i, 1]) + lam P theta and the Hessian
    sum_i w_i (A_i (x) [x_i, 1][x_i, 1]^T) + lam P, with dZ_i, A_i the loss's first and second
    derivatives in the margins of point i. A shift-invariant loss (softmax) with unpenalised
    intercepts is flat along the gauge direction u (equal intercepts); the learner's gauge is
    sum_c b_c = 0 (centred intercepts), which makes theta(S) unique.
    """

    def __init__(self, loss, lam: float, *, penalize_intercept: bool, K: int):
        self.loss = loss
        self.lam = lam
        self.penalize_intercept = penalize_intercept
        self.K = K

    @property
    def quadratic(self) -> bool:
        """True when the loss is quadratic (one Newton step is exact)."""
        return self.loss.quadratic

    @property
    def piecewise_quadratic(self) -> bool:
        """True when the curvature is piecewise constant in the margins (squared hinge); a loss
        without the attribute is taken as smooth."""
        return bool(getattr(self.loss, "piecewise_quadratic", False))

    @property
    def low_rank_curvature(self) -> bool:
        """Whether the curvature can be applied through class probabilities (multinomial)."""
        return self.K > 1 and hasattr(self.loss, "probabilities")

    # ------------------------------------------------------------------ pieces
    def penalty(self, d: int, dtype=DTYPE, device=None) -> torch.Tensor:
        """Diagonal of P^T P as a (p,) 0/1 tensor (1 on penalised coordinates)."""
        P = torch.ones(self.K, d + 1, dtype=dtype, device=device)
        if not self.penalize_intercept:
            P[:, d] = 0.0
        return P.reshape(-1)

    def _pen(self, Theta: torch.Tensor, d: int) -> torch.Tensor:
        return self.penalty(d, Theta.dtype, Theta.device)

    def margins(self, Theta: torch.Tensor, Xa: torch.Tensor) -> torch.Tensor:
        """Z[k, i, c] = <theta_k[c], [x_i, 1]>; Theta (k, p), Xa (n, d+1) -> (k, n, K)."""
        k = Theta.shape[0]
        T3 = Theta.reshape(k, self.K, Xa.shape[1])  # shape: (k, K, d+1)
        return torch.einsum("nj,kcj->knc", Xa, T3)

    def derivatives(self, Za, yt, need_loss: bool, low_rank: bool):
        """(loss or None, dZ, [curvature]) at margins Za: the loss only while the objective is
        not yet known (and never for quadratic losses); with ``low_rank`` (multinomial on the CG
        path) the curvature is the class probabilities (k, n, K), never the (K, K) blocks."""
        need = "hess" if need_loss and not self.quadratic else "curv"
        if low_rank:
            _, dZ = self.loss.derivatives(Za, yt, "grad")
            loss = self.loss.derivatives(Za, yt, "loss") if need == "hess" else None
            return loss, dZ, [self.loss.probabilities(dZ, yt)]
        loss, dZ, *rest = self.loss.derivatives(Za, yt, need)
        return loss, dZ, rest

    def value_from(self, loss, W, Theta) -> torch.Tensor:
        """F_S from per-sample losses (k, n): (k,)."""
        pen = self._pen(Theta, Theta.shape[1] // self.K - 1)
        return (W * loss).sum(1) + 0.5 * self.lam * (pen * Theta**2).sum(1)

    def grad_from(self, dZ, W, Xa, Theta) -> torch.Tensor:
        """grad F_S from the margin derivatives dZ (k, n, K): (k, p)."""
        G = torch.einsum("kn,knc,nj->kcj", W, dZ, Xa).reshape(Theta.shape)
        return G + self.lam * self._pen(Theta, Xa.shape[1] - 1) * Theta

    def hessian_direct(self, A, W, Xa, Theta) -> torch.Tensor:
        """As ``hessian_from_curvature`` without the packed table: per class pair (a, b), one
        batched (k, q, n) @ (n, q) product; memory k n q instead of n q^2 / 2."""
        k, K, q = A.shape[0], A.shape[2], Xa.shape[1]
        H = Xa.new_empty(k, K, q, K, q)
        for a in range(K):
            for b in range(a, K):
                wx = (W * A[:, :, a, b])[:, :, None] * Xa  # shape: (k, n, q)
                blk = wx.transpose(1, 2) @ Xa  # shape: (k, q, q)
                H[:, a, :, b, :] = blk
                H[:, b, :, a, :] = blk
        H = H.reshape(k, K * q, K * q)
        H.diagonal(dim1=1, dim2=2).add_(self.lam * self._pen(Theta, q - 1))
        return H

    def hessian_from_curvature(self, A, W, outer, Theta) -> torch.Tensor:
        """sum_i w_i A_i (x) [x_i, 1][x_i, 1]^T + lam P for curvatures A (k, n, K, K): (k, p, p)."""
        k, n, K = A.shape[0], A.shape[1], A.shape[2]
        q = Theta.shape[1] // K
        M = (W[:, :, None, None] * A).reshape(k, n, K * K).transpose(1, 2)  # (k, K*K, n)
        packed = M.reshape(k * K * K, n) @ outer  # shape: (k*K*K, q(q+1)/2), the one GEMM
        # every (class a, class b) block is symmetric in (i, j): one gather unpacks it (an
        # index_select of whole rows; two advanced-index scatters cost 3x the GEMM at p = 31)
        H = packed.index_select(1, unpack_index(q, packed.device)).reshape(k * K * K, q, q)
        if K == 1:
            H = H.reshape(k, q, q)
        else:
            H = H.reshape(k, K, K, q, q).permute(0, 1, 3, 2, 4).reshape(k, K * q, K * q)
        pen = self.lam * self._pen(Theta, q - 1)
        H.diagonal(dim1=1, dim2=2).add_(pen)
        return H

    def curvature_product(self, WA, Xa, V) -> torch.Tensor:
        """sum_i w_i (A_i (V x_i)) x_i^T for weighted curvatures WA (k, n, K, K): (k, p)."""
        Zv = self.margins(V, Xa)  # shape: (k, n, K)
        AZv = torch.einsum("knab,knb->kna", WA, Zv)
        return torch.einsum("kna,nj->kaj", AZv, Xa).reshape(V.shape)

    # ------------------------------------------------------------------ batched math
    def value(self, Theta, X, y, W) -> torch.Tensor:
        """F_S(theta_k) for each row: Theta (k, p), X (n, d), y encoded (n,), W (k, n) -> (k,)."""
        Xa = augment(X)
        loss = self.loss.derivatives(self.margins(Theta, Xa), y, "loss")  # shape: (k, n)
        pen = self._pen(Theta, X.shape[1])
        return (W * loss).sum(1) + 0.5 * self.lam * (pen * Theta**2).sum(1)

    def grad(self, Theta, X, y, W) -> torch.Tensor:
        """grad F_S(theta_k) per row, differentiable in Theta: (k, p)."""
        Xa = augment(X)
        _, dZ = self.loss.derivatives(self.margins(Theta, Xa), y, "grad")  # shape: (k, n, K)
        G = torch.einsum("kn,knc,nj->kcj", W, dZ, Xa).reshape(Theta.shape)
        return G + self.lam * self._pen(Theta, X.shape[1]) * Theta

    def hessian(self, Theta, X, y, W, outer: torch.Tensor | None = None) -> torch.Tensor:
        """Hessian of F_S at theta_k per row (generalised Hessian for the SVM): (k, p, p).

        All k Hessians come from one GEMM against the packed per-row outer products
        ``outer = tensors.outer_products(X)`` (n, q(q+1)/2), which callers may precompute once
        per pool; without it (or where the table would exceed ``tensors.OUTER_BYTES``) each class
        block is one batched X^T diag(w a) X product instead.
        """
        Xa = augment(X)
        if outer is None:
            outer = packed_outer_or_none(X)
        _, _, A = self.loss.derivatives(self.margins(Theta, Xa), y, "curv")  # (k, n, K, K)
        if outer is None:
            return self.hessian_direct(A, W, Xa, Theta)
        return self.hessian_from_curvature(A, W, outer, Theta)

    def hvp(self, Theta, V, X, y, W) -> torch.Tensor:
        """Hessian-vector products H_S(theta_k) v_k without forming H: (k, p)."""
        Xa = augment(X)
        _, _, A = self.loss.derivatives(self.margins(Theta, Xa), y, "curv")
        out = self.curvature_product(W[:, :, None, None] * A, Xa, V)
        return out + self.lam * self._pen(Theta, X.shape[1]) * V

    def per_sample_loss(self, Theta, X, y) -> torch.Tensor:
        """Unweighted per-sample losses loss(theta_k; x_i, y_i): (k, n)."""
        return self.loss.derivatives(self.margins(Theta, augment(X)), y, "loss")

    def per_sample_grads(self, theta, X, y) -> torch.Tensor:
        """Gradients of the unweighted losses at one theta (1, p), no penalty: (n, p)."""
        Xa = augment(X)
        _, dZ = self.loss.derivatives(self.margins(theta, Xa), y, "grad")
        return torch.einsum("nc,nj->ncj", dZ[0], Xa).reshape(X.shape[0], -1)

    def residual(self, Theta, X, y, W) -> torch.Tensor:
        """The optimality residual ||grad F_S(theta_k)|| per row: (k,)."""
        return self.grad(Theta, X, y, W).norm(dim=1)

    def grad_scale(self, X, y, W, col_scale=None) -> torch.Tensor:
        """The scale of the relative stopping tolerance per row of W: (k,).

        ||g_0|| with g_0 = grad F_S(0) (divided by ``col_scale`` per coordinate when given), where
        ||g_0|| >= 1; below 1, max(||g_0||, min(1, CANCELLATION * ||t_0||)) with t_0 the sum of
        the magnitudes of g_0's terms, sum_i w_i |dZ_i(0)| (x) |[x_i, 1]|.

        Notes
        -----
        F_S and theta(S) are unchanged when every weight and lam are multiplied by the same
        factor, and so is this scale's ratio to the gradient: a fit with weights 1e-14 is
        stopped as tightly as one with weights 1 (an absolute floor of 1 would accept theta = 0
        there, far from theta(S)). Where g_0 itself cancels (theta = 0 nearly optimal) the
        floor CANCELLATION * ||t_0|| keeps the tolerance above the gradient's rounding level.
        """
        p = self.K * (X.shape[1] + 1)
        zero = torch.zeros(W.shape[0], p, dtype=DTYPE, device=X.device)
        G0 = self.grad(zero, X, y, W)
        if col_scale is not None:
            G0 = G0 / col_scale
        g0 = G0.norm(dim=1)
        small = g0 < 1.0
        if not bool(small.any()):
            return torch.clamp(g0, min=1.0)
        Xa = augment(X)
        _, dZ = self.loss.derivatives(self.margins(zero[small], Xa), y, "grad")
        T0 = torch.einsum("kn,knc,nj->kcj", W[small], dZ.abs(), Xa.abs()).reshape(-1, p)
        if col_scale is not None:
            T0 = T0 / col_scale
        floor = torch.ones_like(g0)
        floor[small] = torch.clamp(CANCELLATION * T0.norm(dim=1), max=1.0)
        return torch.maximum(g0, floor)

    # ------------------------------------------------------------------ gauge
    def gauge_direction(self, d: int) -> torch.Tensor | None:
        """Unit vector u of the null direction of F_S (shift-invariant loss, unpenalised
        intercepts: equal intercepts), or None where F_S has none. Float64, on the CPU."""
        if self.K == 1 or self.penalize_intercept or not self.loss.shift_invariant:
            return None
        u = torch.zeros(self.K, d + 1, dtype=torch.float64)
        u[:, d] = 1.0 / np.sqrt(self.K)
        return u.reshape(-1)

    def fix_gauge(self, Theta: torch.Tensor, d: int, inplace: bool = False) -> torch.Tensor:
        """Theta (k, p) moved to the gauge sum_c b_c = 0 where F_S has a gauge direction
        (centred intercepts), else Theta itself; in place on request."""
        if self.K == 1 or self.penalize_intercept or not self.loss.shift_invariant:
            return Theta
        T3 = Theta.reshape(Theta.shape[0], self.K, d + 1)
        T3 = T3 if inplace else T3.clone()
        T3[:, :, d] -= T3[:, :, d].mean(dim=1, keepdim=True)
        return T3.reshape(Theta.shape)


def optimality_residual(learner, thetas, X, y, masks=None) -> np.ndarray:
    """||grad F_S(theta_k)|| for each row (sum convention; zero exactly at theta(S)).

    Parameters
    ----------
    learner : ConvexLearner
    thetas : ndarray of shape (k, p) or (p,)
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n), optional
        Subset masks or weights; None means the full pool for every theta.

    Returns
    -------
    ndarray of shape (k,)
    """
    X, y_enc, K = learner.prepare(X, y)
    T = check_theta(thetas, K * (X.shape[1] + 1), name="thetas")
    W = (np.ones((T.shape[0], X.shape[0])) if masks is None
         else check_weight_matrix(masks, X.shape[0]))
    if W.shape[0] != T.shape[0]:
        if W.shape[0] == 1:
            W = np.broadcast_to(W, (T.shape[0], W.shape[1]))
        else:
            raise ValueError(f"masks has {W.shape[0]} rows but thetas has {T.shape[0]}")
    Xt, yt = learner.tensors(X, y_enc)
    G = learner.objective(K).grad(as_tensor(T), Xt, yt, as_tensor(W))
    return G.norm(dim=1).numpy()
