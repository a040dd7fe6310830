"""Fitting: ``fit`` and the batched ``fit_subsets``, their chunking, joblib engine and device.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam),
see docs/design.md. Inputs are validated, and their magnitudes checked for float64 overflow,
before any work; the solve itself is ``learner.solve`` (``solvers.newton`` over the learner's
objective); an unconverged fit emits a ConvergenceWarning with the count and the worst residual;
chunks of subsets may run on a CUDA device or in parallel processes (joblib), with results
bit-identical to the serial run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .numerics import check_magnitudes, check_start, warn_unconverged
from .tensors import DTYPE, as_tensor, packed_outer_or_none, resolve_device
from .validation import check_sample_weight, check_theta, check_weight_matrix

# Memory budget (bytes) per chunk of subsets in fit_subsets.
_CHUNK_BYTES = 256 * 2**20
# Budget on the CG path, and its cap on subsets per chunk. Reason: there a chunk's cost is
# GEMMs against X whose width grows with the chunk (finished subsets drop out of CG at once),
# so wide chunks pay (multinomial logistic at n = 5,000, p = 5,130, half subsets warm-started:
# 64 subsets per chunk clearly faster per fit than 16; bench/attribution_benchmark.py per_fit).
_CG_CHUNK_BYTES = 384 * 2**20
_CG_MAX_CHUNK = 256


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
        True when grad_norm is finite and <= tol * ||grad F_S(0)|| (floored below 1 where
        that gradient cancels; see ``Objective.grad_scale``).
    classes_ : ndarray of shape (K,) or None
        The class labels the codes decode to (sorted, as scikit-learn); None for ridge.
    """

    theta: np.ndarray
    grad_norm: float
    n_iter: int
    converged: bool
    classes_: np.ndarray | None = field(default=None)


@dataclass
class SubsetFitResult:
    """Batched exact fits: thetas (k, p), grad_norms (k,), n_iter (k,), converged (k,), classes_."""

    thetas: np.ndarray
    grad_norms: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    classes_: np.ndarray | None = field(default=None)


def check_n_jobs(n_jobs, dev: torch.device) -> int:
    """Workers for ``n_jobs`` (None: 1; -1: all cores), refused with a device other than CPU."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None, a positive integer or -1, got {n_jobs!r}")
    if n_jobs < 0:
        import os

        n_jobs = max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    if n_jobs > 1 and dev.type != "cpu":
        raise ValueError(f"n_jobs={n_jobs} runs chunks in CPU processes; it cannot be combined "
                         f"with device={str(dev)!r} (use one or the other)")
    return int(n_jobs)


def initial(theta0, k: int, p: int, device=None) -> torch.Tensor:
    """The (k, p) float64 starts: zeros, or theta0 (p,) / (k, p) validated and broadcast."""
    if theta0 is None:
        return torch.zeros(k, p, dtype=DTYPE, device=device)
    T = check_theta(theta0, p, name="theta0")
    if T.shape[0] not in (1, k):
        raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T.shape}")
    return as_tensor(np.broadcast_to(T, (k, p)).copy(), device=device)


def outer_for(learner, Xt, K: int):
    """Packed outer products for the direct (Hessian) path; None on the CG path, where they
    would take n (d+1)(d+2)/2 floats (25 GB at n = 2e4, d = 784) for nothing, and where
    the table would exceed ``tensors.OUTER_BYTES`` (Hessians then come from X directly)."""
    return None if learner.uses_cg(K * (Xt.shape[1] + 1)) else packed_outer_or_none(Xt)


def hessian_chunk_size(n: int, p: int, K: int) -> int:
    """Subsets per chunk within ~256 MB for code that forms k (p, p) Hessians."""
    per_subset = 8 * (4 * p * p + 6 * n * K * K + 8 * p)
    return int(max(1, min(4096, _CHUNK_BYTES // per_subset)))


def default_chunk_size(n: int, p: int, K: int, cg: bool, low_rank: bool = False) -> int:
    """Subsets per chunk within ~256 MB: k (p, p) Hessians on the direct path; on the CG
    path (~384 MB, at most 256 subsets) the per-subset curvatures (n, K, K), or with
    ``low_rank`` (softmax) the class probabilities (n, K) and the CG vectors only."""
    if not cg:
        return hessian_chunk_size(n, p, K)
    curv = 12 * n * K if low_rank else 6 * n * K * K + 3 * n * K
    per_subset = 8 * (curv + 16 * p)
    return int(max(1, min(_CG_MAX_CHUNK, _CG_CHUNK_BYTES // per_subset)))


def reference_of(T0):
    """The common warm start (p,) of a one-row theta0 (None otherwise): the point whose
    low-rank inverse Hessian preconditions CG for every subset (``preconditioner``)."""
    return None if T0 is None or T0.shape[0] != 1 else as_tensor(T0[0])


def _fit_chunk(learner, X, y_enc, K, W, T0, n_threads):
    """Solve one chunk in a worker process; returns numpy (thetas, grad_norms, n_iter, conv)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)  # the parent's setting: bit-identical to the serial run
    try:
        Xt, yt = learner.tensors(X, y_enc)
        T = initial(T0, W.shape[0], K * (X.shape[1] + 1))
        Tc, g, it, cv = learner.solve(Xt, yt, as_tensor(W), T, K, outer=outer_for(learner, Xt, K),
                                      reference=reference_of(T0))
    finally:  # a Dask or Ray worker keeps its own setting for its next task
        torch.set_num_threads(previous)
    return Tc.numpy(), g.numpy(), it.numpy(), cv.numpy()


