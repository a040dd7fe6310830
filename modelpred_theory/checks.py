"""Runner of the numerical proof checks (``modelpred check``).

Each statement of THEORY.md has a script ``proofs_checks/check_*.py`` with ``main(argv) -> dict``;
this module finds the folder next to the package (the repository root, i.e. the package's parent
directory), imports every script with importlib, runs it in quick mode (default) or ``--full``
mode, prints a summary table and returns a non-zero exit status if any claim FAILs. The checks
compare parameters under the sum convention F_S(theta) = sum_{i in S} w_i loss_i(theta) +
lam/2 ||P theta||^2 (see each script).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

__all__ = ["find_checks", "proofs_dir", "run_checks"]


def proofs_dir() -> Path:
    """The proofs_checks/ folder beside the package (raises FileNotFoundError if absent)."""
    path = Path(__file__).resolve().parent.parent / "proofs_checks"
    if not path.is_dir():
        raise FileNotFoundError(
            f"proofs_checks/ not found next to the package ({path}); the checks ship with the "
            "source repository, not with an installed wheel")
    return path


def find_checks() -> dict[str, Path]:
    """Check name -> script path, sorted by name."""
    return {p.stem: p for p in sorted(proofs_dir().glob("check_*.py"))}


def _load(name: str, path: Path):
    root = str(path.parent.parent)
    if root not in sys.path:  # scripts import their siblings as proofs_checks._common
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(f"proofs_checks.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_checks(names=None, *, full: bool = False, seed: int = 0, out: str | None = None,
               plot: bool = True, quiet: bool = True, progress: bool = True) -> list[dict]:
    """Run the selected checks; returns one result dict per check (see proofs_checks._common).

    A check that raises is recorded as FAIL with the error message.
    """
    available = find_checks()
    if names:
        unknown = [n for n in names if n not in available and f"check_{n}" not in available]
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; available: {sorted(available)}")
        names = [n if n in available else f"check_{n}" for n in names]
    else:
        names = list(available)
    argv_common = ["--full" if full else "--quick", "--seed", str(seed)]
    if out:
        argv_common += ["--out", str(out)]
    if not plot:
        argv_common.append("--no-plot")
    if quiet:
        argv_common.append("--quiet")
    results = []
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="proof checks", unit="check", file=sys.stderr)
    for name in it:
        t0 = time.perf_counter()
        try:
            res = _load(name, available[name]).main(argv_common)
        except Exception as exc:  # noqa: BLE001 - a crashing check is a FAIL, reported
            res = {"check": name, "passed": False, "n_claims": 0, "n_passed": 0, "claims": [],
                   "error": f"{type(exc).__name__}: {exc}",
                   "seconds": round(time.perf_counter() - t0, 3)}
        results.append(res)
    return results


def _table(results: list[dict]) -> str:
    w = max(len(r["check"]) for r in results)
    lines = [f"{'check':<{w}}  {'claims':>7}  {'time':>7}  result", "-" * (w + 28)]
    for r in results:
        tag = "PASS" if r["passed"] else "FAIL"
        extra = f"  ({r['error']})" if r.get("error") else ""
        lines.append(f"{r['check']:<{w}}  {r['n_passed']:>3}/{r['n_claims']:<3}  "
                     f"{r['seconds']:>6.1f}s  {tag}{extra}")
        for c in r.get("claims", []):
            if not c["passed"]:
                lines.append(f"    FAIL: {c['name']}: measured {c['measured']}, "
                             f"predicted {c['predicted']}")
    n_ok = sum(r["passed"] for r in results)
    lines.append(f"{n_ok}/{len(results)} checks passed")
    return "\n".join(lines)
