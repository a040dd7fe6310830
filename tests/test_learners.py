"""Exact solvers: agreement with scikit-learn, closed forms, identities and bad input.

Tolerances (float64):
- 1e-6 relative against scikit-learn: its solvers stop at tol ~1e-10 on a different criterion.
- 1e-10 against closed forms on well-conditioned data: both sides are direct float64 solves.
- 1e-8 for identities between two of our own Newton solves (each stops at relative residual
  1e-10; the parameter error is residual / mu_S with mu_S >= lam).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import Ridge as SkRidge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from modelpred_theory.learners import (
    LogisticRegression,
    Ridge,
    SquaredHingeSVM,
    optimality_residual,
)

SK_RTOL = 1e-6
CLOSED_RTOL = 1e-10
SELF_RTOL = 1e-8


def _unit_ball(X):
    X = StandardScaler().fit_transform(X)
    return X / np.linalg.norm(X, axis=1).max()


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return _unit_ball(X)[:240], y[:240]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X = X / np.linalg.norm(X, axis=1).max()
    return X[:300], y[:300]


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _data(seed, n=60, d=4, kind="binary", K=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    w = rng.normal(size=d)
    if kind == "regression":
        return X, X @ w + 0.3 + 0.1 * rng.normal(size=n)
    if kind == "binary":
        y = (X @ w + 0.3 * rng.normal(size=n) > 0).astype(int)
        y[:2] = [0, 1]
        return X, y
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    return X, y


LEARNERS = [
    ("regression", lambda lam, pi: Ridge(lam, penalize_intercept=pi)),
    ("binary", lambda lam, pi: LogisticRegression(lam, penalize_intercept=pi)),
    ("multi", lambda lam, pi: LogisticRegression(lam, penalize_intercept=pi)),
    ("binary", lambda lam, pi: SquaredHingeSVM(lam, penalize_intercept=pi)),
]


# --------------------------------------------------------------------- independent references
@pytest.mark.parametrize("lam", [0.1, 1.0, 10.0])
def test_logistic_binary_matches_sklearn(cancer, lam):
    X, y = cancer
    res = LogisticRegression(lam).fit(X, y)
    sk = SkLogistic(C=1 / lam, tol=1e-12, max_iter=10_000).fit(X, y)
    assert res.converged
    assert _rel(res.theta, np.r_[sk.coef_[0], sk.intercept_]) < SK_RTOL


def test_logistic_multinomial_matches_sklearn(digits):
    X, y = digits
    res = LogisticRegression(1.0, n_classes=10).fit(X, y)
    sk = SkLogistic(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    # scikit-learn's intercepts are defined up to a common shift: centre them (our gauge).
    ref = np.c_[sk.coef_, sk.intercept_ - sk.intercept_.mean()].ravel()
    assert res.theta.shape == (10 * 65,)
    assert res.converged
    assert _rel(res.theta, ref) < SK_RTOL
    b = res.theta.reshape(10, 65)[:, -1]
    assert abs(b.sum()) < 1e-10


def test_svm_matches_liblinear_with_penalised_intercept(cancer):
    X, y = cancer
    res = SquaredHingeSVM(1.0, penalize_intercept=True).fit(X, y)
    sk = LinearSVC(C=1.0, loss="squared_hinge", tol=1e-12, max_iter=200_000).fit(X, y)
    assert res.converged
    assert _rel(res.theta, np.r_[sk.coef_[0], sk.intercept_]) < 1e-5


def test_ridge_matches_sklearn_and_svd(cancer):
    X, _ = cancer
    rng = np.random.default_rng(1)
    y = X @ rng.normal(size=X.shape[1]) + 0.5 + 0.1 * rng.normal(size=X.shape[0])
    lam = 0.7
    res = Ridge(lam).fit(X, y)
    sk = SkRidge(alpha=lam, solver="svd").fit(X, y)
    assert _rel(res.theta, np.r_[sk.coef_, sk.intercept_]) < SK_RTOL
    # closed form by SVD of the augmented system with the unpenalised intercept
    Xa = np.c_[X, np.ones(len(y))]
    P = np.diag(np.r_[np.ones(X.shape[1]), 0.0])
    U, s, Vt = np.linalg.svd(Xa.T @ Xa + lam * P)
    ref = Vt.T @ ((U.T @ (Xa.T @ y)) / s)
    assert _rel(res.theta, ref) < CLOSED_RTOL


# --------------------------------------------------------------------- residuals and batching
@pytest.mark.parametrize("kind,make", LEARNERS)
@pytest.mark.parametrize("pen", [False, True])
def test_fit_subsets_equals_loop_and_residuals_small(kind, make, pen):
    X, y = _data(3, kind=kind)
    learner = make(0.5, pen)
    rng = np.random.default_rng(0)
    masks = rng.random((12, len(y))) < 0.6
    masks[:, :3] = True  # every class present
    res = learner.fit_subsets(X, y, masks, return_info=True)
    assert res.converged.all()
    resid = optimality_residual(learner, res.thetas, X, y, masks)
    np.testing.assert_allclose(resid, res.grad_norms, rtol=1e-6, atol=1e-14)
    for j in range(masks.shape[0]):
        single = learner.fit(X, y, sample_weight=masks[j])
        assert single.converged
        assert single.grad_norm <= learner.tol * max(1.0, np.linalg.norm(
            learner.grad(np.zeros_like(single.theta), X, y, masks[j])))
        assert _rel(res.thetas[j], single.theta) < SELF_RTOL


def test_chunking_and_warm_start_do_not_change_answers(cancer):
    X, y = cancer
    learner = LogisticRegression(1.0)
    rng = np.random.default_rng(2)
    masks = rng.random((30, len(y))) < 0.5
    a = learner.fit_subsets(X, y, masks)
    b = learner.fit_subsets(X, y, masks, chunk_size=7, progress=False)
    full = learner.fit(X, y).theta
    c = learner.fit_subsets(X, y, masks, theta0=full)
    # float32 Newton systems round differently per chunk shape: equal to the solver's accuracy
    # (relative residual 1e-10, parameter error <= residual / mu_S with mu_S >= lam = 1)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a, c, rtol=0, atol=1e-8)


def test_full_mask_reproduces_full_fit(cancer):
    X, y = cancer
    for learner in (LogisticRegression(2.0), SquaredHingeSVM(2.0), Ridge(2.0)):
        yy = y.astype(float) if isinstance(learner, Ridge) else y
        full = learner.fit(X, yy).theta
        via_mask = learner.fit_subsets(X, yy, np.ones((1, len(y)), bool))[0]
        assert _rel(via_mask, full) < SELF_RTOL


def test_subset_missing_a_class_with_penalised_intercept_is_true_minimiser():
    X, y = _data(5)
    learner = LogisticRegression(1.0, penalize_intercept=True)
    mask = y == 1  # only one class
    theta = learner.fit_subsets(X, y, mask[None])[0]
    assert np.linalg.norm(theta) > 0  # not a placeholder
    assert learner.optimality_residual(theta, X, y, mask) < 1e-8
    # theta is the minimiser: any perturbation increases F_S
    f0 = learner.loss(theta, X, y, mask)
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert learner.loss(theta + 1e-3 * rng.normal(size=theta.size), X, y, mask) > f0


def test_multinomial_subset_missing_top_class_needs_n_classes(digits):
    X, y = digits
    learner = LogisticRegression(1.0, n_classes=10, penalize_intercept=True)
    mask = y < 9
    theta = learner.fit(X, y, mask).theta
    assert theta.shape == (650,)
    assert learner.optimality_residual(theta, X, y, mask) < 1e-8


# --------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("kind,make", LEARNERS)
def test_gradient_and_hessian_match_finite_differences(kind, make):
    X, y = _data(7, n=25, d=3, kind=kind)
    learner = make(0.3, False)
    rng = np.random.default_rng(1)
    w = rng.random(len(y)) + 0.5
    p = learner.param_dim(X, y)
    theta = 0.5 * rng.normal(size=p)
    g = learner.grad(theta, X, y, w)
    H = learner.hessian(theta, X, y, w)
    eps = 1e-6
    E = np.eye(p)
    fd_g = np.array([(learner.loss(theta + eps * e, X, y, w)
                      - learner.loss(theta - eps * e, X, y, w)) / (2 * eps) for e in E])
    fd_H = np.array([(learner.grad(theta + eps * e, X, y, w)
                      - learner.grad(theta - eps * e, X, y, w)) / (2 * eps) for e in E])
    np.testing.assert_allclose(g, fd_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, fd_H, rtol=1e-4, atol=1e-5)
    v = rng.normal(size=p)
    np.testing.assert_allclose(learner.hvp(theta, v, X, y, w), H @ v, rtol=1e-10, atol=1e-12)
    # per-sample gradients sum (with weights) to the data part of the gradient
    G = learner.per_sample_grads(theta, X, y)
    pen = np.ones(p)
    pen.reshape(-1, X.shape[1] + 1)[:, -1] = 0.0
    np.testing.assert_allclose(w @ G + 0.3 * pen * theta, g, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------- identities (hypothesis)
@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), which=st.sampled_from(range(len(LEARNERS))))
def test_row_permutation_changes_nothing(seed, which):
    kind, make = LEARNERS[which]
    X, y = _data(seed, kind=kind)
    learner = make(0.8, False)
    perm = np.random.default_rng(seed).permutation(len(y))
    a = learner.fit(X, y).theta
    b = learner.fit(X[perm], y[perm]).theta
    assert _rel(b, a) < SELF_RTOL


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), which=st.sampled_from(range(len(LEARNERS))),
       dup=st.integers(0, 59))
def test_duplicated_row_equals_weight_two(seed, which, dup):
    kind, make = LEARNERS[which]
    X, y = _data(seed, kind=kind)
    learner = make(0.8, False)
    w = np.ones(len(y))
    w[dup] = 2.0
    a = learner.fit(X, y, sample_weight=w).theta
    b = learner.fit(np.r_[X, X[dup:dup + 1]], np.r_[y, y[dup:dup + 1]]).theta
    assert _rel(b, a) < SELF_RTOL


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000))
def test_lam_to_zero_recovers_least_squares(seed):
    X, y = _data(seed, kind="regression")
    Xa = np.c_[X, np.ones(len(y))]
    ls = np.linalg.lstsq(Xa, y, rcond=None)[0]
    errs = [_rel(Ridge(lam).fit(X, y).theta, ls) for lam in (1e-2, 1e-4, 1e-6)]
    assert errs[2] < 1e-5
    assert errs[0] > errs[1] > errs[2]
    assert _rel(Ridge(0.0).fit(X, y).theta, ls) < CLOSED_RTOL


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), which=st.sampled_from(range(len(LEARNERS))))
def test_norm_never_grows_with_lam(seed, which):
    kind, make = LEARNERS[which]
    X, y = _data(seed, kind=kind)
    # penalised intercept: the norm of the whole penalised vector is monotone in lam
    norms = [np.linalg.norm(make(lam, True).fit(X, y).theta) for lam in (0.05, 0.2, 1, 5, 25)]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(norms, norms[1:], strict=False))
    assert norms[-1] < norms[0]


# --------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    X, y = _data(0)
    lr = LogisticRegression(1.0)
    with pytest.raises(ValueError, match="lam"):
        LogisticRegression(-1.0)
    with pytest.raises(ValueError, match="lam must be > 0"):
        LogisticRegression(0.0)
    with pytest.raises(ValueError, match="lam must be > 0"):
        SquaredHingeSVM(0.0)
    with pytest.raises(ValueError, match="lam"):
        Ridge(-0.1)
    with pytest.raises(ValueError, match="X contains NaN"):
        lr.fit(np.where(np.eye(len(y), X.shape[1]) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        lr.fit(np.full_like(X, np.inf), y)
    with pytest.raises(ValueError, match="y has 59 entries"):
        lr.fit(X, y[:-1])
    with pytest.raises(ValueError, match="masks has rows of length"):
        lr.fit_subsets(X, y, np.ones((2, len(y) - 1), bool))
    with pytest.raises(ValueError, match="empty subsets"):
        lr.fit_subsets(X, y, np.zeros((2, len(y)), bool))
    with pytest.raises(ValueError, match="masks must be"):
        lr.fit_subsets(X, y, -np.ones((2, len(y))))
    with pytest.raises(ValueError, match="masks must be 1-D .* or 2-D"):
        lr.fit_subsets(X, y, np.ones((2, 2, len(y)), bool))
    with pytest.raises(ValueError, match="non-integer value 0.5"):
        lr.fit(X, y + 0.5)
    # labels are taken as scikit-learn takes them (sorted classes): {0, 1, 5} is 3 classes, and
    # n_classes=2 with 3 distinct labels is refused naming the labels
    with pytest.raises(ValueError, match=r"3 distinct labels \[0, 1, 5\].*n_classes=2"):
        LogisticRegression(1.0, n_classes=2).fit(X, np.r_[y[:-1], 5])
    with pytest.raises(ValueError, match="3 distinct labels.*binary"):
        SquaredHingeSVM(1.0).fit(X, np.r_[2 * y[:-1] + 3, 7])
    with pytest.raises(ValueError, match="miss a class"):
        lr.fit_subsets(X, y, (y == 1)[None])
    with pytest.raises(ValueError, match="sample_weight"):
        lr.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="theta0"):
        lr.fit(X, y, theta0=np.zeros(3))
    with pytest.raises(ValueError, match="chunk_size"):
        lr.fit_subsets(X, y, np.ones((1, len(y)), bool), chunk_size=0)


def test_newton_cg_path_gives_the_direct_newton_minimiser(digits, monkeypatch):
    """Large p solves Newton steps by preconditioned CG; the fixed point must not change."""
    import modelpred_theory.learners.solvers as base

    X, y = digits
    learner = LogisticRegression(1.0, n_classes=10)
    rng = np.random.default_rng(4)
    masks = rng.random((6, len(y))) < 0.5
    masks[:, :20] = True
    assert learner.param_dim(X, y) >= base.CG_MIN_P  # the CG path is the one exercised
    assert learner.uses_cg(learner.param_dim(X, y))
    cg = learner.fit_subsets(X, y, masks, return_info=True)
    monkeypatch.setattr(base, "CG_MIN_P", 10**9)
    assert not learner.uses_cg(learner.param_dim(X, y))
    direct = learner.fit_subsets(X, y, masks, return_info=True)
    assert not np.array_equal(cg.thetas, direct.thetas)  # two different paths ran
    assert cg.converged.all() and direct.converged.all()
    assert np.all(cg.grad_norms <= learner.residual_tolerance(X, y, masks))
    rel = np.linalg.norm(cg.thetas - direct.thetas, axis=1) / np.linalg.norm(direct.thetas, axis=1)
    assert rel.max() < SELF_RTOL


@pytest.mark.parametrize("pen", [False, True])
def test_newton_cg_path_for_binary_learners(pen, monkeypatch):
    """Force the CG path on small problems (logistic and the SVM's generalised Hessian)."""
    import modelpred_theory.learners.solvers as base

    X, y = _data(8, n=80, d=5)
    rng = np.random.default_rng(0)
    masks = rng.random((5, len(y))) < 0.7
    masks[:, :2] = True
    for learner in (LogisticRegression(0.5, penalize_intercept=pen),
                    SquaredHingeSVM(0.5, penalize_intercept=pen)):
        direct = learner.fit_subsets(X, y, masks)
        monkeypatch.setattr(base, "CG_MIN_P", 1)
        assert learner.uses_cg(learner.param_dim(X, y))
        res = learner.fit_subsets(X, y, masks, return_info=True)
        monkeypatch.setattr(base, "CG_MIN_P", 10**9)
        assert res.converged.all()
        assert not np.array_equal(res.thetas, direct)  # the CG path really ran
        rel = np.linalg.norm(res.thetas - direct, axis=1) / np.linalg.norm(direct, axis=1)
        assert rel.max() < SELF_RTOL


def test_predict_proba_multinomial_when_rows_equal_classes():
    X, y = _data(11, n=30, kind="multi", K=3)
    learner = LogisticRegression(1.0)
    theta = learner.fit(X, y).theta
    P = learner.predict_proba(theta, X[:3])  # 3 rows, 3 classes: shapes must not be confused
    assert P.shape == (3, 3)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-12)
    Pb = LogisticRegression(1.0).predict_proba(np.r_[1.0, -1.0, 0.5, 0.0, 0.2], X[:2])
    assert Pb.shape == (2, 2)
    Pk = learner.predict_proba(np.stack([theta, theta]), X[:5])
    assert Pk.shape == (2, 5, 3)
    np.testing.assert_allclose(Pk[0], learner.predict_proba(theta, X[:5]))


