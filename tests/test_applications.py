"""Tests of modelpred_theory.applications: estimators on games with known answers, the
learner-level applications against brute-force retraining, and smoke runs of the figures.

Sum convention throughout: theta(S) minimises sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelpred_theory import applications as A
from modelpred_theory.applications.oracles import degenerate_mask
from modelpred_theory.datasets import load, make_regression
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM

# Tolerances (float64 ground truth).
# Telescoping sums and additive games involve only O(n) float additions: 1e-12 absolute.
EXACT_GAME_ATOL = 1e-12
# Exact solver fits are accurate to ~1e-10 relative; utilities built from them to ~1e-9.
SOLVER_ATOL = 1e-8
# Monte-Carlo estimates must lie within this many standard errors of the exact value
# (with ~n values tested, 5 sigma keeps the false-alarm rate far below 1e-4 per test).
MC_SIGMAS = 5.0

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread here: with two spinning OpenMP threads on a loaded 2-core machine the
    small batched solves and trainings of this module run 4-20x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def iris():
    ds = load("iris2", seed=0, n_train=24)
    return LogisticRegression(lam=1.0), ds


def _enumerate_shapley_reference(u, n):
    """Shapley values by the permutation definition over all n! orders (tiny n only)."""
    vals = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for pi in perms:
        m = np.zeros(n, dtype=bool)
        prev = u(m[None])[0]
        for i in pi:
            m[i] = True
            cur = u(m[None])[0]
            vals[i] += cur - prev
            prev = cur
    return vals / len(perms)


# ----------------------------------------------------------------------------------------------
# Shapley estimator on games with known values
# ----------------------------------------------------------------------------------------------
@given(a=st.lists(st.floats(-5, 5, allow_nan=False, allow_subnormal=False), min_size=2,
                  max_size=12), c=st.floats(-3, 3, allow_subnormal=False),
       n_perm=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_additive_game_is_exact_for_any_permutations(a, c, n_perm, seed):
    a = np.asarray(a)
    values = A.shapley_from_utility(lambda M: M @ a + c, a.size, n_perm, seed).values
    np.testing.assert_allclose(values, a, atol=EXACT_GAME_ATOL * max(1, np.abs(a).sum()))


@given(n=st.integers(2, 10), seed=st.integers(0, 2**31), null=st.integers(0, 9))
def test_null_player_gets_exactly_zero_and_efficiency_holds(n, seed, null):
    null = null % n
    w = np.linspace(1.0, 2.0, n)
    w[null] = 0.0

    def u(M):  # a non-additive game in which player `null` never matters
        s = M @ w
        return np.sqrt(s) + 0.3 * s**2

    res = A.shapley_from_utility(u, n, 3, seed)
    assert res.values[null] == 0.0
    full, empty = u(np.ones((1, n), bool))[0], u(np.zeros((1, n), bool))[0]
    assert abs(res.values.sum() - (full - empty)) < EXACT_GAME_ATOL * max(1.0, abs(full))


def test_exact_shapley_matches_permutation_definition_and_known_games():
    rng = np.random.default_rng(3)
    table = rng.normal(size=2**5)
    codes = 2 ** np.arange(5)

    def u(M):
        return table[M.astype(int) @ codes]

    np.testing.assert_allclose(A.exact_shapley(u, 5), _enumerate_shapley_reference(u, 5),
                               atol=EXACT_GAME_ATOL)
    # Majority game on 3 players: every player is worth 1/3. Glove game L={0}, R={1,2}:
    # values (2/3, 1/6, 1/6).
    maj = A.exact_shapley(lambda M: (M.sum(1) >= 2).astype(float), 3)
    np.testing.assert_allclose(maj, [1 / 3] * 3, atol=EXACT_GAME_ATOL)
    glove = A.exact_shapley(lambda M: np.minimum(M[:, 0], M[:, 1:].sum(1)).astype(float), 3)
    np.testing.assert_allclose(glove, [2 / 3, 1 / 6, 1 / 6], atol=EXACT_GAME_ATOL)


def test_monte_carlo_converges_to_exact_and_symmetric_players_agree():
    n = 6
    w = np.array([1.0, 1.0, 1.0, 2.0, 0.5, 3.0])  # players 0, 1, 2 are symmetric

    def u(M):
        s = M @ w
        return np.log1p(s) - 0.05 * s**2

    exact = A.exact_shapley(u, n)
    assert np.ptp(exact[:3]) < EXACT_GAME_ATOL
    res = A.shapley_from_utility(u, n, 4000, 11)
    z = np.abs(res.values - exact) / res.stderr
    assert np.all(z < MC_SIGMAS), z
    # The standard error shrinks like 1/sqrt(P): a 4x smaller run has ~2x the error bars.
    small = A.shapley_from_utility(u, n, 1000, 11)
    ratio = small.stderr / res.stderr
    assert np.all((ratio > 1.6) & (ratio < 2.5)), ratio


def _sequential_tmc(u, perms, tol_frac):
    """Reference TMC-Shapley (Ghorbani & Zou, Algorithm 1) evaluated one prefix at a time."""
    P, n = perms.shape
    full = u(np.ones((1, n), bool))[0]
    tol = tol_frac * abs(full)
    contrib = np.zeros((P, n))
    for p in range(P):
        m = np.zeros(n, dtype=bool)
        prev = u(m[None])[0]
        for i in perms[p]:
            if abs(full - prev) < tol:
                cur = prev
            else:
                m[i] = True
                cur = u(m[None])[0]
            contrib[p, i] = cur - prev
            prev = cur
    return contrib.mean(0)


@pytest.mark.parametrize("truncation", [0.0, 0.05, 0.3, 0.9])
def test_truncation_equals_the_sequential_rule_and_saves_calls(truncation):
    n = 12
    w = np.linspace(0.2, 2.0, n)

    def u(M):
        return 1.0 - np.exp(-(M @ w))  # saturating: later points add little

    res = A.shapley_from_utility(u, n, 30, 5, truncation=truncation, batch_size=60)
    ref = _sequential_tmc(u, res.permutations, truncation)
    np.testing.assert_allclose(res.values, ref, atol=EXACT_GAME_ATOL)
    plain = A.shapley_from_utility(u, n, 30, 5)
    np.testing.assert_array_equal(res.permutations, plain.permutations)
    if truncation == 0.0:
        np.testing.assert_allclose(res.values, plain.values, atol=EXACT_GAME_ATOL)
    if truncation >= 0.3:
        assert res.n_utility_calls < plain.n_utility_calls
        assert res.truncated_fraction > 0


def test_loo_from_utility_additive_and_bad_inputs():
    a = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(A.loo_from_utility(lambda M: M @ a, 3), a, atol=EXACT_GAME_ATOL)
    with pytest.raises(ValueError, match="n_permutations"):
        A.shapley_from_utility(lambda M: M.sum(1), 3, 0)
    with pytest.raises(ValueError, match="truncation"):
        A.shapley_from_utility(lambda M: M.sum(1), 3, 2, truncation=1.5)
    with pytest.raises(ValueError, match="utility_fn returned shape"):
        A.shapley_from_utility(lambda M: M.sum(), 3, 2)
    with pytest.raises(ValueError, match="utility_fn"):
        A.shapley_from_utility("not callable", 3, 2)
    with pytest.raises(ValueError, match="n must be <="):
        A.exact_shapley(lambda M: M.sum(1), 25)


# ----------------------------------------------------------------------------------------------
# utilities and oracles
# ----------------------------------------------------------------------------------------------
def test_constant_predictor_closed_forms():
    ds = load("breast_cancer", seed=0, n_train=40)
    L = LogisticRegression(lam=1.0)
    th = A.constant_predictor(L, ds.X_train, ds.y_train)
    f = ds.y_train.mean()
    assert np.all(th[:-1] == 0.0)
    assert abs(th[-1] - np.log(f / (1 - f))) < SOLVER_ATOL
    reg = make_regression(n=30, d=3, n_test=50, rng=1)
    R = Ridge(lam=0.5)
    thr = A.constant_predictor(R, reg.X_train, reg.y_train)
    np.testing.assert_allclose(thr, np.r_[np.zeros(3), reg.y_train.mean()], atol=SOLVER_ATOL)


def test_subset_utility_degenerate_sets_and_exact_values(iris):
    L, ds = iris
    u = A.SubsetUtility(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test,
                        A.ExactOracle(L))
    n = ds.n_train
    one_class = ds.y_train == 0
    M = np.stack([np.zeros(n, bool), one_class, np.ones(n, bool), one_class.copy()])
    M[3, np.flatnonzero(~one_class)[:2]] = True
    vals = u(M)
    th0 = A.constant_predictor(L, ds.X_train, ds.y_train)
    u0 = -L.mean_loss(th0, ds.X_test, ds.y_test)
    assert vals[0] == u0 and vals[1] == u0
    full = L.fit(ds.X_train, ds.y_train).theta
    assert abs(vals[2] + L.mean_loss(full, ds.X_test, ds.y_test)) < SOLVER_ATOL
    th3 = L.fit(ds.X_train, ds.y_train, sample_weight=M[3].astype(float)).theta
    assert abs(vals[3] + L.mean_loss(th3, ds.X_test, ds.y_test)) < SOLVER_ATOL
    # With a penalised intercept no set is degenerate and the empty set's minimiser is 0.
    Lp = LogisticRegression(lam=1.0, penalize_intercept=True)
    up = A.SubsetUtility(Lp, ds.X_train, ds.y_train, ds.X_test, ds.y_test, A.ExactOracle(Lp))
    assert not degenerate_mask(Lp, ds.y_train, M).any()
    assert abs(up(M[:1])[0] + math.log(2)) < 1e-12  # theta = 0 predicts 1/2


def test_data_shapley_exact_converges_to_enumerated_shapley_of_retrained_models():
    ds = load("iris2", seed=1, n_train=8)
    L = LogisticRegression(lam=0.5)
    util = A.SubsetUtility(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, A.ExactOracle(L))
    exact = A.exact_shapley(util, 8)  # 256 retrainings, degenerate sets included
    res = A.data_shapley(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "exact", 800, 0)
    z = np.abs(res.values - exact) / res.stderr
    assert np.all(z < MC_SIGMAS), z
    # efficiency: values sum to U(N) - U(empty) for every number of permutations
    assert abs(res.values.sum() - (util(np.ones((1, 8), bool))[0] - util.u_degenerate)) < 1e-12


def test_same_seed_same_permutations_for_every_oracle(iris):
    L, ds = iris
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    r1 = A.data_shapley(*args, "exact", 4, 7)
    r2 = A.data_shapley(*args, "influence", 4, 7)
    r3 = A.data_shapley(*args, A.ExactOracle(L, warm_start=False), 4, 7)
    np.testing.assert_array_equal(r1.permutations, r2.permutations)
    np.testing.assert_allclose(r1.values, r3.values, atol=SOLVER_ATOL)
    r4 = A.data_shapley(*args, "exact", 4, 8)
    assert not np.array_equal(r1.permutations, r4.permutations)
    assert r1.oracle == "exact" and r2.oracle == "influence" and r1.n_utility_calls > 0


def test_loo_values_match_brute_force_and_influence_is_first_order():
    ds = load("breast_cancer", seed=0, n_train=60)
    L = LogisticRegression(lam=1.0)
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    loo = A.loo_values(*args, "exact").values
    full = -L.mean_loss(L.fit(ds.X_train, ds.y_train).theta, ds.X_test, ds.y_test)
    for i in (0, 17, 59):
        w = np.ones(60)
        w[i] = 0
        th = L.fit(ds.X_train, ds.y_train, sample_weight=w).theta
        assert abs(loo[i] - (full + L.mean_loss(th, ds.X_test, ds.y_test))) < SOLVER_ATOL
    infl = A.loo_values(*args, "influence").values
    # One point out of 60 is a small perturbation: first-order values agree closely.
    assert A.compare_values(infl, loo)["spearman"] > 0.95


def test_ridge_and_svm_and_accuracy_metric_run():
    reg = make_regression(n=20, d=3, n_test=50, rng=2)
    R = Ridge(lam=1.0)
    v = A.data_shapley(R, reg.X_train, reg.y_train, reg.X_test, reg.y_test, "exact", 3, 0).values
    assert v.shape == (20,) and np.all(np.isfinite(v))
    with pytest.raises(ValueError, match="accuracy"):
        A.data_shapley(R, reg.X_train, reg.y_train, reg.X_test, reg.y_test, "exact", 3, 0,
                       metric="accuracy")
    ds = load("iris2", seed=0, n_train=16)
    S = SquaredHingeSVM(lam=1.0)
    va = A.data_shapley(S, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "influence", 3, 0,
                        metric="accuracy").values
    assert va.shape == (16,) and np.all(np.abs(va) <= 1)


def test_bad_inputs_name_the_argument(iris):
    L, ds = iris
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    with pytest.raises(ValueError, match="oracle"):
        A.data_shapley(*args, "retrain", 3, 0)
    with pytest.raises(ValueError, match="oracle"):
        A.data_shapley(*args, object(), 3, 0)
    with pytest.raises(ValueError, match="metric"):
        A.data_shapley(*args, "exact", 3, 0, metric="f1")
    with pytest.raises(ValueError, match="X_test"):
        A.data_shapley(L, ds.X_train, ds.y_train, ds.X_test[:, :2], ds.y_test, "exact", 3, 0)
    with pytest.raises(ValueError, match="seed"):
        A.data_shapley(*args, "exact", 3, -1)
    with pytest.raises(ValueError, match="learner"):
        A.data_shapley("ridge", *args[1:], "exact", 3, 0)
    with pytest.raises(ValueError, match="truncation"):  # raised before training the oracle
        A.data_shapley(*args, "utility", 3, 0, truncation=2.0)
    with pytest.raises(ValueError, match="method"):
        A.noisy_label_detection(*args, "exact", 3, 0, method="tmc")
    with pytest.raises(ValueError, match="fraction"):
        A.memorization(L, ds.X_train, ds.y_train, "exact", 10, fraction=1.0)
    with pytest.raises(ValueError, match="utility predictor"):
        A.subset_ensemble(L, ds.X_train, ds.y_train, ds.X_test, "utility")


# ----------------------------------------------------------------------------------------------
# noisy labels
# ----------------------------------------------------------------------------------------------
def test_flip_labels_and_detection_scores_known_answers():
    y = np.array([0, 1] * 10)
    yn, f = A.flip_labels(y, 0.2, 0)
    assert f.sum() == 4 and np.all(yn[f] == 1 - y[f]) and np.all(yn[~f] == y[~f])
    y3 = np.arange(30) % 3
    y3n, f3 = A.flip_labels(y3, 0.1, 1)
    assert f3.sum() == 3 and np.all(y3n[f3] != y3[f3]) and set(y3n) <= {0, 1, 2}
    flipped = np.zeros(10, bool)
    flipped[:3] = True
    perfect = A.detection_scores(np.arange(10.0), flipped)
    assert perfect["auc"] == 1.0 and perfect["f1"] == 1.0 and perfect["average_precision"] == 1
    worst = A.detection_scores(-np.arange(10.0), flipped)
    assert worst["auc"] == 0.0 and worst["f1"] == 0.0
    assert A.detection_scores(np.zeros(10), flipped)["auc"] == 0.5
    with pytest.raises(ValueError, match="flipped"):
        A.detection_scores(np.arange(3.0), np.zeros(3, bool))


def test_noisy_label_detection_exact_loo_finds_flips():
    ds = load("breast_cancer", seed=0, n_train=60)
    L = LogisticRegression(lam=1.0)
    res = A.noisy_label_detection(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "exact",
                                  method="loo", seed=0)
    yn, f = A.noisy_labels(ds.y_train, 0.1, 0)
    np.testing.assert_array_equal(res.flipped, f)
    np.testing.assert_array_equal(res.y_noisy, yn)
    assert res.scores["auc"] > 0.8  # flipped points hurt the test loss: low LOO values
    # A factory oracle is trained on the noisy labels it is given.
    seen = {}

    def factory(X, y):
        seen["y"] = y
        return A.ExactOracle(L)

    A.noisy_label_detection(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, factory,
                            method="loo", seed=0)
    np.testing.assert_array_equal(seen["y"], yn)


# ----------------------------------------------------------------------------------------------
# selection, memorisation, calibration
# ----------------------------------------------------------------------------------------------
def test_selection_curve_retrains_exactly(iris):
    L, ds = iris
    v = np.arange(ds.n_train, dtype=float)
    cur = A.selection_curve(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, v,
                            fractions=[0.0, 0.25], metric="neg_loss")
    assert list(cur.n_removed) == [0, 6]
    keep = np.ones(ds.n_train)
    keep[:6] = 0  # the six lowest values are points 0..5
    th = L.fit(ds.X_train, ds.y_train, sample_weight=keep).theta
    assert abs(cur.scores[1] + L.mean_loss(th, ds.X_test, ds.y_test)) < SOLVER_ATOL
    hi = A.selection_curve(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, v, remove="high",
                           fractions=[0.25])
    assert set(hi.order[:6]) == set(range(ds.n_train - 6, ds.n_train))
    r1 = A.selection_curve(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, None, seed=3)
    r2 = A.selection_curve(L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, None, seed=3)
    np.testing.assert_array_equal(r1.order, r2.order)


def test_greedy_addition_with_exact_oracle_picks_the_exact_argmax(iris):
    L, ds = iris
    X_val, y_val = ds.X_test[:12], ds.y_test[:12]
    cur = A.greedy_addition(L, ds.X_train, ds.y_train, X_val, y_val, "exact", 4, 0,
                            init_size=4, X_test=ds.X_test[12:], y_test=ds.y_test[12:])
    np.testing.assert_allclose(cur.predicted[1:], cur.exact[1:], atol=SOLVER_ATOL)
    assert list(cur.sizes) == [4, 5, 6, 7, 8] and len(set(cur.selected)) == 4
    # step 1 check by brute force: no other candidate does better
    S = cur.init.copy()
    util = A.SubsetUtility(L, ds.X_train, ds.y_train, X_val, y_val, A.ExactOracle(L))
    cand = np.flatnonzero(~S)
    M = np.repeat(S[None], cand.size, 0)
    M[np.arange(cand.size), cand] = True
    assert cand[np.argmax(util(M))] == cur.selected[0]
    rnd = A.greedy_addition(L, ds.X_train, ds.y_train, X_val, y_val, "random", 4, 0,
                            init_size=4)
    np.testing.assert_array_equal(rnd.init, cur.init)


def test_memorization_matches_manual_estimate_and_flags_flipped_points():
    ds = load("breast_cancer", seed=0, n_train=40)
    L = LogisticRegression(lam=0.1)
    yn, f = A.flip_labels(ds.y_train, 0.1, 0)
    res = A.memorization(L, ds.X_train, yn, "exact", 200, 0.7, 0, score="prob",
                         return_info=True)
    th = L.fit_subsets(ds.X_train, yn, res.masks)
    pr = L.predict_proba(th, ds.X_train)[:, :, 1]
    s = np.where(yn[None, :] == 1, pr, 1 - pr)
    i = 5
    manual = s[res.masks[:, i], i].mean() - s[~res.masks[:, i], i].mean()
    assert abs(res.scores[i] - manual) < 1e-10
    assert res.scores.mean() > 0  # including a point raises its own fit on average
    assert res.scores[f].mean() > 2 * res.scores[~f].mean()
    correct = A.memorization(L, ds.X_train, yn, "exact", 200, 0.7, 0)
    assert correct.shape == (40,) and np.all(np.abs(correct) <= 1)


def test_calibration_metrics_known_answers_and_exact_ensemble(iris):
    y = np.array([0, 1, 0, 1])
    P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # confident, 50% right
    m = A.calibration_metrics(P, y)
    assert m["ece"] == 0.5 and m["accuracy"] == 0.5 and m["brier"] == 1.0
    Pq = np.full((4, 2), 0.5)
    mq = A.calibration_metrics(Pq, y)
    assert abs(mq["nll"] - math.log(2)) < 1e-15 and mq["ece"] == 0.0
    with pytest.raises(ValueError, match="probs"):
        A.calibration_metrics(P * 2, y)
    L, ds = iris
    res = A.subset_ensemble(L, ds.X_train, ds.y_train, ds.X_test, "exact", 6, 0.5, 0,
                            return_info=True)
    th = np.stack([L.fit(ds.X_train, ds.y_train, sample_weight=m.astype(float)).theta
                   for m in res.masks])
    np.testing.assert_allclose(res.probs, L.predict_proba(th, ds.X_test).mean(0),
                               atol=SOLVER_ATOL)
    assert np.all(res.masks.sum(1) == 12)


# ----------------------------------------------------------------------------------------------
# learned oracles
# ----------------------------------------------------------------------------------------------
@pytest.mark.torch
def test_utility_pred_learns_an_additive_utility():
    rng = np.random.default_rng(0)
    n = 20
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] > 0).astype(int)
    a = X[:, 0] + 0.5 * y  # the utility depends on the elements' features and labels
    M = rng.random((600, n)) < rng.random((600, 1))
    up = A.UtilityPred(hidden=32, epochs=60, lr=3e-3, seed=0).fit(X, y, M[:500], M[:500] @ a)
    pred = up.predict_utility(M[500:])
    resid = pred - M[500:] @ a
    assert np.mean(resid**2) < 0.05 * np.var(M[500:] @ a)
    with pytest.raises(ValueError, match="not fitted"):
        A.UtilityPred().predict_utility(M[:1])


@pytest.mark.torch
def test_learned_oracles_plug_into_every_application(iris):
    L, ds = iris
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    vu = A.data_shapley(*args, "utility", 3, 0,
                        oracle_kwargs={"n_train_permutations": 5, "epochs": 2})
    assert vu.values.shape == (24,) and vu.setup_seconds > 0
    from modelpred_theory import setfn
    mp = setfn.ModelPred(L, seed=0, epochs=2, n_permutations=4, progress=False)
    mp.fit(ds.X_train, ds.y_train)
    vm = A.data_shapley(*args, mp, 3, 0).values
    assert vm.shape == (24,) and np.all(np.isfinite(vm))
    assert A.memorization(L, ds.X_train, ds.y_train, mp, 20).shape == (24,)
    assert A.subset_ensemble(L, ds.X_train, ds.y_train, ds.X_test, mp, 5).shape == (
        ds.n_test, 2)


# ----------------------------------------------------------------------------------------------
# figure scripts
# ----------------------------------------------------------------------------------------------
FIGURES = ["app_valuation", "app_noisy_labels", "app_selection", "app_memorization",
           "app_calibration", "app_lds"]


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("name", FIGURES)
def test_figure_script_quick_mode(name, tmp_path):
    path = ROOT / "figures" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_fig_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--out", str(tmp_path)])
    assert isinstance(out, dict)
    png, js = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    assert png.stat().st_size > 1000
    data = json.loads(js.read_text())
    assert data["quick"] is True and "results" in data
