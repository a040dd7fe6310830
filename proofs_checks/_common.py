"""Shared plumbing of the proof checks: argument parsing, the claim table, figure output.

No math lives here: every quantity a check measures comes from the library (learners' batched
objective / gradient / Hessian, ``certify``) or from the check script itself.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "figures" / "output"


def parse_args(argv, description: str) -> argparse.Namespace:
    """Common options: --quick (default) / --full, --seed, --out, --no-plot, --threads."""
    ap = argparse.ArgumentParser(description=description)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false",
                      help="small sizes, a few seconds (default)")
    mode.add_argument("--full", dest="full", action="store_true", help="paper-size run")
    ap.set_defaults(full=False)
    ap.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    ap.add_argument("--out", type=str, default=None,
                    help="folder for the figure (default figures/output/ in the repository)")
    ap.add_argument("--no-plot", dest="plot", action="store_false", help="skip the figure")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--quiet", action="store_true", help="print only the summary line")
    args = ap.parse_args([] if argv is None else list(argv))
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    import torch

    torch.set_num_threads(max(1, args.threads))
    return args


@dataclass
class Claim:
    name: str
    measured: str
    predicted: str
    passed: bool


@dataclass
class Report:
    """Collects the claims of one check and prints them as a table."""

    check: str
    statement: str
    mode: str
    quiet: bool = False
    claims: list[Claim] = field(default_factory=list)
    figure: str | None = None
    t0: float = field(default_factory=time.perf_counter)

    def add(self, name: str, measured, predicted: str, passed: bool) -> bool:
        if isinstance(measured, float | np.floating):
            measured = f"{measured:.4g}"
        c = Claim(name, str(measured), predicted, bool(passed))
        self.claims.append(c)
        if not self.quiet:
            tag = "PASS" if c.passed else "FAIL"
            print(f"  [{tag}] {c.name}\n         measured: {c.measured}\n"
                  f"         predicted: {c.predicted}")
        return c.passed

    def header(self) -> None:
        if not self.quiet:
            print(f"== {self.check} ({self.mode}) - THEORY.md {self.statement}")

    @property
    def passed(self) -> bool:
        return bool(self.claims) and all(c.passed for c in self.claims)

    def finish(self) -> dict:
        out = {
            "check": self.check,
            "statement": self.statement,
            "mode": self.mode,
            "passed": self.passed,
            "n_claims": len(self.claims),
            "n_passed": sum(c.passed for c in self.claims),
            "claims": [asdict(c) for c in self.claims],
            "figure": self.figure,
            "seconds": round(time.perf_counter() - self.t0, 3),
        }
        tag = "PASS" if out["passed"] else "FAIL"
        print(f"{self.check}: {tag} ({out['n_passed']}/{out['n_claims']} claims, "
              f"{out['seconds']:.1f} s)")
        return out


def out_dir(args) -> Path:
    path = Path(args.out) if args.out else DEFAULT_OUT
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_figure(ncols: int, width: float = 4.2, height: float = 3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def save_figure(fig, args, name: str, report: Report) -> None:
    import matplotlib.pyplot as plt

    path = out_dir(args) / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    report.figure = str(path)
    if not report.quiet:
        print(f"  figure: {path}")


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (positive entries only)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def run_as_script(main) -> None:
    import sys

    out = main(sys.argv[1:])
    sys.exit(0 if out["passed"] else 1)
