"""Attribution methods: exact limits, convergence rates, identities, determinism, bad input.

Sign convention: scores[i, j] estimates f_j(theta(N)) - f_j(theta(N - i)) under the sum objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

import numpy as np
import pytest

import modelpred_theory as mpt
from modelpred_theory.attribution import output_grads, outputs
from modelpred_theory.attribution.methods import METHODS, attribute
from modelpred_theory.attribution.methods._problem import make_problem
from modelpred_theory.attribution.methods.tracin import gd_trajectory


def _binary(n=50, m=5, d=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.8 * rng.normal(size=n + m) > 0).astype(int)
    y[:2] = [0, 1]
    return X[:n], y[:n], X[n:], y[n:]


def _multiclass(n=60, m=5, d=3, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    W = rng.normal(size=(K, d))
    y = np.argmax(X @ W.T + rng.normal(size=(n + m, K)), axis=1)
    y[:K] = np.arange(K)
    y[n:n + K] = np.arange(K)
    return X[:n], y[:n], X[n:], y[n:]


def _ridge(n=40, m=5, d=3, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n + m)
    return X[:n], y[:n], X[n:], y[n:]


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _slope(x, e):
    return float(np.polyfit(np.log(x), np.log(e), 1)[0])


CASES = {
    "binary": (lambda: mpt.learners.LogisticRegression(lam=1.0), _binary, "margin"),
    "multinomial": (lambda: mpt.learners.LogisticRegression(lam=1.0, n_classes=3), _multiclass,
                    "margin"),
    "multinomial_pen": (lambda: mpt.learners.LogisticRegression(
        lam=1.0, n_classes=3, penalize_intercept=True), _multiclass, "neg_loss"),
    "ridge": (lambda: mpt.learners.Ridge(lam=1.0), _ridge, "neg_loss"),
    "svm": (lambda: mpt.learners.SquaredHingeSVM(lam=1.0), _binary, "margin"),
}


def _case(name):
    make, data, out = CASES[name]
    return make(), data(), out


# ---------------------------------------------------------------------------- the registry
def test_methods_lists_every_family_with_a_description():
    expected = {"loo", "influence", "influence_cg", "lissa", "arnoldi", "kfac", "ekfac",
                "datainf", "trak", "tracin", "grad_dot", "grad_cos", "representer",
                "knn_shapley", "datamodels", "modelpred_loo"}
    assert set(METHODS) == expected
    assert all(isinstance(v, str) and len(v) > 10 for v in METHODS.values())


@pytest.mark.parametrize("name", ["binary", "multinomial", "ridge", "svm"])
def test_factored_hvp_equals_the_learners_hvp(name):
    """The factored HVP at the fit (A_i (x) x~ x~^T + lam P) is the learner's own, weights too."""
    learner, (X, y, Xt, yt), out = _case(name)
    pb = make_problem(learner, X, y, Xt, yt, out)
    rng = np.random.default_rng(0)
    V = rng.normal(size=(3, pb.p))
    w = rng.uniform(size=pb.n)
    for sw in (None, w):
        ref = learner.hvp(pb.theta, V, X, y, sample_weight=sw)
        assert _rel(pb.hvp(V, sample_weight=sw), ref) < 1e-12


# ---------------------------------------------------------------------------- exact limits
@pytest.mark.parametrize("name", ["binary", "multinomial", "multinomial_pen", "ridge"])
def test_arnoldi_at_full_rank_is_influence(name):
    learner, (X, y, Xt, yt), out = _case(name)
    ref = attribute(learner, X, y, Xt, yt, "influence", output=out)
    p = learner.param_dim(X, y)
    gauge = name == "multinomial"
    full = attribute(learner, X, y, Xt, yt, "arnoldi", output=out, rank=p - gauge)
    assert _rel(full, ref) < 1e-8
    low = attribute(learner, X, y, Xt, yt, "arnoldi", output=out, rank=2)
    assert _rel(low, ref) > 1e-3  # the test can fail: a truncated eigenspace is not exact


