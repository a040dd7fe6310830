"""``modelpred check``: the numerical proof checks of THEORY.md (``checks.run_checks``).

Each check compares parameters of the sum objective F_S(theta) = sum_{i in S} w_i
loss_i(theta) + lam/2 ||P theta||^2 with what a statement of THEORY.md predicts.
"""

from __future__ import annotations

import argparse

from ._common import CommandError, add_output_args, check_out_dir


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred check",
        description="Run the numerical checks of THEORY.md (one script per statement under "
                    "proofs_checks/). Quick mode by default (well under a minute); --full "
                    "runs paper-size versions. Exit status 1 if any claim FAILs.")
    ap.add_argument("names", nargs="*", help="checks to run (default: all), e.g. stability")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false", help="quick mode (default)")
    mode.add_argument("--full", dest="full", action="store_true", help="paper-size runs")
    ap.set_defaults(full=False)  # a store_false --quick would otherwise make full the default
    ap.add_argument("--seed", type=int, default=0, help="seed passed to every check")
    ap.add_argument("--out", default="figures/output",
                    help="figure folder, relative to the current folder (default "
                         "figures/output)")
    ap.add_argument("--no-plot", action="store_true", help="skip the figures")
    ap.add_argument("--verbose", action="store_true", help="print every claim as it runs")
    ap.add_argument("--list", action="store_true", help="list the checks and exit")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")


def _doc(path) -> str:
    parts = path.read_text().split('"""')
    lines = parts[1].strip().splitlines() if len(parts) > 1 else []
    return lines[0] if lines else ""


def run(args, ctx) -> int:
    from .. import checks

    try:
        available = checks.find_checks()
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    if args.list:
        docs = {name: _doc(path) for name, path in available.items()}
        if ctx.json:
            ctx.emit_json({"checks": docs})
        else:
            ctx.result("\n".join(f"{k}: {v}" for k, v in docs.items()))
        return 0
    unknown = [n for n in args.names if n not in available and f"check_{n}" not in available]
    if unknown:
        raise CommandError(f"unknown check(s) {unknown}; available: "
                           f"{', '.join(n.removeprefix('check_') for n in available)}")
    out = None if args.no_plot else check_out_dir(args.out)
    results = checks.run_checks(args.names, full=args.full, seed=args.seed,
                                out=None if out is None else str(out), plot=not args.no_plot,
                                quiet=not args.verbose, progress=ctx.progress)
    passed = all(r["passed"] for r in results)
    if ctx.json:
        ctx.emit_json({"passed": passed, "mode": "full" if args.full else "quick",
                       "seed": args.seed, "checks": results})
    else:
        ctx.result(checks.format_table(results))
    return 0 if passed else 1
