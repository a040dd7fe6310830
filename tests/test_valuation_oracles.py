"""Learner-level estimators on every oracle, against exact enumeration of the retrained
utility, and the LDS metric.

theta(S) minimises the SUM objective F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from modelpred_theory import applications as A
from modelpred_theory.datasets import load, make_regression
from modelpred_theory.learners import LogisticRegression, Ridge

# Monte-Carlo estimates must lie within this many standard errors of the exact value on EVERY
# point (P(|z| > 4) = 6e-5 per point).
MC_SIGMAS = 4.0
# Exact solver fits are accurate to ~1e-10 relative; utilities built from them to ~1e-9.
SOLVER_ATOL = 1e-8


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: two spinning OpenMP threads on a loaded 2-core machine make the small
    batched solves here several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    ds = load("iris2", seed=1, n_train=8)
    L = LogisticRegression(lam=0.5)
    util = A.SubsetUtility(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, A.ExactOracle(L))
    codes = np.arange(2**8)
    masks = ((codes[:, None] >> np.arange(8)[None, :]) & 1).astype(bool)
    table = util(masks)  # every subset retrained exactly once (degenerate sets included)
    return L, ds, table


class TableOracle:
    """A utility oracle that looks up the exactly retrained utility of every subset."""

    name = "table"

    def __init__(self, table):
        self.table = table

    def predict_utility(self, masks):
        return self.table[np.asarray(masks, int) @ (2 ** np.arange(masks.shape[1]))]


def test_learner_level_estimators_match_exact_enumeration_of_retrained_models(small):
    L, ds, table = small
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    u = TableOracle(table).predict_utility
    exact = {"shapley": A.exact_shapley(u, 8), "banzhaf": A.exact_banzhaf(u, 8),
             "beta": A.exact_beta_shapley(u, 8, 16, 1)}
    orc = TableOracle(table)
    runs = {
        "shapley/permutation": ("shapley", A.data_shapley(*args, orc, 6000, 0)),
        "shapley/antithetic": ("shapley", A.data_shapley(*args, orc, 6000, 0,
                                                         sampler="antithetic")),
        "shapley/stratified": ("shapley", A.data_shapley(*args, orc, 6000, 0,
                                                         sampler="stratified")),
        "beta16": ("beta", A.beta_shapley(*args, orc, alpha=16, beta=1, n_permutations=20000,
                                          sampler="stratified")),
        "banzhaf": ("banzhaf", A.banzhaf(*args, orc, stopping=30000)),
    }
    for key, (target, res) in runs.items():
        z = np.abs(res.values - exact[target]) / res.stderr
        assert np.all(z <= MC_SIGMAS), (key, z)
        assert np.max(res.stderr) < 0.03 * np.max(np.abs(exact[target])), key  # resolved
        assert res.oracle == "table"
    # Exact retraining on the same samples gives the same values as the table.
    ex = A.data_shapley(*args, "exact", 30, 0, sampler="antithetic")
    tb = A.data_shapley(*args, orc, 30, 0, sampler="antithetic")
    np.testing.assert_allclose(ex.values, tb.values, atol=SOLVER_ATOL)
    bz = A.banzhaf(*args, "exact", stopping=300)
    np.testing.assert_allclose(bz.values, A.banzhaf(*args, orc, stopping=300).values,
                               atol=SOLVER_ATOL)


@pytest.mark.torch
def test_every_estimator_runs_on_every_oracle_with_the_same_samples():
    ds = load("iris2", seed=0, n_train=14)
    L = LogisticRegression(lam=1.0)
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    from modelpred_theory import setfn

    mp = setfn.ModelPred(L, seed=0, epochs=2, n_permutations=3, progress=False)
    mp.fit(ds.X_train, ds.y_train)
    oracles = {"exact": ("exact", None), "influence": ("influence", None),
               "newton": ("newton", None), "modelpred": (mp, None),
               "utility": ("utility", {"n_train_permutations": 3, "epochs": 2})}
    perms = {}
    for key, (orc, kw) in oracles.items():
        for sampler in ("permutation", "antithetic", "stratified"):
            budget = {"stopping": 2} if sampler == "stratified" else {}  # two cycles
            r = A.data_shapley(*args, orc, 8, 0, sampler=sampler, oracle_kwargs=kw,
                               round_size=2, **budget)
            assert np.all(np.isfinite(r.values)) and np.all(np.isfinite(r.stderr)), key
            if r.permutations is not None:
                perms.setdefault(sampler, []).append(r.permutations)
        b = A.banzhaf(*args, orc, stopping=40, oracle_kwargs=kw)
        bs = A.beta_shapley(*args, orc, alpha=4, beta=1, n_permutations=4, oracle_kwargs=kw)
        for r in (b, bs):
            assert r.values.shape == (14,) and np.all(np.isfinite(r.stderr)), key
        if key != "utility":
            o = A.data_oob(L, ds.X_train, ds.y_train, orc, stopping=24)  # every point OOB
            assert o.values.shape == (14,) and np.all((o.values >= 0) & (o.values <= 1))
    for ps in perms.values():
        assert len(ps) == len(oracles)
        for p in ps[1:]:
            np.testing.assert_array_equal(p, ps[0])  # every oracle values the same samples


def test_newton_oracle_is_exact_for_ridge_and_first_order_elsewhere():
    reg = make_regression(n=15, d=3, n_test=40, rng=3)
    R = Ridge(lam=0.7)
    args = (R, reg.X_train, reg.y_train, reg.X_test, reg.y_test)
    ex = A.data_shapley(*args, "exact", 6, 0)
    nw = A.data_shapley(*args, "newton", 6, 0)
    np.testing.assert_allclose(nw.values, ex.values, atol=SOLVER_ATOL)  # one step is exact
    assert nw.oracle == "newton"
    ds = load("breast_cancer", seed=0, n_train=50)
    L = LogisticRegression(lam=1.0)
    a = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    loo = A.loo_values(*a, "exact").values
    # Leave-one-out is a small step: the Newton step is closer to it than first-order influence.
    err_n = np.abs(A.loo_values(*a, "newton").values - loo).max()
    err_i = np.abs(A.loo_values(*a, "influence").values - loo).max()
    assert err_n < err_i


def test_modelpred_specs_forward_the_base(monkeypatch):
    assert A.resolve.parse_oracle("modelpred:newton") == ("modelpred", {"base": "newton"})
    assert A.resolve.parse_oracle("modelpred", {"base": "influence"}) == (
        "modelpred", {"base": "influence"})
    seen = {}

    class FakeModelPred:
        def __init__(self, learner, seed=0, **kw):
            seen.update(kw)

        def fit(self, X, y):
            return A.ExactOracle(LogisticRegression(lam=1.0))

    from modelpred_theory import setfn

    monkeypatch.setattr(setfn, "ModelPred", FakeModelPred)
    ds = load("iris2", seed=0, n_train=10)
    L = LogisticRegression(lam=1.0)
    r = A.data_shapley(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "modelpred:newton", 2,
                       0, oracle_kwargs={"epochs": 3})
    assert seen == {"base": "newton", "epochs": 3, "progress": False}
    assert r.oracle == "modelpred:newton"
    seen.clear()
    r = A.data_shapley(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "modelpred:none", 2, 0)
    assert seen == {"base": None, "progress": False} and r.oracle == "modelpred:none"


def test_lds_aggregation_identities_and_ranking_of_attributions():
    ds = load("breast_cancer", seed=0, n_train=40)
    L = LogisticRegression(lam=1.0)
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    tau_ex = A.attributions(*args, method="loo", oracle="exact")
    ref = A.lds(*args, tau_ex, n_subsets=60, seed=0)
    # The score is the mean over test points of Spearman(masks @ tau, exact outputs).
    manual = [spearmanr(ref.masks @ tau_ex[:, j], ref.true_outputs[:, j])[0]
              for j in range(ds.n_test)]
    assert abs(ref.score - np.mean(manual)) < 1e-12
    # The exact outputs are exact retraining.
    th = L.fit(ds.X_train, ds.y_train, sample_weight=ref.masks[3].astype(float)).theta
    np.testing.assert_allclose(ref.true_outputs[3], -L.per_sample_loss(th, ds.X_test,
                                                                       ds.y_test),
                               atol=SOLVER_ATOL)
    rng = np.random.default_rng(0)
    noise = A.lds(*args, rng.normal(size=tau_ex.shape), reference=ref)
    assert abs(noise.score) < 4 * noise.stderr  # random attributions carry no signal
    scores = {m: A.lds(*args, A.attributions(*args, method="loo", oracle=m), reference=ref)
              for m in ("influence", "newton")}
    dm = A.lds(*args, A.attributions(*args, method="datamodels", oracle="exact",
                                     n_train_subsets=200), reference=ref)
    for res in (*scores.values(), dm):
        assert res.score > noise.score + 4 * noise.stderr  # every method carries signal
    # A 1-D attribution rates the mean output (the utility): data values fit there.
    sh = A.data_shapley(*args, "exact", 20, 0).values
    one = A.lds(*args, sh, reference=ref)
    assert one.per_output.shape == (1,) and one.score > 0.1  # measured 0.25 (20 permutations)

    reg = make_regression(n=20, d=3, n_test=15, rng=4)
    R = Ridge(lam=1.0)
    ra = (R, reg.X_train, reg.y_train, reg.X_test, reg.y_test)
    t_ex = A.attributions(*ra, method="loo", oracle="exact")
    t_nw = A.attributions(*ra, method="loo", oracle="newton")
    np.testing.assert_allclose(t_nw, t_ex, atol=SOLVER_ATOL)  # Newton LOO is exact for ridge
