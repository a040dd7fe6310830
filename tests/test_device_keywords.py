"""device= on influence, certify and the application oracles; n_jobs= on the applications.

Every path is float64 on any device: on the CPU, device="cpu" must give the very bits of the
default call; with CUDA (``gpu`` marker, skipped without one) the answers must equal the CPU's
to rounding. Bad devices and engine keywords fail with a clear error before any work.
Sum convention: theta(S) = argmin sum_{i in S} loss_i + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelpred_theory import subsets
from modelpred_theory.applications import data_shapley, loo_values, memorization
from modelpred_theory.applications.oracles import ExactOracle, InfluenceOracle, NewtonOracle
from modelpred_theory.applications.resolve import with_engine
from modelpred_theory.baselines import influence
from modelpred_theory.learners import LogisticRegression, Ridge
from modelpred_theory.setfn import certify

NO_CUDA = "device='cuda' but CUDA is not available"


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 3, 40)
    masks = subsets.random_subsets(40, 6, rng=1, min_size=25, y=y, require_all_classes=True)
    return X, y, masks, LogisticRegression(1.0, n_classes=3)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("order", [1, 2])
def test_influence_on_the_cpu_device_is_the_default_bits(problem, order):
    X, y, masks, lrn = problem
    ref = influence(lrn, X, y, masks, order=order)
    assert _same_bits(influence(lrn, X, y, masks, order=order, device="cpu"), ref)
    if not torch.cuda.is_available():  # "auto" is the CPU here
        assert _same_bits(influence(lrn, X, y, masks, order=order, device="auto"), ref)
    assert np.max(np.abs(ref - lrn.fit_subsets(X, y, masks))) < 1.0  # a real approximation


def test_certify_on_the_cpu_device_is_the_default_bits(problem):
    X, y, masks, lrn = problem
    exact = lrn.fit_subsets(X, y, masks)
    approx = exact + 1e-4 * np.random.default_rng(3).standard_normal(exact.shape)
    b, det = certify(lrn, X, y, masks, approx, return_details=True)
    b_cpu, det_cpu = certify(lrn, X, y, masks, approx, return_details=True, device="cpu")
    assert _same_bits(b_cpu, b) and _same_bits(det_cpu["mu"], det["mu"])
    assert np.all(np.isfinite(b))
    assert np.all(b >= np.linalg.norm(approx - exact, axis=1))  # still certificates


@pytest.mark.parametrize("call", ["influence", "certify", "exact", "influence_oracle",
                                  "newton_oracle"])
def test_bad_devices_fail_before_any_work(problem, call):
    X, y, masks, lrn = problem
    fns = {"influence": lambda d: influence(lrn, X, y, masks, device=d),
           "certify": lambda d: certify(lrn, X, y, masks, np.zeros((6, 12)), device=d),
           "exact": lambda d: ExactOracle(lrn, device=d),
           "influence_oracle": lambda d: InfluenceOracle(lrn, device=d),
           "newton_oracle": lambda d: NewtonOracle(lrn, device=d)}
    with pytest.raises(ValueError, match="device must be one of"):
        fns[call]("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=NO_CUDA):
            fns[call]("cuda")


def test_oracles_on_the_cpu_device_are_the_default_bits(problem):
    X, y, masks, lrn = problem
    for cls in (ExactOracle, InfluenceOracle, NewtonOracle):
        assert _same_bits(cls(lrn, device="cpu").predict(X, y, masks),
                          cls(lrn).predict(X, y, masks))
    # n_jobs=1 goes through the engine (one thread per chunk): the same minimisers
    np.testing.assert_allclose(ExactOracle(lrn, n_jobs=1).predict(X, y, masks),
                               ExactOracle(lrn).predict(X, y, masks), rtol=0, atol=1e-10)


def test_engine_keywords_are_checked_before_any_work(problem):
    X, y, _, lrn = problem
    Xt, yt = X[:10], y[:10]
    assert with_engine("exact", None) is None
    assert with_engine("exact", {"chunk_size": 4}, "cpu", 2) == {
        "chunk_size": 4, "device": "cpu", "n_jobs": 2}
    with pytest.raises(ValueError, match="takes no n_jobs=.*'exact'"):
        data_shapley(lrn, X, y, Xt, yt, "influence", n_jobs=2)
    with pytest.raises(ValueError, match="set them on the oracle object"):
        loo_values(lrn, X, y, Xt, yt, ExactOracle(lrn), device="cpu")
    with pytest.raises(ValueError, match="given both as an argument and in oracle_kwargs"):
        loo_values(lrn, X, y, Xt, yt, oracle_kwargs={"n_jobs": 2}, n_jobs=2)
    with pytest.raises(ValueError, match="n_jobs must be None, a positive integer"):
        memorization(lrn, X, y, n_jobs=0)
    with pytest.raises(ValueError, match="device must be one of"):
        memorization(lrn, X, y, device="tpu")
    # the engine keywords reach the oracle: LOO values with n_jobs equal the serial ones
    ridge = Ridge(1.0)
    yr = X @ np.array([1.0, -2.0, 0.5])
    ref = loo_values(ridge, X, yr, Xt, yr[:10]).values
    np.testing.assert_allclose(loo_values(ridge, X, yr, Xt, yr[:10], n_jobs=2).values, ref,
                               rtol=0, atol=1e-12)
    assert np.ptp(ref) > 0


@pytest.mark.gpu
def test_cuda_influence_certify_and_oracles_equal_cpu(problem):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y, masks, lrn = problem
    for order in (1, 2):
        np.testing.assert_allclose(influence(lrn, X, y, masks, order=order, device="cuda"),
                                   influence(lrn, X, y, masks, order=order),
                                   rtol=1e-10, atol=1e-12)
    approx = lrn.fit_subsets(X, y, masks) + 1e-4  # finite certificates
    b_gpu = certify(lrn, X, y, masks, approx, device="cuda")
    np.testing.assert_allclose(b_gpu, certify(lrn, X, y, masks, approx), rtol=1e-8)
    for cls in (ExactOracle, InfluenceOracle, NewtonOracle):
        np.testing.assert_allclose(cls(lrn, device="cuda").predict(X, y, masks),
                                   cls(lrn).predict(X, y, masks), rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="n_jobs=2 solves in CPU processes"):
        ExactOracle(lrn, n_jobs=2, device="cuda")
    with pytest.raises(ValueError, match="n_jobs=2 solves in CPU processes"):
        with_engine("exact", None, "cuda", 2)
    Xt, yt = X[:10], y[:10]
    np.testing.assert_allclose(
        data_shapley(lrn, X, y, Xt, yt, n_permutations=4, device="cuda").values,
        data_shapley(lrn, X, y, Xt, yt, n_permutations=4).values, rtol=0, atol=1e-9)
