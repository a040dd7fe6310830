"""The reference preconditioner of truncated Newton (learners.preconditioner).

It may change how fast CG converges, never where Newton stops: fits with it equal the
Jacobi-preconditioned fits to the solver's tolerance, its matrix is the inverse of the
reference Hessian where its basis spans everything and inverts the top of the spectrum and the
intercepts otherwise, and a subset's preconditioner depends on that subset alone (not on the
other subsets of its chunk).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelpred_theory.learners import LogisticRegression, preconditioner
from modelpred_theory.learners.tensors import as_tensor, regularise_gauge


def _problem(n=240, d=70, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.fixture
def fresh_cache():
    preconditioner.clear_cache()
    yield
    preconditioner.clear_cache()


def test_reference_fits_equal_jacobi_fits(fresh_cache):
    X, y = _problem()
    learner = LogisticRegression(1.0)
    assert learner.uses_cg(learner.param_dim(X, y))  # p = 4 * 71 = 284 >= 256
    full = learner.fit(X, y).theta
    masks = np.random.default_rng(1).random((6, X.shape[0])) < 0.5
    ref = learner.fit_subsets(X, y, masks, theta0=full, return_info=True)
    assert preconditioner.nbytes_cached() > 0  # one common warm start: the reference is built
    preconditioner.clear_cache()
    jac = learner.fit_subsets(X, y, masks, theta0=np.tile(full, (6, 1)), return_info=True)
    assert preconditioner.nbytes_cached() == 0  # one start per row: Jacobi, nothing built
    assert ref.converged.all() and jac.converged.all()
    tol = learner.residual_tolerance(X, y, masks)
    assert np.all(ref.grad_norms <= tol)
    rel = np.linalg.norm(ref.thetas - jac.thetas, axis=1) / np.linalg.norm(jac.thetas, axis=1)
    assert rel.max() < 1e-7
    assert not np.array_equal(ref.thetas, jac.thetas)  # a different path to the same point


def _reference(n, d, K, fraction=0.5):
    X, y = _problem(n=n, d=d, K=K)
    learner = LogisticRegression(1.0)  # unpenalised intercepts: a gauge direction
    Xp, y_enc, K = learner.prepare(X, y)
    Xt, yt = learner.tensors(Xp, y_enc)
    obj = learner.objective(K)
    theta = as_tensor(learner.fit(X, y).theta)
    W = torch.full((1, X.shape[0]), fraction, dtype=torch.float64)
    H = obj.hessian(theta[None], Xt, yt, W)[0]
    H = regularise_gauge(H, obj.gauge_direction(Xt.shape[1]))
    sk = preconditioner.sketch(obj, Xt, yt, theta)
    M = preconditioner.low_rank(obj, Xt, yt, theta, fraction, sk).matrix()
    return obj, Xt, sk, H, M, theta, yt


def test_matrix_is_the_inverse_of_the_reference_hessian_where_the_basis_spans_all(fresh_cache):
    obj, Xt, sk, H, M, _, _ = _reference(n=200, d=40, K=4)  # p = 164 <= RANK + OVERSAMPLE + K
    assert sk.full and sk.g_r == 0.0
    eye = torch.eye(H.shape[0], dtype=torch.float64)
    assert float((M @ H - eye).abs().max()) < 1e-8
    assert float((M - M.T).abs().max()) < 1e-12


def test_near_full_subsets_get_the_dense_inverse(fresh_cache):
    obj, Xt, _, _, _, theta, yt = _reference(n=400, d=120, K=4)
    W = torch.full((1, Xt.shape[0]), 1.0, dtype=torch.float64)
    H = obj.hessian(theta[None], Xt, yt, W)[0]
    H = regularise_gauge(H, obj.gauge_direction(Xt.shape[1]))
    grid = preconditioner.FRACTION_GRID
    assert preconditioner.uses_dense(grid, 484) and not preconditioner.uses_dense(grid - 1, 484)
    assert not preconditioner.uses_dense(grid, preconditioner.DENSE_MAX_P + 1)
    pair = preconditioner.reference_inverse(obj, Xt, yt, theta, grid)
    M = pair[0].matrix()
    assert pair[0].M is not None and pair[0].V is None  # dense
    eye = torch.eye(H.shape[0], dtype=torch.float64)
    assert float((M @ H - eye).abs().max()) < 1e-8
    half = preconditioner.reference_inverse(obj, Xt, yt, theta, grid // 2)
    assert half[0].M is None and half[0].V is not None  # low rank
    R = torch.randn(3, H.shape[0], dtype=torch.float64)
    assert torch.allclose(half[0].apply(R), R @ half[0].matrix(), rtol=1e-12, atol=1e-14)
    assert torch.allclose(half[1].apply(R.float()).double(), half[0].apply(R), rtol=1e-4,
                          atol=1e-5)


def test_low_rank_reference_inverts_the_top_and_the_intercepts(fresh_cache):
    obj, Xt, sk, H, M, _, _ = _reference(n=400, d=120, K=4)  # p = 484: a true sketch
    assert not sk.full and sk.Q.shape[1] == preconditioner.RANK + preconditioner.OVERSAMPLE + 4
    # the unpenalised intercepts are in the basis exactly
    free = torch.nonzero(obj.penalty(Xt.shape[1]) == 0).squeeze(1)
    P = sk.Q @ sk.Q.T
    eye = torch.eye(H.shape[0], dtype=torch.float64)
    assert float((P[:, free] - eye[:, free]).abs().max()) < 1e-10
    # the sketch's top Ritz values of H_ref are its top eigenvalues (subspace iteration)
    ev = torch.linalg.eigvalsh(H)
    ritz = torch.linalg.eigvalsh(torch.linalg.inv(M))
    assert torch.allclose(ritz[-20:], ev[-20:], rtol=1e-6)
    # M is SPD, and M H_ref has about the condition number t / lam of the directions left out
    # (t = f g_r + lam), far below H_ref's (measured 2.8 against 41)
    mh = torch.linalg.eigvals(M @ H).real
    assert float(torch.linalg.eigvalsh(0.5 * (M + M.T)).min()) > 0
    cond_h, cond_mh = float(ev[-1] / ev[0]), float(mh.max() / mh.min())
    bound = (0.5 * sk.g_r + obj.lam) / obj.lam
    assert cond_mh < 1.5 * bound and cond_h > 10 * cond_mh, (cond_h, cond_mh, bound)


def test_fraction_buckets_and_cache_keys(fresh_cache):
    W = torch.tensor([[1.0] * 8 + [0.0] * 8, [1.0] * 16, [0.0] * 15 + [1.0], [2.0] * 16])
    assert preconditioner.fraction_buckets(W).tolist() == [8, 16, 1, 32]
    X, y = _problem(n=120, d=70, K=4)
    learner = LogisticRegression(1.0)
    Xp, y_enc, K = learner.prepare(X, y)
    Xt, yt = learner.tensors(Xp, y_enc)
    obj = learner.objective(K)
    theta = torch.zeros(K * 71, dtype=torch.float64)
    a = preconditioner.reference_inverse(obj, Xt, yt, theta, 8)
    assert preconditioner.reference_inverse(obj, Xt, yt, theta, 8) is a  # reused
    other = preconditioner.reference_inverse(obj, Xt * 2, yt, theta, 8)
    assert other is not a and not torch.equal(other[0].w, a[0].w)  # keyed by the data
    assert preconditioner.reference_inverse(obj, Xt, yt, theta, 0) is None  # tiny subsets


def test_a_subsets_preconditioner_does_not_depend_on_its_chunk(fresh_cache):
    X, y = _problem()
    learner = LogisticRegression(1.0)
    full = learner.fit(X, y).theta
    masks = np.random.default_rng(2).random((6, X.shape[0])) < 0.5
    masks[3:, :] = True  # three full-pool rows: another fraction bucket in the same chunk
    a = learner.fit_subsets(X, y, masks, theta0=full, chunk_size=2)
    keys = set(preconditioner.cached_keys())
    buckets = preconditioner.fraction_buckets(torch.as_tensor(masks, dtype=torch.float64))
    assert len(keys) == len(set(buckets.tolist())) >= 2  # one inverse per bucket, shared
    b = learner.fit_subsets(X, y, masks, theta0=full, chunk_size=6)
    assert set(preconditioner.cached_keys()) == keys  # the mixed chunk used the same ones
    # the same fits to the solver's tolerance (BLAS rounding depends on the batch width)
    assert np.max(np.abs(a - b)) <= 1e-8 * np.max(np.abs(a))
