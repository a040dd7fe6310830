"""Progress bars count what a user counts: fits (subsets), not the solver's chunks (issue 21).

Every bar over subsets has total k (the number of subsets) and advances by each chunk's size as
the chunk finishes, so its rate and ETA are in fits; a resumed labelling run starts at the fits
loaded from its cache. The bars are real tqdm bars writing to a buffer; the test records the
totals and every update.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import tqdm.auto
import tqdm.std

import modelpred_theory as mpt
from modelpred_theory import baselines as B
from modelpred_theory.learners import LogisticRegression

K_SUBSETS, CHUNK = 10, 4
SIZES = [4, 4, 2]  # the chunks of 10 subsets by 4

_RNG = np.random.default_rng(3)
X = _RNG.normal(size=(30, 3)) / np.sqrt(3)
Y = (X @ np.array([1.0, -1.0, 0.5]) + 0.3 * _RNG.normal(size=30) > 0).astype(int)
MASKS = _RNG.random((K_SUBSETS, 30)) < 0.8
MASKS[:, :2] = True  # every subset keeps a point of each class
Y[:2] = [0, 1]
LR = LogisticRegression(1.0)


@pytest.fixture
def bars(monkeypatch):
    """The tqdm bars made while the test runs (tqdm.auto.tqdm replaced by a recording tqdm)."""
    made = []

    class Recording(tqdm.std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"], kwargs["disable"] = io.StringIO(), False
            self.updates = []
            super().__init__(*args, **kwargs)
            made.append(self)

        def update(self, n=1):
            self.updates.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    return made


def _one(bars, desc):
    found = [b for b in bars if b.desc.startswith(desc)]
    assert len(found) == 1, [b.desc for b in bars]
    return found[0]


def _assert_counts_fits(bar, unit="fit", initial=0, updates=SIZES):
    assert bar.total == K_SUBSETS
    assert bar.unit == unit
    assert bar.updates == updates
    assert bar.n == K_SUBSETS and initial + sum(updates) == K_SUBSETS


def test_fit_subsets_bar_counts_fits(bars):
    thetas = LR.fit_subsets(X, Y, MASKS, chunk_size=CHUNK, progress=True)
    _assert_counts_fits(_one(bars, "exact logistic"))
    np.testing.assert_array_equal(thetas, LR.fit_subsets(X, Y, MASKS, chunk_size=CHUNK))


def test_parallel_fit_subsets_bar_counts_fits(bars):
    res = mpt.setfn.fit_subsets_parallel(LR, X, Y, MASKS, chunk_size=CHUNK, progress=True)
    _assert_counts_fits(_one(bars, "exact logistic"))
    assert res.thetas.shape == (K_SUBSETS, 4)


def test_label_masks_bar_counts_fits_and_resumes_from_the_cache(bars, tmp_path):
    thetas, _, folder = mpt.setfn.label_masks(LR, X, Y, MASKS, cache_dir=tmp_path,
                                              chunk_size=CHUNK, progress=True)
    _assert_counts_fits(_one(bars, "labels theta(S)"))
    bars.clear()
    chunk1 = tmp_path / folder / "chunk_00001.npz"
    assert chunk1.is_file()
    chunk1.unlink()  # the second chunk (4 subsets) is lost: 6 fits remain cached
    again, _, _ = mpt.setfn.label_masks(LR, X, Y, MASKS, cache_dir=tmp_path, chunk_size=CHUNK,
                                        progress=True)
    bar = _one(bars, "labels theta(S)")
    assert bar.total == K_SUBSETS and bar.updates == [4] and bar.n == K_SUBSETS
    np.testing.assert_array_equal(again, thetas)


def test_certify_and_newton_step_bars_count_subsets(bars):
    thetas = LR.fit_subsets(X, Y, MASKS)
    mpt.certify(LR, X, Y, MASKS, thetas, chunk_size=CHUNK, progress=True)
    _assert_counts_fits(_one(bars, "certify"), unit="subset")
    B.newton_step(LR, X, Y, MASKS, chunk_size=CHUNK, progress=True)
    _assert_counts_fits(_one(bars, "newton step"), unit="subset")
