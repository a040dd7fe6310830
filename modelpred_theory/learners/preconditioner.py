"""The reference preconditioner of truncated Newton: the inverse Hessian at a warm start.

When many subsets are refitted from one warm start theta_0 (the full fit, as for attribution
ground truth), every subset's Hessian is close to the pool's Hessian at theta_0 with every weight
set to the subset's mean weight f:

    H_ref(f) = f sum_i A_i(theta_0) (x) [x_i, 1][x_i, 1]^T + lam P  (+ c u u^T on the gauge).

CG preconditioned by H_ref(f)^{-1} needs several times fewer iterations than with the Jacobi
(diagonal) preconditioner (``bench/attribution_benchmark.py --sections per_fit`` times both
from the same warm start). The preconditioner changes how fast CG converges, never
where Newton stops: the gradient, the line search and the stopping test are unchanged, so the
fixed point is the same theta(S).

Forming and inverting H_ref costs about K^2 n p^2 / (2 K) + p^3 flops once; the inverses are
kept per process (``reference_inverse``), keyed by the data, the warm start, the learner's
objective and f rounded to ``FRACTION_GRID``. A subset's preconditioner is thereby a function
of the subset alone, never of which other subsets share its chunk or process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from .tensors import DTYPE, augment, regularise_gauge

# Mean subset weights are rounded to multiples of 1/FRACTION_GRID to pick the reference; a
# subset whose rounded fraction is 0 (below 1/32 of the pool) gets the Jacobi preconditioner.
# Reason: a preconditioner off by a factor (1 + 1/32) costs CG about nothing, and 16 levels
# bound the number of inverses a mixed batch can need.
FRACTION_GRID = 16
# Largest p for which the (p, p) inverse is formed (8 bytes p^2 each: 537 MB at 8,192).
MAX_P = 8192
# Bytes of inverses kept per process (each 12 p^2: float64 and float32), least recently used
# dropped first; the newest is always kept. Reason: three at p = 5,130 (a mixed batch of half
# subsets and LOO rows needs two).
CACHE_BYTES = 2**30
_cache: OrderedDict = OrderedDict()


def fraction_buckets(W: torch.Tensor) -> torch.Tensor:
    """Each weight row's mean weight rounded to the grid, as integers in 0..FRACTION_GRID+: (k,)."""
    f = W.sum(1) / W.shape[1]
    return torch.round(f * FRACTION_GRID).to(torch.long)


def _key(obj, Xt, yt, theta_ref, bucket: int) -> str:
    h = hashlib.sha1()
    for t in (Xt, yt, theta_ref):
        a = t.detach().cpu().contiguous().numpy()
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    h.update(repr((type(obj.loss).__name__, float(obj.lam), obj.penalize_intercept, obj.K,
                   int(bucket), str(Xt.device))).encode())
    return h.hexdigest()


def build(obj, Xt, yt, theta_ref, fraction: float) -> torch.Tensor:
    """H_ref(fraction)^{-1} (p, p) in float64: the Hessian of F at ``theta_ref`` with every
    weight equal to ``fraction``, plus c u u^T along the gauge direction u (if any)."""
    Xa = augment(Xt)
    T = theta_ref.reshape(1, -1).to(DTYPE)
    Z = obj.margins(T, Xa)
    _, _, rest = obj.derivatives(Z, yt, False, False)  # curvatures A (1, n, K, K)
    W = torch.full((1, Xt.shape[0]), float(fraction), dtype=DTYPE, device=Xt.device)
    H = obj.hessian_direct(rest[0], W, Xa, T)[0]
    u = obj.gauge_direction(Xt.shape[1])
    H = regularise_gauge(H, None if u is None else u.to(H.device))
    # equilibrate as solvers.solve_systems does, so badly scaled columns cannot defeat Cholesky
    diag = torch.diagonal(H)
    Dinv = torch.where(diag > 0, diag.clamp(min=torch.finfo(DTYPE).tiny).rsqrt(),
                       torch.ones_like(diag))
    L, info = torch.linalg.cholesky_ex(H * Dinv[:, None] * Dinv[None, :])
    if int(info) != 0:
        return None
    M = torch.cholesky_inverse(L) * Dinv[:, None] * Dinv[None, :]
    if not bool(torch.isfinite(M).all()):
        return None
    return 0.5 * (M + M.T)


def reference_inverse(obj, Xt, yt, theta_ref, bucket: int):
    """The cached (float64, float32) pair of H_ref(bucket / FRACTION_GRID)^{-1}, built on
    first use in this process; None where it cannot serve (bucket 0, p > MAX_P, not SPD)."""
    p = theta_ref.numel()
    if bucket <= 0 or p > MAX_P:
        return None
    key = _key(obj, Xt, yt, theta_ref, bucket)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    M = build(obj, Xt, yt, theta_ref, bucket / FRACTION_GRID)
    pair = None if M is None else (M, M.float())
    _cache[key] = pair
    while len(_cache) > 1 and nbytes_cached() > CACHE_BYTES:
        _cache.popitem(last=False)
    return pair


class ReferencePreconditioner:
    """The reference inverses of k weight rows: row j is preconditioned by M_b, the reference
    inverse of its fraction bucket b, where one exists (Jacobi otherwise)."""

    def __init__(self, obj, Xt, yt, theta_ref, W):
        self.buckets = fraction_buckets(W).cpu()
        self.inverses = {int(b): reference_inverse(obj, Xt, yt, theta_ref, int(b))
                         for b in torch.unique(self.buckets).tolist()}

    @property
    def active(self) -> bool:
        """Whether any row has a reference inverse."""
        return any(v is not None for v in self.inverses.values())

    def for_rows(self, rows: torch.Tensor):
        """``precond(R, idx, Z)`` for ``solvers.cg_step`` on the weight rows ``rows``: returns Z
        with the rows ``idx`` (positions in ``rows``; None: all) that have a reference inverse
        replaced by M_b R (in R's dtype)."""
        b_rows = self.buckets[rows.cpu()]

        def apply(R: torch.Tensor, idx, Z: torch.Tensor) -> torch.Tensor:
            b = b_rows if idx is None else b_rows[idx.cpu()]
            j = 0 if R.dtype == DTYPE else 1
            for v in torch.unique(b).tolist():
                pair = self.inverses[int(v)]
                if pair is None:
                    continue
                sel = torch.nonzero(b == v).squeeze(1).to(R.device)
                if sel.numel() == R.shape[0]:
                    return R @ pair[j]
                Z[sel] = R[sel] @ pair[j]
            return Z

        return apply


def cached_keys() -> list[str]:
    """The keys of the cached inverses of this process, least recently used first."""
    return list(_cache)


def clear_cache() -> None:
    """Forget every cached reference inverse of this process."""
    _cache.clear()


def nbytes_cached() -> int:
    """Bytes held by the cached inverses (both precisions)."""
    return int(sum(np.prod(v[0].shape) * 12 for v in _cache.values() if v is not None))
