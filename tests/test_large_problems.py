"""Large-d paths: Hessians without the packed outer-product table, CG solves without it.

The packed table holds n (d+1)(d+2)/2 floats (25 GB at n = 2e4, d = 784), so it is built only
on the direct (Hessian) path and only below ``tensors.OUTER_BYTES``; these tests force both
alternatives on small problems and compare with the packed path (float64; 1e-12 relative for
two formulas of the same Hessian, 1e-8 for two Newton solves that each stop at residual 1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import modelpred_theory.learners.tensors as math_mod
from modelpred_theory.baselines import newton_step
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM

SAME_RTOL = 1e-12
SELF_RTOL = 1e-8


def _data(kind, n=90, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    if kind == "regression":
        return X, X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    if kind == "multi":
        y = rng.integers(0, 4, size=n)
        y[:4] = np.arange(4)
        return X, y
    y = (X @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0).astype(int)
    y[:2] = [0, 1]
    return X, y


CASES = [("binary", LogisticRegression(0.7)), ("multi", LogisticRegression(0.7)),
         ("binary", SquaredHingeSVM(0.7, penalize_intercept=True)), ("regression", Ridge(0.7))]


@pytest.mark.parametrize(("kind", "learner"), CASES)
def test_direct_hessians_equal_the_packed_table(kind, learner):
    X, y = _data(kind)
    p = learner.param_dim(X, y)
    _, y_enc, K = learner.prepare(X, y)
    Xt, yt = learner.tensors(X, y_enc)
    rng = np.random.default_rng(1)
    T = torch.as_tensor(rng.normal(size=(5, p)) * 0.3)
    W = torch.as_tensor(rng.random((5, X.shape[0])))
    packed = learner.batch_hessian(T, Xt, yt, W, K, outer=math_mod.outer_products(Xt))
    obj = learner.objective(K)
    _, _, A = obj.loss.derivatives(obj.margins(T, math_mod.augment(Xt)), yt, "hess")
    direct = obj.hessian_direct(A, W, math_mod.augment(Xt), T)
    assert direct.shape == packed.shape == (5, p, p)
    assert torch.linalg.norm(direct - packed) <= SAME_RTOL * torch.linalg.norm(packed)


@pytest.mark.parametrize(("kind", "learner"), CASES)
def test_solver_and_newton_step_without_the_table(kind, learner, monkeypatch):
    """OUTER_BYTES = 0 forces direct Hessians: same theta(S), same Newton step."""
    X, y = _data(kind)
    rng = np.random.default_rng(2)
    masks = rng.random((7, X.shape[0])) < 0.6
    masks[:, :4] = True
    ref = learner.fit_subsets(X, y, masks)
    ref_step = newton_step(learner, X, y, masks)
    calls = []
    real = math_mod.outer_products
    monkeypatch.setattr(math_mod, "outer_products", lambda Z: calls.append(1) or real(Z))
    monkeypatch.setattr(math_mod, "OUTER_BYTES", 0)
    res = learner.fit_subsets(X, y, masks, return_info=True)
    step = newton_step(learner, X, y, masks)
    assert calls == []  # the table was never built
    assert res.converged.all()
    rel = np.linalg.norm(res.thetas - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert rel.max() < SELF_RTOL
    np.testing.assert_allclose(step, ref_step, rtol=1e-9, atol=1e-12)


def test_cg_path_never_builds_the_table_and_sizes_chunks_without_hessians(monkeypatch):
    X, y = _data("multi", n=120, d=70)
    learner = LogisticRegression(1.0)
    p = learner.param_dim(X, y)
    assert learner.uses_cg(p)  # p = 4 * 71 = 284 >= 256
    calls = []
    real = math_mod.outer_products
    monkeypatch.setattr(math_mod, "outer_products", lambda Z: calls.append(1) or real(Z))
    masks = np.random.default_rng(3).random((4, 120)) < 0.7
    masks[:, :4] = True
    res = learner.fit_subsets(X, y, masks, return_info=True)
    assert calls == [] and res.converged.all()
    # chunking: the multinomial CG path holds (n, K) class probabilities per subset (its
    # softmax curvature is applied in low rank), never a (p, p) Hessian or (n, K, K) blocks
    n, K, p_big = 5000, 10, 10 * 785
    cg_chunk = learner.default_chunk_size(n, p_big, K)
    assert cg_chunk > learner.hessian_chunk_size(n, p_big, K) == 1
    assert 8 * (12 * n * K + 16 * p_big) * cg_chunk <= 384 * 2**20
    assert 8 * (12 * n * K + 16 * p_big) * (cg_chunk + 1) > 384 * 2**20  # the budget is used
    assert Ridge(1.0).default_chunk_size(n, 785, 1) == Ridge(1.0).hessian_chunk_size(n, 785, 1)


def test_gradient_link_skips_the_loss():
    """'grad' returns no loss (float64 softplus is the costly part); dZ is unchanged."""
    for kind, lrn in (("binary", LogisticRegression(1.0)), ("multi", LogisticRegression(1.0))):
        X, y = _data(kind)
        _, y_enc, K = lrn.prepare(X, y)
        Xt, yt = lrn.tensors(X, y_enc)
        Z = torch.as_tensor(np.random.default_rng(0).normal(size=(3, X.shape[0], K)))
        loss, dZ = lrn.objective(K).loss.derivatives(Z, yt, "grad")
        _, dZ_h, _ = lrn.objective(K).loss.derivatives(Z, yt, "hess")
        assert loss is None
        torch.testing.assert_close(dZ, dZ_h, rtol=0, atol=0)


@pytest.mark.parametrize("pen", [False, True])
def test_newton_step_on_the_cg_path_equals_the_direct_solve(pen, monkeypatch):
    """At p >= 256 the Newton system is solved by CG to relative residual 1e-11, not by
    forming (p, p) Hessians; the step is the same to ~1e-9 (multinomial, gauge included)."""
    import modelpred_theory.learners.solvers as solvers

    X, y = _data("multi", n=120, d=70)
    learner = LogisticRegression(1.0, penalize_intercept=pen)
    assert learner.uses_cg(learner.param_dim(X, y))
    masks = np.random.default_rng(5).random((6, 120)) < 0.6
    masks[:, :4] = True
    cg = newton_step(learner, X, y, masks)
    monkeypatch.setattr(solvers, "CG_MIN_P", 10**9)
    direct = newton_step(learner, X, y, masks)
    assert not np.array_equal(cg, direct)  # two different solves ran
    rel = np.linalg.norm(cg - direct, axis=1) / np.linalg.norm(direct, axis=1)
    assert rel.max() < 1e-9


def test_certify_without_the_table_gives_the_same_bounds(monkeypatch):
    from modelpred_theory.setfn import certify

    X, y = _data("binary")
    learner = LogisticRegression(0.7)
    masks = np.random.default_rng(6).random((5, X.shape[0])) < 0.6
    masks[:, :2] = True
    approx = newton_step(learner, X, y, masks)
    ref = certify(learner, X, y, masks, approx)
    monkeypatch.setattr(math_mod, "OUTER_BYTES", 0)
    got = certify(learner, X, y, masks, approx)
    assert np.isfinite(ref).all()
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_newton_step_device_argument():
    X, y = _data("multi")
    learner = LogisticRegression(0.7)
    masks = np.random.default_rng(7).random((4, X.shape[0])) < 0.6
    masks[:, :4] = True
    ref = newton_step(learner, X, y, masks)
    np.testing.assert_array_equal(newton_step(learner, X, y, masks, device="cpu"), ref)
    auto = newton_step(learner, X, y, masks, device="auto")  # CUDA where there is one
    np.testing.assert_allclose(auto, ref, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="device"):
        newton_step(learner, X, y, "not masks", device="tpu")  # the device is checked first
    if torch.cuda.is_available():  # pragma: no cover - needs a GPU
        got = newton_step(learner, X, y, masks, device="cuda")
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_squared_hinge_cg_path_solves_its_newton_steps_tightly():
    """The squared hinge is piecewise quadratic: its quadratic model is exact on each piece, so
    loose (Eisenstat-Walker) inner solves only cost Newton iterations. Before the forcing cap
    (``solvers._PIECEWISE_MAX_ETA``) these half subsets took 61-83 Newton iterations cold, and
    from the full fit none converged in 100; the direct path takes 6-9."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 300))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    learner = SquaredHingeSVM(1.0)
    assert learner.uses_cg(301)
    masks = rng.random((5, 400)) < 0.5
    cold = learner.fit_subsets(X, y, masks, return_info=True)
    assert cold.converged.all() and cold.n_iter.max() <= 12, cold.n_iter
    full = learner.fit(X, y).theta
    warm = learner.fit_subsets(X, y, masks, theta0=full, return_info=True)
    assert warm.converged.all() and warm.n_iter.max() <= 40, warm.n_iter
    atol = 1e-6 * np.abs(cold.thetas).max()
    np.testing.assert_allclose(warm.thetas, cold.thetas, rtol=0, atol=atol)
