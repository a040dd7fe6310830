"""`modelpred figures`: regenerate every figure script under figures/ (each has main(argv))."""

from __future__ import annotations

import argparse
import time
import traceback

from ._scripts import discover, load_script


def cli_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="modelpred figures", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    ap.add_argument("--only", default="", help="comma-separated substrings of script names")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)
    scripts = discover("figures")
    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        scripts = [s for s in scripts if any(k in s.stem for k in keys)]
    if args.list:
        for s in scripts:
            print(s.name)
        return 0
    failed = []
    for path in scripts:
        t0 = time.perf_counter()
        print(f"== {path.name}{' (quick)' if args.quick else ''}", flush=True)
        try:
            load_script(path).main(["--quick"] if args.quick else [])
            print(f"   done in {time.perf_counter() - t0:.1f}s", flush=True)
        except Exception:  # report and continue: one broken figure must not hide the rest
            traceback.print_exc()
            failed.append(path.name)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print(f"{len(scripts)} figure scripts done; outputs under figures/output/")
    return 0
