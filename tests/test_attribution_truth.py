"""Exact ground truth for data attribution: outputs and their gradients, ground truth, evaluate."""

import numpy as np
import pytest

import modelpred_theory as mpt
from modelpred_theory.attribution import output_grads, outputs


def _multiclass(n=40, m=7, d=3, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    W = rng.normal(size=(K, d))
    y = np.argmax(X @ W.T + rng.normal(scale=1.0, size=(n + m, K)), axis=1)
    y[:K] = np.arange(K)
    return X[:n], y[:n], X[n:], y[n:]


def _binary(n=40, m=6, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    y = (X[:, 0] + 0.7 * rng.normal(size=n + m) > 0).astype(int)
    y[:2] = [0, 1]
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("problem,kind", [("multinomial", "margin"), ("multinomial", "neg_loss"),
                                          ("binary", "margin"), ("binary", "neg_loss"),
                                          ("ridge", "neg_loss")])
def test_output_grads_match_finite_differences(kind, problem):
    if problem == "multinomial":
        X, y, Xt, yt = _multiclass()
        learner = mpt.learners.LogisticRegression(lam=1.0)
    elif problem == "binary":
        X, y, Xt, yt = _binary()
        learner = mpt.learners.LogisticRegression(lam=1.0)
    else:
        X, y, Xt, _ = _binary()
        rng = np.random.default_rng(2)
        y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=X.shape[0])
        yt = Xt @ np.array([1.0, -2.0, 0.5])
        learner = mpt.learners.Ridge(lam=1.0)
    theta = learner.fit(X, y).theta
    G = output_grads(learner, theta, Xt, yt, kind)
    assert G.shape == (Xt.shape[0], theta.size)
    h = 1e-6
    E = np.eye(theta.size)
    fd = (outputs(learner, theta + h * E, Xt, yt, kind)
          - outputs(learner, theta - h * E, Xt, yt, kind)) / (2 * h)  # shape: (p, m)
    np.testing.assert_allclose(G, fd.T, rtol=1e-6, atol=1e-7)
    # the gradient is not trivially zero (a wrong sign or a dropped class would show)
    assert np.abs(G).max() > 1e-2


def test_margin_refused_for_regression():
    X, y, Xt, _ = _binary()
    learner = mpt.learners.Ridge(lam=1.0)
    theta = learner.fit(X, y.astype(float)).theta
    with pytest.raises(ValueError, match="output='margin' needs a classifier"):
        outputs(learner, theta, Xt, np.zeros(Xt.shape[0]), "margin")
    with pytest.raises(ValueError, match="output must be one of"):
        output_grads(learner, theta, Xt, np.zeros(Xt.shape[0]), "loss")


def test_lds_model_outputs_is_the_shared_definition():
    """Regression identity: applications.lds.model_outputs returns attribution.outputs."""
    from modelpred_theory.applications.lds import model_outputs

    X, y, Xt, yt = _multiclass()
    learner = mpt.learners.LogisticRegression(lam=1.0)
    thetas = learner.fit_subsets(X, y, np.ones((2, X.shape[0]), bool))
    for kind in ("margin", "neg_loss"):
        np.testing.assert_array_equal(model_outputs(learner, thetas, Xt, yt, kind),
                                      outputs(learner, thetas, Xt, yt, kind))


# ---------------------------------------------------------------------------------------------
# ground truth
# ---------------------------------------------------------------------------------------------
from modelpred_theory.attribution import (  # noqa: E402
    GroundTruth,
    additive_ceiling,
    evaluate,
    ground_truth,
)


def _problem(kind="multinomial"):
    if kind == "multinomial":
        X, y, Xt, yt = _multiclass(n=36, m=5)
        return mpt.learners.LogisticRegression(lam=1.0, n_classes=3), X, y, Xt, yt, "margin"
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    beta = np.array([1.0, -2.0, 0.5, 0.0])
    y = X @ beta + 0.5 * rng.normal(size=60)
    return mpt.learners.Ridge(lam=2.0), X[:50], y[:50], X[50:], y[50:], "neg_loss"


def _influence_scores(learner, X, y, Xt, yt, output):
    """First-order influence in the package's convention: f(N) - f(N - i) ~ -grad f^T H^-1 g_i
    (theta(N - i) - theta(N) ~ H^-1 g_i under the sum objective)."""
    from modelpred_theory.attribution import output_grads

    theta = learner.fit(X, y).theta
    H = learner.hessian(theta, X, y)
    G = learner.per_sample_grads(theta, X, y)  # shape: (n, p)
    F = output_grads(learner, theta, Xt, yt, output)  # shape: (m, p)
    return -G @ np.linalg.solve(H, F.T)  # shape: (n, m)


def test_loo_equals_brute_force_refits():
    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=5, output=out, chunk_size=7)
    n = X.shape[0]
    full = outputs(learner, learner.fit(X, y).theta, Xt, yt, out)[0]
    brute = np.empty((n, Xt.shape[0]))
    for i in range(n):
        keep = np.arange(n) != i
        brute[i] = full - outputs(learner, learner.fit(X[keep], y[keep]).theta, Xt, yt, out)[0]
    # tolerance: both sides are solved to ||grad F|| <= 1e-10 * scale; outputs move ~1e-9
    np.testing.assert_allclose(truth.loo, brute, atol=1e-8)
    assert np.abs(truth.loo).max() > 1e-2
    np.testing.assert_allclose(truth.full_outputs, full, atol=1e-9)
    assert truth.max_relative_residual <= 1.0
    # the held-out outputs equal independent fits of the same masks
    s = 2
    th = learner.fit(X[truth.masks[s]], y[truth.masks[s]]).theta
    np.testing.assert_allclose(truth.outputs[s], outputs(learner, th, Xt, yt, out)[0], atol=1e-8)
    assert truth.masks.sum(axis=1).tolist() == [n // 2] * 5


def test_resume_after_interruption_is_bit_identical(tmp_path):
    learner, X, y, Xt, yt, out = _problem()
    ref = ground_truth(learner, X, y, Xt, yt, n_subsets=24, output=out, chunk_size=4)
    calls = []

    def stop_after_three(done, total):
        calls.append(done)
        if len(calls) == 4:  # the full fit, then three chunks
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ground_truth(learner, X, y, Xt, yt, n_subsets=24, output=out, chunk_size=4,
                     cache_dir=tmp_path, progress=stop_after_three)
    files = sorted(tmp_path.rglob("chunk_*.npz"))
    assert len(files) == 3  # the finished chunks were kept
    done = []
    again = ground_truth(learner, X, y, Xt, yt, n_subsets=24, output=out, chunk_size=4,
                         cache_dir=tmp_path, progress=lambda d, t: done.append((d, t)))
    # 1 full + 24 subsets + 36 LOO fits; the three cached chunks arrive first
    assert done[-1] == (61, 61) and done[1] == (5, 61)
    for name in ("masks", "outputs", "loo", "full_outputs", "residuals"):
        np.testing.assert_array_equal(getattr(again, name), getattr(ref, name))


def test_damaged_chunk_is_recomputed(tmp_path):
    from modelpred_theory.setfn import CacheWarning

    learner, X, y, Xt, yt, out = _problem()
    ref = ground_truth(learner, X, y, Xt, yt, n_subsets=8, output=out, chunk_size=4,
                       loo=False, cache_dir=tmp_path)
    f = sorted(tmp_path.rglob("chunk_*.npz"))[0]
    f.write_bytes(b"not a zip")
    with pytest.warns(CacheWarning, match="chunk_00000"):
        again = ground_truth(learner, X, y, Xt, yt, n_subsets=8, output=out, chunk_size=4,
                             loo=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.outputs, ref.outputs)


@pytest.mark.slow
def test_dask_cluster_is_bit_identical_to_local():
    """Two worker processes of a real Dask cluster return the local bits (~13 s: cluster start)."""
    distributed = pytest.importorskip("distributed")
    learner, X, y, Xt, yt, out = _problem()
    local = ground_truth(learner, X, y, Xt, yt, n_subsets=16, output=out, chunk_size=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster):
        remote = ground_truth(learner, X, y, Xt, yt, n_subsets=16, output=out, chunk_size=4,
                              backend="dask", n_jobs=2)
    for name in ("outputs", "loo", "residuals"):
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name))


