"""Print each tutorial's run time as sphinx-gallery recorded it (``make docs``).

Usage: ``python docs/_ext/gallery_times.py docs/auto_examples``. Reads the "Total running time"
line of every generated tutorial page (tutorials that did not change since the last build keep
the time of the run that produced their output). Exits non-zero when no tutorial page exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_TIME = re.compile(r"Total running time of the script:\*\* \((\d+) minutes ([\d.]+) seconds\)")


def tutorial_times(folder: str | Path) -> dict[str, float]:
    """``{script name: seconds}`` for every ``plot_*.rst`` page under ``folder``."""
    times = {}
    for page in sorted(Path(folder).glob("plot_*.rst")):
        match = _TIME.search(page.read_text(encoding="utf-8"))
        if match is None:
            raise ValueError(f"{page}: no 'Total running time' line")
        times[page.stem + ".py"] = 60 * int(match.group(1)) + float(match.group(2))
    return times


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: gallery_times.py GALLERY_FOLDER\n")
        return 2
    times = tutorial_times(argv[0])
    if not times:
        sys.stderr.write(f"{argv[0]}: no tutorial pages (did the gallery run?)\n")
        return 1
    for name, seconds in times.items():
        print(f"{seconds:7.1f} s  {name}")
    print(f"{sum(times.values()):7.1f} s  all tutorials")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