# --------------------------------------------------------------------- labels (issue 9, point 3)
def test_labels_one_two_are_sorted_classes_not_a_sample_weight_problem():
    X, y = _data(5)
    ref = LogisticRegression(1.0).fit(X, y)
    for labels in (y + 1, 2 * y, 2 * y - 1, np.where(y, "spam", "ham")):
        res = LogisticRegression(1.0).fit(X, labels)
        assert res.converged and res.classes_.tolist() == sorted(set(labels.tolist()))
        np.testing.assert_allclose(res.theta, ref.theta, rtol=0, atol=1e-12)
        thetas = LogisticRegression(1.0).fit_subsets(X, labels, np.ones((2, len(y)), bool))
        np.testing.assert_allclose(thetas[0], ref.theta, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"^y has no point of class \[2\]") as info:
        LogisticRegression(1.0, n_classes=3).fit(X, y)
    assert "sample_weight" not in str(info.value)


def test_encoded_labels_round_trip_and_classes_accessor():
    X, y = _data(6, kind="multi")
    labels = np.array(["x", "y", "z"])[y]
    learner = LogisticRegression(1.0)
    np.testing.assert_array_equal(learner.classes(labels), ["x", "y", "z"])
    _, y_enc, K = learner.prepare(X, labels)
    assert K == 3 and y_enc.classes_.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(np.asarray(y_enc), y)
    assert learner.encode_y(y_enc) is y_enc  # encoded labels are never re-mapped
    sub = y_enc[y != 0]  # a subset missing class "x" keeps its codes
    assert learner.encode_y(sub).classes_.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(np.asarray(learner.encode_y(sub)), y[y != 0])
    assert Ridge(1.0).classes(np.arange(3.0)) is None
    svm = SquaredHingeSVM(1.0)
    np.testing.assert_array_equal(np.asarray(svm.encode_y(np.array(["b", "a", "b"]))),
                                  [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(svm.encode_y(np.array([1, 1]))), [1.0, 1.0])
    # a test set showing one class keeps the canonical codes
    np.testing.assert_array_equal(np.asarray(LogisticRegression(1.0).encode_y(np.ones(3))),
                                  np.ones(3))


def test_learner_classes_argument_fixes_the_mapping():
    X, y = _data(7)
    learner = LogisticRegression(1.0, classes=["neg", "pos"], penalize_intercept=True)
    only_pos = np.full(len(y), "pos")
    res = learner.fit(X, only_pos)  # one class present, known to be the positive one
    assert res.classes_.tolist() == ["neg", "pos"]
    assert (learner.predict_proba(res.theta, X)[:, 1] > 0.5).all()
    rebuilt = LogisticRegression(**learner.get_params())
    np.testing.assert_allclose(rebuilt.fit(X, only_pos).theta, res.theta, rtol=0, atol=0)


# --------------------------------------------------------------------- devices and processes
def test_n_jobs_is_bit_identical_to_serial():
    X, y = _data(8, n=40)
    rng = np.random.default_rng(1)
    masks = rng.random((12, 40)) < 0.7
    masks[:, :2] = True
    learner = LogisticRegression(0.5)
    serial = learner.fit_subsets(X, y, masks, chunk_size=4, return_info=True)
    par = learner.fit_subsets(X, y, masks, chunk_size=4, n_jobs=2, return_info=True)
    for a, b in zip((serial.thetas, serial.grad_norms, serial.n_iter, serial.converged),
                    (par.thetas, par.grad_norms, par.n_iter, par.converged), strict=True):
        np.testing.assert_array_equal(a, b)


def test_device_argument_is_checked_before_work():
    import torch

    X, y = _data(9)
    lr = LogisticRegression(1.0)
    auto = lr.fit(X, y, device="auto").theta
    np.testing.assert_allclose(auto, lr.fit(X, y).theta, rtol=0, atol=1e-12)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
            lr.fit_subsets(X, y, np.ones((1, len(y)), bool), device="cuda")
    with pytest.raises(ValueError, match="device .*meta.* is not supported"):
        lr.fit(X, y, device=torch.device("meta"))


@pytest.mark.gpu
@pytest.mark.parametrize("kind,make", LEARNERS)
def test_cuda_fits_equal_cpu_in_float64(kind, make):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y = _data(10, kind=kind)
    learner = make(0.5, False)
    masks = np.random.default_rng(2).random((6, len(y))) < 0.7
    masks[:, :3] = True
    cpu = learner.fit_subsets(X, y, masks, return_info=True)
    gpu = learner.fit_subsets(X, y, masks, device="cuda", return_info=True)
    assert gpu.converged.all() and gpu.thetas.dtype == np.float64
    np.testing.assert_allclose(gpu.thetas, cpu.thetas, rtol=SELF_RTOL, atol=1e-10)
    with pytest.raises(ValueError, match="does not exist"):
        learner.fit(X, y, device=f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(ValueError, match="n_jobs=2 .* device"):
        learner.fit_subsets(X, y, masks, device="cuda", n_jobs=2)


def test_pool_warm_start_gives_the_same_minimisers_in_fewer_iterations(cancer):
    X, y = cancer
    learner = LogisticRegression(1.0)
    rng = np.random.default_rng(11)
    masks = rng.random((40, len(y))) < 0.9  # near the pool: the pool fit is a close start
    masks[:, :2] = True
    cold = learner.fit_subsets(X, y, masks, return_info=True)
    warm = learner.fit_subsets(X, y, masks, theta0="pool", return_info=True)
    assert warm.converged.all()
    rel = np.linalg.norm(warm.thetas - cold.thetas, axis=1) / np.linalg.norm(cold.thetas, axis=1)
    assert rel.max() < SELF_RTOL
    assert warm.n_iter.mean() < cold.n_iter.mean()
    with pytest.raises(ValueError, match="theta0 must be an array or 'pool'"):
        learner.fit_subsets(X, y, masks, theta0="full")
