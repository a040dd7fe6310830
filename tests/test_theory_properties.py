"""Property-based tests of THEORY.md (hypothesis; conditioning built into the strategies).

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from strategies import (
    finite_floats,
    multiclass_labels,
    regression_targets,
    stress_design,
    stress_lams,
    stress_weights,
    well_conditioned_design,
)

from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM
from modelpred_theory.setfn.certify import certify

LEARNERS = ["ridge", "binary", "multi", "svm"]


@st.composite
def problems(draw, kind=None, pen=None):
    """(learner, X, y, mask): a well-conditioned pool and one subset holding every class."""
    kind = kind or draw(st.sampled_from(LEARNERS))
    pen = draw(st.booleans()) if pen is None else pen
    n = draw(st.integers(8, 16))
    d = draw(st.integers(1, 3))
    X = draw(well_conditioned_design(n, d, cond_max=5.0))
    lam = draw(st.floats(0.05, 5.0))
    K = 3 if kind == "multi" else 2
    if kind == "ridge":
        y = draw(regression_targets(n, bound=3.0))
        learner = Ridge(lam=lam, penalize_intercept=pen)
    else:
        y = draw(multiclass_labels(n, K))
        if kind == "svm":
            learner = SquaredHingeSVM(lam=lam, penalize_intercept=pen)
        else:
            learner = LogisticRegression(lam=lam, n_classes=K, penalize_intercept=pen)
    mask = draw(arrays(np.bool_, (n,), elements=st.booleans(), fill=st.nothing()))
    if kind != "ridge":
        for c in range(K):  # every class present (an unpenalised intercept needs it)
            mask[np.flatnonzero(y == c)[0]] = True
    else:
        mask[0] = True
    return learner, X, y, mask


@given(problems(), st.sampled_from([1e-7, 1e-4, 1e-2, 0.3, 3.0, 300.0]),
       st.integers(0, 2**31 - 1))
def test_certificate_upper_bounds_true_error(prob, scale, seed):
    learner, X, y, mask = prob
    exact = learner.fit(X, y, sample_weight=mask.astype(float))
    c_exact = certify(learner, X, y, mask, exact.theta)[0]
    v = np.random.default_rng(seed).standard_normal(exact.theta.shape)
    theta_hat = exact.theta + scale * v
    c = certify(learner, X, y, mask, theta_hat)[0]
    err = np.linalg.norm(theta_hat - exact.theta)
    assert c >= err - c_exact
    if learner.penalize_intercept or learner.name == "ridge":  # always finite there
        assert np.isfinite(c)


@given(problems(), st.integers(0, 2**31 - 1))
def test_fit_and_certificate_are_permutation_invariant(prob, seed):
    learner, X, y, mask = prob
    rng = np.random.default_rng(seed)
    w = mask * rng.uniform(0.5, 2.0, len(y))
    perm = rng.permutation(len(y))
    a = learner.fit(X, y, sample_weight=w).theta
    b = learner.fit(X[perm], y[perm], sample_weight=w[perm]).theta
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)
    t = a + 0.01
    ca = certify(learner, X, y, w, t)
    cb = certify(learner, X[perm], y[perm], w[perm], t)
    np.testing.assert_allclose(ca, cb, rtol=1e-8)


@pytest.mark.torch
@given(st.integers(2, 12), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_deepsets_is_permutation_invariant(n, k, seed):
    from modelpred_theory.setfn import DeepSets

    rng = np.random.default_rng(seed)
    for pooling in ("sum", "mean", "sum_size"):
        net = DeepSets(3, 2, width=8, phi_depth=2, rho_hidden=(8,), pooling=pooling,
                       seed=seed % 1000).double()
        Z = torch.as_tensor(rng.standard_normal((n, 3)))
        W = torch.as_tensor((rng.random((k, n)) < 0.6).astype(float))
        W[:, 0] = 1.0
        perm = torch.as_tensor(rng.permutation(n))
        with torch.no_grad():
            a = net.forward_masks(W, net.embed(Z))
            b = net.forward_masks(W[:, perm], net.embed(Z[perm]))
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@given(problems(), st.lists(finite_floats(-2.0, 2.0),
       min_size=3, max_size=5, unique=True))
def test_penalised_norm_never_grows_with_lam(prob, log_lams):
    learner, X, y, mask = prob
    d = X.shape[1]
    K = learner.param_dim(X, y) // (d + 1)
    norms = []
    for lam in sorted(10.0**np.array(log_lams)):
        params = {**learner.get_params(), "lam": float(lam)}
        th = type(learner)(**params).fit(X, y, sample_weight=mask.astype(float)).theta
        T = th.reshape(K, d + 1)
        norms.append(np.linalg.norm(T if learner.penalize_intercept else T[:, :d]))
    norms = np.array(norms)
    assert np.all(np.diff(norms) <= 1e-7 * (1 + norms[:-1]))


_CURV = {"ridge": 1.0, "logistic": 0.25, "svm": 2.0}  # sup of l'' (binary); softmax: 0.5


def _curvature_cap(learner, y) -> float:
    if learner.name == "logistic" and len(np.unique(y)) > 2:
        return 0.5  # lambda_max(diag(p) - p p^T) <= 1/2
    return _CURV[learner.name]


@given(problems(pen=True), st.integers(0, 2**31 - 1))
def test_stability_bound_holds_and_shrinks_with_lam(prob, seed):
    """Theorem 2.1 against exact refits, two-sided, and the 1/lam law of 5.3.

    For each lam, the distance of a toggled pair lies between ||grad F_S(theta(S'))|| / L_S
    (L_S = lam + c lambda_max(X~_S^T W X~_S) bounds the Hessian everywhere) and
    ||grad F_S(theta(S'))|| / lam. At lam >> data curvature, lam ||theta(S) - theta(S')|| tends
    to ||grad l_j(0)|| (j the toggled point): the distance shrinks like 1/lam with a constant that
    does not depend on |S| (a mean convention would divide it by |S|).
    """
    learner, X, y, mask = prob
    rng = np.random.default_rng(seed)
    S2 = mask.copy()
    j = int(rng.integers(len(y)))
    S2[j] = not S2[j]
    if not S2.any():  # S = {j}: toggle another point instead, so that S' = {j, k}
        S2[j] = True
        S2[(j + 1) % len(y)] = True
    sym = np.flatnonzero(mask != S2)
    Xa = np.c_[X, np.ones(len(X))]
    c = _curvature_cap(learner, y)
    for lam in (0.1, 1.0, 10.0):
        L = type(learner)(**{**learner.get_params(), "lam": lam, "tol": 1e-12})
        th = L.fit_subsets(X, y, np.stack([mask, S2]))
        dist = np.linalg.norm(th[0] - th[1])
        g = np.linalg.norm(L.grad(th[1], X, y, mask.astype(float)))  # grad F_S(theta(S'))
        L_S = lam + c * np.linalg.eigvalsh(Xa[mask].T @ Xa[mask])[-1]
        assert dist <= g / lam * (1 + 1e-7) + 1e-10
        assert dist >= g / L_S * (1 - 1e-7) - 1e-10
    curv = c * np.linalg.eigvalsh(Xa.T @ Xa)[-1]
    lam = 1e5 * (1.0 + curv)
    L = type(learner)(**{**learner.get_params(), "lam": lam, "tol": 1e-12})
    th = L.fit_subsets(X, y, np.stack([mask, S2]))
    G0 = L.per_sample_grads(np.zeros(th.shape[1]), X, y)  # shape: (n, p)
    first = np.linalg.norm((mask.astype(float) - S2.astype(float)) @ G0)
    scale = np.abs(G0).sum()
    # O(curv / lam) relative remainder; the absolute part covers first ~ 0 (e.g. y_j = 0, ridge)
    assert abs(lam * np.linalg.norm(th[0] - th[1]) - first) <= 1e-3 * first + 1e-5 * scale * len(
        sym)


def test_measured_pair_distance_need_not_be_monotone_in_lam():
    """THEORY.md 5.2: the bound G / lam shrinks, but ||theta(S) - theta(S')|| for one pair can
    grow with lam. One-dimensional ridge with a penalised intercept, hand-made example."""
    X = np.array([[1.0], [3.0], [0.0]])
    y = np.array([1.0, 2.0, 0.0])
    S, Sp = np.array([True, False, True]), np.array([False, True, True])
    dists = []
    for lam in (1e-3, 1.0, 10.0):
        th = Ridge(lam=lam, penalize_intercept=True).fit_subsets(X, y, np.stack([S, Sp]))
        dists.append(np.linalg.norm(th[0] - th[1]))
    assert dists[1] < dists[0] and dists[1] < dists[2]


# ----------------------------------------------------------------- stress problems
@st.composite
def stress_problems(draw, kinds=("ridge", "binary", "multi", "svm")):
    """(learner, X, y, w, dup): cond(X) up to 1e8, lam in [1e-6, 1e4], duplicated rows (their
    labels copied), fractional weights, n up to 200 (THEORY.md, property tests)."""
    kind = draw(st.sampled_from(kinds))
    pen = draw(st.booleans()) if kind != "svm" else True  # unpenalised SVM: no certificate
    X, dup = draw(stress_design())
    n0 = X.shape[0] - len(dup)
    lam = draw(stress_lams())
    K = 3 if kind == "multi" else 2
    if kind == "ridge":
        y0 = draw(regression_targets(n0, bound=3.0))
        learner = Ridge(lam=lam, penalize_intercept=pen)
    else:
        y0 = draw(multiclass_labels(n0, K))
        learner = (SquaredHingeSVM(lam=lam, penalize_intercept=pen) if kind == "svm" else
                   LogisticRegression(lam=lam, n_classes=K, penalize_intercept=pen))
    y = np.concatenate([y0, y0[dup]])
    w = draw(stress_weights(X.shape[0]))
    if kind != "ridge":
        for c in range(K):  # every class weighted (an unpenalised intercept needs it)
            w[np.flatnonzero(y == c)[0]] = max(w[np.flatnonzero(y == c)[0]], 0.5)
    return learner, X, y, w, dup


@given(stress_problems(), st.sampled_from([1e-6, 1e-3, 0.3, 30.0]), st.integers(0, 2**31 - 1))
def test_certificate_upper_bounds_true_error_stress(prob, scale, seed):
    learner, X, y, w, _ = prob
    exact = learner.fit(X, y, sample_weight=w).theta  # even unconverged, it is certified below
    c_exact = certify(learner, X, y, w, exact)[0]
    v = np.random.default_rng(seed).standard_normal(exact.shape)
    theta_hat = exact + scale * v * (1.0 + np.linalg.norm(exact))
    c = certify(learner, X, y, w, theta_hat)[0]
    assert c >= np.linalg.norm(theta_hat - exact) - c_exact
    assert not np.isnan(c)


@given(stress_problems())
def test_duplicated_rows_equal_doubled_weights_stress(prob):
    """A duplicated row is the same as doubling its weight (sum convention), for fit and certify.

    The two fits are compared through their certificates: both bound the distance to the same
    theta(S), so ||a - b|| <= cert(a) + cert(b) must hold (it fails if duplicates and doubled
    weights define different problems, since the certificates are tight near the optimum).
    """
    learner, X, y, w, dup = prob
    n0 = X.shape[0] - len(dup)
    wb = w[:n0].copy()
    np.add.at(wb, dup, w[n0:])  # the duplicates' weights moved onto their originals
    a = learner.fit(X, y, sample_weight=w).theta
    b = learner.fit(X[:n0], y[:n0], sample_weight=wb).theta
    ca = certify(learner, X[:n0], y[:n0], wb, a)[0]
    cb = certify(learner, X, y, w, b)[0]
    assert np.linalg.norm(a - b) <= ca + cb + 1e-12 * (1 + np.linalg.norm(a))
    # certify sees the same objective: same residual and same certified curvature at a point
    t = a + 0.1 * (1.0 + np.linalg.norm(a))
    _, d1 = certify(learner, X, y, w, t, return_details=True)
    _, d2 = certify(learner, X[:n0], y[:n0], wb, t, return_details=True)
    np.testing.assert_allclose(d1["residual"], d2["residual"], rtol=1e-8,
                               atol=2 * (d1["residual_margin"][0] + d2["residual_margin"][0]))
    if np.isfinite(d1["mu"][0]) and np.isfinite(d2["mu"][0]):
        np.testing.assert_allclose(d1["mu"], d2["mu"], rtol=1e-6, atol=1e-9 * (1 + learner.lam))


@given(stress_problems(kinds=("ridge", "binary")))
def test_influence_newton_identity_stress(prob):
    """THEORY.md 7.1: theta_IF - theta_N = -H_S^{-1} H_G (theta_N - theta_0), any weights.

    theta_IF and theta_N come from the library's baselines (full pool as the base set, the drawn
    weights as S - G), H_G = H_S - H_0 from learner.hessian. Tolerance: the two solves lose
    about eps * cond(H) relative accuracy each (examples with cond > 1e9 are skipped).
    """
    from hypothesis import assume

    from modelpred_theory import baselines

    learner, X, y, w, _ = prob
    n = X.shape[0]
    th0 = learner.fit(X, y).theta
    H_S = learner.hessian(th0, X, y)
    H_0 = learner.hessian(th0, X, y, w)
    kappa = max(np.linalg.cond(H_S), np.linalg.cond(H_0))
    assume(kappa < 1e9)
    tI = baselines.influence(learner, X, y, w[None], theta_base=th0)[0]
    tN = baselines.newton_step(learner, X, y, w[None], theta_base=th0)[0]
    lhs = tI - tN
    rhs = -np.linalg.solve(H_S, (H_S - H_0) @ (tN - th0))
    tol = 1e3 * np.finfo(float).eps * kappa * n
    # The base fit stops at a residual r = grad F_N(theta_0) != 0 (its tolerance). The Newton
    # step carries -H_0^{-1} r and influence does not, so in exact arithmetic
    # lhs - rhs = H_0^{-1} r - (H_0^{-1} - H_S^{-1}) r = H_S^{-1} r: account for it exactly.
    r = learner.grad(th0, X, y)
    lhs = lhs - np.linalg.solve(H_S, r)
    scale = np.linalg.norm(lhs) + np.linalg.norm(tN - th0) + np.linalg.norm(np.linalg.solve(H_0, r))
    assert np.linalg.norm(lhs - rhs) <= tol * scale + 1e-300
