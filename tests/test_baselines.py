"""Tests of modelpred_theory.baselines against exact refits, closed forms, rates and statsmodels.

Sum convention throughout: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from strategies import nonempty_masks, regression_targets, well_conditioned_design

from modelpred_theory import baselines as B
from modelpred_theory import datasets, subsets
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM

# Tolerances (float64), each with its reason.
TOL = {
    # closed-form ridge LOO / exact Newton on a quadratic vs batched solves: a few ulp times
    # cond(H) <= 100 on these designs.
    "closed_form": 1e-10,
    # two algebraically identical float64 computations (Woodbury vs batched solve, CG vs Cholesky
    # with tol=1e-12): rounding only, amplified by cond(H) ~ 1e2.
    "identity": 1e-8,
    # statsmodels fits lam = 0 while our logistic needs lam > 0; lam = 1e-10 moves theta by
    # ~1e-10 * ||H^{-1}|| ||theta||.
    "statsmodels_logit": 1e-7,
}


def _binary_data(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def _multiclass_data(n=60, d=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(K, d))
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    y[:K] = np.arange(K)  # every class present
    return X, y


def _slope(x, e):
    return float(np.polyfit(np.log(x), np.log(e), 1)[0])


@pytest.fixture(scope="module")
def breast_cancer():
    return datasets.load("breast_cancer", seed=0)


# ------------------------------------------------------------------ closed forms (exact)
@given(X=well_conditioned_design(st.integers(8, 25), st.integers(1, 4)), data=st.data(),
       lam=st.floats(0.1, 10.0), pen=st.booleans())
def test_loo_ridge_equals_loo_exact(X, data, lam, pen):
    y = data.draw(regression_targets(X.shape[0]))
    learner = Ridge(lam=lam, penalize_intercept=pen)
    exact = B.loo_exact(learner, X, y)
    closed = B.loo_ridge(learner, X, y)
    scale = 1.0 + np.abs(exact).max()
    np.testing.assert_allclose(closed, exact, rtol=0, atol=TOL["closed_form"] * scale)
    # the one-step LOO is the same closed form for a quadratic loss
    np.testing.assert_allclose(B.newton_step_loo(learner, X, y), exact, rtol=0,
                               atol=TOL["closed_form"] * scale)


@given(X=well_conditioned_design(st.integers(8, 25), st.integers(1, 4)), data=st.data())
def test_newton_step_exact_for_ridge(X, data):
    n = X.shape[0]
    y = data.draw(regression_targets(n))
    masks = data.draw(nonempty_masks(n, 4))
    learner = Ridge(lam=0.7)
    exact = learner.fit_subsets(X, y, masks)
    scale = 1.0 + np.abs(exact).max()
    np.testing.assert_allclose(B.newton_step(learner, X, y, masks), exact, rtol=0,
                               atol=TOL["closed_form"] * scale)
    # from a base set, with masks that add points outside it
    base = np.zeros(n, dtype=bool)
    base[: n // 2 + 1] = True
    np.testing.assert_allclose(B.newton_step(learner, X, y, masks, base_mask=base), exact,
                               rtol=0, atol=TOL["closed_form"] * scale)


def test_influence_first_order_is_exact_to_first_order_for_ridge():
    # ridge: theta(S) - theta = (H - H_D)^{-1} g_D exactly, the Neumann series of the
    # influence terms; order 1 / order 2 are its first one / two terms.
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    learner = Ridge(lam=2.0)
    masks = subsets.removal_masks(40, 0.2, 3, rng=0)
    theta = learner.fit(X, y).theta
    H = learner.hessian(theta, X, y)
    G = learner.per_sample_grads(theta, X, y)
    delta = (~masks).astype(float)
    v = np.linalg.solve(H, (delta @ G).T).T
    HD = np.stack([X_.T @ X_ for X_ in [np.column_stack([X, np.ones(40)])[~m] for m in masks]])
    second = np.einsum("ij,kjl,kl->ki", np.linalg.inv(H), HD, v)
    np.testing.assert_allclose(B.influence(learner, X, y, masks), theta + v, atol=1e-12)
    np.testing.assert_allclose(B.influence(learner, X, y, masks, order=2), theta + v + second,
                               atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multinomial", "svm"])
def test_newton_step_loo_equals_batched_newton_step(kind):
    if kind == "multinomial":
        X, y = _multiclass_data()
        learner = LogisticRegression(lam=0.5, n_classes=3)
    else:
        X, y = _binary_data()
        learner = LogisticRegression(lam=0.5) if kind == "binary" else SquaredHingeSVM(lam=0.5)
    closed = B.newton_step_loo(learner, X, y)
    batched = B.newton_step(learner, X, y, subsets.loo_masks(X.shape[0]))
    np.testing.assert_allclose(closed, batched, rtol=0, atol=TOL["identity"])
    if kind == "multinomial":  # the gauge: centred intercepts
        T = closed.reshape(len(y), 3, -1)
        np.testing.assert_allclose(T[:, :, -1].sum(1), 0.0, atol=1e-12)


# ------------------------------------------------------------------ rates
def test_loo_influence_error_rate_logistic():
    """Regime: fixed lam = 1, fixed d, growing n (non-separable logistic data).

    The Hessian of the sum objective grows like n, so the LOO change is O(1/n) and the error of
    first-order influence (the remainder H^{-1}(H_i Delta - T[Delta, Delta]/2)) is O(1/n^2):
    log-log slope -2 for the absolute error and -1 relative to the change. The one-step Newton
    estimate removes the H_i Delta term: same rate, smaller constant.
    """
    ds = datasets.make_logistic(n=1600, d=5, rng=0, n_test=10)
    learner = LogisticRegression(lam=1.0)
    ns = np.array([100, 200, 400, 800, 1600])
    e_inf, e_rel, e_newt = [], [], []
    m = 40
    for n in ns:
        X, y = ds.X_train[:n], ds.y_train[:n]
        masks = np.ones((m, n), dtype=bool)
        masks[np.arange(m), np.arange(m)] = False
        theta = learner.fit(X, y).theta
        exact = learner.fit_subsets(X, y, masks, theta0=theta)
        err = np.linalg.norm(B.influence(learner, X, y, masks, theta_base=theta) - exact, axis=1)
        errn = np.linalg.norm(B.newton_step(learner, X, y, masks, theta_base=theta) - exact,
                              axis=1)
        change = np.linalg.norm(exact - theta, axis=1)
        e_inf.append(np.median(err))
        e_rel.append(np.median(err / change))
        e_newt.append(np.median(errn))
    assert -2.4 <= _slope(ns, e_inf) <= -1.6
    assert -1.4 <= _slope(ns, e_rel) <= -0.6
    assert -2.4 <= _slope(ns, e_newt) <= -1.6
    assert np.all(np.array(e_newt) < np.array(e_inf))


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_second_order_influence_rate(kind):
    """Scale the weight change of a group by t: order-1 error is O(t^2), order-2 O(t^3),
    and dropping the third-derivative term (Basu et al.) falls back to O(t^2)."""
    if kind == "binary":
        X, y = _binary_data(n=80)
        learner = LogisticRegression(lam=1.0)
    else:
        X, y = _multiclass_data(n=80)
        learner = LogisticRegression(lam=1.0, n_classes=3)
    n = X.shape[0]
    ts = np.array([0.4, 0.2, 0.1, 0.05])
    W = np.ones((ts.size, n))
    W[:, 10:30] = 1.0 - ts[:, None]  # remove 20 points with weight t
    exact = learner.fit_subsets(X, y, W)

    def err(**kw):
        return np.linalg.norm(B.influence(learner, X, y, W, **kw) - exact, axis=1)

    assert _slope(ts, err(order=1)) == pytest.approx(2.0, abs=0.3)
    assert _slope(ts, err(order=2)) == pytest.approx(3.0, abs=0.3)
    assert _slope(ts, err(order=2, third_derivative=False)) == pytest.approx(2.0, abs=0.3)
    # addition to a base set: points 60..79 enter with weight t
    base = np.zeros(n, dtype=bool)
    base[:60] = True
    Wa = np.zeros((ts.size, n))
    Wa[:, :60] = 1.0
    Wa[:, 60:] = ts[:, None]
    exact_a = learner.fit_subsets(X, y, Wa)
    e1 = np.linalg.norm(B.influence(learner, X, y, Wa, base_mask=base) - exact_a, axis=1)
    e2 = np.linalg.norm(B.influence(learner, X, y, Wa, order=2, base_mask=base) - exact_a, axis=1)
    assert _slope(ts, e1) == pytest.approx(2.0, abs=0.3)
    assert _slope(ts, e2) == pytest.approx(3.0, abs=0.3)


def test_group_influence_error_grows_with_fraction(breast_cancer):
    ds = breast_cancer
    learner = LogisticRegression(lam=1.0)
    X, y = ds.X_train, ds.y_train
    n = X.shape[0]
    theta = learner.fit(X, y).theta
    fractions = [0.02, 0.1, 0.3, 0.5, 0.7]
    rel, chg, newt = [], [], []
    for i, f in enumerate(fractions):
        masks = subsets.fixed_size_subsets(n, 10, n - round(f * n), rng=i, y=y,
                                           require_all_classes=True)
        exact = learner.fit_subsets(X, y, masks, theta0=theta)
        e = np.linalg.norm(B.influence(learner, X, y, masks, theta_base=theta) - exact, axis=1)
        en = np.linalg.norm(B.newton_step(learner, X, y, masks, theta_base=theta) - exact,
                            axis=1)
        rel.append(np.mean(e / np.linalg.norm(exact, axis=1)))
        chg.append(np.mean(e / np.linalg.norm(exact - theta, axis=1)))
        newt.append(np.mean(en / np.linalg.norm(exact - theta, axis=1)))
    assert np.all(np.diff(rel) > 0)
    assert np.all(np.diff(chg) > 0)
    assert np.all(np.array(newt) < np.array(chg))


# ------------------------------------------------------------------ agreement with exact LOO
def test_influence_agrees_with_exact_loo_breast_cancer(breast_cancer):
    ds = breast_cancer
    learner = LogisticRegression(lam=1.0)
    X, y = ds.X_train, ds.y_train
    theta = learner.fit(X, y).theta
    exact = B.loo_exact(learner, X, y, theta_full=theta)
    approx = B.influence(learner, X, y, subsets.loo_masks(X.shape[0]), theta_base=theta)
    base = learner.mean_loss(theta, ds.X_test, ds.y_test)
    s_exact = learner.mean_loss(exact, ds.X_test, ds.y_test) - base  # test-loss change scores
    s_inf = learner.mean_loss(approx, ds.X_test, ds.y_test) - base
    assert scipy.stats.pearsonr(s_inf, s_exact)[0] > 0.9
    assert scipy.stats.spearmanr(s_inf, s_exact)[0] > 0.9
    assert np.linalg.norm(s_inf - s_exact) / np.linalg.norm(s_exact) < 0.1  # values agree
    change = np.linalg.norm(exact - theta, axis=1)
    assert scipy.stats.spearmanr(np.linalg.norm(approx - theta, axis=1), change)[0] > 0.9
    assert np.median(np.linalg.norm(approx - exact, axis=1) / change) < 0.05


# ------------------------------------------------------------------ CG
@pytest.mark.parametrize("kind", ["binary", "multinomial", "svm", "ridge"])
def test_cg_matches_direct_solve(kind):
    rng = np.random.default_rng(1)
    if kind == "multinomial":
        X, y = _multiclass_data()
        learner = LogisticRegression(lam=0.3, n_classes=3)
    elif kind == "ridge":
        X, y = rng.normal(size=(60, 4)), rng.normal(size=60)
        learner = Ridge(lam=0.3)
    else:
        X, y = _binary_data()
        learner = LogisticRegression(lam=0.3) if kind == "binary" else SquaredHingeSVM(lam=0.3)
    theta = learner.fit(X, y).theta
    p = theta.size
    w = rng.uniform(0.5, 1.5, size=X.shape[0])
    V = rng.normal(size=(5, p))
    H = learner.hessian(theta, X, y, sample_weight=w)
    if kind == "multinomial":  # solve in the centred subspace (H is singular along u)
        u = np.zeros((3, X.shape[1] + 1))
        u[:, -1] = 1 / np.sqrt(3)
        u = u.reshape(-1)
        V = V - np.outer(V @ u, u)
        direct = np.linalg.lstsq(H, V.T, rcond=None)[0].T
    else:
        direct = np.linalg.solve(H, V.T).T
    cg, info = B.ihvp_cg(learner, theta, X, y, V, sample_weight=w, tol=1e-12, return_info=True)
    np.testing.assert_allclose(cg, direct, rtol=0, atol=TOL["identity"])
    assert info["relative_residual"].max() <= 1e-12
    np.testing.assert_allclose(B.ihvp_cg(learner, theta, X, y, V[0], sample_weight=w,
                                         tol=1e-12), direct[0], atol=TOL["identity"])
    if kind != "ridge":
        masks = subsets.removal_masks(X.shape[0], 0.2, 4, rng=2)
        if kind == "multinomial":
            masks[:, :3] = True
        for order in (1, 2):
            np.testing.assert_allclose(
                B.influence(learner, X, y, masks, order=order, solver="cg", cg_tol=1e-12),
                B.influence(learner, X, y, masks, order=order), atol=TOL["identity"])


# ------------------------------------------------------------------ statsmodels cross-checks
def test_statsmodels_ols_influence_matches_loo_ridge():
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.stats.outliers_influence import OLSInfluence

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ rng.normal(size=3) + rng.normal(size=50)
    res = sm.OLS(y, np.column_stack([X, np.ones(50)])).fit()  # our layout [w, b]
    infl = OLSInfluence(res)
    loo = B.loo_ridge(Ridge(lam=0.0), X, y)  # lam = 0, unpenalised intercept: OLS
    np.testing.assert_allclose(loo, infl.params_not_obsi, atol=TOL["closed_form"])
    np.testing.assert_allclose(res.params - loo, infl.dfbeta, atol=TOL["closed_form"])


def test_statsmodels_logit_params_one_matches_newton_step_loo():
    sm = pytest.importorskip("statsmodels.api")
    X, y = _binary_data(n=50, d=3, seed=4)
    res = sm.Logit(y.astype(float), np.column_stack([X, np.ones(50)])).fit(
        disp=0, tol=1e-12, maxiter=100)
    ours = B.newton_step_loo(LogisticRegression(lam=1e-10), X, y)
    np.testing.assert_allclose(ours, res.get_influence().params_one,
                               atol=TOL["statsmodels_logit"])


# ------------------------------------------------------------------ identities
@pytest.mark.parametrize("order", [1, 2])
def test_full_set_and_base_reproduce_the_fit(order):
    X, y = _multiclass_data()
    learner = LogisticRegression(lam=1.0, n_classes=3)
    theta = learner.fit(X, y).theta
    full = np.ones((2, X.shape[0]), dtype=bool)
    np.testing.assert_allclose(B.influence(learner, X, y, full, order=order), theta[None].repeat(
        2, 0), atol=1e-12)
    np.testing.assert_allclose(B.newton_step(learner, X, y, full), theta[None].repeat(2, 0),
                               atol=1e-9)


def test_influence_is_additive_and_permutation_invariant():
    X, y = _binary_data()
    learner = LogisticRegression(lam=1.0)
    n = X.shape[0]
    theta = learner.fit(X, y).theta
    masks = subsets.removal_masks(n, 0.2, 3, rng=5)
    inf = B.influence(learner, X, y, masks, theta_base=theta)
    per_point = B.influence(learner, X, y, subsets.loo_masks(n), theta_base=theta) - theta
    np.testing.assert_allclose(inf - theta, (~masks).astype(float) @ per_point, atol=1e-12)
    perm = np.random.default_rng(0).permutation(n)
    np.testing.assert_allclose(B.influence(learner, X[perm], y[perm], masks[:, perm], order=2),
                               B.influence(learner, X, y, masks, order=2), atol=1e-10)


# ------------------------------------------------------------------ datamodels
def test_datamodel_recovers_a_linear_set_function():
    rng = np.random.default_rng(0)
    n, m = 30, 400
    coef = rng.normal(size=(2, n))
    coef[1, 5:] = 0.0  # a sparse target for the lasso
    masks = rng.random((m, n)) < 0.5
    Y = masks @ coef.T + np.array([1.0, -2.0])
    dm = B.Datamodel(alpha=1e-8, method="ridge").fit(masks, Y)
    np.testing.assert_allclose(dm.coef_, coef, atol=1e-5)
    np.testing.assert_allclose(dm.intercept_, [1.0, -2.0], atol=1e-5)
    test = rng.random((5, n)) < 0.5
    np.testing.assert_allclose(dm.predict(test), test @ coef.T + [1.0, -2.0], atol=1e-5)
    lasso = B.Datamodel(alpha=1e-3, method="lasso").fit(masks, Y[:, 1])
    assert lasso.predict(test).shape == (5,)
    assert np.abs(lasso.coef_[5:]).max() < 0.05
    assert np.abs(lasso.coef_[:5] - coef[1, :5]).max() < 0.05


def test_datamodel_on_exact_parameters_beats_the_mean():
    X, y = _binary_data(n=40)
    learner = LogisticRegression(lam=1.0)
    train = subsets.random_subsets(40, 300, rng=0, min_size=20, y=y, require_all_classes=True)
    test = subsets.random_subsets(40, 30, rng=1, min_size=20, y=y, require_all_classes=True)
    T_train, T_test = learner.fit_subsets(X, y, train), learner.fit_subsets(X, y, test)
    pred = B.Datamodel(alpha=0.1).fit(train, T_train).predict(test)
    assert np.mean((pred - T_test) ** 2) < 0.5 * np.mean((T_train.mean(0) - T_test) ** 2)


# ------------------------------------------------------------------ compare and the CLI
def test_compare_structure_and_predictor_hook(breast_cancer):
    ds = datasets.load("breast_cancer", seed=0, n_train=80)
    learner = LogisticRegression(lam=1.0)
    X, y = ds.X_train, ds.y_train
    n = X.shape[0]
    masks = np.vstack([subsets.fixed_size_subsets(n, 4, n - round(f * n), rng=i, y=y,
                                                  require_all_classes=True)
                       for i, f in enumerate([0.1, 0.5])])
    exact = learner.fit_subsets(X, y, masks)
    res = B.compare(learner, X, y, ds.X_test, ds.y_test, masks, groups=["0.1"] * 4 + ["0.5"] * 4,
                    predictors={"oracle": lambda M: learner.fit_subsets(X, y, M)},
                    n_datamodel=60)
    assert set(res.methods) == {"influence", "influence2", "newton_step", "datamodel", "oracle"}
    np.testing.assert_allclose(res.methods["oracle"].rel_param_error, 0.0, atol=1e-9)
    inf = B.influence(learner, X, y, masks)
    np.testing.assert_allclose(
        res.methods["influence"].rel_param_error,
        np.linalg.norm(inf - exact, axis=1) / np.linalg.norm(exact, axis=1), rtol=1e-8)
    rows = res.summary()
    assert {r["group"] for r in rows} == {"0.1", "0.5", "all"}
    d = json.loads(res.to_json(include_arrays=True))
    assert d["k"] == 8 and len(d["per_mask"]["influence"]["rel_param_error"]) == 8
    table = res.format_table()
    assert "newton_step" in table and "oracle" in table
    # the same truth passed in gives the same scores
    res2 = B.compare(learner, X, y, ds.X_test, ds.y_test, masks, methods=["influence"],
                     theta_true=exact)
    np.testing.assert_allclose(res2.methods["influence"].rel_param_error,
                               res.methods["influence"].rel_param_error, rtol=1e-8)


def test_cli_main_quick_json(capsys):
    from modelpred_theory import cli

    assert cli.main(["compare", "--quick", "--json", "--methods", "influence,newton_step"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["method"] for r in out["summary"]} == {"exact", "influence", "newton_step"}
    assert cli.main(["compare", "--quick", "--learner", "svm", "--methods", "influence"]) == 0
    assert "influence" in capsys.readouterr().out
    assert cli.main(["compare", "--quick", "--dataset", "diabetes", "--learner", "logistic"]) == 2
    assert "regression" in capsys.readouterr().err


def test_figure_script_quick(tmp_path):
    path = Path(__file__).resolve().parents[1] / "figures" / "influence_vs_removed.py"
    spec = importlib.util.spec_from_file_location("influence_vs_removed", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "influence_vs_removed.json").read_text())
    assert set(data["results"]) == {"influence", "influence2", "newton_step"}
    assert (tmp_path / "influence_vs_removed.png").stat().st_size > 0


# ------------------------------------------------------------------ bad inputs
def test_bad_inputs_raise_value_error():
    X, y = _binary_data(n=20)
    lg = LogisticRegression(lam=1.0)
    good = np.ones((2, 20), dtype=bool)
    good[:, 0] = False
    with pytest.raises(ValueError, match="masks"):
        B.influence(lg, X, y, np.ones((2, 19), dtype=bool))
    with pytest.raises(ValueError, match="masks"):
        B.newton_step(lg, X, y, np.ones((2, 21), dtype=bool))
    with pytest.raises(ValueError, match="masks"):
        B.influence(lg, X, y, np.zeros((1, 20), dtype=bool))
    with pytest.raises(ValueError, match="Ridge"):
        B.loo_ridge(lg, X, y)
    with pytest.raises(ValueError, match="learner"):
        B.influence(object(), X, y, good)
    with pytest.raises(ValueError, match="order"):
        B.influence(lg, X, y, good, order=3)
    with pytest.raises(ValueError, match="solver"):
        B.influence(lg, X, y, good, solver="lu")
    with pytest.raises(ValueError, match="base_mask"):
        B.influence(lg, X, y, good, base_mask=np.ones(19, dtype=bool))
    with pytest.raises(ValueError, match="theta_base"):
        B.influence(lg, X, y, good, theta_base=np.zeros(5))
    with pytest.raises(ValueError, match="theta_base"):
        B.newton_step(lg, X, y, good, theta_base=np.zeros(3))
    with pytest.raises(ValueError, match="V"):
        B.ihvp_cg(lg, np.zeros(5), X, y, np.ones(4))
    with pytest.raises(ValueError, match="tol"):
        B.ihvp_cg(lg, np.zeros(5), X, y, np.ones(5), tol=2.0)
    with pytest.raises(ValueError, match="y has"):
        B.loo_exact(lg, X, y[:-1])
    with pytest.raises(ValueError, match="leverage"):
        B.loo_ridge(Ridge(lam=0.0), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.ones(3))
    with pytest.raises(ValueError, match="alpha"):
        B.Datamodel(alpha=0.0)
    with pytest.raises(ValueError, match="method"):
        B.Datamodel(method="ols")
    with pytest.raises(ValueError):  # NotFittedError is a ValueError
        B.Datamodel().predict(good)
    dm = B.Datamodel().fit(np.eye(20, dtype=bool)[:5], np.arange(5.0))
    with pytest.raises(ValueError, match="masks"):
        dm.predict(np.ones((2, 19), dtype=bool))
    with pytest.raises(ValueError, match="targets"):
        B.Datamodel().fit(good, np.ones(3))
    with pytest.raises(ValueError, match="methods"):
        B.compare(lg, X, y, X, y, good, methods=["magic"])
    with pytest.raises(ValueError, match="predictors"):
        B.compare(lg, X, y, X, y, good, methods=[], predictors={"p": 3})
    with pytest.raises(ValueError, match="groups"):
        B.compare(lg, X, y, X, y, good, methods=[], groups=["a"])
    with pytest.raises(ValueError, match="X_test"):
        B.compare(lg, X, y, X[:, :2], y, good)



def test_influence_and_newton_step_refuse_masks_missing_a_class_like_fit_subsets():
    """Issue 9 point 8: the approximations reject exactly the masks that fit_subsets rejects."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    learner = LogisticRegression(lam=1.0)
    masks = np.ones((3, 30), dtype=bool)
    masks[2, y == 1] = False
    msgs = []
    for f in (lambda: learner.fit_subsets(X, y, masks), lambda: B.influence(learner, X, y, masks),
              lambda: B.influence(learner, X, y, masks, order=2),
              lambda: B.newton_step(learner, X, y, masks)):
        with pytest.raises(ValueError, match=r"masks: subsets \[2\] miss a class") as info:
            f()
        msgs.append(str(info.value))
    assert len(set(msgs)) == 1
    ok = masks[:2]
    assert B.influence(learner, X, y, ok).shape == B.newton_step(learner, X, y, ok).shape == (2, 3)


