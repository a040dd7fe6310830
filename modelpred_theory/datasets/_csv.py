"""Reading a user's CSV (standard library csv, no pandas) and .npz files, with clear errors."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

# Cells read as a missing value (pandas' default NA strings, the common ones).
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-nan", "#n/a"})


# Delimiters suggested when a file read with another one has a single column or ragged rows.
_OTHER_DELIMITERS = (";", "\t", "|")


def _sep_name(sep: str) -> str:
    return "'\\t'" if sep == "\t" else repr(sep)


def read_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8"):
    """Header, columns (name -> list of cell strings) and file line numbers of the data rows.

    Blank lines are skipped; a row with a different number of fields than the header, an empty
    or repeated column name, an empty file and a header without data rows are refused. A file
    that looks like it uses another delimiter (or a decimal comma) gets a message suggesting
    ``delimiter=`` / ``decimal=`` (``--sep`` / ``--decimal`` on the command line).
    """
    import codecs

    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a codec name (str), got {encoding!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"encoding {encoding!r} is not a known text encoding (e.g. 'utf-8', "
                         f"'latin-1', 'cp1252')") from None
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = path.read_text(encoding=enc)
    except UnicodeDecodeError as exc:
        what = "UTF-8" if enc == "utf-8-sig" else encoding
        raise ValueError(f"{path.name} is not a {what} text file (byte {exc.start}): is it "
                         f"really a CSV? If so, pass its encoding, e.g. encoding='latin-1' "
                         f"(--encoding latin-1)") from None
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
                             f"has {len(header)}" + _delimiter_hint(text, delimiter, header))
    cols = {h: [r[j] for _, r in body] for j, h in enumerate(header)}
    return header, cols, [lineno for lineno, _ in body]


def _delimiter_hint(text: str, delimiter: str, header: list[str]) -> str:
    """A suggestion when ragged rows look like another delimiter or a decimal comma."""
    first = text.splitlines()[0] if text else ""
    for sep in _OTHER_DELIMITERS:
        if sep != delimiter and first.count(sep) >= 1 and len(header) <= 2:
            hint = f"; the header line contains {_sep_name(sep)}: pass delimiter={_sep_name(sep)}"
            hint += f" (--sep {_sep_name(sep)})"
            if sep == ";":
                hint += " and, for numbers written 1,5, decimal=',' (--decimal ,)"
            return hint
    if delimiter == ",":
        return ("; if the numbers are written with a decimal comma (1,5), the file needs "
                "another delimiter: pass delimiter=';' and decimal=',' (--sep ';' "
                "--decimal ,)")
    return ""


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
