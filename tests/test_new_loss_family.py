"""A new loss family in one file: Huber regression, checked by the identity tests.

The worked example of docs/design.md ("How to add a learner"): a pointwise loss (value and
derivatives in the margin) and a thin estimator naming it are all a new learner needs; the
objective, both Newton paths, ``fit_subsets``, the derivatives and the optimality residual come
from the library. Sum convention: F_S(theta) = sum_i w_i huber(x_i.w + b - y_i) + lam/2 ||w||^2.

References: the identity tests (duplicated rows equal doubled weights, permuted rows change
nothing, the full mask reproduces the full fit, the residual vanishes at theta(S)), the
derivatives against central finite differences, and the fit against an independent numpy /
scipy L-BFGS minimisation of the same objective.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from modelpred_theory.learners import ConvexLearner


class HuberLoss:
    """huber(r) = r^2 / 2 for |r| <= delta, delta (|r| - delta / 2) beyond, r = z - y."""

    quadratic = False
    shift_invariant = False

    def __init__(self, delta: float = 1.0):
        self.delta = delta

    def derivatives(self, Z, y, need):
        r = Z[..., 0] - y  # shape: (k, n)
        inside = r.abs() <= self.delta
        loss = torch.where(inside, 0.5 * r**2, self.delta * (r.abs() - 0.5 * self.delta))
        if need == "loss":
            return loss
        dZ = r.clamp(-self.delta, self.delta)[..., None]  # shape: (k, n, 1)
        if need == "grad":
            return loss, dZ
        return loss, dZ, inside.to(Z.dtype)[..., None, None]  # shape: (k, n, 1, 1)


class HuberRegression(ConvexLearner):
    """Huber regression under the sum convention (real-valued y, as Ridge)."""

    name = "huber"

    def loss_for(self, K):
        return HuberLoss(1.0)


# Tolerances (float64): two exact solves of one problem agree to 1e-9 relative (each stops at a
# relative residual of 1e-10); L-BFGS stops at gtol 1e-10 on another criterion (1e-6).
SELF_RTOL = 1e-9
LBFGS_RTOL = 1e-6


def _data(seed=0, n=40, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.5 + 0.2 * rng.normal(size=n)
    y[:4] += np.array([6.0, -5.0, 8.0, -7.0])  # outliers, beyond delta: the linear branch
    return X, y


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b)


@pytest.mark.parametrize("pen", [False, True])
def test_fit_is_the_minimiser_of_the_same_objective(pen):
    """Against scipy's L-BFGS on a numpy implementation of F_S (independent of torch)."""
    X, y = _data()
    learner = HuberRegression(0.5, penalize_intercept=pen)
    res = learner.fit(X, y)
    Xa = np.c_[X, np.ones(len(y))]
    P = np.r_[np.ones(X.shape[1]), float(pen)]

    def f(t):
        r = Xa @ t - y
        a = np.abs(r)
        loss = np.where(a <= 1.0, 0.5 * r**2, a - 0.5)
        return loss.sum() + 0.25 * (P * t**2).sum(), Xa.T @ np.clip(r, -1, 1) + 0.5 * P * t

    ref = minimize(f, np.zeros(Xa.shape[1]), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-10, "ftol": 0, "maxiter": 10_000}).x
    assert res.converged
    assert _rel(res.theta, ref) < LBFGS_RTOL
    assert learner.optimality_residual(res.theta, X, y) <= learner.residual_tolerance(X, y)[0]


def test_derivatives_match_finite_differences():
    X, y = _data(1)
    learner = HuberRegression(0.5)
    theta = np.random.default_rng(2).normal(size=X.shape[1] + 1)
    w = np.random.default_rng(3).uniform(0.2, 2.0, len(y))
    h = 1e-6
    E = np.eye(theta.size)
    fd = np.array([(learner.loss(theta + h * e, X, y, w) - learner.loss(theta - h * e, X, y, w))
                   / (2 * h) for e in E])
    np.testing.assert_allclose(learner.grad(theta, X, y, w), fd, rtol=1e-6, atol=1e-6)
    v = np.random.default_rng(4).normal(size=theta.size)
    np.testing.assert_allclose(learner.hvp(theta, v, X, y, w),
                               learner.hessian(theta, X, y, w) @ v, rtol=1e-12)
    G = learner.per_sample_grads(theta, X, y)
    lam_term = learner.lam * np.r_[theta[:-1], 0.0]
    np.testing.assert_allclose(w @ G + lam_term, learner.grad(theta, X, y, w), rtol=1e-12)


def test_identity_duplicated_rows_equal_doubled_weights():
    X, y = _data(5)
    learner = HuberRegression(0.3)
    dup = learner.fit(np.r_[X, X[:7]], np.r_[y, y[:7]]).theta
    w = np.ones(len(y))
    w[:7] = 2.0
    assert _rel(learner.fit(X, y, sample_weight=w).theta, dup) < SELF_RTOL


def test_identity_permuted_rows_change_nothing():
    X, y = _data(6)
    learner = HuberRegression(0.3)
    perm = np.random.default_rng(7).permutation(len(y))
    masks = np.random.default_rng(8).random((5, len(y))) < 0.7
    a = learner.fit_subsets(X, y, masks)
    b = learner.fit_subsets(X[perm], y[perm], masks[:, perm])
    assert _rel(b, a) < SELF_RTOL


@pytest.mark.parametrize("cg", [False, True])
def test_identity_full_mask_reproduces_the_full_fit_on_both_paths(cg, monkeypatch):
    """The full mask (and fractional weights) through fit_subsets equal fit, on the direct
    Newton path and on the truncated Newton-CG path; every residual is ~0."""
    import modelpred_theory.learners.solvers as solvers

    X, y = _data(9)
    learner = HuberRegression(0.3)
    if cg:
        monkeypatch.setattr(solvers, "CG_MIN_P", 1)
        assert learner.uses_cg(X.shape[1] + 1)
    W = np.r_[np.ones((1, len(y))), np.random.default_rng(10).uniform(0.1, 2.0, (3, len(y)))]
    info = learner.fit_subsets(X, y, W, return_info=True)
    assert info.converged.all()
    for k in range(W.shape[0]):
        ref = learner.fit(X, y, sample_weight=W[k]).theta
        assert _rel(info.thetas[k], ref) < SELF_RTOL
    res = learner.optimality_residual(info.thetas[0], X, y)
    assert res <= learner.residual_tolerance(X, y)[0]