@pytest.mark.parametrize("name", ["binary", "multinomial"])
def test_influence_cg_equals_the_direct_solve(name):
    learner, (X, y, Xt, yt), out = _case(name)
    ref = attribute(learner, X, y, Xt, yt, "influence", output=out)
    assert _rel(attribute(learner, X, y, Xt, yt, "influence_cg", output=out), ref) < 1e-8


def test_influence_matches_exact_loo_at_a_first_order_rate():
    """||influence - LOO|| / ||LOO|| = O(1/lam) once lam dominates the curvature (every
    coordinate penalised): the neglected H^{-1} hess loss_i term shrinks like 1/lam."""
    X, y, Xt, yt = _binary(n=40)
    lams = np.array([50.0, 200.0, 800.0])
    errs = []
    for lam in lams:
        learner = mpt.learners.LogisticRegression(lam=lam, penalize_intercept=True)
        loo = attribute(learner, X, y, Xt, yt, "loo")
        errs.append(_rel(attribute(learner, X, y, Xt, yt, "influence"), loo))
    assert errs[-1] < 5e-3
    assert -1.2 < _slope(lams, errs) < -0.75


def test_loo_equals_the_closed_form_ridge_leave_one_out():
    X, y, Xt, yt = _ridge()
    learner = mpt.learners.Ridge(lam=0.5)
    thetas = mpt.baselines.loo_ridge(learner, X, y)
    theta = learner.fit(X, y).theta
    ref = outputs(learner, theta, Xt, yt, "neg_loss") - outputs(learner, thetas, Xt, yt,
                                                                  "neg_loss")
    got = attribute(learner, X, y, Xt, yt, "loo", output="neg_loss")
    assert _rel(got, ref) < 1e-7


def test_lissa_deterministic_error_contracts_at_the_predicted_rate():
    """Full-batch LiSSA is a truncated Neumann series: its error falls like (1 - mu/s)^depth."""
    learner, (X, y, Xt, yt), out = _case("binary")
    pb = make_problem(learner, X, y, Xt, yt, out)
    ev = np.linalg.eigvalsh(pb.H)
    scale = 1.05 * ev[-1]
    ref = attribute(learner, X, y, Xt, yt, "influence", output=out)
    depths = np.array([20, 40, 60, 80])
    errs = [_rel(attribute(learner, X, y, Xt, yt, "lissa", output=out, depth=int(t),
                           scale=scale), ref) for t in depths]
    measured = np.polyfit(depths, np.log(errs), 1)[0]
    predicted = np.log(1 - ev[0] / scale)
    assert abs(measured / predicted - 1) < 0.15


def test_lissa_stochastic_error_falls_as_repeat_to_the_minus_half():
    X, y, Xt, yt = _binary(n=40, d=2)
    learner = mpt.learners.LogisticRegression(lam=20.0, penalize_intercept=True)
    ref = attribute(learner, X, y, Xt, yt, "influence")
    reps = np.array([2, 8, 32])
    errs = []
    for r in reps:
        e = [_rel(attribute(learner, X, y, Xt, yt, "lissa", depth=40, batch_size=10,
                            repeat=int(r), seed=s), ref) for s in range(3)]
        errs.append(np.sqrt(np.mean(np.square(e))))
    assert -0.8 < _slope(reps, errs) < -0.3


@pytest.mark.parametrize("name", ["binary", "multinomial"])
def test_trak_converges_to_gauss_newton_influence_at_the_jl_rate(name):
    """Error against the k -> infinity limit (proj_dim=None) falls like k^{-1/2}."""
    learner, (X, y, Xt, yt), out = _case(name)
    limit = attribute(learner, X, y, Xt, yt, "trak", output=out, proj_dim=None)
    ks = np.array([32, 128, 512, 2048])
    errs = [np.mean([_rel(attribute(learner, X, y, Xt, yt, "trak", output=out,
                                    proj_dim=int(k), seed=s), limit) for s in range(3)])
            for k in ks]
    assert -0.75 < _slope(ks, errs) < -0.3


