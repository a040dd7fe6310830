"""Exact ground truth for data attribution: held-out subsets and leave-one-out effects.

For a pool N of n points, m test points and an output f_j (:mod:`.outputs`), the ground truth
is noise-free because theta(S) is computed exactly (a convex learner, solved to its optimality
tolerance) rather than by noisy retraining:

* ``outputs[s, j] = f_j(theta(S_s))`` on k held-out subsets S_s of ``round(fraction * n)``
  points, drawn uniformly (each covering every class when the learner needs it);
* ``loo[i, j] = f_j(theta(N)) - f_j(theta(N \\ {i}))``, the exact leave-one-out effect, the
  quantity every attribution score estimates (the package's sign convention).

theta(S) minimises F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam,
docs/design.md). Every refit is warm-started from the full fit theta(N) and solved by
``learner.fit_subsets`` over chunks of subsets through the library's chunk engine
(:func:`modelpred_theory.setfn.engine.cached_fit_chunks`: serial, local processes, Dask or
Ray), each chunk with a fixed number of torch threads, so the result is bit-identical whatever
the engine.
With ``cache_dir`` every finished chunk is written at once as a checksummed file
(:class:`modelpred_theory.setfn.cache.ChunkStore`); an interrupted run resumes from them.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..setfn.cache import ChunkStore
from ..setfn.engine import (
    cached_fit_chunks,
    check_backend,
    check_n_jobs,
    check_threads,
    chunk_bounds,
)
from ..setfn.pairs import cache_key, data_fingerprint, learner_spec
from ..subsets import fixed_size_subsets
from .outputs import check_output, outputs

__all__ = ["FORMAT_VERSION", "GroundTruth", "check_problem", "ground_truth", "subset_masks"]

FORMAT_VERSION = 1
# Seed stream of the held-out subsets (a stream of their own: the additive ceiling's training
# subsets come from another seed, the methods' own randomness from theirs).
STREAM_TRUTH = 241
# Subsets per chunk file / parallel task by default.
DEFAULT_CHUNK = 64


@dataclass
class GroundTruth:
    """Exact held-out outputs and leave-one-out effects of one pool, learner and test set.

    Attributes
    ----------
    masks : ndarray of shape (k, n), bool
        The held-out subsets S_s.
    outputs : ndarray of shape (k, m), float64
        f_j(theta(S_s)).
    full_outputs : ndarray of shape (m,)
        f_j(theta(N)) of the full pool.
    loo : ndarray of shape (n, m) or None
        f_j(theta(N)) - f_j(theta(N \\ {i})), exact (None when computed with ``loo=False``).
    theta_full : ndarray of shape (p,)
        theta(N).
    residuals : ndarray of shape (k,)
        ||grad F_S(theta(S_s))|| of every subset fit (the optimality residual).
    tolerances : ndarray of shape (k,)
        The solver's stopping tolerance of each subset (``learner.residual_tolerance``).
    loo_residuals, loo_tolerances : ndarray of shape (n,) or None
        The same for the leave-one-out fits.
    output : str
        ``"margin"`` or ``"neg_loss"``.
    fraction : float
    seed : int
    learner : dict
        The learner's settings: ``{"class", "module", "params"}``.
    fingerprint : str
        Data fingerprint of the pool (X, y) (SHA-256 prefix, ``setfn.data_fingerprint``).
    test_fingerprint : str
        Data fingerprint of (X_test, y_test).
    seconds : dict
        Wall-clock seconds of the full fit, the subsets and the leave-one-out fits, and fits
        counted.
    """

    masks: np.ndarray = field(repr=False)
    outputs: np.ndarray = field(repr=False)
    full_outputs: np.ndarray = field(repr=False)
    loo: np.ndarray | None = field(repr=False)
    theta_full: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    tolerances: np.ndarray = field(repr=False)
    loo_residuals: np.ndarray | None = field(repr=False)
    loo_tolerances: np.ndarray | None = field(repr=False)
    output: str
    fraction: float
    seed: int
    learner: dict
    fingerprint: str
    test_fingerprint: str
    seconds: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Pool size."""
        return int(self.masks.shape[1])

    @property
    def m(self) -> int:
        """Number of test points."""
        return int(self.outputs.shape[1])

    @property
    def n_subsets(self) -> int:
        """Number of held-out subsets k."""
        return int(self.masks.shape[0])

    @property
    def max_relative_residual(self) -> float:
        """max over all fits of residual / tolerance (<= 1 when every fit converged)."""
        r = [self.residuals / self.tolerances]
        if self.loo_residuals is not None:
            r.append(self.loo_residuals / self.loo_tolerances)
        return float(np.max(np.concatenate(r))) if sum(a.size for a in r) else 0.0

    def head(self, k: int) -> GroundTruth:
        """The same ground truth restricted to its first ``k`` held-out subsets.

        The subsets are i.i.d. draws, so the first k are a ground truth of k subsets (used to
        show how a peer-sized count, e.g. 100, moves an LDS).
        """
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not \
                3 <= k <= self.n_subsets:
            raise ValueError(f"k must be an integer in [3, {self.n_subsets}], got {k!r}")
        return replace(self, masks=self.masks[:k], outputs=self.outputs[:k],
                       residuals=self.residuals[:k], tolerances=self.tolerances[:k])

    def check_problem(self, learner, X, y, X_test=None, y_test=None) -> None:
        """Raise ValueError unless (learner, X, y[, X_test, y_test]) is this truth's problem."""
        check_problem(self, learner, X, y, X_test, y_test)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the ground truth as one ``.npz`` readable with numpy alone.

        Layout (``np.load(path)`` with the default ``allow_pickle=False``):

        ========================  ==============  ==========================================
        key                       dtype, shape    meaning
        ========================  ==============  ==========================================
        ``format_version``        int64 ()        this layout's version (1)
        ``masks``                 bool (k, n)     held-out subsets S_s
        ``outputs``               float64 (k, m)  f_j(theta(S_s))
        ``full_outputs``          float64 (m,)    f_j(theta(N))
        ``loo``                   float64 (n, m)  f_j(theta(N)) - f_j(theta(N - i)); (0, m)
                                                  when not computed
        ``theta_full``            float64 (p,)    theta(N)
        ``residuals``             float64 (k,)    ||grad F_S|| of each subset fit
        ``tolerances``            float64 (k,)    its stopping tolerance
        ``loo_residuals``         float64 (n,)    same for the LOO fits ((0,) if none)
        ``loo_tolerances``        float64 (n,)
        ``output``                str ()          "margin" or "neg_loss"
        ``fraction``, ``seed``    float64, int64
        ``learner``               str ()          JSON {"class", "module", "params"}
        ``fingerprint``           str ()          SHA-256 prefix of the pool (X, y)
        ``test_fingerprint``      str ()          same for (X_test, y_test)
        ``seconds``               str ()          JSON timings
        ``checksum``              str ()          SHA-256 over the numeric arrays above
        ========================  ==============  ==========================================

        Returns
        -------
        pathlib.Path
            The file written (``.npz`` appended when missing).
        """
        from ..setfn.cache import array_checksum

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = self._arrays()
        payload = dict(arrays, format_version=np.int64(FORMAT_VERSION),
                       output=np.array(self.output), fraction=np.float64(self.fraction),
                       seed=np.int64(self.seed), learner=np.array(json.dumps(self.learner)),
                       fingerprint=np.array(self.fingerprint),
                       test_fingerprint=np.array(self.test_fingerprint),
                       seconds=np.array(json.dumps(self.seconds)),
                       checksum=np.array(array_checksum(*arrays.values())))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **payload)
        os.replace(tmp, path)
        return path

    def _arrays(self) -> dict:
        m = self.m
        return {
            "masks": np.ascontiguousarray(self.masks, dtype=bool),
            "outputs": np.ascontiguousarray(self.outputs, dtype=np.float64),
            "full_outputs": np.ascontiguousarray(self.full_outputs, dtype=np.float64),
            "loo": (np.empty((0, m)) if self.loo is None
                    else np.ascontiguousarray(self.loo, dtype=np.float64)),
            "theta_full": np.ascontiguousarray(self.theta_full, dtype=np.float64),
            "residuals": np.ascontiguousarray(self.residuals, dtype=np.float64),
            "tolerances": np.ascontiguousarray(self.tolerances, dtype=np.float64),
            "loo_residuals": (np.empty(0) if self.loo_residuals is None
                              else np.ascontiguousarray(self.loo_residuals, dtype=np.float64)),
            "loo_tolerances": (np.empty(0) if self.loo_tolerances is None
                               else np.ascontiguousarray(self.loo_tolerances,
                                                         dtype=np.float64)),
        }

    @classmethod
    def load(cls, path) -> GroundTruth:
        """Read a file written by :meth:`save`; a damaged or foreign file is refused by name."""
        from ..setfn.cache import array_checksum

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no ground truth file {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is refused by name
            raise ValueError(f"{path} is not a ground truth file ({type(exc).__name__}: "
                             f"{exc})") from None
        need = {"format_version", "masks", "outputs", "full_outputs", "loo", "theta_full",
                "residuals", "tolerances", "loo_residuals", "loo_tolerances", "output",
                "fraction", "seed", "learner", "fingerprint", "test_fingerprint", "seconds",
                "checksum"}
        if not need <= set(data):
            raise ValueError(f"{path} is not a ground truth file (missing "
                             f"{sorted(need - set(data))})")
        if int(data["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path} has format version {int(data['format_version'])}; this "
                             f"version reads {FORMAT_VERSION}")
        names = ("masks", "outputs", "full_outputs", "loo", "theta_full", "residuals",
                 "tolerances", "loo_residuals", "loo_tolerances")
        if array_checksum(*(data[k] for k in names)) != str(data["checksum"]):
            raise ValueError(f"{path} is corrupt (checksum mismatch)")
        has_loo = data["loo"].shape[0] > 0
        return cls(masks=data["masks"], outputs=data["outputs"],
                   full_outputs=data["full_outputs"], loo=data["loo"] if has_loo else None,
                   theta_full=data["theta_full"], residuals=data["residuals"],
                   tolerances=data["tolerances"],
                   loo_residuals=data["loo_residuals"] if has_loo else None,
                   loo_tolerances=data["loo_tolerances"] if has_loo else None,
                   output=str(data["output"]), fraction=float(data["fraction"]),
                   seed=int(data["seed"]), learner=json.loads(str(data["learner"])),
                   fingerprint=str(data["fingerprint"]),
                   test_fingerprint=str(data["test_fingerprint"]),
                   seconds=json.loads(str(data["seconds"])))


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
def _spec(learner) -> dict:
    """JSON round-tripped learner settings (what a saved truth holds)."""
    return json.loads(json.dumps(learner_spec(learner), default=str))


def check_data(learner, X, y, X_test, y_test):
    """Validate pool and test set for ``learner``; float64 X (n, d), X_test (m, d), y, y_test.

    Raises ValueError naming the argument before any work.
    """
    if not all(hasattr(learner, a) for a in ("fit_subsets", "fit", "param_dim",
                                             "per_sample_loss")):
        raise ValueError(f"learner must be a modelpred_theory learner, got {type(learner)!r}")
    p = learner.param_dim(X, y)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.shape[0] < 3:
        raise ValueError(f"X must hold at least 3 points, got {X.shape[0]}")
    if X_test is None or y_test is None:
        raise ValueError("X_test and y_test are both required")
    try:
        learner.param_dim(X_test, y_test)
    except ValueError as exc:
        raise ValueError(f"X_test/y_test: {exc}") from None
    classes, test_classes = learner.classes(y), learner.classes(y_test)
    if classes is not None and not (test_classes.shape == classes.shape
                                    and np.array_equal(test_classes, classes)):
        raise ValueError(f"y_test is encoded with classes {test_classes.tolist()[:12]} but y with "
                         f"{classes.tolist()[:12]}: the test outputs would use other class "
                         "codes than the model; pass n_classes / classes to the learner")
    X_test = np.asarray(X_test, dtype=np.float64)
    if X_test.ndim != 2 or X_test.shape[1] != X.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[-1]} features, X has {X.shape[1]}")
    return X, y, X_test, np.asarray(y_test), p


def check_problem(truth: GroundTruth, learner, X, y, X_test=None, y_test=None) -> None:
    """Raise ValueError unless learner and data are the ones ``truth`` was computed for."""
    if not isinstance(truth, GroundTruth):
        raise ValueError(f"truth must be a GroundTruth, got {type(truth).__name__}")
    spec = _spec(learner)
    if spec != truth.learner:
        raise ValueError(f"truth was computed for learner {truth.learner}, not {spec}")
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] != truth.n:
        raise ValueError(f"truth was computed for a pool of {truth.n} points; X has "
                         f"{X.shape[0]}")
    if data_fingerprint(X, y) != truth.fingerprint:
        raise ValueError("truth was computed for another pool (X, y): data fingerprints "
                         f"{truth.fingerprint} (truth) and {data_fingerprint(X, y)} (X, y) differ")
    if X_test is not None and data_fingerprint(np.asarray(X_test, dtype=np.float64),
                                               y_test) != truth.test_fingerprint:
        raise ValueError("truth was computed for another test set (X_test, y_test): the data "
                         "fingerprints differ")


def _check_int(value, name, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def subset_masks(learner, y, n_subsets: int, fraction: float, seed: int,
                 stream: int = STREAM_TRUTH) -> np.ndarray:
    """k uniform subsets of ``round(fraction * n)`` points (every class when the learner needs
    it), from the generator of (``seed``, ``stream``): (k, n) bool."""
    k = _check_int(n_subsets, "n_subsets", 3)
    if isinstance(fraction, bool) or not (isinstance(fraction, numbers.Real)
                                          and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    seed = _check_int(seed, "seed", 0)
    n = np.asarray(y).shape[0]
    needs = bool(getattr(learner, "needs_all_classes", lambda: False)())
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream),)))
    return fixed_size_subsets(n, k, max(1, round(float(fraction) * n)), rng=rng,
                              y=y if needs else None, require_all_classes=needs)


# ---------------------------------------------------------------------------------------------
# the exact refits, chunked and cached
# ---------------------------------------------------------------------------------------------
class _Progress:
    """Counts fits; calls ``progress(done, total)`` (callable) or drives a tqdm bar (True)."""

    def __init__(self, progress, total):
        self.total, self.done = int(total), 0
        self.fn, self.bar = None, None
        if callable(progress):
            self.fn = progress
        elif progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc="exact ground truth", unit="fit")

    def add(self, count):
        self.done += int(count)
        if self.fn is not None:
            self.fn(self.done, self.total)
        if self.bar is not None:
            self.bar.update(int(count))

    def close(self):
        if self.bar is not None:
            self.bar.close()


def exact_refits(learner, X, y, masks, theta0, *, tag: str, chunk_size: int, n_jobs, backend,
                 device, threads, cache_dir, progress: _Progress | None, on_chunk):
    """theta(S) of every mask (warm-started at ``theta0``), chunk by chunk, cached.

    ``on_chunk(start, stop, thetas, grad_norms)`` receives each chunk in this process as it
    finishes (or is read back from the cache); nothing of size (k, p) is kept here.
    """
    k = masks.shape[0]
    p = theta0.size
    bounds = chunk_bounds(k, chunk_size)
    store = None
    if cache_dir is not None:
        base = cache_key(learner, X, y, masks)
        key = hashlib.sha256(f"{base}|{tag}|warm:{data_fingerprint(theta0[None], [0])}"
                             .encode()).hexdigest()
        store = ChunkStore(Path(cache_dir) / f"truth-{tag}-{key[:20]}", key)
        store.write_manifest({"kind": "attribution ground truth", "part": tag, "key": key,
                              "learner": learner_spec(learner),
                              "data_fingerprint": data_fingerprint(X, y), "k": k, "p": p,
                              "chunk_size": chunk_size, "n_chunks": len(bounds)})
    n, d = X.shape
    K = p // (d + 1)

    def keep(s, e, res, cached):
        on_chunk(s, e, res["thetas"], res["grad_norms"])
        if progress is not None:
            progress.add(e - s)

    cached_fit_chunks(learner, X, y, masks, bounds, store, p, what=f"ground truth ({tag})",
                      on_chunk=keep, theta0=theta0,
                      inner_chunk=min(chunk_size, learner.default_chunk_size(n, p, K)),
                      n_jobs=n_jobs, backend=backend, device=device, threads=threads)


def _check_progress(progress):
    if progress is None or isinstance(progress, bool | np.bool_) or callable(progress):
        return progress
    raise ValueError(f"progress must be None, a bool or a callable(done, total), got "
                     f"{progress!r}")


def ground_truth(learner, X, y, X_test, y_test, *, n_subsets: int = 1000,
                 fraction: float = 0.5, output: str = "margin", seed: int = 0,
                 loo: bool = True, device=None, n_jobs: int | None = None,
                 cache_dir: str | os.PathLike | None = None, progress=None,
                 chunk_size: int = DEFAULT_CHUNK, backend: str | None = None,
                 threads: int | None = 1) -> GroundTruth:
    """Exact held-out outputs and exact leave-one-out effects (the noise-free ground truth).

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    n_subsets : int, default=1000
        Held-out subsets k (>= 3).
    fraction : float in (0, 1), default=0.5
        Each subset holds ``round(fraction * n)`` points, uniformly drawn (covering every class
        when the intercept is unpenalised).
    output : {"margin", "neg_loss"}, default="margin"
        The test output f_j (:func:`.outputs.outputs`); "margin" needs a classifier.
    seed : int, default=0
        Seeds the held-out subsets (stream ``STREAM_TRUTH``).
    loo : bool, default=True
        Also compute the exact leave-one-out effects (n more refits).
    device : str, optional
        Where each chunk is solved (``fit_subsets(device=)``); float64 everywhere.
    n_jobs : int, optional
        joblib workers over chunks (None: serial; -1: all cores); the engine is joblib's active
        backend or ``backend``.
    cache_dir : path, optional
        Write every finished chunk of refits there (checksummed ``.npz`` files); a rerun with
        the same arguments reads them back and computes only the missing chunks.
    progress : None, bool or callable, default=None
        True: a tqdm bar in fits; a callable is called as ``progress(done, total)`` (fits,
        including the full fit) after every chunk; None / False: silent.
    chunk_size : int, default=64
        Subsets per chunk (one parallel task and one cache file). The result depends on it
        only within the solver's tolerance (BLAS rounding varies with the batch width); for a
        given chunk_size it is bit-identical whatever the engine.
    backend : {"loky", "threading", "multiprocessing", "dask", "ray"}, optional
        Shortcut for ``joblib.parallel_config(backend=...)``.
    threads : int or None, default=1
        torch threads of every chunk's solve wherever it runs (fixed so that the bits do not
        depend on the engine); None: each process's own setting.

    Returns
    -------
    GroundTruth

    Notes
    -----
    theta(S) = argmin_theta sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 for every subset,
    solved by Newton's method to the learner's tolerance from the warm start theta(N) (a start
    worse than zero for a subset is replaced by zero inside ``fit_subsets``). The full fit
    runs here, in this process, with ``threads`` torch threads; the refits run in chunks with
    the same thread count, so local, process and Dask runs return the same bits.
    ``loo[i, j] = f_j(theta(N)) - f_j(theta(N - i))``.

    A fit that does not reach its tolerance raises a ``ConvergenceWarning``; the residuals and
    tolerances are returned so any reader can check them.

    References
    ----------
    Park, Georgiev, Ilyas, Leclerc, Madry (2023). TRAK: Attributing Model Behavior at Scale.
    ICML (the linear datamodeling score and its held-out subsets).
    """
    import torch

    X, y, X_test, y_test, p = check_data(learner, X, y, X_test, y_test)
    check_output(learner, output)
    if not isinstance(loo, bool | np.bool_):
        raise ValueError(f"loo must be a bool, got {loo!r}")
    n_jobs = check_n_jobs(n_jobs)
    backend = check_backend(backend)
    threads = check_threads(threads)
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    progress = _check_progress(progress)
    masks = subset_masks(learner, y, n_subsets, fraction, seed)
    k, n = masks.shape
    m = X_test.shape[0]
    loo_masks = None
    if loo:
        loo_masks = ~np.eye(n, dtype=bool)
        needs = bool(getattr(learner, "needs_all_classes", lambda: False)())
        if needs:
            _, counts = np.unique(y, return_counts=True)
            if counts.min() < 2:
                raise ValueError("y: a class has a single point, so leaving it out leaves a "
                                 "pool without that class (no minimiser with an unpenalised "
                                 "intercept); use loo=False or penalize_intercept=True")
    total = 1 + k + (n if loo else 0)
    bar = _Progress(progress, total) if progress else None
    seconds = {}
    try:
        t0 = time.perf_counter()
        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            kw = {} if device is None else {"device": device}
            full = learner.fit(X, y, **kw)
        finally:
            torch.set_num_threads(previous)
        theta_full = np.asarray(full.theta, dtype=np.float64)
        f_full = outputs(learner, theta_full, X_test, y_test, output)[0]  # shape: (m,)
        seconds["full_fit"] = time.perf_counter() - t0
        if bar is not None:
            bar.add(1)

        common = dict(chunk_size=chunk_size, n_jobs=n_jobs, backend=backend, device=device,
                      threads=threads, cache_dir=cache_dir, progress=bar)
        out = np.empty((k, m))
        res, tol = np.empty(k), np.empty(k)

        def keep_subsets(s, e, thetas, gn):
            out[s:e] = outputs(learner, thetas, X_test, y_test, output)
            res[s:e] = gn
            tol[s:e] = learner.residual_tolerance(X, y, masks[s:e])

        t0 = time.perf_counter()
        exact_refits(learner, X, y, masks, theta_full, tag="subsets", on_chunk=keep_subsets,
                     **common)
        seconds["subsets"] = time.perf_counter() - t0
        loo_eff = loo_res = loo_tol = None
        if loo:
            loo_eff = np.empty((n, m))
            loo_res, loo_tol = np.empty(n), np.empty(n)

            def keep_loo(s, e, thetas, gn):
                loo_eff[s:e] = f_full[None, :] - outputs(learner, thetas, X_test, y_test,
                                                         output)
                loo_res[s:e] = gn
                loo_tol[s:e] = learner.residual_tolerance(X, y, loo_masks[s:e])

            t0 = time.perf_counter()
            exact_refits(learner, X, y, loo_masks, theta_full, tag="loo", on_chunk=keep_loo,
                         **common)
            seconds["loo"] = time.perf_counter() - t0
    finally:
        if bar is not None:
            bar.close()
    seconds["fits"] = total
    truth = GroundTruth(masks=masks, outputs=out, full_outputs=f_full, loo=loo_eff,
                        theta_full=theta_full, residuals=res, tolerances=tol,
                        loo_residuals=loo_res, loo_tolerances=loo_tol, output=output,
                        fraction=float(fraction), seed=int(seed), learner=_spec(learner),
                        fingerprint=data_fingerprint(X, y),
                        test_fingerprint=data_fingerprint(X_test, y_test), seconds=seconds)
    worst = truth.max_relative_residual
    if not np.isfinite(worst) or worst > 1.0:
        import modelpred_theory as _pkg

        warnings.warn(f"ground truth: some exact fits stopped above their tolerance (worst "
                      f"residual / tolerance = {worst:.3g})", _pkg.ConvergenceWarning,
                      stacklevel=2)
    return truth
