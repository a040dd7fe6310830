"""Tests for modelpred_theory.datasets: bundled real data and synthetic generators."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import datasets as skd
from sklearn.linear_model import LogisticRegression
from strategies import well_conditioned_design

from modelpred_theory import datasets as D

# Exact-arithmetic identities (norm scaling, standardisation) hold to this tolerance.
# Reason: a few float64 roundings of O(1) numbers.
ATOL_EXACT = 1e-12

TOTALS = {"iris2": 100, "breast_cancer": 569, "wine": 178, "digits": 1797, "diabetes": 442}
FEATURES = {"iris2": 4, "breast_cancer": 30, "wine": 13, "digits": 64, "diabetes": 10}
CLASSES = {"iris2": 2, "breast_cancer": 2, "wine": 3, "digits": 10, "diabetes": 0}
TASKS = {
    "iris2": "binary",
    "breast_cancer": "binary",
    "wine": "multiclass",
    "digits": "multiclass",
    "diabetes": "regression",
}


@functools.cache
def _load(name, seed=0, test_size=0.25, scale=True, n_train=None):
    return D.load(name, seed=seed, test_size=test_size, scale=scale, n_train=n_train)


def test_available_lists_the_five_names():
    assert sorted(D.available()) == sorted(TOTALS)


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_shapes_dtypes_and_task(name):
    ds = _load(name)
    assert ds.task == TASKS[name]
    assert ds.n_classes == CLASSES[name]
    assert ds.n_features == FEATURES[name]
    assert ds.n_train + ds.n_test == TOTALS[name]
    assert ds.n_test == int(np.ceil(0.25 * TOTALS[name]))
    assert ds.X_train.shape == (ds.n_train, FEATURES[name])
    assert ds.X_test.shape == (ds.n_test, FEATURES[name])
    assert ds.y_train.shape == (ds.n_train,) and ds.y_test.shape == (ds.n_test,)
    assert ds.X_train.dtype == np.float64 and ds.X_test.dtype == np.float64
    assert np.all(np.isfinite(ds.X_train)) and np.all(np.isfinite(ds.X_test))
    assert ds.theta_true is None
    assert len(ds.feature_names) == FEATURES[name]
    if ds.task == "regression":
        assert ds.y_train.dtype == np.float64
        assert ds.n_params == FEATURES[name] + 1
    else:
        assert ds.y_train.dtype == np.int64
        assert set(np.unique(ds.y_train)) == set(range(ds.n_classes))
        assert set(np.unique(ds.y_test)) == set(range(ds.n_classes))
        expected_p = FEATURES[name] + 1
        if ds.task == "multiclass":
            expected_p *= ds.n_classes
        assert ds.n_params == expected_p


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_unit_ball_scaling_and_standardisation(name):
    ds = _load(name)
    norms = np.linalg.norm(ds.X_train, axis=1)
    assert abs(norms.max() - 1.0) <= ATOL_EXACT
    # Undo the unit-ball scaling: the standardised features have train mean 0 and std 1, except
    # constant columns, which stay at 0 (std set to 1 instead of dividing by zero).
    Z = ds.X_train * ds.scale_factor
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)
    std = Z.std(axis=0)
    constant = ds.feature_std == 1.0
    np.testing.assert_allclose(std[~constant], 1.0, rtol=1e-10)
    # Unscaled load is the same data times the scale factor.
    raw = _load(name, scale=False)
    assert raw.scale_factor == 1.0
    np.testing.assert_allclose(raw.X_train, Z, rtol=1e-12, atol=ATOL_EXACT)
    np.testing.assert_allclose(raw.X_test, ds.X_test * ds.scale_factor, rtol=1e-12, atol=1e-12)
    assert np.linalg.norm(raw.X_train, axis=1).max() > 1.5  # standardised rows are not unit


def test_digits_constant_pixels_do_not_divide_by_zero():
    ds = _load("digits")
    raw = skd.load_digits().data
    constant_in_train = np.ptp(ds.X_train, axis=0) == 0
    assert constant_in_train.any()  # digits has blank border pixels
    assert np.all(ds.X_train[:, constant_in_train] == 0.0)
    assert np.all(ds.feature_std[constant_in_train] == 1.0)
    assert np.all(np.isfinite(ds.X_test))
    assert raw.shape[1] == ds.n_features


def test_iris2_is_iris_classes_zero_and_one():
    ds = _load("iris2")
    assert ds.n_train + ds.n_test == 100
    assert set(np.unique(np.r_[ds.y_train, ds.y_test])) == {0, 1}
    iris = skd.load_iris()
    keep = iris.target < 2
    # Invert the preprocessing and find every row (with its label) among iris classes 0/1.
    X_raw = np.r_[ds.X_train, ds.X_test] * ds.scale_factor * ds.feature_std + ds.feature_mean
    y_all = np.r_[ds.y_train, ds.y_test]
    pool = iris.data[keep]
    pool_y = iris.target[keep]
    used = np.zeros(pool.shape[0], dtype=bool)
    for x, lab in zip(X_raw, y_all, strict=True):
        hits = np.flatnonzero(np.all(np.abs(pool - x) < 1e-9, axis=1) & (pool_y == lab) & ~used)
        assert hits.size >= 1
        used[hits[0]] = True
    assert used.all()


def test_diabetes_target_standardised_on_train():
    ds = _load("diabetes")
    assert abs(ds.y_train.mean()) <= ATOL_EXACT
    assert abs(ds.y_train.std() - 1.0) <= ATOL_EXACT
    raw_y = skd.load_diabetes().target
    back = np.r_[ds.y_train, ds.y_test] * ds.target_std + ds.target_mean
    np.testing.assert_allclose(np.sort(back), np.sort(raw_y), rtol=1e-12)


@pytest.mark.parametrize("name", ["iris2", "wine", "breast_cancer"])
def test_split_is_deterministic_and_seed_dependent(name):
    a = D.load(name, seed=3)
    b = D.load(name, seed=3)
    c = D.load(name, seed=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert a.X_train.shape == c.X_train.shape
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name", ["iris2", "breast_cancer", "wine", "digits"])
@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.5])
def test_split_is_stratified(name, test_size):
    ds = _load(name, seed=1, test_size=test_size)
    y_all = np.r_[ds.y_train, ds.y_test]
    total = np.bincount(y_all)
    in_train = np.bincount(ds.y_train, minlength=total.size)
    expected = total * ds.n_train / y_all.size
    assert np.all(np.abs(in_train - expected) < 1.0)


@pytest.mark.parametrize("name,n_train", [("breast_cancer", 67), ("iris2", 10), ("wine", 30)])
def test_n_train_subsample(name, n_train):
    full = _load(name, seed=2)
    sub = _load(name, seed=2, n_train=n_train)
    assert sub.n_train == n_train
    assert set(np.unique(sub.y_train)) == set(range(sub.n_classes))
    # Stratified: class counts within one of their share.
    share = np.bincount(full.y_train) / full.n_train
    assert np.all(np.abs(np.bincount(sub.y_train, minlength=share.size) - share * n_train) < 1)
    # The test set does not depend on n_train (compare raw rows: standardisation differs).
    raw_full = full.X_test * full.scale_factor * full.feature_std + full.feature_mean
    raw_sub = sub.X_test * sub.scale_factor * sub.feature_std + sub.feature_mean
    np.testing.assert_allclose(raw_sub, raw_full, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(sub.y_test, full.y_test)
    # Statistics come from the subsample itself.
    assert abs(np.linalg.norm(sub.X_train, axis=1).max() - 1.0) <= ATOL_EXACT
    np.testing.assert_allclose((sub.X_train * sub.scale_factor).mean(axis=0), 0.0, atol=1e-10)
    assert D.load(name, seed=2, n_train=full.n_train).n_train == full.n_train


def test_n_train_regression():
    ds = _load("diabetes", n_train=100)
    assert ds.n_train == 100
    assert abs(ds.y_train.mean()) <= ATOL_EXACT


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "mnist"}, "name"),
        ({"name": 3}, "name"),
        ({"name": "iris2", "test_size": 0.0}, "test_size"),
        ({"name": "iris2", "test_size": 1.0}, "test_size"),
        ({"name": "iris2", "test_size": 1.5}, "test_size"),
        ({"name": "iris2", "test_size": 0.001}, "test_size"),
        ({"name": "iris2", "n_train": 76}, "n_train"),
        ({"name": "iris2", "n_train": 0}, "n_train"),
        ({"name": "wine", "n_train": 2}, "n_train"),
        ({"name": "iris2", "seed": -1}, "seed"),
    ],
)
def test_load_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.load(**kwargs)


@given(seed=st.integers(0, 2**31 - 1), test_size=st.floats(0.1, 0.5))
def test_iris2_property_any_seed(seed, test_size):
    ds = D.load("iris2", seed=seed, test_size=test_size)
    assert ds.n_train + ds.n_test == 100
    assert abs(np.linalg.norm(ds.X_train, axis=1).max() - 1.0) <= ATOL_EXACT
    assert set(np.unique(ds.y_train)) == {0, 1} and set(np.unique(ds.y_test)) == {0, 1}
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)


def test_dataset_validation():
    X = np.zeros((4, 2))
    y = np.array([0, 1, 0, 1])
    ds = D.Dataset(X, y, X, y, task="binary", n_classes=2)
    assert ds.n_train == 4 and ds.n_features == 2 and ds.n_params == 3
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_train"):
        D.Dataset(bad, y, X, y, task="binary", n_classes=2)
    with pytest.raises(ValueError, match="y_train"):
        D.Dataset(X, np.array([0, 1, 2, 1]), X, y, task="binary", n_classes=2)
    with pytest.raises(ValueError, match="X_test"):
        D.Dataset(X, y, np.zeros((4, 3)), y, task="binary", n_classes=2)
    with pytest.raises(ValueError, match="task"):
        D.Dataset(X, y, X, y, task="ranking", n_classes=2)
    with pytest.raises(ValueError, match="n_classes"):
        D.Dataset(X, y.astype(float), X, y.astype(float), task="regression", n_classes=1)
    with pytest.raises(ValueError, match="theta_true"):
        D.Dataset(X, y, X, y, task="binary", n_classes=2, theta_true=np.zeros(2))


# ---------------------------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------------------------
def _cond_gram(X, intercept=False):
    if intercept:
        X = np.c_[X, np.ones(X.shape[0])]
    return np.linalg.cond(X.T @ X)


@pytest.mark.parametrize("cond", [1.0, 10.0, 1e3, 1e6])
@pytest.mark.parametrize("maker", [D.make_regression, D.make_logistic, D.make_multiclass_logistic])
def test_exact_design_has_requested_condition_number(maker, cond):
    ds = maker(n=120, d=6, condition_number=cond, rng=5)
    assert _cond_gram(ds.X_train) == pytest.approx(cond, rel=1e-6)
    assert _cond_gram(ds.X_train, intercept=True) == pytest.approx(cond, rel=1e-6)
    np.testing.assert_allclose(ds.X_train.sum(axis=0), 0.0, atol=1e-9)


@given(
    n=st.integers(8, 60),
    d=st.integers(1, 7),
    log_cond=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_condition_number_property(n, d, log_cond, seed):
    cond = 10.0**log_cond
    ds = D.make_regression(n=max(n, d + 1), d=d, condition_number=cond, rng=seed)
    expected = cond if d > 1 else 1.0  # one feature: a single singular value
    assert _cond_gram(ds.X_train) == pytest.approx(expected, rel=1e-6)
    assert np.all(np.isfinite(ds.X_train)) and np.all(np.isfinite(ds.y_train))


def test_gaussian_design_condition_number_near_requested():
    ds = D.make_regression(n=4000, d=5, condition_number=100.0, rng=0, exact_design=False)
    # Marchenko-Pastur: extreme eigenvalues move by a factor (1 +- sqrt(d/n))^2 ~ 1.07.
    assert 100.0 / 1.5 < _cond_gram(ds.X_train) < 100.0 * 1.5
    # The test set has the same population covariance.
    cov_tr = ds.X_train.T @ ds.X_train / ds.n_train
    cov_te = ds.X_test.T @ ds.X_test / ds.n_test
    assert np.linalg.norm(cov_tr - cov_te) < 0.25


def test_regression_noise_free_is_exactly_linear():
    w = np.array([1.0, -2.0, 0.5])
    ds = D.make_regression(n=50, d=3, noise=0.0, theta=w, intercept=0.7, rng=1)
    np.testing.assert_allclose(ds.theta_true, [1.0, -2.0, 0.5, 0.7])
    np.testing.assert_allclose(ds.y_train, ds.X_train @ w + 0.7, atol=ATOL_EXACT)
    np.testing.assert_allclose(ds.y_test, ds.X_test @ w + 0.7, atol=ATOL_EXACT)
    assert ds.task == "regression" and ds.n_classes == 0 and ds.n_params == 4


def test_regression_noise_level_and_least_squares_recovery():
    ds = D.make_regression(n=3000, d=4, noise=0.3, intercept=-1.0, rng=2)
    A = np.c_[ds.X_train, np.ones(ds.n_train)]
    theta_ls = np.linalg.lstsq(A, ds.y_train, rcond=None)[0]
    # Standard error of each coefficient is ~ noise / sqrt(n) ~ 0.006.
    np.testing.assert_allclose(theta_ls, ds.theta_true, atol=0.04)
    resid = ds.y_train - A @ ds.theta_true
    assert resid.std() == pytest.approx(0.3, rel=0.08)


@pytest.mark.parametrize("maker", [D.make_regression, D.make_logistic, D.make_multiclass_logistic])
def test_synthetic_scaling_keeps_the_decision_function(maker):
    plain = maker(n=80, d=4, rng=9)
    scaled = maker(n=80, d=4, rng=9, scale=True)
    assert plain.scale_factor == 1.0
    assert abs(np.linalg.norm(scaled.X_train, axis=1).max() - 1.0) <= ATOL_EXACT
    np.testing.assert_allclose(scaled.X_train * scaled.scale_factor, plain.X_train, rtol=1e-12)
    K = max(plain.n_classes, 1) if plain.task == "multiclass" else 1
    Tp = plain.theta_true.reshape(K, -1)
    Ts = scaled.theta_true.reshape(K, -1)
    np.testing.assert_allclose(
        scaled.X_test @ Ts[:, :-1].T + Ts[:, -1],
        plain.X_test @ Tp[:, :-1].T + Tp[:, -1],
        rtol=1e-10,
        atol=1e-10,
    )
    np.testing.assert_array_equal(scaled.y_train, plain.y_train)


@pytest.mark.parametrize("maker", [D.make_regression, D.make_logistic, D.make_multiclass_logistic])
def test_synthetic_determinism(maker):
    a = maker(n=40, d=3, rng=11)
    b = maker(n=40, d=3, rng=np.random.default_rng(11))
    c = maker(n=40, d=3, rng=12)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.theta_true, b.theta_true)
    assert not np.array_equal(a.X_train, c.X_train)


def test_logistic_labels_follow_the_model():
    w = np.array([2.0, -1.0, 0.5])
    ds = D.make_logistic(n=20000, d=3, theta=w, intercept=0.5, rng=3, n_test=10)
    assert set(np.unique(ds.y_train)) == {0, 1} and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.theta_true, [2.0, -1.0, 0.5, 0.5])
    # An (almost) unregularised maximum-likelihood fit recovers the generating parameters
    # (standard errors ~ 0.02-0.03 at n = 20000).
    clf = LogisticRegression(C=1e8, tol=1e-10, max_iter=1000).fit(ds.X_train, ds.y_train)
    theta_hat = np.r_[clf.coef_.ravel(), clf.intercept_]
    np.testing.assert_allclose(theta_hat, ds.theta_true, atol=0.15)


def test_multiclass_labels_follow_the_model():
    W = np.array([[1.5, 0.0], [-1.0, 1.0], [0.0, -1.5]])
    b = np.array([0.2, -0.3, 0.1])
    ds = D.make_multiclass_logistic(
        n=20000, d=2, n_classes=3, theta=W, intercept=b, rng=4, n_test=10
    )
    assert ds.theta_true.shape == (9,)
    np.testing.assert_allclose(ds.theta_true.reshape(3, 3), np.c_[W, b])
    assert set(np.unique(ds.y_train)) == {0, 1, 2}
    clf = LogisticRegression(C=1e8, tol=1e-10, max_iter=2000).fit(ds.X_train, ds.y_train)
    T_hat = np.c_[clf.coef_, clf.intercept_]
    T = np.c_[W, b]
    # Softmax is invariant to a common shift of the rows: compare differences to class 0.
    np.testing.assert_allclose(T_hat - T_hat[0], T - T[0], atol=0.15)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: D.make_regression(condition_number=0.5), "condition_number"),
        (lambda: D.make_regression(n=5, d=5), "n must exceed d"),
        (lambda: D.make_regression(noise=-1.0), "noise"),
        (lambda: D.make_regression(d=3, theta=np.ones(4)), "theta"),
        (lambda: D.make_logistic(d=2, theta=[np.nan, 1.0]), "theta"),
        (lambda: D.make_multiclass_logistic(n_classes=2), "n_classes"),
        (lambda: D.make_multiclass_logistic(d=2, n_classes=3, intercept=[0, 1]), "intercept"),
        (lambda: D.make_logistic(rng=-3), "rng"),
    ],
)
def test_synthetic_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_small_n_needs_gaussian_design():
    ds = D.make_regression(n=3, d=5, exact_design=False, rng=0)
    assert ds.X_train.shape == (3, 5)


# ---------------------------------------------------------------------------------------------
# the shared hypothesis strategy for designs (tests/strategies.py)
# ---------------------------------------------------------------------------------------------
@given(X=well_conditioned_design(st.integers(6, 30), st.integers(1, 6), cond_max=10.0))
def test_well_conditioned_design_strategy(X):
    n, d = X.shape
    assert n >= d >= 1
    assert np.all(np.isfinite(X))
    tiny = X[X != 0.0]
    assert np.all(np.abs(tiny) >= np.finfo(np.float64).tiny)  # no subnormals
    sv = np.linalg.svd(X, compute_uv=False)
    assert sv.max() / sv.min() <= 10.0 * (1 + 1e-10)
    assert sv.max() == pytest.approx(np.sqrt(n), rel=1e-10)


# ---------------------------------------------------------------------------------------------
# the recorded transform, classes_ and source rows
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["breast_cancer", "digits", "diabetes"])
def test_bundled_transform_maps_raw_rows_and_rows_trace_back(name):
    ds = D.load(name, seed=2, n_train=100)
    raw = {"breast_cancer": skd.load_breast_cancer, "digits": skd.load_digits,
           "diabetes": functools.partial(skd.load_diabetes, scaled=False)}[name]()
    np.testing.assert_array_equal(ds.transform(raw.data[ds.train_rows]), ds.X_train)
    np.testing.assert_array_equal(ds.transform(raw.data[ds.test_rows]), ds.X_test)
    assert np.intersect1d(ds.train_rows, ds.test_rows).size == 0
    if ds.task == "regression":
        assert ds.classes_ is None
        np.testing.assert_allclose(ds.inverse_transform_target(ds.y_train),
                                   raw.target[ds.train_rows], rtol=1e-12)
    else:
        np.testing.assert_array_equal(ds.classes_, np.arange(ds.n_classes))
        np.testing.assert_array_equal(ds.y_train, raw.target[ds.train_rows])
        np.testing.assert_array_equal(ds.encode_labels(ds.y_test), ds.y_test)


def test_dataset_classes_validation():
    X = np.zeros((4, 2))
    y = np.array(["a", "b", "a", "b"])
    ds = D.Dataset(X, y, X, y, task="binary", n_classes=2, classes_=np.array(["a", "b"]))
    np.testing.assert_array_equal(ds.encode_labels(y), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="integer class labels"):
        D.Dataset(X, y, X, y, task="binary", n_classes=2)
    with pytest.raises(ValueError, match="sorted"):
        D.Dataset(X, y, X, y, task="binary", n_classes=2, classes_=np.array(["b", "a"]))
    with pytest.raises(ValueError, match="classes_ must have 2 entries"):
        D.Dataset(X, y, X, y, task="binary", n_classes=2, classes_=np.array(["a"]))
    with pytest.raises(ValueError, match="label 'c' that is not in classes_"):
        D.Dataset(X, np.array(["a", "b", "c", "a"]), X, y, task="binary", n_classes=2,
                  classes_=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="classes_ must be None for regression"):
        D.Dataset(X, np.zeros(4), X, np.zeros(4), task="regression", n_classes=0,
                  classes_=np.array([0, 1]))
    with pytest.raises(ValueError, match="train_rows"):
        D.Dataset(X, [0, 1, 0, 1], X, [0, 1, 0, 1], task="binary", n_classes=2,
                  train_rows=np.arange(3))
