"""The label cache heals: damaged, empty, random or foreign chunks are detected and recomputed.

Labels follow the sum convention theta(S) = argmin sum_{i in S} loss_i + lam/2 ||P theta||^2.
Each case damages one chunk file of a finished run, then checks that the rerun (1) warns with
a CacheWarning naming that file, (2) solves exactly that one chunk again, (3) returns the
original bytes, and (4) leaves a healthy cache: a third run neither warns nor solves anything.
"""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest

from modelpred_theory import subsets
from modelpred_theory.learners import LogisticRegression
from modelpred_theory.setfn import label_masks
from modelpred_theory.setfn import pairs as pairs_mod
from modelpred_theory.setfn.cache import CacheWarning, ChunkStore, array_checksum

CHUNK = 8


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0).astype(np.int64)
    masks = subsets.random_subsets(60, 5 * CHUNK, rng=1, min_size=20, y=y,
                                   require_all_classes=True)
    return X, y, masks


@pytest.fixture
def spy(monkeypatch):
    calls = []
    orig = LogisticRegression.fit_subsets

    def fit_subsets(self, X, y, M, *a, **k):
        calls.append(np.asarray(M)[0].copy())
        return orig(self, X, y, M, *a, **k)

    monkeypatch.setattr(LogisticRegression, "fit_subsets", fit_subsets)
    return calls


def _run(problem, cache, lam=1.0):
    X, y, masks = problem
    return label_masks(LogisticRegression(lam), X, y, masks, cache_dir=cache, chunk_size=CHUNK,
                       progress=False)


def _damage(kind, f, tmp_path, problem):
    size = f.stat().st_size
    if kind == "truncated":
        with open(f, "r+b") as fh:  # as `truncate -s` does
            fh.truncate(size // 2)
    elif kind == "empty":
        f.write_bytes(b"")
    elif kind == "random":
        f.write_bytes(np.random.default_rng(0).bytes(size))
    elif kind == "foreign":  # the same chunk of another problem (lam = 2) copied over
        _, _, other = _run(problem, tmp_path / "other", lam=2.0)
        shutil.copy(f"{other}/{f.name}", f)
    elif kind == "tampered":  # a flipped number under the old checksum
        with np.load(f) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["thetas"][0, 0] += 1e-9
        np.savez(f, **arrays)
    elif kind == "old_format":  # a chunk of the previous cache version (no key, no checksum)
        with np.load(f) as z:
            np.savez(f, thetas=z["thetas"], grad_norms=z["grad_norms"], start=z["start"])
    elif kind == "wrong_rows":  # chunk 1's file under chunk 2's name
        shutil.copy(f.with_name("chunk_00001.npz"), f)
    elif kind == "directory":
        f.unlink()
        f.mkdir()
    return kind


@pytest.mark.parametrize("kind", ["truncated", "empty", "random", "foreign", "tampered",
                                  "old_format", "wrong_rows"])
def test_damaged_chunk_is_recomputed_and_heals(problem, tmp_path, spy, kind):
    th, gn, folder = _run(problem, tmp_path / "cache")
    f = tmp_path / "cache" / folder.split("/")[-1] / "chunk_00002.npz"
    _damage(kind, f, tmp_path, problem)
    spy.clear()
    with pytest.warns(CacheWarning, match=f.name) as rec:
        th2, gn2, _ = _run(problem, tmp_path / "cache")
    assert str(f) in str(rec[0].message)
    assert len(spy) == 1 and np.array_equal(spy[0], problem[2][2 * CHUNK])
    assert th2.tobytes() == th.tobytes() and gn2.tobytes() == gn.tobytes()
    spy.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        th3, _, _ = _run(problem, tmp_path / "cache")
    assert spy == [] and th3.tobytes() == th.tobytes()


def test_truncate_300000_of_a_large_chunk(problem, tmp_path, spy):
    """The reported case: ``truncate -s 300000 chunk_00003.npz`` on a ~650 kB chunk."""
    store = ChunkStore(tmp_path, "k" * 64)
    rng = np.random.default_rng(2)
    arrays = {"thetas": rng.standard_normal((1000, 80)), "grad_norms": rng.random(1000),
              "converged": np.ones(1000, dtype=bool)}
    store.save(3, 3000, 4000, arrays)
    got = store.load(3, 3000, 4000, 80)
    assert all(np.array_equal(got[k], arrays[k]) for k in arrays)
    with open(store.path(3), "r+b") as fh:
        fh.truncate(300000)
    with pytest.warns(CacheWarning, match="chunk_00003.npz is unreadable"):
        assert store.load(3, 3000, 4000, 80) is None


def test_atomic_write_leaves_no_partial_chunk(problem, tmp_path, monkeypatch):
    th, _, folder = _run(problem, tmp_path)
    f = next(iter(sorted((tmp_path / folder.split("/")[-1]).glob("chunk_*.npz"))))
    before = f.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    store = ChunkStore(f.parent, "whatever")
    with pytest.raises(OSError, match="disk full"):
        store.save(0, 0, CHUNK, {"thetas": th[:CHUNK], "grad_norms": np.zeros(CHUNK),
                                 "converged": np.ones(CHUNK, dtype=bool)})
    assert f.read_bytes() == before and not list(f.parent.glob("*.tmp"))


def test_chunk_records_key_rows_and_checksum(problem, tmp_path):
    X, y, masks = problem
    th, gn, folder = _run(problem, tmp_path)
    key = pairs_mod.cache_key(LogisticRegression(1.0), X, y, masks)
    with np.load(f"{folder}/chunk_00001.npz") as z:
        assert str(z["key"]) == key
        assert (int(z["start"]), int(z["stop"])) == (CHUNK, 2 * CHUNK)
        assert str(z["checksum"]) == array_checksum(z["thetas"], z["grad_norms"], z["converged"])
        assert z["thetas"].tobytes() == th[CHUNK:2 * CHUNK].tobytes()
    # written like an ordinary file (umask), not with the temporary file's private 0600
    mode = os.stat(f"{folder}/chunk_00001.npz").st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_a_directory_in_place_of_a_chunk_is_reported(problem, tmp_path):
    """A path that cannot be replaced (a folder) is named in the error, not a raw traceback."""
    _, _, folder = _run(problem, tmp_path)
    f = tmp_path / folder.split("/")[-1] / "chunk_00002.npz"
    _damage("directory", f, tmp_path, problem)
    with pytest.warns(CacheWarning, match=f.name), pytest.raises(OSError, match=f.name):
        _run(problem, tmp_path)