def test_save_load_round_trip_and_numpy_only_reading(tmp_path):
    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=6, output=out)
    path = truth.save(tmp_path / "truth")
    assert path.name == "truth.npz"
    back = GroundTruth.load(path)
    for name in ("masks", "outputs", "loo", "full_outputs", "theta_full", "residuals",
                 "tolerances", "loo_residuals", "loo_tolerances"):
        np.testing.assert_array_equal(getattr(back, name), getattr(truth, name))
    assert (back.learner, back.fingerprint, back.output) == (truth.learner, truth.fingerprint,
                                                            truth.output)
    with np.load(path, allow_pickle=False) as z:  # numpy alone, no pickle
        assert z["masks"].dtype == bool and z["masks"].shape == (6, X.shape[0])
        assert z["loo"].shape == (X.shape[0], Xt.shape[0])
        assert str(z["output"]) == "margin"
        import json

        assert json.loads(str(z["learner"]))["params"]["lam"] == 1.0
    # a damaged file is refused by name
    raw = dict(np.load(path))
    raw["outputs"] = raw["outputs"] + 1.0
    np.savez(tmp_path / "bad.npz", **raw)
    with pytest.raises(ValueError, match="bad.npz is corrupt"):
        GroundTruth.load(tmp_path / "bad.npz")
    # no LOO round-trips as None
    t2 = ground_truth(learner, X, y, Xt, yt, n_subsets=4, output=out, loo=False)
    assert GroundTruth.load(t2.save(tmp_path / "t2.npz")).loo is None


