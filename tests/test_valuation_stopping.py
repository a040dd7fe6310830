"""Stopping rules, resumable state (bit for bit) and argument checks before any oracle call.

The utilities valued are games or test scores of theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from modelpred_theory import applications as A
from modelpred_theory.datasets import load
from modelpred_theory.learners import LogisticRegression

N = 8
WEIGHTS = np.linspace(0.5, 2.0, N)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: two spinning OpenMP threads on a loaded 2-core machine make the small
    batched solves here several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Counting:
    """A game that counts its calls (and can raise KeyboardInterrupt on a given call)."""

    def __init__(self, interrupt_at: int | None = None):
        self.calls = 0
        self.interrupt_at = interrupt_at

    def __call__(self, M):
        self.calls += 1
        if self.interrupt_at is not None and self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        s = np.asarray(M, float) @ WEIGHTS
        return np.sqrt(s) - 0.05 * s**2


RUNNERS = {
    "permutation": lambda u, **kw: A.semivalue_from_utility(u, N, np.ones(N), **kw),
    "antithetic": lambda u, **kw: A.semivalue_from_utility(u, N, np.ones(N),
                                                           sampler="antithetic", **kw),
    "stratified": lambda u, **kw: A.semivalue_from_utility(u, N, np.ones(N),
                                                           sampler="stratified", **kw),
    "beta": lambda u, **kw: A.semivalue_from_utility(u, N, A.beta_size_weights(N, 16, 1),
                                                     **kw),
    "msr": lambda u, **kw: A.banzhaf_from_utility(u, N, **kw),
}


def _same(a, b):
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.stderr, b.stderr)
    assert a.n_samples == b.n_samples and a.n_utility_calls == b.n_utility_calls


@pytest.mark.parametrize("kind", list(RUNNERS))
def test_stopped_and_resumed_equals_uninterrupted_bit_for_bit(kind, tmp_path):
    run = RUNNERS[kind]
    full = run(Counting(), stopping=12, rng=5, round_size=3)
    assert full.state.rounds == 4 and full.stopped_by == "FixedBudget(samples=12)"
    # stopped by a budget, resumed from the result
    part = run(Counting(), stopping=6, rng=5, round_size=3)
    _same(run(Counting(), stopping=12, rng=99, resume=part), full)  # rng of a resume: ignored
    # stopped by Ctrl-C inside round 3, resumed from the checkpoint file
    ck = tmp_path / "state.npz"
    # call 1 evaluates U(empty), U(N); a round is one call (a stratified cycle: one call each)
    u = Counting(interrupt_at=8 if kind == "stratified" else 4)
    cut = run(u, stopping=12, rng=5, round_size=3, checkpoint=ck)
    assert cut.stopped_by == "interrupted" and 0 < cut.state.rounds < 4
    again = run(Counting(), stopping=12, rng=5, resume=ck)
    _same(again, full)
    # resuming a finished run draws nothing more
    u2 = Counting()
    done = run(u2, stopping=12, rng=5, resume=full)
    assert u2.calls == 0
    _same(done, full)


def test_resume_refuses_a_different_run():
    part = A.shapley_from_utility(Counting(), N, 4, 0, round_size=2)
    with pytest.raises(ValueError, match="sampler"):
        A.shapley_from_utility(Counting(), N, 8, 0, sampler="antithetic", resume=part)
    with pytest.raises(ValueError, match="round_size"):
        A.shapley_from_utility(Counting(), N, 8, 0, round_size=3, resume=part)
    with pytest.raises(ValueError, match="n="):
        A.shapley_from_utility(lambda M: M.sum(1), N + 1, 8, 0, resume=part)
    with pytest.raises(ValueError, match="resume"):
        A.shapley_from_utility(Counting(), N, 8, 0, resume=42)


def test_learner_level_resume_and_data_fingerprint():
    ds = load("iris2", seed=0, n_train=12)
    L = LogisticRegression(lam=1.0)
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test, "exact")
    full = A.data_shapley(*args, 6, 0, round_size=2)
    part = A.data_shapley(*args, 2, 0, round_size=2)
    _same(A.data_shapley(*args, 6, 0, resume=part), full)
    y2 = ds.y_train.copy()
    y2[0] = 1 - y2[0]
    with pytest.raises(ValueError, match="config"):
        A.data_shapley(L, ds.X_train, y2, ds.X_test, ds.y_test, "exact", 6, 0, resume=part)


def test_stopping_rules_stop_and_say_which():
    u = Counting()
    res = A.shapley_from_utility(u, N, None, 0, stopping=A.TargetStderr(atol=5e-3),
                                 round_size=50)
    assert res.stopped_by.startswith("TargetStderr") and res.max_stderr <= 5e-3
    assert res.n_samples >= 100  # not met after the first rounds: a real stop, not a default
    rank = A.shapley_from_utility(Counting(), N, None, 0, stopping="rank:0.99",
                                  round_size=20)
    assert rank.stopped_by.startswith("RankStability") and rank.n_samples >= 60

    def slow(M):
        time.sleep(0.02)
        return Counting()(M)

    t0 = time.perf_counter()
    wall = A.shapley_from_utility(slow, N, None, 0, stopping="time:0.1 | budget:100000",
                                  round_size=1)
    assert wall.stopped_by == "WallClock(seconds=0.1)" and time.perf_counter() - t0 < 5
    either = A.shapley_from_utility(Counting(), N, None, 0,
                                    stopping=A.FixedBudget(samples=7) | "stderr:1e-12",
                                    round_size=3)
    assert either.stopped_by == "FixedBudget(samples=7)" and either.n_samples == 7
    ev = A.banzhaf_from_utility(Counting(), N, "evaluations:500", 0)
    assert ev.n_utility_calls >= 500 and ev.n_utility_calls < 500 + 3


BAD = [
    (dict(n=0), "empty"),
    (dict(stopping=0), "stopping"),
    (dict(stopping="budget:0"), "samples"),
    (dict(stopping="forever:1"), "unknown rule"),
    (dict(stopping=object()), "stopping"),
    (dict(stopping="stderr:abc"), "not a number"),
    (dict(sampler="sobol"), "sampler"),
    (dict(truncation=0.1, sampler="stratified"), "truncation"),
    (dict(round_size=0), "round_size"),
    (dict(batch_size=0), "batch_size"),
]


@pytest.mark.parametrize("kw,match", BAD)
def test_bad_arguments_raise_before_any_utility_call(kw, match):
    u = Counting()
    kw = {"n": N, "stopping": 5, **kw}
    with pytest.raises(ValueError, match=match):
        A.semivalue_from_utility(u, kw.pop("n"), np.ones(N), **kw)
    assert u.calls == 0


def test_learner_level_bad_arguments_raise_before_any_oracle_call(tmp_path):
    ds = load("iris2", seed=0, n_train=10)
    L = LogisticRegression(lam=1.0)

    class CountingOracle(A.ExactOracle):
        calls = 0

        def predict(self, X, y, masks):
            CountingOracle.calls += 1
            return super().predict(X, y, masks)

    orc = CountingOracle(L)
    args = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    cases = [
        (lambda: A.data_shapley(*args, orc, 0), "n_permutations"),
        (lambda: A.data_shapley(*args, orc, stopping="budget:0"), "samples"),
        (lambda: A.data_shapley(*args, orc, sampler="qmc"), "sampler"),
        (lambda: A.data_shapley(*args, orc, stopping="until:1"), "unknown rule"),
        (lambda: A.data_shapley(*args, "retrain"), "oracle"),
        (lambda: A.data_shapley(*args, "modelpred:lasso"), "base"),
        (lambda: A.data_shapley(*args, "modelpred:newton", oracle_kwargs={"base": "influence"}),
         "once"),
        (lambda: A.data_shapley(L, ds.X_train[:0], ds.y_train[:0], ds.X_test, ds.y_test, orc),
         "X"),
        (lambda: A.banzhaf(*args, orc, stopping=0), "stopping"),
        (lambda: A.banzhaf(*args, "exact", stopping=A.FixedBudget), "stopping"),
        (lambda: A.beta_shapley(*args, orc, alpha=0), "alpha"),
        (lambda: A.beta_shapley(*args, orc, stopping="time:-1"), "seconds"),
        (lambda: A.data_oob(L, ds.X_train, ds.y_train, orc, stopping=0), "stopping"),
        (lambda: A.data_oob(L, ds.X_train, ds.y_train, "utility"), "utility predictor"),
        (lambda: A.data_oob(L, ds.X_train, ds.y_train, orc, score="f1"), "score"),
        (lambda: A.lds(*args, np.zeros(3)), "attributions"),
        (lambda: A.lds(*args, np.zeros(10), output="logit"), "output"),
        (lambda: A.attributions(*args, method="tracin"), "method"),
        (lambda: A.data_shapley(*args, orc, 3, resume=tmp_path / "missing.npz"), "missing"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    assert CountingOracle.calls == 0
