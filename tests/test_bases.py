"""ModelPred over a classical base: the bases, the gate, and everything that must work for each."""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import modelpred_theory as mpt
from modelpred_theory.baselines import influence, newton_step
from modelpred_theory.setfn import ModelPred, generate_pairs, relative_error
from modelpred_theory.setfn.bases import ResidualGate, make_base

pytestmark = pytest.mark.torch

BASES = (None, "influence", "newton")
# Two implementations of the same float64 formula (one GEMM vs per-mask solves): rounding only.
ROUND = 1e-9


def _binary(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1).max()
    y = (X @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _multi(n=60, d=3, K=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1).max()
    y = np.argmax(X @ rng.normal(size=(d, K)) + 0.5 * rng.normal(size=(n, K)), axis=1)
    return X, y


def _masks(n, k, lo, rng, y=None, K=None):
    rng = np.random.default_rng(rng)
    out = []
    while len(out) < k:
        m = np.zeros(n, bool)
        m[rng.permutation(n)[:rng.integers(int(lo * n), n + 1)]] = True
        if y is None or np.unique(y[m]).size == K:
            out.append(m)
    return np.array(out)


@pytest.fixture(scope="module")
def fitted():
    """One small fitted model per base on a binary problem (shared pairs)."""
    X, y = _binary()
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    pairs = generate_pairs(lrn, X, y, n_permutations=24, step=2, min_size=20, rng=0,
                           progress=False)
    models = {b: ModelPred(lrn, seed=0, base=b, epochs=15, width=32, progress=False).fit(
        X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups) for b in BASES}
    return X, y, lrn, models


@pytest.mark.parametrize("problem", ["binary", "multinomial"])
def test_gemm_influence_base_equals_baselines_influence(problem):
    X, y = _binary() if problem == "binary" else _multi()
    lrn = mpt.learners.LogisticRegression(lam=0.5)
    _, y_enc, K = lrn.prepare(X, y)
    M = _masks(len(y), 30, 0.4, 0, y, len(np.unique(y)))
    base = make_base("influence", lrn).fit(X, y_enc, K)
    got = base.predict(X, y_enc, K, M.astype(float))
    ref = influence(lrn, X, y, M)
    assert np.max(np.abs(got - ref)) <= ROUND * max(1.0, np.max(np.abs(ref)))


@pytest.mark.parametrize("problem", ["binary", "multinomial"])
def test_newton_base_equals_baselines_newton_step(problem):
    X, y = _binary() if problem == "binary" else _multi()
    lrn = mpt.learners.LogisticRegression(lam=0.5)
    _, y_enc, K = lrn.prepare(X, y)
    M = _masks(len(y), 30, 0.4, 1, y, len(np.unique(y)))
    base = make_base("newton", lrn).fit(X, y_enc, K)
    got = base.predict(X, y_enc, K, M.astype(float))
    ref = newton_step(lrn, X, y, M)
    assert np.max(np.abs(got - ref)) <= ROUND * max(1.0, np.max(np.abs(ref)))


def test_ridge_newton_base_is_exact_and_correction_is_zero():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4))
    y = X @ rng.normal(size=4) + 0.1 * rng.normal(size=50)
    lrn = mpt.learners.Ridge(lam=0.7)
    pairs = generate_pairs(lrn, X, y, n_permutations=10, step=3, min_size=10, rng=0,
                           progress=False)
    model = ModelPred(lrn, base="newton", epochs=3, width=16, progress=False).fit(
        X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups)
    assert model.meta_["base_exact"] and np.all(model.gate_.alpha == 0)
    M = _masks(50, 20, 0.2, 4)
    pred = model.predict(X, y, M)
    for m, th in zip(M, pred, strict=True):  # closed form (X^T X + lam P)^{-1} X^T y
        Xa = np.c_[X[m], np.ones(m.sum())]
        P = np.diag([1.0] * 4 + [0.0])
        ref = np.linalg.solve(Xa.T @ Xa + 0.7 * P, Xa.T @ y[m])
        assert np.max(np.abs(th - ref)) <= 1e-8 * max(1.0, np.max(np.abs(ref)))


@pytest.mark.parametrize("base", ["influence", "newton"])
def test_correction_vanishes_on_the_full_pool(fitted, base):
    X, y, lrn, models = fitted
    full = np.ones((1, len(y)), bool)
    pred = models[base].predict(X, y, full)
    theta0 = lrn.fit(X, y).theta
    assert models[base].gate_(full.sum(1))[0] == 0.0
    assert np.max(np.abs(pred[0] - theta0)) <= ROUND


@contextmanager
def _evaluated_in(model, dtype):
    """The model with its network evaluated in ``dtype``, and the tolerance of that precision:
    float64 sums in another order agree to ~1e-15; float32 ones to ~1e-7 of the largest entry."""
    model.predict_dtype = dtype
    try:
        yield (lambda a: 1e-10) if dtype == "float64" else (
            lambda a: 1e-5 * max(1.0, float(np.max(np.abs(a)))))
    finally:
        model.predict_dtype = "float32"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("base", BASES)
