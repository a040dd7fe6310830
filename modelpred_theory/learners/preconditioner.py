"""The reference preconditioner of truncated Newton: a low-rank inverse Hessian at a warm start.

When many subsets are refitted from one warm start theta_0 (the full fit, as for attribution
ground truth), every subset's Hessian is close to the pool's Hessian at theta_0 with every weight
set to the subset's mean weight f:

    H_ref(f) = f G + lam P  (+ c u u^T on the gauge),   G = sum_i A_i(theta_0) (x) x~_i x~_i^T

(x~_i = [x_i, 1]). Its spectrum is a few hundred large eigenvalues from the data over a bulk at
lam (multinomial logistic on 512 random ReLU features of digits, n = 5,000, p = 5,130: 729 down
to 15 over the first 256, 3,130 of 5,130 within 17% of lam), plus at most K small ones along the
unpenalised intercepts. So the preconditioner is the inverse of H_ref(f) on a subspace that holds
both ends, and a scalar on the rest:

    M(f) = V diag(1 / theta) V^T + (I - V V^T) / t,

with (theta, V) the Ritz pairs of H_ref(f) on span(Q), Q an orthonormal basis of a randomized
range sketch of G (``RANK`` + ``OVERSAMPLE`` Gaussian columns, ``POWER`` subspace iterations)
joined with the unpenalised coordinates, and t = f g_r + lam, g_r the r-th Ritz value of G (the
size of the directions the sketch leaves out). This is the randomized Nystrom preconditioner of
Frangella, Tropp and Udell (2023) with the Ritz pairs of H_ref in place of the Nystrom
approximation, so the intercepts, whose curvature can sit below lam, are inverted too.
Where the basis spans everything (RANK + K >= p) M(f) is H_ref(f)^{-1} exactly.

Subsets that keep nearly the whole pool (mean weight >= 31/32, e.g. leave-one-out) get the
dense inverse H_ref(1)^{-1} instead (p <= ``DENSE_MAX_P``): their Hessian differs from H_ref by
the few removed points' curvature, a low-rank term, so CG preconditioned by the exact inverse
converges in a few iterations, where the low-rank form leaves the bulk's spread t / lam
(measured: exact leave-one-out of 256 points at n = 5,000, p = 5,130, see
``DENSE_MAX_P``). Far from the full pool the difference is full-rank, the exact inverse buys
nothing over the low-rank form, and its 2 p^2 flops per vector cost twice the CG product.

Applying M costs 4 p s flops per vector (s = the basis size), against 2 p^2 for a dense inverse
(10x less at p = 5,130), and it needs 16 p s bytes instead of 12 p^2. The sketch costs
2 + POWER products of G with s vectors, once per data, warm start and objective; each fraction
bucket then costs one (s, s) eigendecomposition. CG preconditioned this way needs about as many
iterations as with the dense inverse and about half the time (``bench/attribution_benchmark.py
--sections per_fit`` times it against the Jacobi preconditioner from the same start).

The preconditioner changes how fast CG converges, never where Newton stops: the gradient, the
line search and the stopping test are unchanged, so the fixed point is the same theta(S). Its
random sketch is drawn from a fixed seed, so a subset's preconditioner is a function of the
subset alone, never of which other subsets share its chunk or process.

References
----------
Z. Frangella, J. A. Tropp and M. Udell, "Randomized Nystrom preconditioning", SIAM J. Matrix
Anal. Appl. 44(2), 2023. N. Halko, P. G. Martinsson and J. A. Tropp, "Finding structure with
randomness", SIAM Review 53(2), 2011 (range sketch and subspace iteration).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import torch

from .tensors import DTYPE, augment, regularise_gauge

# Mean subset weights are rounded to multiples of 1/FRACTION_GRID to pick the reference; a
# subset whose rounded fraction is 0 (below 1/32 of the pool) gets the Jacobi preconditioner.
# Reason: a preconditioner off by a factor (1 + 1/32) costs CG about nothing, and 16 levels
# bound the number of reference solves a mixed batch can need.
FRACTION_GRID = 16
# Directions of G kept exactly, the sketch's extra columns, and its subspace iterations.
# Reason: digits ReLU, n = 5,000, p = 5,130, 64 half subsets from the full fit, per fit (quiet
# cores): dense inverse 0.50-0.59 s; exact eigenvectors of rank 128 / 256 / 512 with the
# intercepts 0.32 / 0.31 / 0.30 s, rank 256 without the intercepts 0.40 s; this sketch at rank
# 128 / 256 / 384 0.24-0.28 s, with 1 or 2 subspace iterations alike (0.26 s at 256). 256
# leaves margin where the spectrum decays more slowly.
RANK = 256
OVERSAMPLE = 16
POWER = 2
# Largest p for which near-full subsets (fraction bucket FRACTION_GRID and above) get the dense
# inverse (12 p^2 bytes in both precisions: 805 MB at 8,192). Reason: leave-one-out of 256
# points at n = 5,000, p = 5,130, from the full fit: dense 0.070 s per fit, low rank 0.153 s.
DENSE_MAX_P = 8192
# Columns of G products formed at once while sketching (memory n K COLUMN_BLOCK floats).
COLUMN_BLOCK = 64
# Bytes of preconditioners kept per process, least recently used dropped first; the newest is
# always kept. Reason: a low-rank one is about 12 p s bytes (17 MB at p = 5,130), the dense one
# of the near-full bucket 12 p^2 (316 MB): both, and every half-subset bucket, fit.
CACHE_BYTES = 2**30
_cache: OrderedDict = OrderedDict()
_sketches: OrderedDict = OrderedDict()


def fraction_buckets(W: torch.Tensor) -> torch.Tensor:
    """Each weight row's mean weight rounded to the grid, as integers in 0..FRACTION_GRID+: (k,)."""
    f = W.sum(1) / W.shape[1]
    return torch.round(f * FRACTION_GRID).to(torch.long)


