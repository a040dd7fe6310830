"""The `modelpred` command: demo, compare, check, figures, bench.

Each subcommand forwards its remaining arguments to the module that implements it, so
``modelpred <command> --help`` shows that command's own options.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

COMMANDS = {
    "demo": ("modelpred_theory.setfn.demo", "cli_main",
             "Train ModelPred on breast_cancer (L2 logistic, lam = 1) and compare it with exact "
             "retraining, influence functions, one Newton step and a linear datamodel."),
    "compare": ("modelpred_theory.baselines.compare", "cli_main",
                "Compare the baselines (influence, Newton step, datamodel, LOO) against exact "
                "refits on held-out subsets; --json for machine-readable output."),
    "check": ("modelpred_theory.checks", "cli_main",
              "Run the numerical proof checks of THEORY.md (quick by default, --full for the "
              "paper-size runs); exits non-zero on any FAIL."),
    "figures": ("modelpred_theory.figures_runner", "cli_main",
                "Regenerate the figures under figures/output/ (--quick for a smoke run)."),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred",
        description="Exact ground truth, classical baselines and ModelPred for theta(S).",
        epilog="Run 'modelpred <command> --help' for the options of a command.",
    )
    sub = ap.add_subparsers(dest="command", metavar="command")
    for name, (_, _, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        ap.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        ap.error(f"unknown command {command!r}; choose from {', '.join(COMMANDS)}")
    module, func, _ = COMMANDS[command]
    rc = getattr(import_module(module), func)(rest)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