# ---------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------
def test_evaluate_equals_direct_scipy_computation():
    from scipy.stats import pearsonr, spearmanr

    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=30, output=out)
    rng = np.random.default_rng(5)
    scores = truth.loo + rng.normal(scale=0.05, size=truth.loo.shape)
    res = evaluate(scores, truth)
    rho = [spearmanr(truth.masks.astype(float) @ scores[:, j], truth.outputs[:, j])[0]
           for j in range(truth.m)]
    np.testing.assert_allclose(res.lds_per_point, rho, atol=1e-12)
    assert res.lds == pytest.approx(np.mean(rho), abs=1e-12)
    assert res.lds_stderr == pytest.approx(np.std(rho, ddof=1) / np.sqrt(truth.m), abs=1e-12)
    pr = [pearsonr(scores[:, j], truth.loo[:, j])[0] for j in range(truth.m)]
    sr = [spearmanr(scores[:, j], truth.loo[:, j])[0] for j in range(truth.m)]
    assert res.loo_pearson == pytest.approx(np.mean(pr), abs=1e-12)
    assert res.loo_spearman == pytest.approx(np.mean(sr), abs=1e-12)


def test_exact_loo_of_ridge_scores_high_and_its_negation_low():
    """The sign convention end to end: exact LOO effects predict held-out outputs (LDS near 1
    on a well-conditioned ridge problem), the negated matrix anti-predicts them, and influence
    agrees with exact LOO (a wrong sign or a transposed mask would fail here)."""
    learner, X, y, Xt, yt, out = _problem("ridge")
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=60, output=out)
    good = evaluate(truth.loo, truth)
    bad = evaluate(-truth.loo, truth)
    assert good.lds > 0.8 and bad.lds < -0.8
    assert good.loo_pearson == pytest.approx(1.0)
    infl = evaluate(_influence_scores(learner, X, y, Xt, yt, out), truth)
    assert infl.loo_pearson > 0.95 and infl.lds > 0.7
    noise = evaluate(np.random.default_rng(0).normal(size=truth.loo.shape), truth)
    assert abs(noise.lds) < 0.3


def test_counterfactual_matches_brute_force():
    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=10, output=out)
    res = evaluate(truth.loo, truth, counterfactual_k=[1, 3], learner=learner, X=X, y=y,
                   X_test=Xt, y_test=yt)
    c1, c3 = res.counterfactual
    # k = 1 with the exact LOO scores: the predicted change IS the exact change
    np.testing.assert_allclose(c1.actual, c1.predicted, atol=1e-8)
    assert c1.pearson == pytest.approx(1.0)
    j = 2
    top = np.argsort(-truth.loo[:, j], kind="stable")[:3]
    keep = np.setdiff1d(np.arange(X.shape[0]), top)
    f = outputs(learner, learner.fit(X[keep], y[keep]).theta, Xt, yt, out)[0, j]
    assert c3.actual[j] == pytest.approx(truth.full_outputs[j] - f, abs=1e-8)
    assert c3.predicted[j] == pytest.approx(truth.loo[top, j].sum())


def test_evaluate_refuses_bad_input_before_work():
    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=5, output=out, loo=False)
    n, m = truth.n, truth.m
    with pytest.raises(ValueError, match=r"shape \(n, m\).*transposed"):
        evaluate(np.zeros((m, n)), truth)
    bad = np.zeros((n, m))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf.*\[3, 1\]"):
        evaluate(bad, truth)
    X2 = X.copy()
    X2[0, 0] += 1.0
    with pytest.raises(ValueError, match="another pool"):
        evaluate(np.zeros((n, m)), truth, learner=learner, X=X2, y=y, X_test=Xt, y_test=yt)
    with pytest.raises(ValueError, match="another test set"):
        evaluate(np.zeros((n, m)), truth, learner=learner, X=X, y=y, X_test=Xt + 1, y_test=yt)
    with pytest.raises(ValueError, match="learner"):
        evaluate(np.zeros((n, m)), truth, learner=mpt.learners.LogisticRegression(lam=1.0),
                 X=X, y=y, X_test=Xt, y_test=yt)
    with pytest.raises(ValueError, match="counterfactual_k needs learner"):
        evaluate(np.zeros((n, m)), truth, counterfactual_k=[2])
    with pytest.raises(ValueError, match="counterfactual_k must hold"):
        evaluate(np.zeros((n, m)), truth, counterfactual_k=[0], learner=learner, X=X, y=y,
                 X_test=Xt, y_test=yt)
    with pytest.raises(ValueError, match="truth must be a GroundTruth"):
        evaluate(np.zeros((n, m)), {"outputs": 1})


