"""Reading a user's CSV (standard library csv, no pandas) and .npz files, with clear errors."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

# Cells read as a missing value (pandas' default NA strings, the common ones).
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-nan", "#n/a"})


def read_csv(path: Path, delimiter: str = ","):
    """Header, columns (name -> list of cell strings) and file line numbers of the data rows.

    Blank lines are skipped; a row with a different number of fields than the header, an empty
    or repeated column name, an empty file and a header without data rows are refused.
    """
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not a UTF-8 text file (is it really a CSV?)") from None
    if not text.strip():
        raise ValueError(f"{path.name} is empty")
    numbered = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for r in reader:
            if any(c.strip() for c in r):
                numbered.append((reader.line_num, r))
    except csv.Error as exc:
        raise ValueError(f"{path.name} is not valid CSV (line {reader.line_num}): {exc}"
                         ) from None
    (_, header), body = numbered[0], numbered[1:]
    header = [h.strip() for h in header]
    for j, h in enumerate(header):
        if not h:
            raise ValueError(f"{path.name}: the header has an empty column name at position {j}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ValueError(f"{path.name}: the header repeats column names {dup}")
    if not body:
        raise ValueError(f"{path.name} has a header but no data rows")
    for lineno, r in body:
        if len(r) != len(header):
            raise ValueError(f"{path.name}: line {lineno} has {len(r)} fields but the header "
                             f"has {len(header)}")
    cols = {h: [r[j] for _, r in body] for j, h in enumerate(header)}
    return header, cols, [lineno for lineno, _ in body]


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (object arrays refused: nothing is unpickled)."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not a readable .npz file (not a zip archive of "
                         ".npy arrays; write it with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path.name} is not a readable .npz file: {exc}") from None
    except ValueError:
        raise ValueError(f"{path.name} holds object (pickled) arrays, which are never loaded; "
                         "save plain numeric or string arrays") from None
