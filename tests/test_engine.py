"""The parallel label engine: serial, loky and a real two-worker Dask cluster give the same bits.

Labels follow the sum convention theta(S) = argmin sum_{i in S} loss_i + lam/2 ||P theta||^2.
The reference is the serial run (n_jobs=None); every engine must reproduce its bytes exactly.
The problem (binary logistic, pool 1,000, d = 20) is one where, on a 2-core machine, the solver's
rounding depends on the torch thread count, so an engine that let workers keep their own thread
setting (Dask workers run one thread) would fail the comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import numpy as np
import pytest

from modelpred_theory import subsets
from modelpred_theory.learners import LogisticRegression
from modelpred_theory.setfn import engine, generate_pairs, label_masks

CHUNK = 2


class _DiesOnce(LogisticRegression):
    """Kills its worker process (os._exit) the first time it meets ``target`` (a mask row)."""

    def __init__(self, lam=1.0, *, flag: str = "", target=None):
        super().__init__(lam)
        self.flag, self.target = flag, target

    def fit_subsets(self, X, y, masks, *a, **k):
        if not os.path.exists(self.flag) and np.array_equal(masks[0], self.target):
            Path(self.flag).touch()
            os._exit(3)
        return super().fit_subsets(X, y, masks, *a, **k)


class _FailsOnce(_DiesOnce):
    """Raises (instead of dying) the first time it meets ``target``."""

    def fit_subsets(self, X, y, masks, *a, **k):
        if not os.path.exists(self.flag) and np.array_equal(masks[0], self.target):
            Path(self.flag).touch()
            raise RuntimeError("injected failure")
        return LogisticRegression.fit_subsets(self, X, y, masks, *a, **k)


class _RecordsPid(LogisticRegression):
    """Touches ``folder/<pid>`` whenever a process solves a chunk."""

    def __init__(self, lam=1.0, *, folder: str = ""):
        super().__init__(lam)
        self.folder = folder

    def solve(self, *a, **k):
        Path(self.folder, str(os.getpid())).touch()
        return super().solve(*a, **k)


@pytest.fixture(scope="module", autouse=True)
def two_client_threads():
    """This process runs 2 torch threads (conftest sets 1), unlike Dask and loky workers (1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def problem(two_client_threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 20))
    y = (X @ rng.standard_normal(20) + rng.logistic(size=1000) > 0).astype(np.int64)
    masks = subsets.random_subsets(1000, 4 * CHUNK, rng=0, min_size=500, y=y,
                                   require_all_classes=True)
    thetas, gn, _ = label_masks(LogisticRegression(1.0), X, y, masks, chunk_size=CHUNK,
                                progress=False)
    return X, y, masks, thetas, gn


@pytest.fixture
def spy(monkeypatch):
    """Records the first mask row of every fit_subsets call made in THIS process."""
    calls = []
    orig = LogisticRegression.fit_subsets

    def fit_subsets(self, X, y, M, *a, **k):
        calls.append((np.asarray(M)[0].copy(), k.pop("device", None)))
        return orig(self, X, y, M, *a, **k)

    monkeypatch.setattr(LogisticRegression, "fit_subsets", fit_subsets)
    return calls


def _chunk_of(masks, row):
    return next(c for c in range(0, masks.shape[0], CHUNK) if np.array_equal(masks[c], row))


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------ serial / loky
def test_serial_chunk_map_matches_fit_subsets(problem):
    X, y, masks, thetas, gn = problem
    ref = LogisticRegression(1.0).fit_subsets(X, y, masks, return_info=True)
    # one-thread chunks vs the solver's own batching: the same minimiser up to rounding
    np.testing.assert_allclose(thetas, ref.thetas, rtol=0, atol=1e-10)
    assert np.all(gn <= LogisticRegression(1.0).residual_tolerance(X, y, masks))
    par = engine.fit_subsets_parallel(LogisticRegression(1.0), X, y, masks, chunk_size=CHUNK)
    assert _same_bits(par.thetas, thetas) and _same_bits(par.grad_norms, gn)
    assert par.converged.all() and (par.n_iter >= 1).all()


def test_loky_two_processes_bit_identical(problem, spy):
    X, y, masks, thetas, gn = problem
    th, g, _ = label_masks(LogisticRegression(1.0), X, y, masks, chunk_size=CHUNK,
                           progress=False, n_jobs=2)
    assert spy == []  # the work ran in the worker processes, not here
    assert _same_bits(th, thetas) and _same_bits(g, gn)


