"""``modelpred figures``: regenerate every figure script under figures/ into --out."""

from __future__ import annotations

import argparse
import dataclasses

from ._common import add_output_args, check_out_dir


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred figures",
        description="Regenerate the figures (one script per figure under figures/). Outputs go "
                    "to --out, relative to the current folder.")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    ap.add_argument("--only", default="", metavar="NAMES",
                    help="comma-separated substrings of script names")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    ap.add_argument("--out", default="figures/output",
                    help="output folder (default figures/output under the current folder)")
    add_output_args(ap)
    return ap


def run(args, ctx) -> int:
    from ..figures_runner import find_figures, run_figure

    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    scripts = find_figures(keys)
    if args.list:
        if ctx.json:
            ctx.emit_json({"figures": [s.name for s in scripts]})
        else:
            ctx.result("\n".join(s.name for s in scripts))
        return 0
    if not scripts:
        from ._common import CommandError

        raise CommandError(f"--only {args.only!r} matches no figure script "
                           "(see modelpred figures --list)")
    out = check_out_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for path in scripts:
        ctx.status(f"== {path.name}{' (quick)' if args.quick else ''}")
        r = run_figure(path, quick=args.quick, out=out, progress=ctx.progress)
        if r.ok:
            ctx.status(f"   done in {r.seconds:.1f}s")
        else:
            ctx.status(f"   FAILED after {r.seconds:.1f}s:\n{r.error}")
        runs.append(r)
    failed = [r.name for r in runs if not r.ok]
    if ctx.json:
        ctx.emit_json({"out": str(out), "passed": not failed,
                       "figures": [dataclasses.asdict(r) for r in runs]})
    elif failed:
        ctx.result(f"FAILED: {', '.join(failed)} ({len(runs) - len(failed)}/{len(runs)} ok); "
                   f"outputs under {out}")
    else:
        ctx.result(f"{len(runs)} figure scripts done; outputs under {out}")
    return 1 if failed else 0