def test_ground_truth_refuses_bad_input():
    learner, X, y, Xt, yt, out = _problem()
    with pytest.raises(ValueError, match="n_subsets"):
        ground_truth(learner, X, y, Xt, yt, n_subsets=2)
    with pytest.raises(ValueError, match="fraction"):
        ground_truth(learner, X, y, Xt, yt, fraction=1.0)
    with pytest.raises(ValueError, match="output must be one of"):
        ground_truth(learner, X, y, Xt, yt, output="loss")
    with pytest.raises(ValueError, match="X_test"):
        ground_truth(learner, X, y, Xt[:, :2], yt)
    with pytest.raises(ValueError, match="progress"):
        ground_truth(learner, X, y, Xt, yt, progress="yes")


# ---------------------------------------------------------------------------------------------
# the additive ceiling
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["multinomial", "ridge"])
def test_ceiling_is_above_every_tested_additive_method(kind):
    learner, X, y, Xt, yt, out = _problem(kind)
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=80, output=out, seed=0)
    train = ground_truth(learner, X, y, Xt, yt, n_subsets=400, output=out, seed=1, loo=False)
    ceil = additive_ceiling(truth, train, sizes=[25, 100, 400])
    assert ceil.sizes.tolist() == [25, 100, 400]
    rng = np.random.default_rng(0)
    methods = {"exact_loo": truth.loo,
               "influence": _influence_scores(learner, X, y, Xt, yt, out),
               "noisy_loo": truth.loo + rng.normal(scale=truth.loo.std(), size=truth.loo.shape)}
    for name, scores in methods.items():
        r = evaluate(scores, truth)
        assert ceil.lds >= r.lds - 2 * np.hypot(ceil.lds_stderr, r.lds_stderr), name
    # more training subsets do not make the datamodel worse by more than noise
    assert ceil.lds_by_size[-1] >= ceil.lds_by_size[0] - 2 * ceil.stderr_by_size[0]
    with pytest.raises(ValueError, match="same seed"):
        additive_ceiling(truth, truth)


def test_lds_wrapper_results_unchanged():
    """Regression: applications.lds scores with the per-output Spearman of scipy, as before
    (constant columns 0), on a multinomial and a 1-D attribution."""
    from scipy.stats import spearmanr

    learner, X, y, Xt, yt, out = _problem()
    tau = np.random.default_rng(1).normal(size=(X.shape[0], Xt.shape[0]))
    tau[:, 0] = 0.0  # constant prediction scores 0
    res = mpt.applications.lds(learner, X, y, Xt, yt, tau, n_subsets=12, output="margin")
    old = [spearmanr(res.predicted[:, j], res.true_outputs[:, j])[0]
           if np.ptp(res.predicted[:, j]) > 0 else 0.0 for j in range(Xt.shape[0])]
    np.testing.assert_allclose(res.per_output, old, atol=1e-14)
    assert res.per_output[0] == 0.0
    thetas = learner.fit_subsets(X, y, res.masks)
    np.testing.assert_array_equal(res.true_outputs, outputs(learner, thetas, Xt, yt, "margin"))


def test_test_labels_encoded_like_the_pool_or_refused():
    """A test set missing a class would be encoded with other codes than the pool: refused
    (no silent wrong margin), and accepted once the learner fixes the classes."""
    _, X, y, Xt, yt, out = _problem()
    yt = np.where(yt == 1, 2, yt)  # the test set misses class 1
    with pytest.raises(ValueError, match="y_test is encoded with classes"):
        ground_truth(mpt.learners.LogisticRegression(lam=1.0), X, y, Xt, yt, n_subsets=3)
    fixed = mpt.learners.LogisticRegression(lam=1.0, n_classes=3)
    truth = ground_truth(fixed, X, y, Xt, yt, n_subsets=3, output=out, loo=False)
    Z = fixed.decision_function(truth.theta_full, Xt)
    other = np.where(np.arange(3)[None, :] == yt[:, None], -np.inf, Z)
    np.testing.assert_allclose(truth.full_outputs, Z[np.arange(len(yt)), yt] - other.max(1))


