"""Fitting entry points (a mixin of ConvexLearner): ``fit`` and the batched ``fit_subsets``.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam),
see docs/design.md. Inputs are validated, and their magnitudes checked for float64 overflow,
before any work; an unconverged fit emits a ConvergenceWarning with the count and the worst
residual; chunks of subsets may run on a CUDA device or in parallel processes (joblib), with
results bit-identical to the serial run.
"""

from __future__ import annotations

import numpy as np
import torch

from ._math import packed_outer_or_none
from ._numerics import check_magnitudes, check_start, warn_unconverged
from ._tensors import _as_tensor, resolve_device
from ._validation import check_sample_weight, check_theta, check_weight_matrix

# Memory budget (bytes) per chunk of subsets in fit_subsets.
_CHUNK_BYTES = 256 * 2**20
# Smaller budget on the CG path. Reason: a chunk iterates CG until its slowest subset is done,
# so big chunks carry finished subsets along; measured on digits (pool 300, p = 650, half
# subsets): 40-80 subsets per chunk 240-300 fits/s, 160 subsets 196, 400 subsets 150-184.
_CG_CHUNK_BYTES = 64 * 2**20


def _check_n_jobs(n_jobs, dev: torch.device) -> int:
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


def _fit_chunk(learner, X, y_enc, K, W, T0, n_threads):
    """Solve one chunk in a worker process; returns numpy (thetas, grad_norms, n_iter, conv)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)  # the parent's setting: bit-identical to the serial run
    try:
        Xt, yt = learner._tensors(X, y_enc)
        T = learner._initial(T0, W.shape[0], K * (X.shape[1] + 1))
        Tc, g, it, cv = learner._newton(Xt, yt, _as_tensor(W), T, K,
                                        outer=learner._outer_for(Xt, K))
    finally:  # a Dask or Ray worker keeps its own setting for its next task
        torch.set_num_threads(previous)
    return Tc.numpy(), g.numpy(), it.numpy(), cv.numpy()


class Fitting:
    """``fit`` (one weight vector) and ``fit_subsets`` (k subsets, batched)."""

    def fit(self, X, y, sample_weight=None, theta0=None, *, device="cpu"):
        """Exact minimiser of F_S with weights ``sample_weight`` (sum convention, C = 1/lam).

        F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Dense, pandas or scipy.sparse (made dense).
        y : ndarray of shape (n,)
            Targets (ridge) or class labels of any sortable kind (classifiers; see
            ``learner.classes``).
        sample_weight : ndarray of shape (n,), optional
            Non-negative weights (a subset mask is weights in {0, 1}; fractional weights are
            allowed); default all ones.
        theta0 : ndarray of shape (p,), optional
            Warm start.
        device : {"cpu", "cuda", "auto"} or torch.device
            Where the solve runs (float64 on every device).

        Returns
        -------
        FitResult
            ``converged`` is True only for a finite residual below tolerance; otherwise a
            ``ConvergenceWarning`` is issued.
        """
        from .base import FitResult

        dev = resolve_device(device)
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        self._check_existence(w[None], y_enc, K, "y" if sample_weight is None
                              else "sample_weight")
        check_magnitudes(self, X, y_enc, w, "sample_weight")
        p = K * (X.shape[1] + 1)
        Theta = self._initial(theta0, 1, p, device=dev)
        if theta0 is not None:
            check_start(self, Theta.cpu().numpy(), X, w)
        Xt, yt = self._tensors(X, y_enc, device=dev)
        T, g, it, conv = self._newton(Xt, yt, _as_tensor(w, device=dev)[None], Theta, K)
        conv_np = conv.cpu().numpy()
        warn_unconverged(conv_np, g.cpu().numpy(), self.max_iter,
                         f"{type(self).__name__}.fit")
        return FitResult(T[0].cpu().numpy().copy(), float(g[0]), int(it[0]), bool(conv_np[0]),
                         getattr(y_enc, "classes_", None))

    def _outer_for(self, Xt, K: int):
        """Packed outer products for the direct (Hessian) path; None on the CG path, where they
        would take n (d+1)(d+2)/2 floats (25 GB at n = 2e4, d = 784) for nothing, and where
        the table would exceed ``_math.OUTER_BYTES`` (Hessians then come from X directly)."""
        return None if self.uses_cg(K * (Xt.shape[1] + 1)) else packed_outer_or_none(Xt)

    def default_chunk_size(self, n: int, p: int, K: int) -> int:
        """Subsets per chunk within ~256 MB: k (p, p) Hessians on the direct path; on the CG
        path (~64 MB) the per-subset curvatures (n, K, K) and a few (p,) CG vectors only."""
        if not self.uses_cg(p):
            return self.hessian_chunk_size(n, p, K)
        per_subset = 8 * (6 * n * K * K + 3 * n * K + 16 * p)
        return int(max(1, min(4096, _CG_CHUNK_BYTES // per_subset)))

    def hessian_chunk_size(self, n: int, p: int, K: int) -> int:
        """Subsets per chunk within ~256 MB for code that forms k (p, p) Hessians."""
        per_subset = 8 * (4 * p * p + 6 * n * K * K + 8 * p)
        return int(max(1, min(4096, _CHUNK_BYTES // per_subset)))

    def fit_subsets(self, X, y, masks, theta0=None, *, chunk_size: int | None = None,
                    progress: bool = False, return_info: bool = False, device="cpu",
                    n_jobs: int | None = None):
        """Exact theta(S) for k subsets at once (batched Newton, one GEMM per iteration).

        Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Boolean masks or non-negative weights over the pool (fractional weights allowed;
            validated by ``subsets.check_masks(masks, n, weights=True)``).
        theta0 : ndarray of shape (p,) or (k, p), or "pool", optional
            Warm start(s). "pool": start every subset from the fit on all of X (one extra
            fit; fewer Newton iterations for subsets near the pool, e.g. 3.5 instead of 5.0
            on 50-100% subsets of breast_cancer). A start worse than zero for a subset
            (F_S(theta0) > F_S(0)) is replaced by zero, so a warm start never hurts.
        chunk_size : int, optional
            Subsets per batch; by default sized to a ~256 MB budget. The chunks are the same
            whatever ``n_jobs`` is.
        progress : bool
            Show a tqdm progress bar over chunks.
        return_info : bool
            Return a SubsetFitResult (thetas, grad_norms, n_iter, converged, classes_).
        device : {"cpu", "cuda", "auto"} or torch.device
            Where the chunks are solved (float64 everywhere); "auto" is CUDA when available.
        n_jobs : int, optional
            Solve chunks over this many joblib workers (-1: all cores) on joblib's active
            backend: local processes (loky) by default, Dask distributed or Ray under
            ``joblib.parallel_config(backend=...)``. Each chunk runs at this process's torch
            thread count, so the results are bit-identical to the serial run (None or 1).
            CPU only.

        Returns
        -------
        thetas : ndarray of shape (k, p), or SubsetFitResult
            A ``ConvergenceWarning`` names how many subsets did not converge and the worst
            residual.
        """
        dev = resolve_device(device)
        jobs = _check_n_jobs(n_jobs, dev)
        X, y_enc, K = self._prepare(X, y)
        n, d = X.shape
        W = check_weight_matrix(masks, n)
        self._check_existence(W, y_enc, K, "masks")
        check_magnitudes(self, X, y_enc, W, "masks")
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
            check_start(self, T0, X, W)
        if chunk_size is None:
            chunk_size = self.default_chunk_size(n, p, K)
        if isinstance(chunk_size, bool) or not (isinstance(chunk_size, int | np.integer)
                                                and chunk_size >= 1):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if pool_start:  # every input is valid: now the one extra fit
            T0 = self.fit(X, y, device=dev).theta[None, :]
        bounds = [(s, min(k, s + chunk_size)) for s in range(0, k, chunk_size)]

        def init(s, e):
            return None if T0 is None else (T0 if T0.shape[0] == 1 else T0[s:e])

        results = self._run_chunks(X, y_enc, K, W, bounds, init, dev, jobs)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(bounds), desc=f"exact {self.name}", unit="chunk")
        thetas, gn = np.empty((k, p)), np.empty(k)
        its, conv = np.empty(k, dtype=np.int64), np.empty(k, dtype=bool)
        for (s, e), (Tc, g, it, cv) in zip(bounds, results, strict=True):
            thetas[s:e], gn[s:e], its[s:e], conv[s:e] = Tc, g, it, cv
        warn_unconverged(conv, gn, self.max_iter, f"{type(self).__name__}.fit_subsets")
        if return_info:
            from .base import SubsetFitResult

            return SubsetFitResult(thetas, gn, its, conv, getattr(y_enc, "classes_", None))
        return thetas

    def _run_chunks(self, X, y_enc, K, W, bounds, init, dev, jobs):
        """Yield (thetas, grad_norms, n_iter, converged) per chunk, serial or with joblib."""
        if jobs > 1 and len(bounds) > 1:
            from joblib import Parallel, delayed

            n_threads = torch.get_num_threads()
            y_plain = np.asarray(y_enc)
            # joblib's active backend (loky processes by default; Dask or Ray under
            # joblib.parallel_config), results in chunk order
            return Parallel(n_jobs=jobs, prefer="processes", return_as="generator")(
                delayed(_fit_chunk)(self, X, y_plain, K, W[s:e], init(s, e), n_threads)
                for s, e in bounds)

        def serial():
            Xt, yt = self._tensors(X, y_enc, device=dev)
            outer = self._outer_for(Xt, K)
            for s, e in bounds:
                T = self._initial(init(s, e), e - s, K * (X.shape[1] + 1), device=dev)
                Tc, g, it, cv = self._newton(Xt, yt, _as_tensor(W[s:e], device=dev), T, K,
                                             outer=outer)
                yield Tc.cpu().numpy(), g.cpu().numpy(), it.cpu().numpy(), cv.cpu().numpy()

        return serial()

    def residual_tolerance(self, X, y, masks=None) -> np.ndarray:
        """Absolute stopping tolerance tol * max(1, ||grad F_S(0)||) per subset: (k,).

        A fit is converged when its optimality residual ||grad F_S(theta)|| is below this.
        """
        X, y_enc, K = self._prepare(X, y)
        W = (np.ones((1, X.shape[0])) if masks is None
             else check_weight_matrix(masks, X.shape[0]))
        Xt, yt = self._tensors(X, y_enc)
        return (self.tol * self._grad_scale(Xt, yt, _as_tensor(W), K)).numpy()