def test_trak_limit_with_the_penalty_as_damping_is_influence():
    """Gauss-Newton kernel, damping = lam, every coordinate penalised: exactly influence."""
    learner, (X, y, Xt, yt), out = _case("multinomial_pen")
    ref = attribute(learner, X, y, Xt, yt, "influence", output=out)
    got = attribute(learner, X, y, Xt, yt, "trak", output=out, proj_dim=None)
    assert _rel(got, ref) < 1e-10
    # a square invertible projection leaves the scores unchanged when the kernel is exact
    p = learner.param_dim(X, y)
    P = np.random.default_rng(3).normal(size=(p, p))
    assert _rel(attribute(learner, X, y, Xt, yt, "trak", output=out, projection=P,
                          damping=0.0), attribute(learner, X, y, Xt, yt, "trak", output=out,
                                                  proj_dim=None, damping=0.0)) < 1e-8


def _symmetric_pool(K, d=3, copies=5, seed=0):
    """Every x carries every label once: by symmetry theta^ = 0, so all p_i = 1/K."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(copies, d))
    X = np.repeat(base, K, axis=0)
    y = np.tile(np.arange(K), copies)
    return X, y


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("method", ["kfac", "ekfac"])
def test_kfac_is_exact_when_the_hessian_is_a_kronecker_product(method, K):
    """All A_i equal (theta^ = 0): sum_i A_i (x) x~ x~^T = A (x) sum x~ x~^T exactly."""
    X, y = _symmetric_pool(K)
    Xt, yt = np.random.default_rng(9).normal(size=(4, 3)), np.arange(4) % K
    learner = mpt.learners.LogisticRegression(lam=0.7, n_classes=K)
    assert np.abs(learner.fit(X, y).theta).max() < 1e-12
    ref = attribute(learner, X, y, Xt, yt, "influence", output="neg_loss")
    assert _rel(attribute(learner, X, y, Xt, yt, method, output="neg_loss"), ref) < 1e-10


@pytest.mark.parametrize("method", ["kfac", "ekfac"])
def test_kfac_is_exact_for_one_point_repeated_and_not_in_general(method):
    X = np.repeat(np.array([[0.5, -1.0, 2.0]]), 12, axis=0)
    y = np.array([0, 1, 2, 0, 0, 1, 2, 2, 2, 0, 1, 1])
    Xt, yt = np.random.default_rng(9).normal(size=(4, 3)), np.array([0, 1, 2, 1])
    learner = mpt.learners.LogisticRegression(lam=0.7, n_classes=3)
    ref = attribute(learner, X, y, Xt, yt, "influence", output="margin")
    assert _rel(attribute(learner, X, y, Xt, yt, method, output="margin"), ref) < 1e-10
    learner, (X, y, Xt, yt), out = _case("multinomial")
    ref = attribute(learner, X, y, Xt, yt, "influence", output=out)
    err = _rel(attribute(learner, X, y, Xt, yt, method, output=out), ref)
    assert 1e-4 < err < 0.5  # an approximation in general, and a good one


def test_kfac_class_factor_is_the_hessians_intercept_block():
    """sum_i A_i (the K-FAC class factor) equals the intercept block of the learner's Hessian."""
    learner, (X, y, Xt, yt), out = _case("multinomial")
    pb = make_problem(learner, X, y, Xt, yt, out)
    idx = np.arange(pb.K) * (pb.d + 1) + pb.d
    assert np.allclose(pb.A.sum(axis=0), pb.H[np.ix_(idx, idx)], atol=1e-12)