def _key(obj, Xt, yt, theta_ref, *extra) -> str:
    h = hashlib.sha1()
    for t in (Xt, yt, theta_ref):
        a = t.detach().cpu().contiguous().numpy()
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    h.update(repr((type(obj.loss).__name__, float(obj.lam), obj.penalize_intercept, obj.K,
                   str(Xt.device), RANK, OVERSAMPLE, POWER) + extra).encode())
    return h.hexdigest()


def data_curvature_product(A: torch.Tensor, Xa: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """G V^T for G = sum_i A_i (x) x~_i x~_i^T: curvatures A (n, K, K), Xa (n, q), V (s, p) with
    p = K q; returns (s, p). Point-major GEMMs, ``COLUMN_BLOCK`` vectors at a time."""
    n, K, q = Xa.shape[0], A.shape[1], Xa.shape[1]
    out = torch.empty_like(V)
    for s0 in range(0, V.shape[0], COLUMN_BLOCK):
        Vb = V[s0:s0 + COLUMN_BLOCK]
        s = Vb.shape[0]
        Zv = (Xa @ Vb.reshape(s * K, q).T).reshape(n, s, K)
        AZv = torch.einsum("nab,nsb->nsa", A, Zv)
        out[s0:s0 + s] = (AZv.reshape(n, s * K).T @ Xa).reshape(s, K * q)
    return out


@dataclass
class Sketch:
    """The fraction-independent part of the reference: basis Q (p, s), T_G = Q^T G Q (s, s),
    g_r (the RANK-th Ritz value of G; 0 when Q spans everything), tr G, and the penalty and gauge
    in the basis."""

    Q: torch.Tensor
    TG: torch.Tensor
    g_r: float
    trace_G: float
    QPQ: torch.Tensor
    Qu: torch.Tensor | None
    pen_sum: float
    full: bool


def _orth(Y: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (p, s) of the columns of Y (p, s)."""
    return torch.linalg.qr(Y, mode="reduced")[0]


def sketch(obj, Xt, yt, theta_ref) -> Sketch:
    """The randomized range sketch of G at ``theta_ref`` (see the module docstring)."""
    Xa = augment(Xt)
    T = theta_ref.reshape(1, -1).to(DTYPE)
    _, _, rest = obj.derivatives(obj.margins(T, Xa), yt, False, False)
    A = rest[0][0]  # shape: (n, K, K), weight 1
    p, dev = T.shape[1], Xt.device
    pen = obj.penalty(Xt.shape[1], DTYPE, dev)
    free = torch.nonzero(pen == 0).squeeze(1)  # unpenalised coordinates (intercepts)
    u = obj.gauge_direction(Xt.shape[1])
    u = None if u is None else u.to(dev)
    width = RANK + OVERSAMPLE
    full = width + free.numel() >= p
    if full:
        Q = torch.eye(p, dtype=DTYPE, device=dev)
    else:
        gen = torch.Generator().manual_seed(0)
        Y = torch.randn(width, p, generator=gen, dtype=DTYPE).to(dev)
        Y = data_curvature_product(A, Xa, Y)
        for _ in range(POWER):
            Y = data_curvature_product(A, Xa, _orth(Y.T).T)
        E = torch.zeros(p, free.numel(), dtype=DTYPE, device=dev)
        E[free, torch.arange(free.numel(), device=dev)] = 1.0
        Q = _orth(torch.cat([Y.T, E], dim=1))
    GQ = data_curvature_product(A, Xa, Q.T.contiguous()).T
    TG = Q.T @ GQ
    TG = 0.5 * (TG + TG.T)
    g = torch.linalg.eigvalsh(TG).flip(0)
    g_r = 0.0 if full else float(g[min(RANK, g.numel()) - 1].clamp(min=0.0))
    trace_G = float(torch.einsum("naa,ni->", A, Xa**2))
    return Sketch(Q=Q, TG=TG, g_r=g_r, trace_G=trace_G, QPQ=(Q.T * pen) @ Q,
                  Qu=None if u is None else Q.T @ u, pen_sum=float(pen.sum()), full=full)


@dataclass(frozen=True)
class Inverse:
    """A reference preconditioner in one precision: dense M (p, p), or low rank
    M = V diag(w) V^T + I / t with V (p, s), w (s,) and ``inv_t`` = 1 / t (0 where V spans
    everything)."""

    M: torch.Tensor | None = None
    V: torch.Tensor | None = None
    w: torch.Tensor | None = None
    inv_t: float = 0.0

    def apply(self, R: torch.Tensor) -> torch.Tensor:
        """M R^T as rows: R (k, p) -> (k, p)."""
        if self.M is not None:
            return R @ self.M
        out = ((R @ self.V) * self.w) @ self.V.T
        return out if self.inv_t == 0.0 else out + self.inv_t * R

    def matrix(self) -> torch.Tensor:
        """M itself (p, p) (for tests and small problems)."""
        if self.M is not None:
            return self.M
        eye = torch.eye(self.V.shape[0], dtype=self.V.dtype, device=self.V.device)
        return (self.V * self.w) @ self.V.T + self.inv_t * eye

    def float(self) -> Inverse:
        """The same preconditioner in float32."""
        if self.M is not None:
            return Inverse(M=self.M.float())
        return Inverse(V=self.V.float(), w=self.w.float(), inv_t=self.inv_t)

    @property
    def nbytes(self) -> int:
        return int(sum(t.numel() * t.element_size() for t in (self.M, self.V, self.w)
                       if t is not None))


def low_rank(obj, Xt, yt, theta_ref, fraction: float, sk: Sketch | None = None):
    """The low-rank reference preconditioner for ``fraction`` (an ``Inverse`` with V, w, 1/t;
    M = H_ref^{-1} exactly where the basis spans everything); None where H_ref is not positive
    definite on the basis."""
    sk = sketch(obj, Xt, yt, theta_ref) if sk is None else sk
    f, lam = float(fraction), float(obj.lam)
    T = f * sk.TG + lam * sk.QPQ
    if sk.Qu is not None:  # the gauge term c u u^T, c the mean diagonal of H_ref (as in the solves)
        c = (f * sk.trace_G + lam * sk.pen_sum) / sk.Q.shape[0]
        T = T + c * torch.outer(sk.Qu, sk.Qu)
    theta, S = torch.linalg.eigh(0.5 * (T + T.T))
    if not bool(torch.isfinite(theta).all()) or float(theta.min()) <= 0.0:
        return None
    inv_t = 0.0 if sk.full else 1.0 / (f * sk.g_r + lam)
    return Inverse(V=sk.Q @ S, w=1.0 / theta - inv_t, inv_t=inv_t)


def dense(obj, Xt, yt, theta_ref, fraction: float):
    """H_ref(fraction)^{-1} (p, p) in float64 as an ``Inverse``: the Hessian of F at
    ``theta_ref`` with every weight equal to ``fraction``, plus c u u^T along the gauge
    direction u (if any); None where it is not positive definite."""
    Xa = augment(Xt)
    T = theta_ref.reshape(1, -1).to(DTYPE)
    _, _, rest = obj.derivatives(obj.margins(T, Xa), yt, False, False)  # A (1, n, K, K)
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
    return Inverse(M=0.5 * (M + M.T))


def uses_dense(bucket: int, p: int) -> bool:
    """Whether the fraction bucket gets the dense inverse (near-full subsets, p small enough)."""
    return bucket >= FRACTION_GRID and p <= DENSE_MAX_P


def reference_inverse(obj, Xt, yt, theta_ref, bucket: int):
    """The cached preconditioner of ``bucket`` (fraction bucket / FRACTION_GRID) as a pair of
    ``Inverse`` (float64, float32), built on first use in this process: dense for near-full
    subsets (``uses_dense``), low rank otherwise; None where it cannot serve (bucket 0, not
    positive definite)."""
    if bucket <= 0:
        return None
    key = _key(obj, Xt, yt, theta_ref, int(bucket))
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    fraction = bucket / FRACTION_GRID
    if uses_dense(bucket, theta_ref.numel()):
        built = dense(obj, Xt, yt, theta_ref, fraction)
    else:
        skey = _key(obj, Xt, yt, theta_ref)
        if skey not in _sketches:
            _sketches[skey] = sketch(obj, Xt, yt, theta_ref)
            while len(_sketches) > 1:  # one sketch per process: the newest warm start
                _sketches.popitem(last=False)
        built = low_rank(obj, Xt, yt, theta_ref, fraction, _sketches[skey])
    pair = None if built is None else (built, built.float())
    _cache[key] = pair
    while len(_cache) > 1 and nbytes_cached() > CACHE_BYTES:
        _cache.popitem(last=False)
    return pair


class ReferencePreconditioner:
    """The reference preconditioners of k weight rows: row j is preconditioned by M_b, that of
    its fraction bucket b, where one exists (Jacobi otherwise)."""

    def __init__(self, obj, Xt, yt, theta_ref, W):
        self.buckets = fraction_buckets(W).cpu()
        self.inverses = {int(b): reference_inverse(obj, Xt, yt, theta_ref, int(b))
                         for b in torch.unique(self.buckets).tolist()}

    @property
    def active(self) -> bool:
        """Whether any row has a reference preconditioner."""
        return any(v is not None for v in self.inverses.values())

    def for_rows(self, rows: torch.Tensor):
        """``precond(R, idx, Z)`` for ``solvers.cg_step`` on the weight rows ``rows``: returns Z
        with the rows ``idx`` (positions in ``rows``; None: all) that have a reference
        preconditioner replaced by M_b R (in R's dtype)."""
        b_rows = self.buckets[rows.cpu()]

        def precond(R: torch.Tensor, idx, Z: torch.Tensor) -> torch.Tensor:
            b = b_rows if idx is None else b_rows[idx.cpu()]
            j = 0 if R.dtype == DTYPE else 1
            for v in torch.unique(b).tolist():
                pair = self.inverses[int(v)]
                if pair is None:
                    continue
                sel = torch.nonzero(b == v).squeeze(1).to(R.device)
                if sel.numel() == R.shape[0]:
                    return pair[j].apply(R)
                Z[sel] = pair[j].apply(R[sel])
            return Z

        return precond


def cached_keys() -> list[str]:
    """The keys of the cached preconditioners of this process, least recently used first."""
    return list(_cache)


def clear_cache() -> None:
    """Forget every cached preconditioner and sketch of this process."""
    _cache.clear()
    _sketches.clear()


def nbytes_cached() -> int:
    """Bytes held by the cached preconditioners (both precisions) and sketches."""
    pre = sum(a.nbytes + b.nbytes for a, b in (v for v in _cache.values() if v is not None))
    sk = sum(s.Q.numel() * 8 + s.TG.numel() * 8 for s in _sketches.values())
    return int(pre + sk)
