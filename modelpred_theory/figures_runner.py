"""Find and run the figure scripts under figures/ (each has ``main(argv)``), for ``modelpred
figures``. No printing here: every run returns a record, and failures are recorded, not raised,
so one broken figure never hides the rest. The scripts fit models of the sum objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (each states its settings).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ._scripts import discover, load_script

__all__ = ["FigureRun", "find_figures", "run_figure"]


@dataclass
class FigureRun:
    """The outcome of one figure script: name, ok, seconds, error (traceback text or None)."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None


def find_figures(only: list[str] | None = None) -> list[Path]:
    """The figure scripts, optionally those whose name contains one of ``only``."""
    scripts = discover("figures")
    if only:
        scripts = [s for s in scripts if any(k in s.stem for k in only)]
    return scripts


def accepts(path: Path, flag: str) -> bool:
    """Whether the script's argument parser (or the shared app helper it uses) knows ``flag``."""
    text = path.read_text()
    if f'"{flag}"' in text:
        return True
    helper = path.parent / "app_common.py"
    return "app_common" in text and helper.is_file() and f'"{flag}"' in helper.read_text()


def run_figure(path: Path, *, quick: bool, out: Path, progress: bool = False) -> FigureRun:
    """Run one script with ``--quick`` (if asked), ``--out OUT`` and ``--progress`` (if it
    accepts it); a script that raises is recorded as failed with its traceback."""
    argv = (["--quick"] if quick else []) + ["--out", str(out)]
    if progress and accepts(path, "--progress"):
        argv.append("--progress")
    t0 = time.perf_counter()
    try:
        load_script(path).main(argv)
    except Exception:  # noqa: BLE001 - report and continue
        return FigureRun(path.name, False, time.perf_counter() - t0, traceback.format_exc())
    except SystemExit as exc:  # a script's argparse refused the arguments
        if exc.code not in (0, None):
            return FigureRun(path.name, False, time.perf_counter() - t0,
                             f"the script exited with status {exc.code} for {argv}")
    return FigureRun(path.name, True, time.perf_counter() - t0)