def test_hybrid_is_permutation_and_padding_invariant(fitted, base, dtype):
    X, y, _, models = fitted
    rng = np.random.default_rng(5)
    idx = [rng.permutation(60)[:m] for m in (25, 40, 33)]
    sets = [(X[i], y[i]) for i in idx]
    perm = [(X[i[::-1]], y[i[::-1]]) for i in idx]
    with _evaluated_in(models[base], dtype) as tol:
        a = models[base].predict_sets(sets)
        b = models[base].predict_sets(perm)
        c = np.concatenate([models[base].predict_sets([s]) for s in sets])  # no padding at all
    assert np.max(np.abs(a - b)) <= tol(a) and np.max(np.abs(a - c)) <= tol(a)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("base", BASES)
def test_predict_sets_of_pool_rows_equals_predict_on_masks(fitted, base, dtype):
    X, y, _, models = fitted
    M = _masks(60, 6, 0.4, 6)
    with _evaluated_in(models[base], dtype) as tol:
        by_mask = models[base].predict(X, y, M)
        by_sets = models[base].predict_sets([(X[m], y[m]) for m in M])
    assert np.max(np.abs(by_mask - by_sets)) <= 10 * tol(by_mask)


def test_float32_evaluation_is_the_float64_function_to_float32_rounding(fitted):
    """predict_dtype changes rounding only: float32 and float64 predictions agree to ~1e-6 of
    the network's output scale, and a bad predict_dtype is refused."""
    X, y, _, models = fitted
    model, M = models[None], _masks(60, 8, 0.4, 9)
    with _evaluated_in(model, "float64") as tol64:
        p64 = model.predict(X, y, M)
    p32 = model.predict(X, y, M)
    assert model.predict_dtype == "float32"
    assert 0 < np.max(np.abs(p64 - p32)) <= 1e-5 * np.max(np.abs(p64))
    assert tol64(p64) == 1e-10
    with pytest.raises(ValueError, match="predict_dtype"):
        model.predict_dtype = "float16"


@pytest.mark.parametrize("base", BASES)
def test_save_load_round_trip_is_bit_identical(fitted, base, tmp_path):
    X, y, _, models = fitted
    M = _masks(60, 10, 0.4, 7)
    models[base].save(tmp_path / "m")
    loaded = ModelPred.load(tmp_path / "m")
    assert loaded.base == base
    assert np.array_equal(models[base].predict(X, y, M), loaded.predict(X, y, M))


def test_hybrid_improves_on_its_base_and_certificates_hold(fitted):
    X, y, lrn, models = fitted
    M = _masks(60, 200, 0.4, 8)
    T = lrn.fit_subsets(X, y, M)
    base_err = {"influence": relative_error(influence(lrn, X, y, M), T),
                "newton": relative_error(newton_step(lrn, X, y, M), T)}
    for b in ("influence", "newton"):
        pred = models[b].predict(X, y, M)
        err = relative_error(pred, T)
        assert np.median(err) < np.median(base_err[b])
        bounds = mpt.certify(lrn, X, y, M, pred)
        assert np.all(bounds >= np.linalg.norm(pred - T, axis=1) * (1 - 1e-9))


def test_gate_falls_back_to_the_base_where_the_correction_hurts():
    gate = ResidualGate(100, active=True)
    rng = np.random.default_rng(0)
    sizes = np.repeat([85, 55], 50)  # t = 0.15 and 0.45
    truth = rng.normal(size=(100, 3))
    base = truth + 0.1 * rng.normal(size=(100, 3))
    good = truth - base  # the exact residual
    corr = np.where(sizes[:, None] == 85, good, -5 * good)  # helps at t=0.15, hurts at 0.45
    info = gate.calibrate(sizes, base, corr, truth)
    assert gate.alpha[1] == 1.0 and gate.alpha[4] == 0.0
    assert info["counts"][1] == 50 and gate.alpha[8] == 0.0  # no data there: the base alone


def test_unknown_base_is_refused_before_work():
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    with pytest.raises(ValueError, match="base must be one of"):
        ModelPred(lrn, base="influence3")
    with pytest.raises(ValueError, match="base must be one of"):
        ModelPred(lrn, base=1)


def test_labels_that_are_not_minimisers_are_refused():
    X, y = _binary()
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    M = _masks(60, 8, 0.5, 9)
    rand = np.random.default_rng(0).normal(size=(8, 5))
    with pytest.raises(ValueError, match="not minimisers"):
        ModelPred(lrn, progress=False).fit(X, y, masks=M, thetas=rand)


def test_predict_refuses_masks_missing_a_class(fitted):
    X, y, _, models = fitted
    m = (y == 1)[None, :]
    with pytest.raises(ValueError, match="miss a class"):
        models["newton"].predict(X, y, m)


