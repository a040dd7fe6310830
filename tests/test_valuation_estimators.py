"""Every Monte-Carlo valuation estimator against exact enumeration, on games with known answers,
and its standard error's rate; KNN-Shapley and Data-OOB against independent computations.

Data values are semivalues of U(S), a test score of theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelpred_theory import applications as A
from modelpred_theory.datasets import load
from modelpred_theory.learners import LogisticRegression

# Monte-Carlo estimates must lie within this many standard errors of the exact value on EVERY
# point (P(|z| > 4) = 6e-5 per point: ~100 points tested here stay far from a false alarm).
MC_SIGMAS = 4.0
# Games built from O(n) float additions: their exact answers hold to 1e-12.
GAME_ATOL = 1e-12
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

N = 10
W = np.array([1.0, 1.0, 1.0, 2.0, 0.5, 3.0, 0.0, 1.5, 0.8, 2.5])  # 1, 2 symmetric, 6 null


def game(M):
    """A non-additive game with diminishing returns, a pair interaction and a null player 6."""
    M = np.asarray(M, dtype=float)
    s = (M * W).sum(1)
    return np.log1p(s) - 0.02 * s**2 + 0.3 * M[:, 0] * M[:, 3]


EXACT = {"shapley": A.exact_shapley(game, N), "banzhaf": A.exact_banzhaf(game, N),
         "beta4": A.exact_beta_shapley(game, N, 4.0, 1.0)}

ESTIMATORS = {
    "shapley/permutation": ("shapley", lambda: A.shapley_from_utility(
        game, N, 30000, 1)),
    "shapley/antithetic": ("shapley", lambda: A.shapley_from_utility(
        game, N, 4000, 2, sampler="antithetic")),
    "shapley/stratified": ("shapley", lambda: A.shapley_from_utility(
        game, N, 4000, 3, sampler="stratified")),
    "beta4/permutation": ("beta4", lambda: A.semivalue_from_utility(
        game, N, A.beta_size_weights(N, 4.0, 1.0), 40000, 4)),
    "beta4/antithetic": ("beta4", lambda: A.semivalue_from_utility(
        game, N, A.beta_size_weights(N, 4.0, 1.0), 16000, 5, sampler="antithetic")),
    "beta4/stratified": ("beta4", lambda: A.semivalue_from_utility(
        game, N, A.beta_size_weights(N, 4.0, 1.0), 400, 6, sampler="stratified")),
    "banzhaf/msr": ("banzhaf", lambda: A.banzhaf_from_utility(game, N, 40000, 7)),
}


@pytest.mark.parametrize("key", list(ESTIMATORS))
def test_estimator_within_its_standard_error_of_exact_enumeration(key):
    target, run = ESTIMATORS[key]
    res = run()
    exact = EXACT[target]
    resolved = res.stderr > 0
    z = np.abs(res.values - exact)[resolved] / res.stderr[resolved]
    assert np.all(z <= MC_SIGMAS), (key, z)
    # the null player of the semivalue samplers has identical (zero) marginals in every unit
    assert np.all(res.values[~resolved] == exact[~resolved])
    # Not vacuous: the error bars are small against the spread of the values (null player 6
    # aside, every value is resolved), and they are honest (not inflated: some point is off by
    # more than a tenth of its error bar).
    assert np.max(res.stderr) < 0.05 * np.std(exact), (key, res.stderr)
    assert np.max(z) > 0.1
    assert res.stopped_by.startswith("FixedBudget") and res.n_samples > 0


def test_exact_semivalues_match_their_definitions_and_known_games():
    # Permutation definition of Shapley (all n! orders) and the coalition sum of Banzhaf.
    n = 5
    table = np.random.default_rng(3).normal(size=2**n)

    def u(M):
        return table[np.asarray(M, int) @ (2 ** np.arange(n))]

    shap = np.zeros(n)
    for pi in itertools.permutations(range(n)):
        m = np.zeros((1, n), bool)
        for i in pi:
            before = u(m)[0]
            m[0, i] = True
            shap[i] += u(m)[0] - before
    np.testing.assert_allclose(A.exact_shapley(u, n), shap / math.factorial(n), atol=GAME_ATOL)
    banz = np.zeros(n)
    for i in range(n):
        for S in itertools.product([0, 1], repeat=n - 1):
            m = np.insert(np.array(S, bool), i, False)[None]
            mi = m.copy()
            mi[0, i] = True
            banz[i] += u(mi)[0] - u(m)[0]
    np.testing.assert_allclose(A.exact_banzhaf(u, n), banz / 2 ** (n - 1), atol=GAME_ATOL)
    # Beta(1, 1) is Shapley; Beta(alpha, beta) is the t ~ Beta(beta, alpha) inclusion integral.
    np.testing.assert_allclose(A.exact_beta_shapley(u, n, 1, 1), A.exact_shapley(u, n),
                               atol=GAME_ATOL)
    from scipy import integrate, stats

    p = A.size_probabilities(n, 3.0, 2.0)
    for s in range(n):
        ref = math.comb(n - 1, s) * integrate.quad(
            lambda t, s=s: t**s * (1 - t) ** (n - 1 - s) * stats.beta.pdf(t, 2.0, 3.0), 0, 1)[0]
        assert abs(p[s] - ref) < 1e-10  # quadrature accuracy
    # Majority game: Banzhaf 1/2 each; glove game L={0}, R={1,2}: Banzhaf (3/4, 1/4, 1/4).
    maj = A.exact_banzhaf(lambda M: (M.sum(1) >= 2).astype(float), 3)
    np.testing.assert_allclose(maj, [0.5] * 3, atol=GAME_ATOL)
    glove = A.exact_banzhaf(lambda M: np.minimum(M[:, 0], M[:, 1:].sum(1)).astype(float), 3)
    np.testing.assert_allclose(glove, [0.75, 0.25, 0.25], atol=GAME_ATOL)


@given(a=st.lists(st.floats(-5, 5, allow_nan=False, allow_subnormal=False), min_size=2,
                  max_size=9), sampler=st.sampled_from(["permutation", "antithetic",
                                                        "stratified"]),
       seed=st.integers(0, 2**31))
def test_additive_game_exact_for_every_sampler_with_zero_stderr(a, sampler, seed):
    a = np.asarray(a)
    res = A.shapley_from_utility(lambda M: M @ a + 1.0, a.size, None, seed, sampler=sampler,
                                 stopping=3, round_size=2)
    scale = max(1.0, float(np.abs(a).sum()))
    np.testing.assert_allclose(res.values, a, atol=GAME_ATOL * scale)
    assert np.all(res.stderr <= 1e-10 * scale)  # every unit gives the same value


@pytest.mark.parametrize("sampler", ["permutation", "antithetic", "stratified"])
def test_null_player_exactly_zero_symmetric_players_equal_within_error(sampler):
    res = A.shapley_from_utility(game, N, 2000, 9, sampler=sampler)
    assert res.values[6] == 0.0 and res.stderr[6] == 0.0
    ex = EXACT["shapley"]
    assert np.ptp(ex[1:3]) < GAME_ATOL  # players 1, 2 are symmetric in the exact values...
    d = res.values[1] - res.values[2]  # ...and their estimates differ only by noise
    assert abs(d) <= MC_SIGMAS * math.hypot(res.stderr[1], res.stderr[2])
    if sampler != "stratified":  # permutations telescope: efficiency holds exactly
        full, empty = game(np.ones((1, N)))[0], game(np.zeros((1, N)))[0]
        assert abs(res.values.sum() - (full - empty)) < GAME_ATOL * 10
    banz = A.banzhaf_from_utility(game, N, 4000, 9)
    assert abs(banz.values[6]) <= MC_SIGMAS * banz.stderr[6]


def test_stderr_shrinks_like_one_over_sqrt_permutations():
    P = np.array([100, 400, 1600, 6400])
    se = [np.median(A.shapley_from_utility(game, N, int(p), 21).stderr)
          for p in P]
    slope = np.polyfit(np.log(P), np.log(se), 1)[0]
    assert abs(slope + 0.5) < 0.05, slope  # sample-sd noise at these P is ~2%
    msr = [np.median(A.banzhaf_from_utility(game, N, int(10 * p), 22).stderr) for p in P]
    assert abs(np.polyfit(np.log(P), np.log(msr), 1)[0] + 0.5) < 0.05


def test_antithetic_and_stratified_lower_the_variance_at_equal_evaluations():
    # U = sum a_i + c |S|^2: a permutation marginal is a_i + c (2k + 1) at position k; the
    # reversed permutation puts i at n-1-k, so each antithetic pair averages to a_i + c n:
    # zero variance, where plain permutations have c^2 Var(2k) > 0.
    a = np.linspace(-1, 1, N)

    def quad(M):
        return M @ a + 0.1 * M.sum(1) ** 2

    plain = A.shapley_from_utility(quad, N, 400, 0)
    anti = A.shapley_from_utility(quad, N, 400, 0, sampler="antithetic")
    np.testing.assert_allclose(anti.values, a + 0.1 * N, atol=1e-12)
    assert np.all(anti.stderr < 1e-12) and np.all(plain.stderr > 1e-3)
    assert anti.n_utility_calls == plain.n_utility_calls

    # On the diminishing-returns game, the variance per utility evaluation (SE^2 x calls).
    def efficiency(res):
        return np.mean(res.stderr**2) * res.n_utility_calls

    base = efficiency(A.shapley_from_utility(game, N, 2000, 1))
    for sampler in ("antithetic", "stratified"):
        red = base / efficiency(A.shapley_from_utility(game, N, 2000, 1, sampler=sampler))
        assert red > 2.0, (sampler, red)


def test_knn_shapley_closed_form_equals_enumeration():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(9, 3)), rng.integers(0, 3, 9)
    Xt, yt = rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    for k in (1, 3, 9, 20):
        res = A.knn_shapley(X, y, Xt, yt, k=k)
        ref = A.exact_shapley(A.knn_utility(X, y, Xt, yt, k=k), 9)
        np.testing.assert_allclose(res.values, ref, atol=GAME_ATOL)
        assert np.all(res.stderr == 0) and res.stopped_by == "closed form"
    with pytest.raises(ValueError, match="k must"):
        A.knn_shapley(X, y, Xt, yt, k=0)
    with pytest.raises(ValueError, match="X_test"):
        A.knn_shapley(X, y, Xt[:, :2], yt)


def test_data_oob_equals_its_definition_from_the_fitted_models():
    ds = load("breast_cancer", seed=0, n_train=30)
    L = LogisticRegression(lam=1.0)
    seen = []

    class Recording(A.ExactOracle):
        def predict(self, X, y, masks):
            seen.append(np.array(masks))
            return super().predict(X, y, masks)

    res = A.data_oob(L, ds.X_train, ds.y_train, Recording(L), stopping=40, round_size=16)
    Wb = np.vstack(seen)
    assert Wb.shape == (40, 30) and np.all(Wb.sum(1) == 30)  # bootstraps of n draws
    thetas = np.stack([L.fit(ds.X_train, ds.y_train, sample_weight=w).theta for w in Wb])
    correct = (L.predict(thetas, ds.X_train) == ds.y_train[None]).astype(float)
    oob = Wb == 0
    ref = (correct * oob).sum(0) / oob.sum(0)
    np.testing.assert_allclose(res.values, ref, atol=SOLVER_ATOL)
    sd = np.array([correct[oob[:, i], i].std(ddof=1) / math.sqrt(oob[:, i].sum())
                   for i in range(30)])
    np.testing.assert_allclose(res.stderr, sd, atol=1e-10)
    assert res.n_samples == 40 and res.stopped_by == "FixedBudget(samples=40)"


def test_every_estimator_returns_a_result_and_return_info_is_deprecated():
    """One convention: a ValuationResult (.values, .stderr, .stopped_by) from every valuation
    function; ``return_info`` (where it existed) warns and changes nothing."""
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    ds = load("iris2", seed=0, n_train=12)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    results = {
        "data_shapley": A.data_shapley(*data, "influence", 2, 0),
        "beta_shapley": A.beta_shapley(*data, "influence", n_permutations=2),
        "banzhaf": A.banzhaf(*data, "influence", stopping=8),
        "loo_values": A.loo_values(*data, "influence"),
        "knn_shapley": A.knn_shapley(ds.X_train, ds.y_train, ds.X_test, ds.y_test, k=3),
        "data_oob": A.data_oob(L, ds.X_train, ds.y_train, "influence", stopping=4),
    }
    for name, res in results.items():
        assert isinstance(res, A.ValuationResult), name
        assert res.values.shape == res.stderr.shape == (12,) and res.stopped_by, name
        np.testing.assert_array_equal(np.asarray(res), res.values)
    with pytest.warns(DeprecationWarning, match="data_shapley: return_info is deprecated"):
        old = A.data_shapley(*data, "influence", 2, 0, return_info=False)
    np.testing.assert_array_equal(old.values, results["data_shapley"].values)
    with pytest.warns(DeprecationWarning, match="loo_values: return_info"):
        old = A.loo_values(*data, "influence", return_info=True)
    np.testing.assert_array_equal(old.values, results["loo_values"].values)
    with pytest.warns(DeprecationWarning, match="shapley_from_utility: return_info"):
        assert isinstance(A.shapley_from_utility(game, N, 2, 0, return_info=True),
                          A.ValuationResult)


def test_loo_in_chunks_equals_one_call():
    """Regression: chunked leave-one-out (memory O(chunk n)) equals the one-call values."""
    ref = A.loo_from_utility(game, N, chunk_size=N)
    for c in (1, 3, N + 5):
        np.testing.assert_array_equal(A.loo_from_utility(game, N, chunk_size=c), ref)
    full = game(np.ones((1, N), bool))[0]
    masks = ~np.eye(N, dtype=bool)
    np.testing.assert_allclose(ref, full - game(masks), rtol=0, atol=1e-12)


def test_exact_loo_fast_path_equals_refits_through_the_oracle():
    """loo_values(..., "exact") (chord refits from the full fit) equals the values from the
    exact oracle's batched Newton refits of every leave-one-out set (to the solver's tolerance),
    degenerate sets included (a class with two points)."""
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    ds = load("wine", seed=0, n_train=40)
    L = LogisticRegression(lam=1.0)
    y = ds.y_train.copy()
    data = (L, ds.X_train, y, ds.X_test, ds.y_test)
    fast = A.loo_values(*data, "exact")
    slow = A.loo_values(*data, A.ExactOracle(L, chunk_size=8))
    np.testing.assert_allclose(fast.values, slow.values, rtol=0, atol=1e-9)
    assert fast.n_utility_calls == slow.n_utility_calls == 41