# ---------------------------------------------------------------------------------------------
# the command and the benchmark
# ---------------------------------------------------------------------------------------------
def test_cli_attribute_json_on_own_csv(tmp_path, capsys):
    import csv
    import json

    from modelpred_theory import cli

    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 3))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=48) > 0, "pos", "neg")
    path = tmp_path / "mine.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        for row, lab in zip(X.tolist(), y, strict=True):
            w.writerow([*map(repr, row), lab])
    truth_file = tmp_path / "truth.npz"
    assert cli.main(["attribute", "--data", str(path), "--target", "label", "--methods",
                     "influence,grad_dot", "--n-subsets", "12", "--n-test", "5", "--json",
                     "--save-truth", str(truth_file)]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout is exactly one JSON document
    assert set(doc["methods"]) == {"influence", "grad_dot"}
    assert doc["ground_truth"]["n_subsets"] == 12 and doc["ground_truth"]["loo"]
    assert doc["ground_truth"]["max_residual_over_tolerance"] <= 1.0
    # the reported LDS is evaluate() on the saved truth with the method's scores
    truth = GroundTruth.load(truth_file)
    ds = mpt.datasets.from_csv(str(path), target="label")
    learner = mpt.learners.LogisticRegression(lam=1.0)
    y_tr, y_te = ds.encode_labels(ds.y_train), ds.encode_labels(ds.y_test)
    truth.check_problem(learner, ds.X_train, y_tr, ds.X_test[:5], y_te[:5])
    s = mpt.attribution.attribute(learner, ds.X_train, y_tr, ds.X_test[:5], y_te[:5],
                                  "influence")
    assert doc["methods"]["influence"]["lds"] == pytest.approx(evaluate(s, truth).lds)
    assert doc["methods"]["influence"]["loo_pearson"] > 0.9


def test_cli_attribute_refuses_unknown_method(capsys):
    from modelpred_theory import cli

    assert cli.main(["attribute", "--quick", "--methods", "influence,nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown method(s) ['nope']" in err and "trak" in err


@pytest.mark.slow
def test_attribution_benchmark_quick(tmp_path, capsys):
    """Smoke run of bench/attribution_benchmark.py --quick on a few methods (~20 s)."""
    import json

    import torch

    from modelpred_theory._scripts import load_script, script_dir

    before = torch.get_num_threads()
    try:
        mod = load_script(script_dir("bench") / "attribution_benchmark.py")
        res = mod.main(["--quick", "--out", str(tmp_path), "--sections",
                        "per_fit,problems,growth", "--problems", "synthetic", "--methods",
                        "influence,grad_dot,representer"])
    finally:
        torch.set_num_threads(before)
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "attribution_benchmark_quick.json").read_text())
    assert printed["per_fit"]["ratio_median"] == saved["per_fit"]["ratio_median"]
    prob = res["problems"]["synthetic"]
    assert prob["truth"]["all_below_tolerance"]
    meths = prob["methods"]
    assert set(meths) == {"influence", "grad_dot", "representer", "exact_loo_truth"}
    assert meths["influence"]["loo_pearson"] > 0.9
    assert meths["influence"]["lds"] > meths["grad_dot"]["lds"] - 0.05
    assert prob["ceiling"]["lds"] >= meths["influence"]["lds"] - 3 * (
        prob["ceiling"]["lds_stderr"] + meths["influence"]["lds_stderr"])
    assert "kendall_tau" in prob["reordering"]
    assert [r["n"] for r in res["growth"]] == [80, 160]


def test_head_is_the_truth_of_its_first_subsets():
    """truth.head(k) rates an attribution exactly as a truth computed on those k subsets."""
    learner, X, y, Xt, yt, out = _problem()
    truth = ground_truth(learner, X, y, Xt, yt, n_subsets=12, output=out, loo=False)
    small = truth.head(5)
    assert small.n_subsets == 5 and np.array_equal(small.masks, truth.masks[:5])
    scores = np.random.default_rng(2).normal(size=(truth.n, truth.m))
    pred = truth.masks[:5].astype(float) @ scores
    from modelpred_theory.attribution.evaluate import lds_per_output

    np.testing.assert_array_equal(evaluate(scores, small).lds_per_point,
                                  lds_per_output(pred, truth.outputs[:5]))
    with pytest.raises(ValueError, match="k must be an integer in"):
        truth.head(13)