def test_optimality_regulariser_runs_at_the_final_prediction_with_unlabelled_subsets():
    X, y = _multi()
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    pairs = generate_pairs(lrn, X, y, n_permutations=8, step=4, min_size=30, rng=0,
                           progress=False)
    model = ModelPred(lrn, base="influence", epochs=2, width=16, n_unlabelled=64,
                      progress=False).fit(X, y, masks=pairs.masks, thetas=pairs.thetas,
                                          groups=pairs.groups)
    r = [h["r_opt"] for h in model.history_]
    assert all(np.isfinite(r)) and all(v > 0 for v in r)
    corr = model.predict(X, y, pairs.masks[:5], correct=True)
    assert np.max(np.abs(corr - pairs.thetas[:5])) <= 1e-8


@pytest.mark.parametrize("damage", ["truncate_weights", "random_weights", "broken_json",
                                    "width_mismatch", "truncate_base", "missing_base"])
def test_damaged_saved_models_are_refused_with_the_file_named(fitted, tmp_path, damage):
    _, _, _, models = fitted
    path = models["newton"].save(tmp_path / "m")
    w, c, b = path / "weights.pt", path / "config.json", path / "base.npz"
    if damage == "truncate_weights":
        w.write_bytes(w.read_bytes()[:300])
        name = "weights.pt"
    elif damage == "random_weights":
        w.write_bytes(np.random.default_rng(0).bytes(4096))
        name = "weights.pt"
    elif damage == "broken_json":
        c.write_text(c.read_text()[:-40])
        name = "config.json"
    elif damage == "width_mismatch":
        cfg = json.loads(c.read_text())
        cfg["network"]["width"] = 8
        c.write_text(json.dumps(cfg))
        name = "config.json"  # the manifest's hash of config.json no longer matches
    elif damage == "truncate_base":
        b.write_bytes(b.read_bytes()[:50])
        name = "base.npz"
    else:
        b.unlink()
        name = "base.npz"
    with pytest.raises(ValueError, match=name) as exc:
        ModelPred.load(path)
    assert "weights_only=False" not in str(exc.value)


def test_modelpred_labels_through_the_parallel_engine_bit_for_bit():
    X, y = _binary(n=40)
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    kw = {"n_permutations": 3, "step": 4, "min_size": 20, "epochs": 1, "width": 8,
          "progress": False}
    serial = ModelPred(lrn, base="influence", **kw).fit(X, y)
    par = ModelPred(lrn, base="influence", n_jobs=2, **kw).fit(X, y)
    assert np.array_equal(serial.pairs_.thetas, par.pairs_.thetas)
    with pytest.raises(ValueError, match="n_jobs"):
        ModelPred(lrn, n_jobs=0)


def test_string_labels_keep_their_classes_through_predict_sets_and_save(tmp_path):
    X, y = _multi()
    names = np.array(["cat", "dog", "emu"])[y]
    lrn = mpt.learners.LogisticRegression(lam=1.0)
    pairs = generate_pairs(lrn, X, names, n_permutations=6, step=6, min_size=30, rng=0,
                           progress=False)
    model = ModelPred(lrn, base="influence", epochs=2, width=8, progress=False).fit(
        X, names, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups)
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    M = _masks(60, 4, 0.5, 3, y, 3)
    a = model.predict(X, names, M)
    b = model.predict_sets([(X[m], names[m]) for m in M])
    assert np.max(np.abs(a - b)) <= 1e-9
    model.save(tmp_path / "s")
    assert ModelPred.load(tmp_path / "s").classes_.tolist() == ["cat", "dog", "emu"]
    with pytest.raises(ValueError, match="classes"):
        model.predict_sets([(X[:5], np.array(["cat", "dog", "yak", "emu", "cat"]))])


# ------------------------------------------------------------------------------ devices
def test_modelpred_device_is_checked_before_work_and_auto_is_cpu_here():
    learner = mpt.learners.LogisticRegression(lam=1.0)
    for bad in ("tpu", 3, "meta"):
        with pytest.raises(ValueError, match="device"):
            ModelPred(learner, device=bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ModelPred(learner, device="cuda")
        model = ModelPred(learner, device="auto", epochs=1, progress=False)
        assert model.device == "cpu" and model.label_device is None


@pytest.mark.gpu
def test_modelpred_on_cuda_matches_cpu():
    """Labels on the device are the same float64 minimisers; training differs only by float32
    kernels, so the two models agree to the network's own error scale."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y = _binary()
    learner = mpt.learners.LogisticRegression(lam=1.0)
    kw = {"base": "newton", "epochs": 3, "n_permutations": 6, "step": 4, "min_size": 20,
          "progress": False}
    cpu = ModelPred(learner, seed=0, **kw).fit(X, y)
    gpu = ModelPred(learner, seed=0, device="cuda", **kw).fit(X, y)
    np.testing.assert_allclose(gpu.pairs_.thetas, cpu.pairs_.thetas, rtol=1e-8, atol=1e-10)
    masks = cpu.pairs_.masks[:10]
    a, b = cpu.predict(X, y, masks), gpu.predict(X, y, masks)
    assert np.abs(a - b).max() <= 1e-3 * np.abs(a).max()
    with pytest.raises(ValueError, match="n_jobs=2"):
        ModelPred(learner, device="cuda", n_jobs=2)
