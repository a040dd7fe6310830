"""Training pairs (S, theta(S)) for ModelPred: sampling, exact labelling, and a resumable cache.

Labels are exact minimisers of the learner's SUM objective (docs/design.md)

    F_S(theta) = sum_{i in S} w_i loss_i(theta) + (lam / 2) ||P theta||^2,   C = 1 / lam,

computed by ``learner.fit_subsets`` (batched Newton). Labelling is the expensive part of
training a set predictor, so it runs in chunks, in parallel through joblib when asked
(``engine``: local processes, Dask or Ray), with a progress bar, and, given a ``cache_dir``,
every finished chunk is written by this process to its own self-checking ``.npz`` file
atomically (``cache``). An interrupted run resumes where it stopped: finished chunks are loaded,
never recomputed; damaged or foreign chunks are recomputed. The cache key hashes the learner
(class and parameters), the data (X and y bytes) and the masks themselves (hence every sampler
setting and seed).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import subsets as _subsets
from . import engine as _engine
from .cache import ChunkStore

__all__ = ["TrainingPairs", "data_fingerprint", "generate_pairs", "label_masks", "sample_masks"]

_CACHE_VERSION = 2
SAMPLERS = ("permutation", "random")


@dataclass
class TrainingPairs:
    """Exact pairs (S, theta(S)) over one pool.

    Attributes
    ----------
    masks : ndarray of shape (k, n), bool
    thetas : ndarray of shape (k, p), float64
        theta(S) under the sum convention, from ``learner.fit_subsets``.
    groups : ndarray of shape (k,), int64
        Permutation id of each row (permutation sampler) or the row index (random sampler):
        split train/validation/test by whole groups (``subsets.split_by_group``).
    grad_norms : ndarray of shape (k,)
        ||grad F_S(theta(S))|| of each label (the certificate that it is exact).
    cache_path : str or None
        Folder of the on-disk cache, when one was used.
    settings : dict
        The sampler settings.
    """

    masks: np.ndarray
    thetas: np.ndarray
    groups: np.ndarray
    grad_norms: np.ndarray
    cache_path: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        """|S| of each row, (k,)."""
        return self.masks.sum(axis=1)

    def __len__(self) -> int:
        return int(self.masks.shape[0])


def _sha(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _labels_for_hash(y) -> np.ndarray:
    """y as float64 when numeric, else as unicode strings (labels of any sortable kind)."""
    y = np.asarray(y)
    return y.astype(np.float64) if y.dtype.kind in "biuf" else y.astype(str)


def data_fingerprint(X, y) -> str:
    """SHA-256 (first 16 hex digits) of X as float64 and y (float64 or strings), shapes too."""
    return _sha(np.asarray(X, dtype=np.float64), _labels_for_hash(y))[:16]


def learner_spec(learner) -> dict:
    """JSON-able description of a learner: class, module and ``get_params()``."""
    return {"class": type(learner).__name__, "module": type(learner).__module__,
            "params": learner.get_params()}


def sample_masks(n: int, y=None, *, sampler: str = "permutation", n_permutations: int = 40,
                 n_subsets: int = 10000, min_size: int = 1, max_size: int | None = None,
                 step: int = 1, require_all_classes: bool = False,
                 rng: np.random.Generator | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training subsets of a pool of n points.

    Parameters
    ----------
    n : int
        Pool size.
    y : ndarray of shape (n,), optional
        Labels; needed when ``require_all_classes``.
    sampler : {"permutation", "random"}
        "permutation": every prefix pi[:s], s = min_size, min_size + step, ..., of
        ``n_permutations`` random permutations (the paper's default); "random": ``n_subsets``
        subsets with size uniform in [min_size, max_size] and uniform members.
    require_all_classes : bool
        Keep only subsets holding every class of ``y`` (needed with an unpenalised intercept:
        theta(S) does not exist otherwise).
    rng : numpy.random.Generator or int

    Returns
    -------
    masks : ndarray of shape (k, n), bool
    groups : ndarray of shape (k,), int64
        Permutation ids, or row indices for the random sampler.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    yy = y if require_all_classes else None
    if sampler == "permutation":
        masks, groups, _ = _subsets.permutation_prefixes(
            n, n_permutations, rng=rng, min_size=min_size, max_size=max_size, step=step, y=yy,
            require_all_classes=require_all_classes)
    else:
        masks = _subsets.random_subsets(n, n_subsets, rng=rng, min_size=min_size,
                                        max_size=max_size, y=yy,
                                        require_all_classes=require_all_classes)
        groups = np.arange(masks.shape[0], dtype=np.int64)
    if masks.shape[0] == 0:
        raise ValueError("the sampler produced no subsets (sizes too small to hold every class?)")
    return masks, groups


def cache_key(learner, X, y, masks) -> str:
    """Hash of learner class + parameters, the data and the masks (hex, 64 digits)."""
    spec = json.dumps(learner_spec(learner), sort_keys=True, default=str)
    h = hashlib.sha256()
    h.update(f"v{_CACHE_VERSION}".encode())
    h.update(spec.encode())
    h.update(_sha(np.asarray(X, dtype=np.float64), _labels_for_hash(y),
                  np.packbits(np.asarray(masks, dtype=bool), axis=1)).encode())
    return h.hexdigest()


def physical_memory_bytes() -> int | None:
    """Physical memory of this machine (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_fits_in_memory(k: int, p: int, chunk_size: int) -> None:
    """The labels (k, p) and one chunk's results must fit in physical memory."""
    need = 8 * (k * p + 2 * min(k, chunk_size) * p)
    total = physical_memory_bytes()
    if total is not None and need > total:
        raise ValueError(f"masks: {k} labels of {p} parameters need {need / 2**30:.1f} GiB, more "
                         f"than this machine's {total / 2**30:.1f} GiB of memory; label the "
                         "masks in several calls (the cache keeps each call's chunks)")


def _convergence_warning() -> type[Warning]:
    """The package's ConvergenceWarning when it defines one, else RuntimeWarning."""
    import modelpred_theory as _pkg

    return getattr(_pkg, "ConvergenceWarning", RuntimeWarning)


def label_masks(learner, X, y, masks, *, cache_dir: str | os.PathLike | None = None,
                chunk_size: int = 1024, progress: bool = True, settings: dict | None = None,
                n_jobs: int | None = None, backend: str | None = None, device=None,
                threads: int | None = 1) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Exact theta(S) for every mask, chunked, in parallel, cached and resumable.

    Sum convention: theta(S) = argmin sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.

    Chunks of ``chunk_size`` subsets are solved by ``learner.fit_subsets`` through joblib
    (:func:`engine.map_chunks`: serial, local processes, or a Dask / Ray cluster chosen with
    ``joblib.parallel_config(backend=...)``); this process writes each finished chunk to the
    cache as soon as it arrives. The result is bit-identical to the serial run whatever the
    engine, the number of workers or the completion order (same chunks, same solver call, same
    torch thread count, one by default). A run that stops (interrupt, a failing chunk, a killed
    worker) keeps every finished chunk; the rerun computes only the rest. Damaged or foreign
    chunk files are detected (checksum and key inside each chunk), reported with a
    ``CacheWarning`` naming the file, and recomputed.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n), bool
    cache_dir : path, optional
        Root of the cache; the chunks go to ``cache_dir/pairs-<key>/chunk_<index>.npz``.
        None: no disk cache.
    chunk_size : int
        Subsets per chunk (one parallel task and one cache file).
    progress : bool
        tqdm bar in fits (total k; labels loaded from the cache count as done).
    settings : dict, optional
        Sampler settings recorded in the cache manifest (informational).
    n_jobs : int, optional
        joblib's n_jobs: None (serial, unless ``joblib.parallel_config`` sets the engine), a
        positive count of local processes, or -1 (all cores, or all Dask worker threads).
    backend : {"loky", "threading", "multiprocessing", "dask", "ray"}, optional
        Shortcut for ``joblib.parallel_config(backend=...)``; None keeps joblib's active one.
    device : str, optional
        Passed on to ``fit_subsets`` when not None.
    threads : int or None, default=1
        torch threads of each chunk's solve, fixed so that results do not depend on where a
        chunk runs (parallelism is across chunks: use ``n_jobs``); None leaves every process's
        torch setting alone (then the bits may depend on where a chunk ran).

    Returns
    -------
    thetas : ndarray of shape (k, p)
    grad_norms : ndarray of shape (k,)
    cache_path : str or None
    """
    n_jobs = _engine.check_n_jobs(n_jobs)
    backend = _engine.check_backend(backend)
    threads = _engine.check_threads(threads)
    Xp, y_enc, K = learner.prepare(X, y)
    masks = _subsets.check_masks(masks, Xp.shape[0])
    if not (isinstance(chunk_size, int | np.integer) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    learner.check_existence(masks.astype(np.float64), y_enc, K, "masks")
    k, n = masks.shape
    p = K * (Xp.shape[1] + 1)
    _check_fits_in_memory(k, p, int(chunk_size))
    bounds = _engine.chunk_bounds(k, int(chunk_size))
    store = None
    if cache_dir is not None:
        key = cache_key(learner, Xp, y, masks)
        store = ChunkStore(Path(cache_dir) / f"pairs-{key[:24]}", key)
        store.write_manifest({"version": _CACHE_VERSION, "key": key,
                              "learner": learner_spec(learner),
                              "data_fingerprint": data_fingerprint(Xp, y), "k": k, "n": n,
                              "p": p, "chunk_size": int(chunk_size), "n_chunks": len(bounds),
                              "settings": settings or {}})
    thetas, gnorms, conv = np.empty((k, p)), np.empty(k), np.empty(k, dtype=bool)
    state = {"bar": None}

    def start(loaded, todo):  # the bar starts at the fits read back from the cache
        if todo:
            state["bar"] = _engine._progress_bar(progress, k, loaded,
                                                 f"labels theta(S) [{learner.name}]")

    def keep(s, e, res, cached):
        thetas[s:e], gnorms[s:e], conv[s:e] = res["thetas"], res["grad_norms"], res["converged"]
        if not cached and state["bar"] is not None:
            state["bar"].update(e - s)

    inner = min(int(chunk_size), learner.default_chunk_size(n, p, K))
    try:
        _engine.cached_fit_chunks(learner, X, y, masks, bounds, store, p, what="labelling",
                                  on_chunk=keep, on_start=start, inner_chunk=inner, n_jobs=n_jobs,
                                  backend=backend, device=device, threads=threads)
    finally:
        if state["bar"] is not None:
            state["bar"].close()
    if not bool(conv.all()):
        warnings.warn(f"{int((~conv).sum())} of {k} labels did not converge (worst residual "
                      f"||grad F_S|| = {gnorms[~conv].max():.2e})", _convergence_warning(),
                      stacklevel=2)
    return thetas, gnorms, (None if store is None else str(store.folder))


def generate_pairs(learner, X, y, *, sampler: str = "permutation", n_permutations: int = 40,
                   n_subsets: int = 10000, min_size: int | None = None,
                   max_size: int | None = None, step: int = 1,
                   rng: np.random.Generator | int = 0,
                   cache_dir: str | os.PathLike | None = None, chunk_size: int = 1024,
                   progress: bool = True, n_jobs: int | None = None,
                   backend: str | None = None, device=None,
                   threads: int | None = 1) -> TrainingPairs:
    """Sample training subsets and label them exactly (cached, resumable).

    Labels follow the sum convention F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
    Subsets that would have no minimiser (a class missing under an unpenalised intercept) are
    never drawn: the sampler then keeps only subsets covering every class.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    sampler, n_permutations, n_subsets, min_size, max_size, step, rng
        See :func:`sample_masks`; ``min_size`` None means 1 (the classes requirement then drops
        the smallest prefixes).
    cache_dir, chunk_size, progress, n_jobs, backend, device, threads
        See :func:`label_masks` (the engine: serial, local processes, Dask or Ray).

    Returns
    -------
    TrainingPairs
    """
    _engine.check_n_jobs(n_jobs)
    _engine.check_backend(backend)
    _engine.check_threads(threads)
    X, y_enc, K = learner.prepare(X, y)
    n = X.shape[0]
    need = bool(learner.needs_all_classes())
    settings = {"sampler": sampler, "n_permutations": n_permutations, "n_subsets": n_subsets,
                "min_size": min_size, "max_size": max_size, "step": step,
                "rng": rng if isinstance(rng, int) else "generator",
                "require_all_classes": need}
    masks, groups = sample_masks(n, y_enc, sampler=sampler, n_permutations=n_permutations,
                                 n_subsets=n_subsets, min_size=1 if min_size is None else min_size,
                                 max_size=max_size, step=step, require_all_classes=need, rng=rng)
    thetas, gn, path = label_masks(learner, X, y, masks, cache_dir=cache_dir,
                                   chunk_size=chunk_size, progress=progress, settings=settings,
                                   n_jobs=n_jobs, backend=backend, device=device, threads=threads)
    return TrainingPairs(masks, thetas, groups, gn, path, settings)