def test_loky_killed_worker_loses_only_unfinished_chunks(problem, tmp_path, spy):
    X, y, masks, thetas, _ = problem
    target = masks[CHUNK]
    learner = _DiesOnce(1.0, flag=str(tmp_path / "died"), target=target)
    with pytest.raises(Exception) as info:  # noqa: B017 - loky's TerminatedWorkerError
        label_masks(learner, X, y, masks, cache_dir=tmp_path, chunk_size=CHUNK,
                    progress=False, n_jobs=2)
    assert "Terminated" in type(info.value).__name__ or "terminated" in str(info.value)
    assert "unfinished; the finished ones are cached" in "".join(info.value.__notes__)
    assert (tmp_path / "died").exists()
    folder = next(tmp_path.glob("pairs-*"))
    kept = {int(f.stem.split("_")[1]) for f in folder.glob("chunk_*.npz")}
    assert 1 not in kept and not list(folder.glob("*.tmp"))
    # the rerun (serial, here) computes exactly the chunks that were lost, the killed one included
    th, _, _ = label_masks(learner, X, y, masks, cache_dir=tmp_path, chunk_size=CHUNK,
                           progress=False)
    redone = {_chunk_of(masks, row) // CHUNK for row, _ in spy}
    assert redone == set(range(4)) - kept and 1 in redone
    assert _same_bits(th, thetas)


def test_failing_chunk_keeps_every_other_chunk(problem, tmp_path, spy):
    X, y, masks, thetas, _ = problem
    learner = _FailsOnce(1.0, flag=str(tmp_path / "failed"), target=masks[2 * CHUNK])
    with pytest.raises(RuntimeError, match="injected failure") as info:
        label_masks(learner, X, y, masks, cache_dir=tmp_path, chunk_size=CHUNK, progress=False)
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "chunk(s) [2] of 4 unfinished" in notes and "injected failure" in notes
    folder = next(tmp_path.glob("pairs-*"))
    assert sorted(f.name for f in folder.glob("chunk_*.npz")) == [
        "chunk_00000.npz", "chunk_00001.npz", "chunk_00003.npz"]
    spy.clear()
    th, _, _ = label_masks(learner, X, y, masks, cache_dir=tmp_path, chunk_size=CHUNK,
                           progress=False)
    assert len(spy) == 1 and np.array_equal(spy[0][0], masks[2 * CHUNK])
    assert _same_bits(th, thetas)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("n_jobs,exc", [(0, ValueError), (-2, ValueError), (-7, ValueError),
                                        (1.5, TypeError), (True, TypeError), ("2", TypeError)])
def test_bad_n_jobs_refused_before_work(problem, spy, n_jobs, exc):
    X, y, masks, _, _ = problem
    with pytest.raises(exc, match="n_jobs"):
        label_masks(LogisticRegression(1.0), X, y, masks, n_jobs=n_jobs, progress=False)
    with pytest.raises(exc, match="n_jobs"):
        generate_pairs(LogisticRegression(1.0), X, y, n_jobs=n_jobs, progress=False)
    with pytest.raises(exc, match="n_jobs"):
        engine.map_chunks(abs, [(1,)], n_jobs=n_jobs)
    assert spy == []


def test_bad_backend_and_threads_refused_before_work(problem, spy):
    X, y, masks, _, _ = problem
    L = LogisticRegression(1.0)
    with pytest.raises(ValueError, match="backend must be one of"):
        label_masks(L, X, y, masks, backend="spark", progress=False)
    with pytest.raises(TypeError, match="backend"):
        label_masks(L, X, y, masks, backend=2, progress=False)
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="backend='ray' needs Ray"):
            label_masks(L, X, y, masks, backend="ray", progress=False)
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="distributed.Client"):  # no client is current here
        label_masks(L, X, y, masks, backend="dask", progress=False)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            label_masks(L, X, y, masks, threads=bad, progress=False)
    assert spy == []


def test_labels_that_cannot_fit_in_memory_refused_before_work(problem, spy, monkeypatch):
    from modelpred_theory.setfn import pairs as pairs_mod

    X, y, masks, _, _ = problem
    monkeypatch.setattr(pairs_mod, "physical_memory_bytes", lambda: 1000)  # a 1 kB machine
    with pytest.raises(ValueError, match="masks: 8 labels of 21 parameters need"):
        label_masks(LogisticRegression(1.0), X, y, masks, progress=False)
    assert spy == []


