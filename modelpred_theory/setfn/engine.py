"""A parallel map over chunks of subsets, through joblib (local processes, Dask, Ray).

Exact labels theta(S) (sum convention of docs/design.md: theta(S) = argmin_theta
sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam) are embarrassingly parallel over
chunks of subsets. :func:`map_chunks` runs any picklable chunk function through
``joblib.Parallel`` and hands results back to the calling process in the order they finish, so
the caller can store each one at once (finished work is never lost); the engine is joblib's:

* ``n_jobs=None`` (or 1): in this process, serially;
* ``n_jobs > 1`` or ``-1``: local processes (joblib's default backend, loky);
* ``with joblib.parallel_config(backend="dask"):`` with a running ``distributed.Client`` (a
  ``LocalCluster`` or ``Client("tcp://scheduler:8786")``): the Dask cluster's workers;
  ``backend="ray"`` likewise once Ray is installed (``ray.util.joblib.register_ray()``).

:func:`fit_chunks` is the chunk map for the learner's exact batched solver. Each chunk is solved
by the same call with the same arguments wherever it runs, including the number of torch threads
(one by default: parallelism is across chunks, and a multi-threaded reduction may round
differently with another thread count): float results are bit-identical whatever the engine, the
number of workers or the order of completion, on machines with the same hardware and library
versions. ``threads=None`` leaves each process's torch threads as they are (faster for one big
serial chunk on an idle machine, but then the bits may depend on where a chunk ran).
"""

from __future__ import annotations

import contextlib
import numbers
import pickle
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np

__all__ = ["BACKENDS", "check_backend", "check_n_jobs", "check_threads", "chunk_bounds",
           "fit_chunks", "fit_subsets_parallel", "map_chunks"]

BACKENDS = ("loky", "threading", "multiprocessing", "dask", "ray")


def check_n_jobs(n_jobs) -> int | None:
    """Validate joblib's ``n_jobs``: None, a positive int, or -1 (all cores)."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool):
        raise TypeError(f"n_jobs must be None or an integer, got {n_jobs!r}")
    n_jobs = int(n_jobs)
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be None, a positive integer or -1 (all cores), "
                         f"got {n_jobs}")
    return n_jobs


def check_backend(backend) -> str | None:
    """Validate a joblib backend name and make sure it can run here.

    None means joblib's active configuration (``joblib.parallel_config``). "dask" needs the
    ``distributed`` package and a running ``distributed.Client``; "ray" needs Ray (it is
    registered with joblib here).
    """
    if backend is None:
        return None
    if not isinstance(backend, str):
        raise TypeError(f"backend must be None or one of {BACKENDS}, got {backend!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "dask":
        try:
            import distributed
        except ImportError as exc:
            raise ValueError("backend='dask' needs the distributed package, which is not "
                             "installed: pip install 'dask[distributed]'") from exc
        try:
            distributed.get_client()
        except ValueError as exc:
            raise ValueError("backend='dask' needs a running distributed.Client: "
                             "distributed.Client() for a local cluster or "
                             "distributed.Client('tcp://scheduler:8786')") from exc
    elif backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as exc:
            raise ValueError("backend='ray' needs Ray, which is not installed: "
                             "pip install 'ray[default]'") from exc
        register_ray()
    return backend


def check_threads(threads) -> int | None:
    """Validate ``threads``: None or a positive integer."""
    if threads is None:
        return None
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be None or a positive integer, got {threads!r}")
    return int(threads)


def _run_one(fn, index, args):
    """Worker side: ``(index, True, fn(*args), warnings)`` or ``(index, False, exc, traceback)``.

    Exceptions come back as values so that one failing chunk never cancels the others;
    warnings are recorded and re-emitted by the caller (a worker's stderr is not the user's).
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = fn(*args)
        return index, True, value, [(w.category, str(w.message)) for w in caught]
    except Exception as exc:  # noqa: BLE001 - sent back to the caller, who re-raises it
        text = traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel is described
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return index, False, exc, [("traceback", text)]


def map_chunks(fn: Callable, tasks: Sequence[tuple], *, n_jobs: int | None = None,
               backend: str | None = None) -> Iterator[tuple[int, object]]:
    """``fn(*tasks[i])`` for every i, through joblib; yields ``(i, result)`` as each finishes.

    Arguments are checked here, before any work. Results arrive in completion order (joblib's
    ``return_as="generator_unordered"``, one task per chunk). A chunk whose function raises does
    not stop the others: every other result is still yielded, then the first failure is raised
    again (with a note naming the failed chunks). A worker process that dies (killed, out of
    memory) ends the map with joblib's or Dask's error after the results already yielded; under
    Dask the scheduler first retries the lost chunk on another worker.

    Parameters
    ----------
    fn : callable
        A picklable (module-level) function.
    tasks : sequence of tuples
        Positional arguments of each call.
    n_jobs : int or None
        joblib's n_jobs: None (serial unless ``joblib.parallel_config`` says otherwise), a
        positive count, or -1 (all cores / all Dask worker threads).
    backend : {"loky", "threading", "multiprocessing", "dask", "ray"} or None
        None: joblib's active backend (choose it with ``joblib.parallel_config``).

    Yields
    ------
    (int, object)
        The task index and ``fn``'s return value.
    """
    n_jobs = check_n_jobs(n_jobs)
    backend = check_backend(backend)
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    tasks = [tuple(t) for t in tasks]
    return _iterate(fn, tasks, n_jobs, backend)


