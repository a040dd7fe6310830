"""Tests of the a-posteriori certificate (THEORY.md statement 3).

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2; the truth
theta(S) is learner.fit_subsets. Since the truth is itself only exact to the solver tolerance,
validity is tested as cert(theta_hat) >= ||theta_hat - theta_exact|| - cert(theta_exact).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelpred_theory import datasets, subsets
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM
from modelpred_theory.setfn.certify import (
    certificate_summary,
    certified_lambda_min,
    certify,
    gsc_constant,
)


def _problem(kind, pen, seed=0, lam=0.7):
    if kind == "ridge":
        ds = datasets.make_regression(n=30, d=3, noise=0.5, rng=seed)
        return Ridge(lam=lam, penalize_intercept=pen), ds.X_train, ds.y_train
    if kind == "binary":
        ds = datasets.make_logistic(n=30, d=3, rng=seed)
        return LogisticRegression(lam=lam, penalize_intercept=pen), ds.X_train, ds.y_train
    if kind == "multi":
        ds = datasets.make_multiclass_logistic(n=36, d=3, n_classes=3, rng=seed)
        return (LogisticRegression(lam=lam, n_classes=3, penalize_intercept=pen), ds.X_train,
                ds.y_train)
    ds = datasets.make_logistic(n=30, d=3, rng=seed)
    return SquaredHingeSVM(lam=lam, penalize_intercept=pen), ds.X_train, ds.y_train


CASES = [(k, pen) for k in ("ridge", "binary", "multi") for pen in (False, True)]
CASES.append(("svm", True))


def _masks(learner, X, y, k=8, seed=1):
    yy = None if learner.name == "ridge" else y
    return subsets.random_subsets(len(X), k, rng=seed, min_size=8, y=yy,
                                  require_all_classes=yy is not None)


@pytest.mark.parametrize("kind,pen", CASES)
def test_certificate_bounds_true_error_on_adversarial_predictions(kind, pen):
    learner, X, y = _problem(kind, pen)
    masks = _masks(learner, X, y)
    exact = learner.fit_subsets(X, y, masks)
    c_exact = certify(learner, X, y, masks, exact)
    assert np.all(c_exact < 1e-6)
    rng = np.random.default_rng(0)
    k, p = exact.shape
    preds = [exact + s * rng.standard_normal((k, p)) for s in (1e-9, 1e-6, 1e-3, 0.1, 1.0)]
    preds += [rng.standard_normal((k, p)), 1e3 * rng.standard_normal((k, p)),
              np.broadcast_to(learner.fit(X, y).theta, (k, p))]
    for T in preds:
        c = certify(learner, X, y, masks, T)
        err = np.linalg.norm(T - exact, axis=1)
        assert np.all(c >= err - c_exact), (c, err)
    # near the optimum every learner with a certificate gives a finite, reasonably tight one
    T = exact + 1e-6 * rng.standard_normal((k, p))
    c = certify(learner, X, y, masks, T)
    err = np.linalg.norm(T - exact, axis=1)
    assert np.all(np.isfinite(c))
    assert np.all(c <= 1e3 * err)


@pytest.mark.parametrize("kind", ["ridge", "binary", "multi", "svm"])
def test_certificate_tight_along_flattest_direction(kind):
    learner, X, y = _problem(kind, True)
    mask = np.ones(len(X), bool)
    th = learner.fit(X, y).theta
    H = learner.hessian(th, X, y)
    v = np.linalg.eigh(H)[1][:, 0]
    T = th + 1e-6 * v
    c = certify(learner, X, y, mask, T)[0]
    assert 1e-6 * (1 - 1e-6) <= c <= 1.01e-6


def test_ridge_certificate_is_the_exact_error():
    learner, X, y = _problem("ridge", False)
    masks = _masks(learner, X, y)
    exact = learner.fit_subsets(X, y, masks)
    T = exact + np.random.default_rng(3).standard_normal(exact.shape)
    c, det = certify(learner, X, y, masks, T, return_details=True)
    np.testing.assert_allclose(c, np.linalg.norm(T - exact, axis=1), rtol=1e-8)
    assert det["method"] == "exact-quadratic"


def test_multinomial_gauge_component_is_added():
    learner, X, y = _problem("multi", False)
    th = learner.fit(X, y).theta
    d = X.shape[1]
    u = np.zeros((3, d + 1))
    u[:, d] = 1 / np.sqrt(3)
    c, det = certify(learner, X, y, np.ones(len(X)), th + 0.5 * u.ravel(), return_details=True)
    assert c[0] >= 0.5 and c[0] <= 0.5 + 1e-6
    np.testing.assert_allclose(det["gauge"][0], 0.5, rtol=1e-12)


def test_unpenalised_svm_and_far_logistic_have_no_certificate():
    learner, X, y = _problem("svm", False)
    th = learner.fit(X, y).theta
    assert np.isinf(certify(learner, X, y, np.ones(len(X)), th)[0])
    learner, X, y = _problem("binary", False)
    c = certify(learner, X, y, np.ones(len(X)), 100 * np.ones(X.shape[1] + 1))
    assert np.isinf(c[0])


def test_certificate_is_never_looser_than_strong_convexity_when_penalised():
    for kind in ("ridge", "binary", "multi", "svm"):
        learner, X, y = _problem(kind, True)
        masks = _masks(learner, X, y)
        T = learner.fit_subsets(X, y, masks) + 0.1
        c, det = certify(learner, X, y, masks, T, return_details=True)
        sc = (det["residual"] + det["residual_margin"]) / learner.lam
        assert np.all(c <= sc * (1 + 1e-9))


def test_broadcasting_chunking_and_weights():
    learner, X, y = _problem("binary", True)
    masks = _masks(learner, X, y, k=10)
    th = learner.fit(X, y).theta
    a = certify(learner, X, y, masks, th)
    b = certify(learner, X, y, masks, np.broadcast_to(th, (10, len(th))), chunk_size=3)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    thw = learner.fit(X, y, sample_weight=w).theta
    c = certify(learner, X, y, w, thw + 1e-3)
    assert np.linalg.norm(1e-3 * np.ones_like(thw)) <= c[0] < np.inf


def test_gsc_constant():
    assert gsc_constant(Ridge(), 1) == 0.0
    assert gsc_constant(LogisticRegression(), 1) == 1.0
    assert gsc_constant(LogisticRegression(), 3) == pytest.approx(np.sqrt(2))
    assert gsc_constant(SquaredHingeSVM(), 1) is None


def test_bad_input_raises_before_work():
    learner, X, y = _problem("binary", True)
    th = learner.fit(X, y).theta
    m = np.ones(len(X), bool)
    with pytest.raises(ValueError, match="learner"):
        certify("ridge", X, y, m, th)
    with pytest.raises(ValueError, match="thetas_hat"):
        certify(learner, X, y, m, th[:-1])
    with pytest.raises(ValueError, match="thetas_hat"):
        certify(learner, X, y, m, np.full_like(th, np.nan))
    with pytest.raises(ValueError, match="masks"):
        certify(learner, X, y, m[:-1], th)
    with pytest.raises(ValueError, match="masks"):
        certify(learner, X, y, np.zeros((2, len(X)), bool), th)
    with pytest.raises(ValueError, match="rows"):
        certify(learner, X, y, np.ones((3, len(X)), bool), np.tile(th, (2, 1)))
    with pytest.raises(ValueError, match="chunk_size"):
        certify(learner, X, y, m, th, chunk_size=0)
    with pytest.raises(ValueError, match="X"):
        certify(learner, X[:, :, None], y, m, th)


# ----------------------------------------------------------- certified curvature (3.6)
def _spd(p, evals, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return torch.as_tensor((Q * evals) @ Q.T)


def test_certified_lambda_min_is_a_lower_bound_and_nearly_tight():
    mats = [_spd(6, np.logspace(-3, 2, 6), 0), _spd(6, np.array([-2.0, 0.5, 1, 2, 3, 4]), 1),
            _spd(12, np.logspace(-8, 0, 12), 2)]
    H = torch.stack([m for m in mats[:2]])
    mu = certified_lambda_min(H, 0.0)
    ev = np.linalg.eigvalsh(H.numpy())[:, 0]
    assert np.all(mu <= ev)  # a lower bound ...
    assert np.all(mu >= ev - 1e-12 * np.abs(H.numpy()).sum((1, 2)))  # ... lost only to rounding
    mu12 = certified_lambda_min(mats[2][None], 1e-9)[0]
    assert mu12 <= 1e-8 - 1e-9 and mu12 >= 1e-8 - 1e-9 - 1e-12
    H_bad = H.clone()
    H_bad[0, 0, 0] = float("nan")
    assert certified_lambda_min(H_bad, 0.0)[0] == -np.inf


def test_certified_lambda_min_does_not_trust_the_eigensolver(monkeypatch):
    """If the eigenvalue estimate is wrong (too high), the Cholesky test fails and no bound is
    returned: the certificate never inherits an eigensolver error."""
    H = _spd(5, np.array([0.1, 1, 2, 3, 4]), 3)[None]
    real = torch.linalg.eigvalsh
    monkeypatch.setattr(torch.linalg, "eigvalsh", lambda A: real(A) + 1.0)
    mu = certified_lambda_min(H, 0.0)[0]
    assert mu == -np.inf or mu <= 0.1


def test_certify_raises_valueerror_on_overflow():
    learner, X, y = _problem("binary", False)
    th = learner.fit(X, y).theta
    with pytest.raises(ValueError, match="scale X"):
        certify(learner, X * 1e200, y, np.ones(len(X)), th)
    svm, X, y = _problem("svm", True)
    with pytest.raises(ValueError, match="overflows"):
        certify(svm, X, y, np.ones(len(X)), np.full(X.shape[1] + 1, 1e308))
    with pytest.raises(ValueError, match="thetas_hat"):
        certify(svm, X, y, np.ones(len(X)), np.full(X.shape[1] + 1, np.inf))


# ----------------------------------------------------------- certificate_summary
def test_certificate_summary_separates_infinite_bounds():
    b = np.array([1.0, 2.0, np.inf, 4.0, np.inf])
    t = np.array([0.5, 1.0, 1.0, 1.0, 0.0])
    s = certificate_summary(b, t)
    assert s["n"] == 5 and s["coverage"] == 1.0 and s["violations"] == 0
    assert s["finite_fraction"] == pytest.approx(0.6)
    assert s["finite_coverage"] == pytest.approx(0.6)
    assert s["median_ratio"] == pytest.approx(2.0)  # ratios 2, 2, 4 over finite bounds
    assert s["reason"] is not None and "residual" in s["reason"]
    far = certificate_summary(b, t, R=np.array([1, 1, 40.0, 1, 40.0]))
    assert "unit ball" in far["reason"] and "scale" in far["reason"]
    none = certificate_summary(b, t, method="none")
    assert "penalize_intercept" in none["reason"]
    ok = certificate_summary(np.array([1.0, 0.5]), np.array([2.0, 0.1]))
    assert ok["violations"] == 1 and ok["coverage"] == 0.5 and ok["reason"] is None
    with pytest.raises(ValueError, match="equal lengths"):
        certificate_summary(b, t[:-1])
    with pytest.raises(ValueError, match="R must"):
        certificate_summary(b, t, R=np.ones(2))


def test_certificate_summary_on_real_certificates_and_export():
    import modelpred_theory as mpt

    assert mpt.setfn.certificate_summary is certificate_summary
    learner, X, y = _problem("binary", False)
    masks = _masks(learner, X, y)
    exact = learner.fit_subsets(X, y, masks)
    T = exact + 1e-3 * np.random.default_rng(0).standard_normal(exact.shape)
    c, det = certify(learner, X, y, masks, T, return_details=True)
    s = certificate_summary(c, np.linalg.norm(T - exact, axis=1), R=det["R"],
                            method=det["method"])
    assert s["coverage"] == 1.0 and s["finite_fraction"] == 1.0
    assert 1.0 <= s["median_ratio"] <= 10.0


def test_gauge_margin_covers_the_exact_gauge_component_at_many_classes():
    """K = 200 classes, unpenalised intercepts: the reported gauge component is >= the exact
    |u . theta_hat| (50-digit arithmetic on the float64 entries, u = 1/sqrt(K) on the
    intercepts), for intercepts of equal sign, of mixed magnitudes and all equal (THEORY 3.6(d):
    margin 8 (K + 3) eps ||theta_hat|| for the rounded dot product and the rounded u)."""
    import mpmath

    mpmath.mp.dps = 50
    K, d = 200, 2
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2 * K, d))
    X /= np.linalg.norm(X, axis=1).max()
    y = np.repeat(np.arange(K), 2)
    learner = LogisticRegression(lam=1.0)
    T = rng.normal(size=(3, K, d + 1))
    T[0, :, d] = 1e3 * (1 + 1e-3 * rng.normal(size=K))
    T[1, :, d] = rng.normal(size=K) * 10 ** rng.uniform(-3, 3, K)
    T[2, :, d] = 1.0
    T = T.reshape(3, -1)
    c, det = certify(learner, X, y, np.ones((3, 2 * K)), T, return_details=True)
    for j in range(3):
        exact = abs(mpmath.fsum(mpmath.mpf(float(v)) for v in T[j].reshape(K, d + 1)[:, d])
                    / mpmath.sqrt(K))
        assert det["gauge"][j] >= exact
        assert c[j] >= exact
        # the margin is the derived one, not a loose cover: gauge - |a| <= 8 (K + 3) eps ||T||
        a = abs(float(det["gauge"][j]) - float(exact))
        assert a <= 8 * (K + 4) * np.finfo(float).eps * np.linalg.norm(T[j])