def test_device_forwarded_only_when_given(problem, spy):
    X, y, masks, thetas, _ = problem
    label_masks(LogisticRegression(1.0), X, y, masks[:CHUNK], progress=False)
    label_masks(LogisticRegression(1.0), X, y, masks[:CHUNK], progress=False, device="cpu")
    assert [d for _, d in spy] == [None, "cpu"]


def test_map_chunks_checks_before_iterating_and_yields_all():
    with pytest.raises(TypeError, match="fn"):
        engine.map_chunks(3, [(1,)])  # raised at the call, before any iteration
    out = dict(engine.map_chunks(divmod, [(7, 2), (9, 4), (1, 1)]))
    assert out == {0: (3, 1), 1: (2, 1), 2: (1, 0)}
    assert list(engine.map_chunks(abs, [])) == []


# ------------------------------------------------------------------------------ Dask cluster
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_cluster_bit_identical_and_cached_by_client(problem, dask_client, tmp_path, spy):
    X, y, masks, thetas, gn = problem
    addresses = [dask_client.scheduler.address, *dask_client.scheduler_info()["workers"]]
    assert len(addresses) == 3 and all(a.startswith("tcp://127.0.0.1:") for a in addresses)
    with dask_client.as_current(), joblib.parallel_config(backend="dask"):
        th, g, folder = label_masks(LogisticRegression(1.0), X, y, masks, cache_dir=tmp_path,
                                    chunk_size=CHUNK, progress=False)
    assert spy == []  # computed on the cluster's workers
    assert _same_bits(th, thetas) and _same_bits(g, gn)
    assert len(list(Path(folder).glob("chunk_*.npz"))) == 4
    # the client wrote the cache: a serial rerun loads it without solving anything
    th2, _, _ = label_masks(LogisticRegression(1.0), X, y, masks, cache_dir=tmp_path,
                            chunk_size=CHUNK, progress=False)
    assert spy == [] and _same_bits(th2, thetas)


def test_dask_killed_worker_chunk_is_recomputed(problem, dask_client, tmp_path):
    X, y, masks, thetas, _ = problem
    learner = _DiesOnce(1.0, flag=str(tmp_path / "died"), target=masks[3 * CHUNK])
    with dask_client.as_current():
        th, _, _ = label_masks(learner, X, y, masks, chunk_size=CHUNK, progress=False,
                               backend="dask")
    assert (tmp_path / "died").exists()  # a worker did die mid-run
    assert _same_bits(th, thetas)  # and the scheduler recomputed its chunk elsewhere


def test_fit_subsets_n_jobs_follows_the_active_joblib_backend(problem, dask_client, tmp_path):
    """fit_subsets(n_jobs=2) under parallel_config(backend="dask") solves its chunks in the
    cluster's worker processes, not here, and returns the serial bits."""
    X, y, masks, _, _ = problem
    dask_client.wait_for_workers(2, timeout=120)  # a worker killed by another test restarts
    lrn = _RecordsPid(1.0, folder=str(tmp_path))
    serial = LogisticRegression(1.0).fit_subsets(X, y, masks, chunk_size=CHUNK)
    with dask_client.as_current(), joblib.parallel_config(backend="dask"):
        on_dask = lrn.fit_subsets(X, y, masks, chunk_size=CHUNK, n_jobs=2)
    workers = set(dask_client.run(os.getpid).values())  # the two worker processes
    solved_in = {int(f.name) for f in tmp_path.iterdir()}
    assert solved_in and solved_in <= workers and os.getpid() not in solved_in
    assert _same_bits(on_dask, serial)


