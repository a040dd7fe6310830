"""Training pairs (S, theta(S)) for ModelPred: sampling, exact labelling, and a resumable cache.

Labels are exact minimisers of the learner's SUM objective (DESIGN.md)

    F_S(theta) = sum_{i in S} w_i loss_i(theta) + (lam / 2) ||P theta||^2,   C = 1 / lam,

computed by ``learner.fit_subsets`` (batched Newton). Labelling is the expensive part of
training a set predictor, so it runs in chunks with a progress bar, and, given a ``cache_dir``,
every finished chunk is written to its own ``.npz`` file atomically (temporary file, then
``os.replace``). An interrupted run resumes where it stopped: finished chunks are loaded, never
recomputed. The cache key hashes the learner (class and parameters), the data (X and y bytes)
and the masks themselves (hence every sampler setting and seed).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import subsets as _subsets

__all__ = ["TrainingPairs", "data_fingerprint", "generate_pairs", "label_masks", "sample_masks"]

_CACHE_VERSION = 1
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


def data_fingerprint(X, y) -> str:
    """SHA-256 (first 16 hex digits) of X as float64 and y as float64, shapes included."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return _sha(X, y)[:16]


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


def _atomic_savez(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cache_key(learner, X, y, masks) -> str:
    """Hash of learner class + parameters, the data and the masks (hex, 64 digits)."""
    spec = json.dumps(learner_spec(learner), sort_keys=True, default=str)
    h = hashlib.sha256()
    h.update(f"v{_CACHE_VERSION}".encode())
    h.update(spec.encode())
    h.update(_sha(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64),
                  np.packbits(np.asarray(masks, dtype=bool), axis=1)).encode())
    return h.hexdigest()


def label_masks(learner, X, y, masks, *, cache_dir: str | os.PathLike | None = None,
                chunk_size: int = 1024, progress: bool = True,
                settings: dict | None = None) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Exact theta(S) for every mask, chunked, cached and resumable.

    Sum convention: theta(S) = argmin sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.

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
        Subsets per chunk (and per cache file).
    progress : bool
        tqdm bar over chunks.
    settings : dict, optional
        Sampler settings recorded in the cache manifest (informational).

    Returns
    -------
    thetas : ndarray of shape (k, p)
    grad_norms : ndarray of shape (k,)
    cache_path : str or None
    """
    X, y_enc, K = learner._prepare(X, y)
    masks = _subsets.check_masks(masks, X.shape[0])
    if not (isinstance(chunk_size, int | np.integer) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    learner._check_existence(masks.astype(np.float64), y_enc, K, "masks")
    k = masks.shape[0]
    p = K * (X.shape[1] + 1)
    n_chunks = math.ceil(k / chunk_size)
    folder = None
    if cache_dir is not None:
        key = cache_key(learner, X, y, masks)
        folder = Path(cache_dir) / f"pairs-{key[:24]}"
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {"version": _CACHE_VERSION, "key": key, "learner": learner_spec(learner),
                    "data_fingerprint": data_fingerprint(X, y), "k": k, "n": int(X.shape[0]),
                    "p": p, "chunk_size": int(chunk_size), "n_chunks": n_chunks,
                    "settings": settings or {}}
        _atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1, default=str))
    thetas = np.empty((k, p))
    gnorms = np.empty(k)
    todo = []
    for c in range(n_chunks):
        s, e = c * chunk_size, min(k, (c + 1) * chunk_size)
        if folder is not None:
            f = folder / f"chunk_{c:05d}.npz"
            if f.exists():
                try:
                    with np.load(f) as z:
                        if z["thetas"].shape == (e - s, p) and int(z["start"]) == s:
                            thetas[s:e], gnorms[s:e] = z["thetas"], z["grad_norms"]
                            continue
                except (OSError, ValueError, KeyError):  # a damaged file is recomputed
                    f.unlink(missing_ok=True)
        todo.append(c)
    it = todo
    if progress and todo:
        from tqdm.auto import tqdm

        it = tqdm(todo, desc=f"labels theta(S) [{learner.name}]", unit="chunk",
                  total=n_chunks, initial=n_chunks - len(todo))
    for c in it:
        s, e = c * chunk_size, min(k, (c + 1) * chunk_size)
        res = learner.fit_subsets(X, y, masks[s:e], chunk_size=chunk_size, return_info=True)
        thetas[s:e], gnorms[s:e] = res.thetas, res.grad_norms
        if not bool(np.all(res.converged)):
            warnings.warn(f"{int((~res.converged).sum())} labels in chunk {c} did not converge "
                          f"(max residual {res.grad_norms.max():.2e})", RuntimeWarning,
                          stacklevel=2)
        if folder is not None:
            _atomic_savez(folder / f"chunk_{c:05d}.npz", thetas=res.thetas,
                          grad_norms=res.grad_norms, start=np.int64(s))
    return thetas, gnorms, (None if folder is None else str(folder))


def generate_pairs(learner, X, y, *, sampler: str = "permutation", n_permutations: int = 40,
                   n_subsets: int = 10000, min_size: int | None = None,
                   max_size: int | None = None, step: int = 1,
                   rng: np.random.Generator | int = 0,
                   cache_dir: str | os.PathLike | None = None, chunk_size: int = 1024,
                   progress: bool = True) -> TrainingPairs:
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
    cache_dir, chunk_size, progress
        See :func:`label_masks`.

    Returns
    -------
    TrainingPairs
    """
    X, y_enc, K = learner._prepare(X, y)
    n = X.shape[0]
    need = bool(learner._needs_all_classes())
    settings = {"sampler": sampler, "n_permutations": n_permutations, "n_subsets": n_subsets,
                "min_size": min_size, "max_size": max_size, "step": step,
                "rng": rng if isinstance(rng, int) else "generator",
                "require_all_classes": need}
    masks, groups = sample_masks(n, y_enc, sampler=sampler, n_permutations=n_permutations,
                                 n_subsets=n_subsets, min_size=1 if min_size is None else min_size,
                                 max_size=max_size, step=step, require_all_classes=need, rng=rng)
    thetas, gn, path = label_masks(learner, X, y, masks, cache_dir=cache_dir,
                                   chunk_size=chunk_size, progress=progress, settings=settings)
    return TrainingPairs(masks, thetas, groups, gn, path, settings)