def test_loo_errors_name_theta_full():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(12, 2))
    y = (X[:, 0] > 0).astype(int)
    learner = LogisticRegression(lam=1.0)
    for f in (B.loo_exact, B.newton_step_loo):
        with pytest.raises(ValueError, match=r"^theta_full is not the minimiser") as info:
            f(learner, X, y, theta_full=np.ones(3))
        assert "theta_base" not in str(info.value)


@pytest.mark.parametrize("multi", [False, True])
def test_loo_exact_by_chord_equals_batched_newton(multi):
    """The chord iterations of loo_exact reach the refits of fit_subsets (each at the solver's
    tolerance: parameters within 1e-8), also for a high-leverage point the chord hands over to
    Newton, and for a subset of indices."""
    from modelpred_theory.learners import LogisticRegression, optimality_residual

    rng = np.random.default_rng(3)
    n, d = 60, 4
    X = rng.normal(size=(n, d)) / 2
    X[7] *= 12.0  # a high-leverage row
    y = rng.integers(0, 3 if multi else 2, n)
    L = LogisticRegression(lam=0.5, n_classes=3 if multi else None)
    masks = ~np.eye(n, dtype=bool)
    ref = L.fit_subsets(X, y, masks)
    out = B.loo_exact(L, X, y, chunk_size=17)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-8)
    res = optimality_residual(L, out, X, y, masks.astype(float))
    assert res.max() <= 1e-9 * max(1.0, np.abs(X).sum())
    np.testing.assert_allclose(B.loo_exact(L, X, y, indices=[7, 3]), ref[[7, 3]], rtol=0,
                               atol=1e-8)
    with pytest.raises(ValueError, match="indices"):
        B.loo_exact(L, X, y, indices=[n])
