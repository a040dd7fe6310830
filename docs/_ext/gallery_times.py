"""Print each tutorial's run time from sphinx-gallery's JUnit file (``make docs``).

Usage: ``python docs/_ext/gallery_times.py docs/_build/sphinx-gallery-junit.xml``. Exits
non-zero if the file is missing or records a failed tutorial.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: gallery_times.py JUNIT_XML\n")
        return 2
    path = Path(argv[0])
    if not path.is_file():
        sys.stderr.write(f"{path}: no sphinx-gallery JUnit file (did the tutorials run?)\n")
        return 1
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    total, failed = 0.0, 0
    for case in cases:
        t = float(case.get("time", 0.0))
        total += t
        bad = case.find("failure") is not None or case.find("error") is not None
        failed += bad
        print(f"{t:7.1f} s  {case.get('name')}{'  FAILED' if bad else ''}")
    print(f"{total:7.1f} s  all tutorials")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
