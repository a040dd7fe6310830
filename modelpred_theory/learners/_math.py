"""The objective's math as pure batched torch functions (a mixin of ConvexLearner).

Sum convention: F_S(theta) = sum_i w_i loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2 for each
of k weight rows W (k, n) at once (see docs/design.md). Solvers, influence functions, the set
predictor's regulariser and the certificates all call these functions; nothing else holds math.
"""

from __future__ import annotations

import functools

import torch

from ._tensors import DTYPE, _triu_indices, augment, outer_products

# Largest packed outer-product table (bytes) built per pool. Reason: it holds n q(q+1)/2 floats
# (q = d + 1), 5 GB at n = 2e4, d = 256; above this, Hessians are formed from X directly.
OUTER_BYTES = 2**30


@functools.lru_cache(maxsize=16)
def _unpack_index(q: int, device) -> torch.Tensor:
    """(q*q,) positions in the packed upper triangle of each (i, j) of a symmetric (q, q)."""
    i, j = _triu_indices(q, device)
    pos = torch.empty(q, q, dtype=torch.long, device=device)
    ar = torch.arange(i.numel(), device=device)
    pos[i, j] = ar
    pos[j, i] = ar
    return pos.reshape(-1)


def packed_outer_or_none(X: torch.Tensor) -> torch.Tensor | None:
    """``outer_products(X)`` when it fits in OUTER_BYTES, else None (direct Hessians)."""
    n, q = X.shape[0], X.shape[1] + 1
    return outer_products(X) if 8 * n * q * (q + 1) // 2 <= OUTER_BYTES else None


