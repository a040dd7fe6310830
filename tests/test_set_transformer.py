"""The Set Transformer option of ModelPred: invariances, masking, persistence, validation."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

import modelpred_theory as mpt
from modelpred_theory import subsets
from modelpred_theory._scripts import load_script, script_dir
from modelpred_theory.learners import LogisticRegression, Ridge
from modelpred_theory.setfn import ModelPred, SetTransformer, pad_sets
from modelpred_theory.setfn.set_transformer import masked_attention


def _net(seed=0, **kw):
    cfg = {"width": 8, "heads": 2, "inducing": 3, "blocks": 2, "rho_hidden": (8,)}
    cfg.update(kw)
    return SetTransformer(5, 3, seed=seed, **cfg).double().eval()


def _binary(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ [1.0, -1.0, 0.5] + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_permutation_invariance(seed):
    """Permuting the pool rows and the mask columns together leaves every output unchanged."""
    g = np.random.default_rng(seed)
    net = _net(seed)
    Z = torch.as_tensor(g.standard_normal((12, 5)))
    W = torch.as_tensor((g.random((6, 12)) < 0.6).astype(float))
    W[:, 0] = 1.0
    perm = torch.as_tensor(g.permutation(12))
    with torch.no_grad():
        a = net(Z, W)
        b = net(Z[perm], W[:, perm])
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert float((a[0] - a[1]).abs().max()) > 1e-6  # different subsets: different outputs


def test_padding_rows_never_change_the_output():
    """Padded rows hold garbage: the output equals the unpadded and the masks path."""
    g = np.random.default_rng(3)
    net = _net(1)
    sizes = [3, 7, 5]
    sets = [g.standard_normal((m, 5)) for m in sizes]
    Zp, mask = pad_sets(sets)
    Zg = Zp.copy()
    Zg[mask == 0] = 50.0 * g.standard_normal(int((mask == 0).sum() * 5)).reshape(-1, 5)
    with torch.no_grad():
        zero = net.forward_padded(torch.as_tensor(Zp), torch.as_tensor(mask))
        junk = net.forward_padded(torch.as_tensor(Zg), torch.as_tensor(mask))
        single = torch.cat([net.forward_padded(torch.as_tensor(s)[None],
                                               torch.ones(1, len(s), dtype=torch.float64))
                            for s in sets])
        pool = np.concatenate(sets)
        W = np.zeros((3, len(pool)))
        W[np.arange(3).repeat(sizes), np.arange(len(pool))] = 1.0
        by_mask = net(torch.as_tensor(pool), torch.as_tensor(W))
    # exact: a padded row has attention weight 0 in every softmax that reads the set
    assert torch.equal(zero, junk)
    torch.testing.assert_close(zero, single, rtol=0, atol=1e-13)
    torch.testing.assert_close(by_mask, single, rtol=0, atol=1e-13)


def test_integer_weights_are_repeated_points():
    """Identity (regression test): weight 2 on a point = the point twice (weighted softmax)."""
    g = np.random.default_rng(4)
    net = _net(2)
    Z = torch.as_tensor(g.standard_normal((6, 5)))
    w = torch.tensor([[1.0, 2.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    Zdup = torch.cat([Z, Z[1:2]])
    wdup = torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(net(Z, w), net(Zdup, wdup), rtol=0, atol=1e-13)


def test_masked_attention_is_the_weighted_softmax_mean():
    """One head, explicit formula sum_i w_i e^{<q,k_i>} v_i / sum_i w_i e^{<q,k_i>}."""
    g = np.random.default_rng(5)
    q = torch.as_tensor(g.standard_normal((1, 2, 4)))
    k = torch.as_tensor(g.standard_normal((1, 7, 4)))
    v = torch.as_tensor(g.standard_normal((1, 7, 4)))
    w = torch.as_tensor(g.random((3, 7)) * (g.random((3, 7)) < 0.7))
    w[:, 0] = 0.5
    out = masked_attention(q, k, v, w, heads=1)
    e = torch.exp(q[0] @ k[0].T / 2.0)  # shape: (2, 7), scale 1/sqrt(4)
    ref = torch.stack([(e * wi) @ v[0] / (e * wi).sum(1, keepdim=True) for wi in w])
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)


@pytest.fixture(scope="module")
def st_model():
    torch.set_num_threads(1)
    X, y = _binary()
    model = ModelPred(LogisticRegression(lam=1.0), seed=0, arch="set_transformer", width=8,
                      heads=2, inducing=4, blocks=1, phi_depth=1, rho_hidden=(8,), epochs=3,
                      n_permutations=6, min_size=6, progress=False)
    return model.fit(X, y), X, y


@pytest.mark.torch
def test_save_load_round_trip_reproduces_predictions(st_model, tmp_path):
    model, X, y = st_model
    masks = subsets.random_subsets(30, 6, rng=3, min_size=8)
    folder = model.save(tmp_path / "st")
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["arch"]["arch"] == "set_transformer" and cfg["network"]["arch"] == "set_transformer"
    loaded = ModelPred.load(folder)
    assert isinstance(loaded.net_, SetTransformer)
    np.testing.assert_array_equal(loaded.predict(X, y, masks), model.predict(X, y, masks))
    sets = [(X[m], y[m]) for m in masks[:3]]
    np.testing.assert_array_equal(loaded.predict_sets(sets), model.predict_sets(sets))
    # the padded path of new sets agrees with the masks path (float64 evaluation)
    loaded.predict_dtype = "float64"
    np.testing.assert_allclose(loaded.predict_sets(sets), loaded.predict(X, y, masks[:3]),
                               rtol=0, atol=1e-12)


@pytest.mark.torch
def test_set_transformer_learns_ridge_pairs():
    """Trained on ridge pairs with no base, the set transformer beats the constant predictor."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = X @ [1.0, -2.0] + 0.5 + 0.3 * rng.standard_normal(30)
    model = ModelPred(Ridge(lam=1.0), seed=0, base=None, arch="set_transformer", width=16,
                      heads=2, inducing=4, blocks=1, phi_depth=1, rho_hidden=(16,), epochs=25,
                      n_permutations=20, min_size=5, kappa=0.0, progress=False).fit(X, y)
    masks = subsets.random_subsets(30, 20, rng=1, min_size=5)
    exact = Ridge(lam=1.0).fit_subsets(X, y, masks)
    err = mpt.setfn.relative_error(model.predict(X, y, masks), exact)
    const = mpt.setfn.relative_error(np.broadcast_to(exact.mean(0), exact.shape), exact)
    assert np.median(err) < 0.6 * np.median(const)


