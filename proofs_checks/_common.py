"""Shared plumbing of the proof checks: argument parsing, the claim table, figure output.

No math lives here: every quantity a check measures comes from the library (learners' batched
objective / gradient / Hessian, ``certify``) or from the check script itself.

A claim records a number that was **measured**, the **bound** (or predicted value) it is
compared with, the relation that must hold, the **ratio** (one meaning for every claim: the
share of the claim's allowance that was used, so ratio <= 1 for every PASS; see ``ratio``) and
the claim's
kind: ``"tight"`` (a data-dependent bound expected to be within a factor 10, ratio >= 0.1),
``"loose"`` (a constant-form bound reported beside a tight one), ``"identity"`` (an equality to
rounding: the measured number is a relative error, the bound its tolerance), ``"rate"`` (a
log-log slope against its predicted value) or ``"empirical"`` (a measured behaviour of trained
networks, not a theorem) or ``"regression"`` (holds by construction, e.g. Eckart-Young or a lookup
table reproducing itself: kept as a regression test of the code, never counted as evidence for
a statement; every statement also has a claim of another kind that an error would break).
Nothing is printed to stdout: claims go to stderr, and only when the
check is not ``--quiet``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from modelpred_theory.checks import RATIO_MEANING  # noqa: F401 - the header's sentence

ROOT = Path(__file__).resolve().parents[1]
OUT_NAME = "modelpred_check_output"  # default output folder, created in the working directory
KINDS = ("tight", "loose", "identity", "rate", "empirical", "regression")
RELATIONS = ("<=", "<", ">=", ">", "~", "==")


def ratio(measured, bound, relation: str, tol: float | None = None) -> float | None:
    """The one meaning of the ratio column: the share of the claim's allowance that was used.

    ``measured / bound`` for "<=" and "<", ``bound / measured`` for ">=" and ">" (so ratio <= 1
    iff the inequality holds, and a tight bound has ratio near 1), and ``|measured - bound| /
    tol`` for "~" (a rate or a value within a tolerance band) and "==" (``tol`` defaults to 0.5
    there: an integer equality). None where undefined (a missing value, a zero denominator).
    """
    if measured is None or bound is None:
        return None
    if relation in ("<=", "<"):
        return _finite_or_none(measured / bound) if bound > 0 else None
    if relation in (">=", ">"):
        return _finite_or_none(bound / measured) if measured > 0 else None
    if tol is None:
        if relation == "~":
            raise ValueError("a '~' claim needs tol (the half-width of its band)")
        tol = 0.5
    if tol <= 0:
        return 0.0 if measured == bound else None
    return _finite_or_none(abs(measured - bound) / tol)


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
                    help=f"folder for the figure (default ./{OUT_NAME} in the working directory)")
    ap.add_argument("--no-plot", dest="plot", action="store_false", help="skip the figure")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--quiet", action="store_true", help="print nothing while running")
    args = ap.parse_args([] if argv is None else list(argv))
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    import torch

    torch.set_num_threads(max(1, args.threads))
    return args


def _finite_or_none(x) -> float | None:
    """JSON-safe float: non-finite values become None (valid JSON has no inf / nan)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class Claim:
    name: str
    measured: float | None
    bound: float | None
    ratio: float | None
    relation: str
    kind: str
    passed: bool
    note: str = ""

    @property
    def predicted(self) -> str:
        return f"{self.relation} {_fmt(self.bound)}"


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


@dataclass
class Report:
    """Collects the claims of one check; prints them to stderr unless ``quiet``."""

    check: str
    statement: str
    mode: str
    quiet: bool = False
    claims: list[Claim] = field(default_factory=list)
    figure: str | None = None
    t0: float = field(default_factory=time.perf_counter)

    def add(self, name: str, measured, bound, passed: bool, *, relation: str = "<=",
            kind: str = "tight", note: str = "", tol: float | None = None) -> bool:
        """Record one claim with its ratio (see ``ratio``); ``tol`` is required for "~"."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
        m, b = _finite_or_none(measured), _finite_or_none(bound)
        c = Claim(name, m, b, ratio(m, b, relation, tol), relation, kind, bool(passed),
                  str(note))
        self.claims.append(c)
        if not self.quiet:
            tag = "PASS" if c.passed else "FAIL"
            print(f"  [{tag}] ({kind}) {c.name}\n         measured {_fmt(m)}  {relation}  "
                  f"bound {_fmt(b)}   ratio {_fmt(c.ratio)}"
                  + (f"\n         {c.note}" if c.note else ""), file=sys.stderr)
        return c.passed

    def header(self) -> None:
        if not self.quiet:
            print(f"== {self.check} ({self.mode}) - THEORY.md {self.statement}", file=sys.stderr)

    @property
    def passed(self) -> bool:
        return bool(self.claims) and all(c.passed for c in self.claims)

    def finish(self) -> dict:
        claims = []
        for c in self.claims:
            d = asdict(c)
            d["predicted"] = c.predicted
            claims.append(d)
        out = {
            "check": self.check,
            "statement": self.statement,
            "mode": self.mode,
            "passed": self.passed,
            "n_claims": len(self.claims),
            "n_passed": sum(c.passed for c in self.claims),
            "claims": claims,
            "figure": self.figure,
            "seconds": round(time.perf_counter() - self.t0, 3),
        }
        if not self.quiet:
            tag = "PASS" if out["passed"] else "FAIL"
            print(f"{self.check}: {tag} ({out['n_passed']}/{out['n_claims']} claims, "
                  f"{out['seconds']:.1f} s)", file=sys.stderr)
        return out


def out_dir(args) -> Path:
    path = Path(args.out) if args.out else Path.cwd() / OUT_NAME
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
        print(f"  figure: {path}", file=sys.stderr)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (positive entries only)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def worst_ratio(measured, bound) -> tuple[float, int, int]:
    """(max measured / bound, number of violations measured > bound, number of pairs)."""
    measured = np.asarray(measured, dtype=float).ravel()
    bound = np.asarray(bound, dtype=float).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(bound > 0, measured / bound, np.where(measured > 0, np.inf, 0.0))
    return float(np.max(r)), int(np.sum(measured > bound)), int(r.size)


def run_as_script(main) -> None:
    import json

    out = main(sys.argv[1:])
    print(json.dumps(out, indent=2))
    sys.exit(0 if out["passed"] else 1)
