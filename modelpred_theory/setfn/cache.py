"""A resumable on-disk store of labelled chunks, each file self-checking.

One folder per labelling problem (learner, data, masks: see ``pairs.cache_key``); one ``.npz``
file per chunk of subsets. Every chunk carries the cache key of its problem, its row range and a
SHA-256 checksum of its arrays; :meth:`ChunkStore.load` verifies all three, so a truncated,
empty, random or foreign file (another problem's chunk copied in) is reported with a
:class:`CacheWarning` naming the file and recomputed, never loaded and never a crash. Files are
written atomically (a temporary file in the same folder, then ``os.replace``), so a reader never
sees half a chunk and a run killed mid-write leaves the previous state intact.

The arrays stored are labels under the sum convention of docs/design.md:
theta(S) = argmin_theta sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["CHUNK_FIELDS", "CacheWarning", "ChunkStore", "array_checksum"]

# The arrays a labelled chunk holds (besides its bookkeeping), in checksum order.
CHUNK_FIELDS = ("thetas", "grad_norms", "converged")
_FORMAT = 2
# Permissions of a new chunk, as open() would give it (mkstemp's temporary file is 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)
_MODE = 0o666 & ~_UMASK


class CacheWarning(RuntimeWarning):
    """A cache file was damaged or foreign and is being recomputed."""


def array_checksum(*arrays: np.ndarray) -> str:
    """SHA-256 (hex) over dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it onto ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


class ChunkStore:
    """The chunk files of one labelling problem.

    Parameters
    ----------
    folder : path
        Created if missing.
    key : str
        The problem's cache key (hex); every chunk records it and a chunk with another key is
        foreign.
    """

    def __init__(self, folder: str | os.PathLike, key: str):
        self.folder = Path(folder)
        self.key = str(key)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        """File of chunk ``index``."""
        return self.folder / f"chunk_{index:05d}.npz"

    def write_manifest(self, manifest: dict) -> None:
        """Human-readable description of the problem (informational; never read back)."""
        atomic_write_text(self.folder / "manifest.json",
                          json.dumps(manifest, indent=1, default=str))

    def save(self, index: int, start: int, stop: int, arrays: dict) -> None:
        """Write chunk ``index`` (rows start:stop) atomically with its key and checksum.

        Parameters
        ----------
        arrays : dict
            ``thetas`` (m, p) float64, ``grad_norms`` (m,) float64, ``converged`` (m,) bool,
            with m = stop - start.
        """
        data = {f: np.ascontiguousarray(arrays[f]) for f in CHUNK_FIELDS}
        payload = dict(data, format=np.int64(_FORMAT), key=np.array(self.key),
                       start=np.int64(start), stop=np.int64(stop),
                       checksum=np.array(array_checksum(*data.values())))
        _atomic_write(self.path(index), lambda f: np.savez(f, **payload))

    def load(self, index: int, start: int, stop: int, p: int) -> dict | None:
        """Chunk ``index`` if its file exists and is intact, else None.

        A file that exists but fails a check (unreadable zip, missing field, wrong key, row
        range, shape or checksum) triggers a :class:`CacheWarning` naming the file and the
        problem, and None (the caller recomputes and overwrites it).
        """
        f = self.path(index)
        if not f.exists():
            return None
        try:
            out, problem = self._read(f, start, stop, p)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is recomputed
            out, problem = None, f"unreadable ({type(exc).__name__}: {exc})"
        if problem is not None:
            warnings.warn(f"cache chunk {f} is {problem}; recomputing it", CacheWarning,
                          stacklevel=3)
            return None
        return out

    def _read(self, f: Path, start: int, stop: int, p: int) -> tuple[dict | None, str | None]:
        with np.load(f, allow_pickle=False) as z:
            names = set(z.files)
            need = {"format", "key", "start", "stop", "checksum", *CHUNK_FIELDS}
            if not need <= names:
                return None, f"incomplete (missing {sorted(need - names)})"
            if int(z["format"]) != _FORMAT:
                return None, f"of another format ({int(z['format'])})"
            if str(z["key"]) != self.key:
                return None, "foreign (written for another problem: its cache key differs)"
            if (int(z["start"]), int(z["stop"])) != (start, stop):
                return None, (f"for rows {int(z['start'])}:{int(z['stop'])}, "
                              f"not {start}:{stop}")
            data = {name: z[name] for name in CHUNK_FIELDS}
            checksum = str(z["checksum"])
        m = stop - start
        shapes = {"thetas": (m, p), "grad_norms": (m,), "converged": (m,)}
        dtypes = {"thetas": np.float64, "grad_norms": np.float64, "converged": np.bool_}
        for name in CHUNK_FIELDS:
            if data[name].shape != shapes[name] or data[name].dtype != dtypes[name]:
                return None, (f"malformed ({name} has shape {data[name].shape} and dtype "
                              f"{data[name].dtype}, expected {shapes[name]} {dtypes[name]})")
        if array_checksum(*data.values()) != checksum:
            return None, "corrupt (checksum mismatch)"
        return data, None