@pytest.mark.torch
def test_default_arch_is_unchanged_bit_for_bit():
    """Regression test: a tiny seeded default ModelPred predicts the same bits as before the
    ``arch`` option existed (sha256 of the float64 predictions recorded from that version;
    torch CPU, one thread), and arch="deepsets" is the default."""
    torch.set_num_threads(1)
    X, y = _binary()
    kw = {"seed": 0, "width": 16, "epochs": 3, "n_permutations": 6, "min_size": 6,
          "progress": False}
    masks = subsets.random_subsets(30, 5, rng=3, min_size=8)
    P = ModelPred(LogisticRegression(lam=1.0), **kw).fit(X, y).predict(X, y, masks)
    digest = hashlib.sha256(P.tobytes()).hexdigest()
    assert digest == "ec2831021ec3afccc1d614e90ea4e4cec531d88b309fda6221fe51158446a25f"
    P2 = ModelPred(LogisticRegression(lam=1.0), arch="deepsets", **kw).fit(X, y).predict(
        X, y, masks)
    np.testing.assert_array_equal(P, P2)


def test_arch_is_validated_before_work(monkeypatch):
    learner = LogisticRegression(lam=1.0)

    def no_work(*a, **k):  # pragma: no cover - reached only if validation came too late
        raise AssertionError("work started before the arch was validated")

    monkeypatch.setattr(mpt.setfn.model, "labelled_pairs", no_work)
    with pytest.raises(ValueError, match=r"arch must be one of \('deepsets', 'set_transformer'\)"):
        ModelPred(learner, arch="transformer")
    with pytest.raises(ValueError, match="arch must be one of"):
        ModelPred(learner, arch=None)
    with pytest.raises(ValueError, match="heads apply only to arch='set_transformer'"):
        ModelPred(learner, heads=4)
    with pytest.raises(ValueError, match="pooling applies only to arch='deepsets'"):
        ModelPred(learner, arch="set_transformer", pooling="sum")
    with pytest.raises(ValueError, match="divisible by heads"):
        ModelPred(learner, arch="set_transformer", width=10, heads=4)
    with pytest.raises(ValueError, match="inducing must be a positive integer"):
        ModelPred(learner, arch="set_transformer", inducing=0)


@pytest.mark.slow
@pytest.mark.torch
def test_attention_check_quick_mode_runs(tmp_path):
    """Smoke run (~10 s; tests/test_proofs_checks.py also runs every check in quick mode)."""
    from modelpred_theory import checks

    (res,) = checks.run_checks(["check_attention"], out=str(tmp_path))
    assert res.get("error") is None, res.get("error")
    assert res["passed"], [c for c in res["claims"] if not c["passed"]]
    assert res["n_claims"] >= 4


@pytest.mark.torch
def test_arch_compare_bench_quick_runs(tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        mod = load_script(script_dir("bench") / "arch_compare.py")
        assert mod.main(["--quick", "--datasets", "breast_cancer", "--out", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(before)
    printed = json.loads(capsys.readouterr().out)
    out = json.loads((tmp_path / "arch_compare_quick.json").read_text())
    assert printed == out
    (ds,) = out["datasets"]
    archs = {(r["base"], r["budget"], r["arch"]) for r in ds["runs"]}
    assert len(archs) == 8
    counts = ds["param_counts"]
    assert abs(counts["set_transformer"] - counts["deepsets"]) <= 0.25 * counts["deepsets"]
    assert all(np.isfinite(r["median_rel_err"]) for r in ds["runs"])