def test_exact_oracle_valuation_on_dask_equals_serial_bits(dask_client):
    """Exact-oracle valuation through the engine: one torch thread per chunk, so n_jobs=1
    here, two loky processes and the two-worker Dask cluster give the same bits."""
    from modelpred_theory.applications import banzhaf, data_shapley
    from modelpred_theory.applications.oracles import ExactOracle

    rng = np.random.default_rng(3)
    X = rng.standard_normal((24, 4))
    y = (X @ rng.standard_normal(4) + rng.logistic(size=24) > 0).astype(np.int64)
    Xt, yt = X[:8], y[:8]
    lrn = LogisticRegression(1.0)
    args = (lrn, X[8:], y[8:], Xt, yt)
    kw = {"n_permutations": 6, "seed": 1, "oracle_kwargs": {"chunk_size": 8}}
    serial = data_shapley(*args, n_jobs=1, **kw).values
    loky = data_shapley(*args, n_jobs=2, **kw).values
    with dask_client.as_current(), joblib.parallel_config(backend="dask"):
        dask = data_shapley(*args, n_jobs=2, **kw).values
        bz_dask = banzhaf(*args, stopping=40, seed=2, n_jobs=2).values
    assert _same_bits(loky, serial) and _same_bits(dask, serial)
    assert _same_bits(bz_dask, banzhaf(*args, stopping=40, seed=2, n_jobs=1).values)
    # the in-process solver (n_jobs=None, two threads) agrees to its tolerance
    np.testing.assert_allclose(data_shapley(*args, **kw).values, serial, rtol=0, atol=1e-9)
    assert np.ptp(serial) > 1e-3  # the values are not trivially equal
    masks = subsets.random_subsets(16, 20, rng=4, min_size=8, y=y[8:],
                                   require_all_classes=True)
    with dask_client.as_current(), joblib.parallel_config(backend="dask"):
        on_dask = ExactOracle(lrn, n_jobs=2, chunk_size=4).predict(X[8:], y[8:], masks)
    assert _same_bits(on_dask, ExactOracle(lrn, n_jobs=1, chunk_size=4).predict(
        X[8:], y[8:], masks))


# ------------------------------------------------------------------------------ benchmarks
def _bench(name):
    from modelpred_theory._scripts import load_script, script_dir

    return load_script(script_dir("bench") / f"{name}.py")


def test_scale_memory_quick_and_guard(tmp_path):
    mod = _bench("scale_memory")
    res = mod.main(["--quick", "--out", str(tmp_path / "s.json")])
    assert [(p["kind"], p["n"], p["d"], p["K"]) for p in res["problems"]] == list(mod.QUICK)
    for prob in res["problems"]:
        steps = prob["steps"]
        assert set(steps) == {"generate", "fit_subsets", "influence", "newton_step"}
        assert steps["fit_subsets"]["all_converged"]
        assert all(s["seconds"] > 0 and s["process_peak_rss_gb"] > 0 for s in steps.values())
        # one Newton step from the full fit is closer to theta(S) than first-order influence
        assert (steps["newton_step"]["median_rel_err_vs_exact"]
                < steps["influence"]["median_rel_err_vs_exact"] < 1.0)
    # a step predicted above the budget is not run, and says why
    tiny = mod.main(["--quick", "--max-gb", "1e-9", "--out", str(tmp_path / "t.json")])
    assert "skipped" in tiny["problems"][0]["steps"]["generate"]
    assert set(tiny["problems"][0]["steps"]) == {"generate"}
    # the memory model: at d = 784 the packed outer products (hundreds of GiB at n = 10^5)
    # are never built (CG path for fit_subsets, direct Hessians above the 1 GiB cap), so the
    # steps stay within a few GiB; below the cap on the direct path the table is counted.
    lrn = LogisticRegression(1.0)
    table = 3 * 8 * 100_000 * 785 * 786 / 2 / 2**30
    for step in ("fit_subsets", "newton_step"):
        assert mod.predict_gb(step, 100_000, 784, 10, 8, lrn) < min(8.0, table / 100)
    # influence keeps the (n, p) per-sample gradients and H^-1 G: 3 n p words, under 24 GB
    infl = mod.predict_gb("influence", 100_000, 784, 10, 8, lrn)
    assert 3 * 8 * 100_000 * 7850 / 2**30 <= infl < 24.0
    small = mod.predict_gb("fit_subsets", 100_000, 32, 2, 8, lrn)
    assert small >= 3 * 8 * 100_000 * 33 * 34 / 2 / 2**30


def test_gpu_bench_runs_and_says_when_there_is_no_cuda(tmp_path):
    import torch

    res = _bench("gpu_bench").main(["--quick", "--out", str(tmp_path / "g.json")])
    assert res["cuda_available"] == torch.cuda.is_available()
    if not res["cuda_available"]:
        assert "no CUDA device" in res["note"] and set(res["devices"]) == {"cpu"}
    cpu = res["devices"]["cpu"]
    assert all(w["all_residuals_below_tol"] for w in cpu["fit_subsets"].values())
    assert 0 < cpu["modelpred"]["median_rel_err_heldout"] < 1.0
