"""scikit-learn interop in both directions: from_sklearn(estimator) and learner.to_sklearn(theta).

Tolerances (float64):
- 1e-6 relative on theta against scikit-learn fitted at tol=1e-12: its solvers stop on a
  different criterion (lbfgs / liblinear), ~1e-7 from the exact minimiser on these problems.
- 1e-12 absolute on probabilities and margins from to_sklearn: the same float64 numbers go
  through two implementations of the same formula (differences are rounding only).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import LogisticRegressionCV, SGDClassifier
from sklearn.linear_model import Ridge as SkRidge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from modelpred_theory import learners as L

SK_RTOL = 1e-6
SAME_ATOL = 1e-12


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:200] / np.linalg.norm(X[:200], axis=1).max(), y[:200]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ------------------------------------------------------------------ sklearn -> ours
@pytest.mark.parametrize("C", [0.3, 3.0])
def test_from_logistic_binary_string_labels(cancer, C):
    X, y = cancer
    ys = np.where(y == 1, "pos", "neg")
    sk = SkLogistic(C=C, tol=1e-12, max_iter=10_000).fit(X, ys)
    learner = L.from_sklearn(sk)
    assert isinstance(learner, L.LogisticRegression) and learner.lam == pytest.approx(1 / C)
    assert not learner.penalize_intercept
    res = learner.fit(X, ys)
    assert res.converged
    assert list(res.classes_) == list(sk.classes_) == ["neg", "pos"]
    assert _rel(res.theta, np.r_[sk.coef_[0], sk.intercept_]) < SK_RTOL
    # same labels predicted, decoded through classes_
    np.testing.assert_array_equal(learner.predict(res.theta, X, classes=res.classes_),
                                  sk.predict(X))


def test_from_logistic_multinomial_gauge(iris):
    X, y = iris
    sk = SkLogistic(C=2.0, tol=1e-12, max_iter=10_000).fit(X, y + 1)  # labels {1, 2, 3}
    learner = L.from_sklearn(sk)
    res = learner.fit(X, y + 1)
    M = res.theta.reshape(3, X.shape[1] + 1)
    # sklearn's multinomial is gauge-free up to a common intercept shift: centre it (our gauge)
    ref = np.c_[sk.coef_, sk.intercept_ - sk.intercept_.mean()]
    assert _rel(M, ref) < SK_RTOL
    np.testing.assert_allclose(learner.predict_proba(res.theta, X), sk.predict_proba(X),
                               atol=1e-6)


def test_from_liblinear_logistic_penalises_the_intercept(cancer):
    X, y = cancer
    sk = SkLogistic(C=1.0, solver="liblinear", tol=1e-12, max_iter=10_000).fit(X, y)
    learner = L.from_sklearn(sk)
    assert learner.penalize_intercept
    assert _rel(learner.fit(X, y).theta, np.r_[sk.coef_[0], sk.intercept_]) < SK_RTOL


def test_from_linear_svc_matches_liblinear(cancer):
    X, y = cancer
    ys = np.where(y == 1, 1, -1)
    sk = LinearSVC(C=0.7, tol=1e-12, max_iter=200_000).fit(X, ys)
    learner = L.from_sklearn(sk)
    assert isinstance(learner, L.SquaredHingeSVM) and learner.penalize_intercept
    res = learner.fit(X, ys)
    # liblinear's dual coordinate descent stops ~1e-8 from the minimiser here
    assert _rel(res.theta, np.r_[sk.coef_[0], sk.intercept_]) < 1e-5


def test_from_ridge(cancer):
    X, _ = cancer
    y = X @ np.linspace(-1, 1, X.shape[1]) + 0.3
    sk = SkRidge(alpha=0.4, solver="svd").fit(X, y)
    learner = L.from_sklearn(sk)
    assert isinstance(learner, L.Ridge) and learner.lam == 0.4
    assert _rel(learner.fit(X, y).theta, np.r_[sk.coef_, sk.intercept_]) < SK_RTOL


@pytest.mark.parametrize("est,name", [
    (SkLogistic(penalty="l1", solver="liblinear"), "penalty='l1'"),
    (SkLogistic(l1_ratio=0.5, solver="saga"), "l1_ratio=0.5"),
    (SkLogistic(class_weight="balanced"), "class_weight"),
    (SkLogistic(fit_intercept=False), "fit_intercept=False"),
    (SkLogistic(C=np.inf), "C=inf"),
    (SkLogistic(solver="liblinear", intercept_scaling=10.0), "intercept_scaling=10.0"),
    (LinearSVC(loss="hinge"), "loss='hinge'"),
    (LinearSVC(penalty="l1", dual=False), "penalty='l1'"),
    (LinearSVC(intercept_scaling=2.0), "intercept_scaling=2.0"),
    (LinearSVC(multi_class="crammer_singer"), "crammer_singer"),
    (LinearSVC(class_weight={0: 2.0, 1: 1.0}), "class_weight"),
    (LinearSVC(fit_intercept=False), "fit_intercept=False"),
    (SkRidge(positive=True), "positive=True"),
    (SkRidge(alpha=np.array([1.0, 2.0])), "alpha"),
    (SkRidge(fit_intercept=False), "fit_intercept=False"),
    (SGDClassifier(), "SGDClassifier"),
    (LogisticRegressionCV(), "LogisticRegressionCV"),
    ("not an estimator", "str"),
])
def test_unsupported_settings_are_refused_by_name(est, name):
    with pytest.raises(ValueError, match=name.replace("(", r"\(").replace("[", r"\[")):
        L.from_sklearn(est)


def test_fitted_multiclass_linear_svc_is_refused(iris):
    X, y = iris
    sk = LinearSVC(max_iter=5000).fit(X, y)
    with pytest.raises(ValueError, match="3 classes"):
        L.from_sklearn(sk)


# ------------------------------------------------------------------ ours -> sklearn
def test_to_sklearn_logistic_binary(cancer):
    X, y = cancer
    ys = np.where(y == 1, "b", "a")
    learner = L.LogisticRegression(0.5)
    res = learner.fit(X, ys)
    est = learner.to_sklearn(res.theta, classes=res.classes_)
    assert isinstance(est, SkLogistic)
    assert est.C == pytest.approx(2.0)
    np.testing.assert_allclose(est.predict_proba(X), learner.predict_proba(res.theta, X),
                               atol=SAME_ATOL)
    np.testing.assert_allclose(est.decision_function(X), learner.decision_function(res.theta, X),
                               atol=SAME_ATOL)
    np.testing.assert_array_equal(est.predict(X), learner.predict(res.theta, X, res.classes_))
    # and the estimator refitted by scikit-learn lands on the same parameters
    sk = SkLogistic(C=est.C, tol=1e-12, max_iter=10_000).fit(X, ys)
    assert _rel(np.r_[sk.coef_[0], sk.intercept_], res.theta) < SK_RTOL


def test_to_sklearn_multinomial_probabilities(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    learner = L.LogisticRegression(1.0)
    res = learner.fit(X, labels)
    est = learner.to_sklearn(res.theta, classes=res.classes_)
    np.testing.assert_allclose(est.predict_proba(X), learner.predict_proba(res.theta, X),
                               atol=SAME_ATOL)
    np.testing.assert_array_equal(est.predict(X), res.classes_[
        np.argmax(learner.predict_proba(res.theta, X), axis=1)])
    sk = SkLogistic(C=1.0, tol=1e-12, max_iter=10_000).fit(X, labels)
    np.testing.assert_allclose(sk.predict_proba(X), est.predict_proba(X), atol=1e-6)


def test_to_sklearn_multinomial_needs_classes(iris):
    X, y = iris
    res = L.LogisticRegression(1.0).fit(X, y)
    # without classes / n_classes / n_features, 15 entries are binary on 14 features or K=3 on
    # 4 (or K=5 on 2): refused, naming what to pass (it used to export a (1, 14) binary model)
    with pytest.raises(ValueError, match=r"15 entries.*K=3 classes on d=4.*pass classes="
                                         r".*n_features="):
        L.LogisticRegression(1.0).to_sklearn(res.theta)
    for est in (L.LogisticRegression(1.0, n_classes=3).to_sklearn(res.theta),
                L.LogisticRegression(1.0).to_sklearn(res.theta, n_features=4),
                L.LogisticRegression(1.0).to_sklearn(res.theta, classes=[0, 1, 2])):
        np.testing.assert_array_equal(est.classes_, [0, 1, 2])
        assert est.coef_.shape == (3, 4)
    with pytest.raises(ValueError, match="n_features"):
        L.LogisticRegression(1.0).to_sklearn(res.theta, n_features=5)
    with pytest.raises(ValueError, match="K=2"):
        L.LogisticRegression(1.0).to_sklearn(res.theta, classes=[0, 1], n_features=4)


def test_to_sklearn_refuses_an_ambiguous_layout_before_any_work(monkeypatch):
    """Issue 21: the refusal comes from the layout alone (p = 42 is binary on 41 features or
    K=3 on 13, K=6 on 6, ...), before scikit-learn is imported; a binary theta whose p has no
    multinomial reading (p prime, or 4) and any theta with classes / n_features still export."""
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # importing it would fail
    with pytest.raises(ValueError, match=r"42 entries.*d=41.*K=3 classes on d=13"):
        L.LogisticRegression(1.0).to_sklearn(np.ones(42))
    with pytest.raises(ValueError, match="pass classes="):  # a binary theta with p = 6
        L.LogisticRegression(1.0).to_sklearn(np.r_[1.0, -2.0, 0.5, 0.0, 3.0, 0.1])
    monkeypatch.undo()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5))
    th = np.r_[1.0, -2.0, 0.5, 0.0, 3.0, 0.1]
    for est in (L.LogisticRegression(1.0).to_sklearn(th, n_features=5),
                L.LogisticRegression(1.0).to_sklearn(th, classes=["a", "b"]),
                L.LogisticRegression(1.0, n_classes=2).to_sklearn(th)):
        assert est.coef_.shape == (1, 5)
        np.testing.assert_allclose(est.decision_function(X), X @ th[:5] + th[5], atol=SAME_ATOL)
    for p in (2, 3, 4, 5, 7, 31):  # no multinomial reading: binary on p - 1 features
        est = L.LogisticRegression(1.0).to_sklearn(np.arange(1.0, p + 1))
        assert est.coef_.shape == (1, p - 1)
        np.testing.assert_array_equal(est.classes_, [0, 1])


def test_to_sklearn_svm_and_ridge(cancer):
    X, y = cancer
    svm = L.SquaredHingeSVM(1.0, penalize_intercept=True)
    res = svm.fit(X, y)
    est = svm.to_sklearn(res.theta, classes=res.classes_)
    assert isinstance(est, LinearSVC)
    np.testing.assert_allclose(est.decision_function(X), svm.decision_function(res.theta, X),
                               atol=SAME_ATOL)
    np.testing.assert_array_equal(est.predict(X), svm.predict(res.theta, X, res.classes_))
    np.testing.assert_array_equal(est.predict(X), np.where(svm.predict(res.theta, X) > 0, 1, 0))
    yr = X @ np.linspace(0, 1, X.shape[1])
    ridge = L.Ridge(0.2)
    th = ridge.fit(X, yr).theta
    est = ridge.to_sklearn(th)
    np.testing.assert_allclose(est.predict(X), ridge.decision_function(th, X), atol=SAME_ATOL)
    sk = SkRidge(alpha=0.2, solver="svd").fit(X, yr)
    assert _rel(np.r_[sk.coef_, sk.intercept_], th) < SK_RTOL


def test_round_trip_keeps_the_learner(cancer):
    X, y = cancer
    for learner in (L.LogisticRegression(0.25), L.LogisticRegression(2.0, penalize_intercept=True),
                    L.SquaredHingeSVM(0.5, penalize_intercept=True), L.Ridge(3.0)):
        yy = y if not isinstance(learner, L.Ridge) else X[:, 0]
        th = learner.fit(X, yy).theta
        back = L.from_sklearn(learner.to_sklearn(th))
        assert type(back) is type(learner)
        assert back.lam == pytest.approx(learner.lam)
        assert back.penalize_intercept == learner.penalize_intercept


def test_to_sklearn_bad_theta():
    with pytest.raises(ValueError, match="theta"):
        L.Ridge(1.0).to_sklearn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="theta contains NaN"):
        L.Ridge(1.0).to_sklearn(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="classes"):
        L.SquaredHingeSVM(1.0).to_sklearn(np.zeros(3), classes=["a", "b", "c"])
