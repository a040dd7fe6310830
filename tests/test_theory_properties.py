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
from strategies import finite_floats, multiclass_labels, regression_targets, well_conditioned_design

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


def _stability_constant(learner, X, y, lam):
    """Certified G / lam of THEORY.md (2.3) (every coordinate penalised)."""
    R = float(np.sqrt((X**2).sum(1) + 1).max())
    if learner is Ridge:
        return R * (R * np.sqrt((y**2).sum() / lam) + np.abs(y).max()) / lam
    if learner is LogisticRegression:
        return R / lam
    return 2 * R * (1 + R * np.sqrt(2 * len(y) / lam)) / lam


@given(problems(pen=True), st.integers(0, 2**31 - 1))
def test_stability_bound_holds_and_shrinks_with_lam(prob, seed):
    learner, X, y, mask = prob
    rng = np.random.default_rng(seed)
    S2 = mask.copy()
    j = int(rng.integers(len(y)))
    S2[j] = not S2[j]
    classes = np.unique(y) if learner.name != "ridge" else []
    if not S2.any() or any(not S2[y == c].any() for c in classes):
        S2[j] = True  # keep the pair valid (the toggle removed a whole class)
    consts = []
    for lam in (0.1, 1.0, 10.0):
        params = {**learner.get_params(), "lam": lam}
        L = type(learner)(**params)
        th = L.fit_subsets(X, y, np.stack([mask, S2]))
        const = _stability_constant(type(learner), X, y, lam)
        dist = np.linalg.norm(th[0] - th[1])
        assert dist <= const * (mask != S2).sum() * (1 + 1e-9) + 1e-9
        consts.append(const)
    assert consts[0] >= consts[1] >= consts[2]


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