def _iterate(fn, tasks, n_jobs, backend):
    import joblib

    if not tasks:
        return
    ctx = joblib.parallel_config(backend=backend) if backend else contextlib.nullcontext()
    failures = []
    with ctx:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered",
                                   batch_size=1, pre_dispatch="2*n_jobs")
        for index, ok, value, caught in parallel(joblib.delayed(_run_one)(fn, i, args)
                                                  for i, args in enumerate(tasks)):
            if ok:
                for category, message in caught:
                    warnings.warn(message, category, stacklevel=3)
                yield index, value
            else:
                failures.append((index, value, caught[0][1]))
    if failures:
        index, exc, text = failures[0]
        if hasattr(exc, "add_note"):
            exc.add_note(f"task(s) {sorted(i for i, _, _ in failures)} of {len(tasks)} failed; "
                         f"every other task finished. Worker traceback of task {index}:\n"
                         f"{text}")
        raise exc


def _fit_one(learner, X, y, masks, theta0, inner_chunk: int, threads, device) -> dict:
    """One chunk through ``learner.fit_subsets`` with a fixed number of torch threads."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None and previous != threads:
        torch.set_num_threads(threads)
    try:
        kw = {} if device is None else {"device": device}
        res = learner.fit_subsets(X, y, masks, theta0, chunk_size=inner_chunk, return_info=True,
                                  **kw)
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
    return {"thetas": np.asarray(res.thetas, dtype=np.float64),
            "grad_norms": np.asarray(res.grad_norms, dtype=np.float64),
            "converged": np.asarray(res.converged, dtype=bool),
            "n_iter": np.asarray(res.n_iter, dtype=np.int64)}


def chunk_bounds(k: int, chunk_size: int) -> list[tuple[int, int]]:
    """Row ranges [(start, stop), ...] of consecutive chunks of ``chunk_size`` rows."""
    return [(s, min(k, s + chunk_size)) for s in range(0, k, chunk_size)]


def fit_chunks(learner, X, y, masks: np.ndarray, bounds: Sequence[tuple[int, int]], *,
               theta0=None, inner_chunk: int, n_jobs: int | None = None,
               backend: str | None = None, device=None,
               threads: int | None = 1) -> Iterator[tuple[int, dict]]:
    """Exact theta(S) on the chunks ``masks[start:stop]``, yielded as each finishes.

    Sum convention: theta(S) = argmin sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
    The caller validates X, y and masks; this only maps ``learner.fit_subsets`` over chunks.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n)
    bounds : sequence of (start, stop)
        Rows of each chunk.
    theta0 : ndarray of shape (p,) or (k, p), optional
        Warm start(s), sliced with the chunks.
    inner_chunk : int
        ``chunk_size`` given to ``fit_subsets`` inside each chunk (its batch).
    n_jobs, backend
        See :func:`map_chunks`.
    device : str, optional
        Passed to ``fit_subsets`` only when not None.
    threads : int or None, default=1
        torch threads of every chunk's solve, wherever it runs; None: each process's own
        setting (results may then depend on where a chunk ran).

    Yields
    ------
    (int, dict)
        Chunk position in ``bounds`` and {"thetas" (m, p), "grad_norms" (m,), "converged" (m,),
        "n_iter" (m,)}.
    """
    threads = check_threads(threads)
    T0 = None if theta0 is None else np.atleast_2d(np.asarray(theta0, dtype=np.float64))
    tasks = []
    for s, e in bounds:
        t0 = None if T0 is None else (T0 if T0.shape[0] == 1 else T0[s:e])
        tasks.append((learner, X, y, masks[s:e], t0, int(inner_chunk), threads, device))
    return map_chunks(_fit_one, tasks, n_jobs=n_jobs, backend=backend)


def cached_fit_chunks(learner, X, y, masks: np.ndarray, bounds: Sequence[tuple[int, int]],
                      store, p: int, *, what: str, on_chunk: Callable, on_start=None,
                      theta0=None,
                      inner_chunk: int, n_jobs: int | None = None, backend: str | None = None,
                      device=None, threads: int | None = 1) -> None:
    """Exact theta(S) on every chunk of ``bounds``, read back from ``store`` where finished.

    The one loop behind resumable labelling (``pairs.label_masks``) and attribution ground
    truth (``attribution.ground_truth``): chunks found in ``store`` (a ``cache.ChunkStore``, or
    None for no disk cache) are read back first; the others are solved through
    :func:`fit_chunks` and each is written to ``store`` the moment it arrives.
    ``on_chunk(start, stop, result, cached)`` receives every chunk in this process (result:
    the dict of :func:`fit_chunks`; ``cached``: read back rather than solved);
    ``on_start(cached_fits, todo_fits)``, when given, is called once the cache has been read and
    before any solve (e.g. to start a progress bar). An interruption
    (a failing chunk, a killed worker, Ctrl-C) propagates with a note naming ``what``, the
    unfinished chunks and where the finished ones are.
    """
    todo = []
    for c, (s, e) in enumerate(bounds):
        got = None if store is None else store.load(c, s, e, p)
        if got is None:
            todo.append(c)
        else:
            on_chunk(s, e, got, True)
    if on_start is not None:
        n_todo = sum(bounds[c][1] - bounds[c][0] for c in todo)
        on_start(int(bounds[-1][1]) - n_todo if bounds else 0, n_todo)
    if not todo:
        return
    results = fit_chunks(learner, X, y, masks, [bounds[c] for c in todo], theta0=theta0,
                         inner_chunk=inner_chunk, n_jobs=n_jobs, backend=backend,
                         device=device, threads=threads)
    finished = set()
    try:
        for j, res in results:
            c = todo[j]
            s, e = bounds[c]
            if store is not None:
                store.save(c, s, e, res)
            on_chunk(s, e, res, False)
            finished.add(c)
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            lost = sorted(set(todo) - finished)
            where = (f"are cached in {store.folder} and a rerun computes only the missing ones"
                     if store is not None else "are lost (no cache_dir)")
            exc.add_note(f"{what} stopped with chunk(s) {lost} of {len(bounds)} unfinished; "
                         f"the finished ones {where}")
        raise


def fit_subsets_parallel(learner, X, y, masks, theta0=None, *, chunk_size: int = 1024,
                         n_jobs: int | None = None, backend: str | None = None, device=None,
                         threads: int | None = 1, progress: bool = False):
    """``learner.fit_subsets`` over chunks of subsets through joblib (no disk cache).

    Sum convention: theta(S) = argmin sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
    Bit-identical to the serial call (``n_jobs=None``) with the same ``chunk_size``.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n)
        Boolean masks or non-negative weights.
    theta0 : ndarray of shape (p,) or (k, p), optional
        Warm start(s).
    chunk_size : int
        Subsets per parallel task.
    n_jobs, backend, device, threads
        See :func:`fit_chunks`.
    progress : bool
        tqdm bar in fits (total k, advanced by each chunk's size as it finishes).

    Returns
    -------
    SubsetFitResult
        thetas (k, p), grad_norms (k,), n_iter (k,), converged (k,).
    """
    from ..learners.base import SubsetFitResult
    from ..learners.validation import check_theta, check_weight_matrix

    n_jobs = check_n_jobs(n_jobs)
    backend = check_backend(backend)
    threads = check_threads(threads)
    Xp, y_enc, K = learner.prepare(X, y)
    W = check_weight_matrix(masks, Xp.shape[0])
    learner.check_existence(W, y_enc, K, "masks")
    if not (isinstance(chunk_size, numbers.Integral) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    k, p = W.shape[0], K * (Xp.shape[1] + 1)
    if theta0 is not None:
        T0 = check_theta(theta0, p, name="theta0")
        if T0.shape[0] not in (1, k):
            raise ValueError(f"theta0 must have shape ({p},) or ({k}, {p}), got {T0.shape}")
    inner = min(int(chunk_size), learner.default_chunk_size(Xp.shape[0], p, K))
    bounds = chunk_bounds(k, int(chunk_size))
    thetas, gn, conv = np.empty((k, p)), np.empty(k), np.empty(k, dtype=bool)
    its = np.empty(k, dtype=np.int64)
    it = fit_chunks(learner, X, y, W, bounds, theta0=theta0, inner_chunk=inner, n_jobs=n_jobs,
                    backend=backend, device=device, threads=threads)
    bar = _progress_bar(progress, k, 0, f"exact {learner.name}")
    try:
        for c, res in it:
            s, e = bounds[c]
            thetas[s:e], gn[s:e], conv[s:e] = res["thetas"], res["grad_norms"], res["converged"]
            its[s:e] = res["n_iter"]
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    return SubsetFitResult(thetas, gn, its, conv)


def _progress_bar(progress: bool, total: int, initial: int, desc: str):
    """A tqdm bar counting fits (``total`` subsets, ``initial`` already done), or None."""
    if not progress or total == initial:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="fit")