class BatchedMath:
    """Objective, gradient, Hessian and Hessian-vector products for k subsets at once.

    Subclasses provide ``_link(Z, y, need)``: per-sample loss quantities from margins Z (k, n, K).
    """

    def penalty_vector(self, d: int, K: int, dtype=DTYPE, device=None) -> torch.Tensor:
        """Diagonal of P^T P as a (p,) 0/1 tensor (1 on penalised coordinates)."""
        P = torch.ones(K, d + 1, dtype=dtype, device=device)
        if not self.penalize_intercept:
            P[:, d] = 0.0
        return P.reshape(-1)

    @staticmethod
    def _margins(Theta: torch.Tensor, Xa: torch.Tensor, K: int) -> torch.Tensor:
        """Z[k, i, c] = <theta_k[c], [x_i, 1]>; Theta (k, p), Xa (n, d+1) -> (k, n, K)."""
        k = Theta.shape[0]
        T3 = Theta.reshape(k, K, Xa.shape[1])  # shape: (k, K, d+1)
        return torch.einsum("nj,kcj->knc", Xa, T3)

    def _pen(self, Theta: torch.Tensor, d: int, K: int) -> torch.Tensor:
        return self.penalty_vector(d, K, Theta.dtype, Theta.device)

    def batch_objective(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """F_S(theta_k) for each row: Theta (k, p), X (n, d), y encoded (n,), W (k, n) -> (k,)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        loss = self._link(self._margins(Theta, Xa, K), y, "loss")  # shape: (k, n)
        pen = self._pen(Theta, X.shape[1], K)
        return (W * loss).sum(1) + 0.5 * self.lam * (pen * Theta**2).sum(1)

    def batch_grad(self, Theta, X, y, W, K: int | None = None) -> torch.Tensor:
        """grad F_S(theta_k) per row, differentiable in Theta: (k, p)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        _, dZ = self._link(self._margins(Theta, Xa, K), y, "grad")  # shape: (k, n, K)
        G = torch.einsum("kn,knc,nj->kcj", W, dZ, Xa).reshape(Theta.shape)
        return G + self.lam * self._pen(Theta, X.shape[1], K) * Theta

    def batch_hessian(self, Theta, X, y, W, K: int | None = None,
                      outer: torch.Tensor | None = None) -> torch.Tensor:
        """Hessian of F_S at theta_k per row (generalised Hessian for the SVM): (k, p, p).

        All k Hessians come from one GEMM against the packed per-row outer products
        ``outer = outer_products(X)`` (n, q(q+1)/2), which callers may precompute once per pool;
        without it (or where the table would exceed OUTER_BYTES) each class block is one
        batched X^T diag(w a) X product instead.
        """
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        if outer is None:
            outer = packed_outer_or_none(X)
        _, _, A = self._link(self._margins(Theta, Xa, K), y, "curv")  # shape: (k, n, K, K)
        if outer is None:
            return self._hessian_direct(A, W, Xa, Theta)
        return self._hessian_from_curvature(A, W, outer, Theta)

    def _hessian_direct(self, A, W, Xa, Theta) -> torch.Tensor:
        """As ``_hessian_from_curvature`` without the packed table: per class pair (a, b), one
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
        H.diagonal(dim1=1, dim2=2).add_(self.lam * self._pen(Theta, q - 1, K))
        return H

    def _hessian_from_curvature(self, A, W, outer, Theta) -> torch.Tensor:
        """sum_i w_i A_i (x) [x_i, 1][x_i, 1]^T + lam P for curvatures A (k, n, K, K): (k, p, p)."""
        k, n, K = A.shape[0], A.shape[1], A.shape[2]
        q = Theta.shape[1] // K
        M = (W[:, :, None, None] * A).reshape(k, n, K * K).transpose(1, 2)  # (k, K*K, n)
        packed = M.reshape(k * K * K, n) @ outer  # shape: (k*K*K, q(q+1)/2), the one GEMM
        # every (class a, class b) block is symmetric in (i, j): one gather unpacks it (an
        # index_select of whole rows; two advanced-index scatters cost 3x the GEMM at p = 31)
        H = packed.index_select(1, _unpack_index(q, packed.device)).reshape(k * K * K, q, q)
        if K == 1:
            H = H.reshape(k, q, q)
        else:
            H = H.reshape(k, K, K, q, q).permute(0, 1, 3, 2, 4).reshape(k, K * q, K * q)
        pen = self.lam * self._pen(Theta, q - 1, K)
        H.diagonal(dim1=1, dim2=2).add_(pen)
        return H

    def _grad_from(self, dZ, W, Xa, Theta, K) -> torch.Tensor:
        """grad F_S from the margin derivatives dZ (k, n, K): (k, p)."""
        G = torch.einsum("kn,knc,nj->kcj", W, dZ, Xa).reshape(Theta.shape)
        return G + self.lam * self._pen(Theta, Xa.shape[1] - 1, K) * Theta

    def _objective_from(self, loss, W, Theta, K) -> torch.Tensor:
        """F_S from per-sample losses (k, n): (k,)."""
        pen = self._pen(Theta, Theta.shape[1] // K - 1, K)
        return (W * loss).sum(1) + 0.5 * self.lam * (pen * Theta**2).sum(1)

    def batch_hvp(self, Theta, V, X, y, W, K: int | None = None) -> torch.Tensor:
        """Hessian-vector products H_S(theta_k) v_k without forming H: (k, p)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        _, _, A = self._link(self._margins(Theta, Xa, K), y, "curv")
        out = self._curvature_product(W[:, :, None, None] * A, Xa, V, K)
        return out + self.lam * self._pen(Theta, X.shape[1], K) * V

    def _curvature_product(self, WA, Xa, V, K: int) -> torch.Tensor:
        """sum_i w_i (A_i (V x_i)) x_i^T for weighted curvatures WA (k, n, K, K): (k, p)."""
        Zv = self._margins(V, Xa, K)  # shape: (k, n, K)
        AZv = torch.einsum("knab,knb->kna", WA, Zv)
        return torch.einsum("kna,nj->kaj", AZv, Xa).reshape(V.shape)

    def batch_per_sample_loss(self, Theta, X, y, K: int | None = None) -> torch.Tensor:
        """Unweighted per-sample losses loss(theta_k; x_i, y_i): (k, n)."""
        Xa = augment(X)
        K = K or Theta.shape[1] // Xa.shape[1]
        return self._link(self._margins(Theta, Xa, K), y, "loss")

    def _gauge_direction(self, d: int, K: int) -> torch.Tensor | None:
        """Unit vector of the null direction of F_S (multinomial, unpenalised intercepts)."""
        return None

    def _fix_gauge(self, Theta: torch.Tensor, d: int, K: int,
                   inplace: bool = False) -> torch.Tensor:
        """Theta moved to the learner's gauge (e.g. centred intercepts); in place on request."""
        return Theta