def fit(learner, X, y, sample_weight=None, theta0=None, *, device="cpu") -> FitResult:
    """``learner.fit``: the exact minimiser of F_S with weights ``sample_weight``."""
    dev = resolve_device(device)
    X, y_enc, K = learner.prepare(X, y)
    w = check_sample_weight(sample_weight, X.shape[0])
    learner.check_existence(w[None], y_enc, K, "y" if sample_weight is None
                            else "sample_weight")
    check_magnitudes(learner, X, y_enc, w, "sample_weight")
    p = K * (X.shape[1] + 1)
    Theta = initial(theta0, 1, p, device=dev)
    if theta0 is not None:
        check_start(learner, Theta.cpu().numpy(), X, w)
    Xt, yt = learner.tensors(X, y_enc, device=dev)
    T, g, it, conv = learner.solve(Xt, yt, as_tensor(w, device=dev)[None], Theta, K)
    conv_np = conv.cpu().numpy()
    warn_unconverged(conv_np, g.cpu().numpy(), learner.max_iter,
                     f"{type(learner).__name__}.fit", stacklevel=4)
    return FitResult(T[0].cpu().numpy().copy(), float(g[0]), int(it[0]), bool(conv_np[0]),
                     getattr(y_enc, "classes_", None))


def fit_subsets(learner, X, y, masks, theta0=None, *, chunk_size=None, progress=False,
                return_info=False, device="cpu", n_jobs=None):
    """``learner.fit_subsets``: exact theta(S) for k subsets at once (see its docstring)."""
    dev = resolve_device(device)
    jobs = check_n_jobs(n_jobs, dev)
    X, y_enc, K = learner.prepare(X, y)
    n, d = X.shape
    W = check_weight_matrix(masks, n)
    learner.check_existence(W, y_enc, K, "masks")
    check_magnitudes(learner, X, y_enc, W, "masks")
    k, p = W.shape[0], K * (d + 1)
    T0 = None
    pool_start = isinstance(theta0, str)
    if pool_start and theta0 != "pool":
        raise ValueError(f"theta0 must be an array or 'pool', got {theta0!r}")
    if pool_start:
        theta0 = None
    if theta0 is not None:
        T0 = check_theta(theta0, p, name="theta0")
        if T0.shape[0] not in (1, k):
            raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T0.shape}")
        check_start(learner, T0, X, W)
    if chunk_size is None:
        chunk_size = learner.default_chunk_size(n, p, K)
    if isinstance(chunk_size, bool) or not (isinstance(chunk_size, int | np.integer)
                                            and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if pool_start:  # every input is valid: now the one extra fit
        T0 = learner.fit(X, y, device=dev).theta[None, :]
    bounds = [(s, min(k, s + chunk_size)) for s in range(0, k, chunk_size)]

    def init(s, e):
        return None if T0 is None else (T0 if T0.shape[0] == 1 else T0[s:e])

    results = _run_chunks(learner, X, y_enc, K, W, bounds, init, dev, jobs, reference_of(T0))
    bar = None
    if progress:  # counted in fits: total k, advanced by each chunk's size as it finishes
        from tqdm.auto import tqdm

        bar = tqdm(total=k, desc=f"exact {learner.name}", unit="fit")
    thetas, gn = np.empty((k, p)), np.empty(k)
    its, conv = np.empty(k, dtype=np.int64), np.empty(k, dtype=bool)
    try:
        for (s, e), (Tc, g, it, cv) in zip(bounds, results, strict=True):
            thetas[s:e], gn[s:e], its[s:e], conv[s:e] = Tc, g, it, cv
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    warn_unconverged(conv, gn, learner.max_iter, f"{type(learner).__name__}.fit_subsets",
                     stacklevel=4)
    if return_info:
        return SubsetFitResult(thetas, gn, its, conv, getattr(y_enc, "classes_", None))
    return thetas


def _run_chunks(learner, X, y_enc, K, W, bounds, init, dev, jobs, reference):
    """Yield (thetas, grad_norms, n_iter, converged) per chunk, serial or with joblib."""
    if jobs > 1 and len(bounds) > 1:
        from joblib import Parallel, delayed

        n_threads = torch.get_num_threads()
        y_plain = np.asarray(y_enc)
        # joblib's active backend (loky processes by default; Dask or Ray under
        # joblib.parallel_config), results in chunk order
        return Parallel(n_jobs=jobs, prefer="processes", return_as="generator")(
            delayed(_fit_chunk)(learner, X, y_plain, K, W[s:e], init(s, e), n_threads)
            for s, e in bounds)

    def serial():
        Xt, yt = learner.tensors(X, y_enc, device=dev)
        outer = outer_for(learner, Xt, K)
        ref = None if reference is None else reference.to(dev)
        for s, e in bounds:
            T = initial(init(s, e), e - s, K * (X.shape[1] + 1), device=dev)
            Tc, g, it, cv = learner.solve(Xt, yt, as_tensor(W[s:e], device=dev), T, K,
                                          outer=outer, reference=ref)
            yield Tc.cpu().numpy(), g.cpu().numpy(), it.cpu().numpy(), cv.cpu().numpy()

    return serial()


def residual_tolerance(learner, X, y, masks=None) -> np.ndarray:
    """``learner.residual_tolerance``: tol * ``Objective.grad_scale`` per subset, (k,)."""
    X, y_enc, K = learner.prepare(X, y)
    W = (np.ones((1, X.shape[0])) if masks is None
         else check_weight_matrix(masks, X.shape[0]))
    Xt, yt = learner.tensors(X, y_enc)
    return (learner.tol * learner.objective(K).grad_scale(Xt, yt, as_tensor(W))).numpy()
