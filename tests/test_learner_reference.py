"""Bit-identical fits against arrays saved from the learners before their reorganisation.

Regression test (an identity kept as one): ``tests/data/learner_reference.npz`` was written by
``tests/data/make_learner_reference.py`` from the learners as they were before the loss / objective
/ solver split; every theta (fit, fit_subsets on masks and fractional weights, warm starts from the
pool, 2 joblib workers), every derivative and the baselines built on the solver's pieces must be
reproduced exactly (``np.array_equal``), on the direct Newton path and on the truncated Newton-CG
path, for every learner with and without a penalised intercept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_learner_reference as ref  # noqa: E402

CASES = list(ref.cases())


@pytest.fixture(scope="module")
def saved():
    with np.load(ref.OUT) as f:
        return {k: f[k] for k in f.files}


def _check(saved, got: dict, name: str):
    expected = {k for k in saved if k.startswith(name + "/")}
    assert expected == set(got), sorted(expected ^ set(got))
    for key, arr in got.items():
        assert arr.shape == saved[key].shape, key
        assert np.array_equal(arr, saved[key]), (
            f"{key}: max |diff| {np.max(np.abs(arr - saved[key]))}")


@pytest.mark.parametrize("name,kind,path,pen", CASES, ids=[c[0] for c in CASES])
def test_bit_identical_to_the_saved_fits(saved, name, kind, path, pen):
    got = ref.compute(name, kind, path, pen, n_jobs=False)
    if name in ref.N_JOBS_CASES:  # the 2-worker fits are checked by the test below
        got[f"{name}/subsets_jobs"] = saved[f"{name}/subsets_jobs"]
    _check(saved, got, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ref.N_JOBS_CASES)
def test_bit_identical_over_joblib_workers(saved, name):
    kind, path, pen = next((k, p, q) for n, k, p, q in CASES if n == name)
    X, y = ref.problem(kind, path)
    M, _ = ref.masks_for(y, X.shape[0], 1)
    got = ref.learner(kind, pen).fit_subsets(X, y, M, chunk_size=4, n_jobs=2)
    assert np.array_equal(got, saved[f"{name}/subsets_jobs"])
    assert np.array_equal(got, saved[f"{name}/subsets"])  # the engines agree, bit for bit