def test_datainf_is_exact_when_every_gradient_is_equal():
    """Identity (regression test): with g_k = g for all k, the swapped inverse is exact."""
    X = np.ones((10, 2)) * np.array([0.3, -0.7])
    y = np.full(10, 1.5)
    Xt, yt = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([0.2, -0.3])
    learner = mpt.learners.Ridge(lam=5.0, penalize_intercept=True)
    pb = make_problem(learner, X, y, Xt, yt, "neg_loss")
    G, Gt = pb.G, pb.Gt
    assert np.linalg.norm(G) > 0.1 and np.abs(G - G[0]).max() == 0
    delta = 0.3
    ref = -(G @ np.linalg.solve(G.T @ G + delta * np.eye(pb.p), Gt.T))
    got = attribute(learner, X, y, Xt, yt, "datainf", output="neg_loss", damping=delta)
    assert _rel(got, ref) < 1e-10


@pytest.mark.parametrize("name", ["binary", "multinomial", "multinomial_pen", "svm"])
def test_representer_scores_sum_to_the_output_less_the_intercepts(name):
    learner, (X, y, Xt, yt), _ = _case(name)
    theta = learner.fit(X, y).theta
    s = attribute(learner, X, y, Xt, yt, "representer", output="margin")
    f = outputs(learner, theta, Xt, yt, "margin")[0]
    Gt = output_grads(learner, theta, Xt, yt, "margin")
    d = X.shape[1]
    idx = np.arange(theta.size // (d + 1)) * (d + 1) + d
    share = 0.0 if learner.penalize_intercept else Gt[:, idx] @ theta[idx]
    assert np.allclose(s.sum(axis=0), f - share, rtol=1e-8, atol=1e-8)


def test_tracin_sums_to_the_output_change_along_its_trajectory():
    """With a checkpoint at every step, sum_i tau_ij + the penalty's share equals
    f_j(theta_T) - f_j(theta_0) up to O(lr) (a Riemann sum): the error halves with lr."""
    learner, (X, y, Xt, yt), _ = _case("binary")
    out = "neg_loss"  # nonlinear in theta (the margin's Riemann sum would be exact)
    pb = make_problem(learner, X, y, Xt, yt, out)
    lr0 = 1.0 / pb.top_eigenvalue()
    errs, lrs = [], []
    for k in range(1, 4):
        lr, steps = lr0 / 2**k, 10 * 2**k
        s = attribute(learner, X, y, Xt, yt, "tracin", output=out, n_steps=steps,
                      n_checkpoints=steps, lr=lr)
        thetas, _ = gd_trajectory(pb, steps, lr)
        pen = sum(-lr * pb.output_grads_at(th) @ (pb.penalty * th) for th in thetas[:-1])
        change = pb.outputs(thetas[-1:])[0] - pb.outputs(thetas[:1])[0]
        errs.append(np.abs(s.sum(axis=0) + pen - change).max())
        lrs.append(lr)
    assert 0.8 < _slope(lrs, errs) < 1.4


def test_knn_shapley_per_test_point_averages_to_the_applications_values():
    X, y, Xt, yt = _multiclass()
    learner = mpt.learners.LogisticRegression(lam=1.0, n_classes=3)
    s = attribute(learner, X, y, Xt, yt, "knn_shapley", k=3)
    ref = mpt.applications.knn_shapley(X, y, Xt, yt, k=3).values
    assert np.allclose(s.mean(axis=1), ref, atol=1e-14)


def test_gradient_similarities():
    learner, (X, y, Xt, yt), out = _case("binary")
    dot = attribute(learner, X, y, Xt, yt, "grad_dot", output=out)
    cos = attribute(learner, X, y, Xt, yt, "grad_cos", output=out)
    assert np.all(np.abs(cos) <= 1 + 1e-12)
    assert np.array_equal(np.sign(dot), np.sign(cos))


# ---------------------------------------------------------------------------- determinism
SEEDED = {"lissa": {"batch_size": 10, "depth": 20}, "arnoldi": {"rank": 3},
          "trak": {"proj_dim": 16}, "datamodels": {"n_subsets": 30}}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_is_reproducible_bit_for_bit(method):
    learner, (X, y, Xt, yt), out = _case("binary")
    opts = dict(SEEDED.get(method, {}))
    if method == "modelpred_loo":
        opts["model_options"] = {"epochs": 1, "n_subsets": 30, "width": 8,
                                 "n_permutations": 2, "batch_size": 16}
    a = attribute(learner, X, y, Xt, yt, method, output=out, **opts)
    b = attribute(learner, X, y, Xt, yt, method, output=out, **opts)
    assert a.shape == (X.shape[0], Xt.shape[0]) and a.dtype == np.float64
    assert np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    if method in SEEDED:
        c = attribute(learner, X, y, Xt, yt, method, output=out, seed=1, **opts)
        assert not np.array_equal(a, c)


# ---------------------------------------------------------------------------- bad input
class _NoWork(mpt.learners.LogisticRegression):
    """A learner that fails on any fit: validation errors must come before any work."""

    def fit(self, *a, **k):
        raise AssertionError("work started before the inputs were validated")

    def fit_subsets(self, *a, **k):
        raise AssertionError("work started before the inputs were validated")


@pytest.mark.parametrize("method,opts,match", [
    ("nope", {}, "method must be one of"),
    ("influence", {"rank": 3}, "has no option"),
    ("trak", {"proj_dim": 0}, "proj_dim must be"),
    ("trak", {"kernel": "rbf"}, "kernel must be one of"),
    ("trak", {"projection": np.ones((3, 2))}, "projection must have shape"),
    ("trak", {"damping": -1.0}, "damping must be"),
    ("arnoldi", {"rank": 6}, r"rank must be in \[1, 5\]"),
    ("arnoldi", {"rank": 3, "n_iter": 2}, "n_iter must be"),
    ("lissa", {"depth": -1}, "depth must be"),
    ("lissa", {"batch_size": 1000}, "batch_size must be"),
    ("lissa", {"scale": 0.0}, "scale must be"),
    ("tracin", {"n_checkpoints": 3, "n_steps": 10}, "must divide"),
    ("tracin", {"lr": -0.1}, "lr must be"),
    ("datainf", {"damping": 0.0}, "damping must be"),
    ("datamodels", {"fraction": 1.5}, "fraction must be"),
    ("datamodels", {"n_subsets": 1}, "n_subsets must be"),
    ("knn_shapley", {"k": 0}, "k must be"),
    ("lissa", {"seed": -1}, "seed must be"),
])
def test_bad_options_fail_before_any_work(method, opts, match):
    X, y, Xt, yt = _binary(d=4)
    with pytest.raises(ValueError, match=match):
        attribute(_NoWork(lam=1.0), X, y, Xt, yt, method, **opts)


def test_bad_data_fails_before_any_work():
    X, y, Xt, yt = _binary(d=4)
    learner = _NoWork(lam=1.0)
    with pytest.raises(ValueError, match="X_test must be 2-D with d=4"):
        attribute(learner, X, y, Xt[:, :2], yt, "influence")
    with pytest.raises(ValueError, match="y_test must have shape"):
        attribute(learner, X, y, Xt, yt[:2], "influence")
    with pytest.raises(ValueError, match="X_test contains NaN"):
        attribute(learner, X, y, np.where(Xt > 1, np.nan, Xt), yt, "influence")
    with pytest.raises(ValueError, match="output must be one of"):
        attribute(learner, X, y, Xt, yt, "influence", output="loss")
    with pytest.raises(ValueError, match="theta is not the fit"):
        attribute(learner, X, y, Xt, yt, "influence", theta=np.zeros(5))
    with pytest.raises(ValueError, match="theta must be"):
        attribute(learner, X, y, Xt, yt, "influence", theta=np.zeros(3))


def test_methods_that_do_not_apply_say_so():
    X, y, Xt, yt = _ridge()
    with pytest.raises(ValueError, match="needs a classifier"):
        attribute(mpt.learners.Ridge(lam=1.0), X, y, Xt, yt, "influence")
    with pytest.raises(ValueError, match="knn_shapley needs class labels"):
        attribute(mpt.learners.Ridge(lam=1.0), X, y, Xt, yt, "knn_shapley", output="neg_loss")
    with pytest.raises(ValueError, match="lam > 0"):
        attribute(mpt.learners.Ridge(lam=0.0), X, y, Xt, yt, "representer", output="neg_loss")
    with pytest.raises(ValueError, match="kernel='trak'"):
        attribute(mpt.learners.Ridge(lam=1.0), X, y, Xt, yt, "trak", output="neg_loss",
                  kernel="trak")
    # K-FAC for ridge is its well-defined reduction: a 1 x 1 class factor, exact here
    ref = attribute(mpt.learners.Ridge(lam=1.0), X, y, Xt, yt, "influence", output="neg_loss")
    got = attribute(mpt.learners.Ridge(lam=1.0), X, y, Xt, yt, "kfac", output="neg_loss")
    assert _rel(got, ref) < 1e-10


# ---------------------------------------------------------------------------- the dattri bench
def test_dattri_bench_export_quick(tmp_path):
    """Smoke test of our side of ``make bench-dattri`` (dattri itself runs in its own env)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "peers" / "dattri_ours.py"
    spec = importlib.util.spec_from_file_location("dattri_ours", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    info = mod.main(["export", "--data", str(tmp_path), "--quick"])
    assert set(info) == {"binary", "multinomial"}
    z = np.load(tmp_path / "problem.npz")
    for name in ("binary", "multinomial"):
        S = z[f"{name}_ours_influence"]
        assert S.shape == (info[name]["n"], info[name]["m"]) and np.all(np.isfinite(S))
        assert z[f"{name}_theta"].size == info[name]["p"]
        assert z[f"{name}_masks"].shape[1] == info[name]["n"]


def test_blockwise_projected_kernel_equals_the_explicit_rows():
    """The Gauss-Newton kernel accumulated in blocks equals (R P)^T (R P) with R formed."""
    from modelpred_theory.attribution.methods import trak as trak_mod

    learner, (X, y, Xt, yt), out = _case("multinomial")
    pb = make_problem(learner, X, y, Xt, yt, out)
    P = trak_mod.projection_matrix(pb.p, 7, seed=0)
    R = trak_mod._kernel_rows(pb, "gauss_newton")
    assert np.allclose(R.T @ R, pb.H - np.diag(pb.penalty), atol=1e-10)
    ref = (R @ P).T @ (R @ P)
    assert np.allclose(trak_mod._projected_gram(pb, "gauss_newton", P), ref, atol=1e-10)


def test_influence_cg_warns_when_it_stops_short():
    learner, (X, y, Xt, yt), out = _case("multinomial")
    with pytest.warns(RuntimeWarning, match="did not reach tol"):
        attribute(learner, X, y, Xt, yt, "influence_cg", output=out, maxiter=2)


def test_arnoldi_default_rank_is_capped_at_p():
    """The default rank is min(50, p): on a p = 4 problem it is full rank, so the scores equal
    exact influence (a given rank above p is still refused)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    lr = mpt.learners.LogisticRegression(1.0)
    s = mpt.attribution.attribute(lr, X, y, X[:5], y[:5], "arnoldi")
    ref = mpt.attribution.attribute(lr, X, y, X[:5], y[:5], "influence")
    np.testing.assert_allclose(s, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    with pytest.raises(ValueError, match="rank must be in"):
        mpt.attribution.attribute(lr, X, y, X[:5], y[:5], "arnoldi", rank=10)
