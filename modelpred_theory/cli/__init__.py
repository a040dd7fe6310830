"""The ``modelpred`` command: demo, compare, check, figures, value, whatif, attribute.

One module per subcommand, each with ``build_parser()`` and ``run(args, ctx)``; this module
dispatches, turns user errors into ``modelpred <cmd>: error: ...`` with exit status 2, sends any
library printing to stderr (so ``--json`` prints only JSON on stdout) and ends quietly on a
broken pipe (``modelpred compare | head -1``). Learners used by the commands minimise the SUM
objective F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from importlib import import_module

from ._common import CommandError, make_context

__all__ = ["COMMANDS", "build_parser", "main"]

# name -> one-line help (the module modelpred_theory.cli.<name> implements it)
COMMANDS = {
    "demo": "Train ModelPred (L2 logistic, lam = 1 on breast_cancer by default) and compare it "
            "with exact retraining, influence, one Newton step and a linear datamodel.",
    "compare": "Score the classical baselines (influence, Newton step, datamodel) against exact "
               "refits when fractions of the training rows are removed.",
    "check": "Run the numerical proof checks of THEORY.md (quick by default; exit 1 on a FAIL).",
    "figures": "Regenerate the figures (into ./figures/output by default; --quick smoke run).",
    "value": "Per-point data values (LOO, influence, Shapley, ...) of a data set, as CSV or JSON.",
    "whatif": "Parameters and test metrics after removing or adding given rows: exact refit or "
              "an approximation with its certified error bound.",
    "attribute": "Data attribution methods (influence, TRAK, ...) rated against exact ground "
                 "truth: LDS with its standard error and the exact leave-one-out correlation.",
}

# Exit status after a broken pipe (128 + SIGPIPE, what a shell reports for a killed writer).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (each command parses its own arguments)."""
    ap = argparse.ArgumentParser(
        prog="modelpred",
        description="Exact ground truth, classical baselines and ModelPred for theta(S), the "
                    "parameters a convex learner reaches on a subset S of its training rows.",
        epilog="Run 'modelpred <command> --help' for the options of a command.",
    )
    sub = ap.add_subparsers(dest="command", metavar="command")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return ap


def _dispatch(argv: list[str]) -> int:
    ap = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(ap.format_help())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        ap.error(f"unknown command {command!r}; choose from {', '.join(COMMANDS)}")
    module = import_module(f"{__name__}.{command}")
    cap = module.build_parser()
    args = cap.parse_args(rest)
    if hasattr(module, "validate"):
        module.validate(cap, args)
    out = sys.stdout
    ctx = make_context(cap.prog, args, out, sys.stderr)
    # library code must not print, but scripts (figures, checks) do: keep stdout for results
    sink = open(os.devnull, "w") if ctx.quiet else contextlib.nullcontext(sys.stderr)
    with sink as target, contextlib.redirect_stdout(target):
        try:
            rc = module.run(args, ctx)
        except (CommandError, ValueError) as exc:  # user errors: a message, no traceback
            print(f"{cap.prog}: error: {exc}", file=sys.stderr)
            return 2
    out.flush()
    return int(rc or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``modelpred``; returns the exit status (2 for bad usage or input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BrokenPipeError:
        # the reader went away (``| head``): silence the final flush and end quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # no stdout descriptor left to redirect: nothing to flush
            return EXIT_BROKEN_PIPE
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
