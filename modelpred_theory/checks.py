"""Runner of the numerical proof checks (``modelpred check``).

Each statement of THEORY.md has a script ``proofs_checks/check_*.py`` with ``main(argv) -> dict``;
this module finds the folder next to the package (the repository root, i.e. the package's parent
directory), imports every script with importlib and runs it in quick mode (default) or ``--full``
mode. ``run_checks`` never writes to stdout (progress and per-claim lines go to stderr, and only
when asked) and writes figures only under the ``out`` folder it is given (default
``./modelpred_check_output`` in the current working directory). Every claim in the returned
dicts carries ``measured``, ``bound`` and ``ratio`` with one meaning, ``RATIO_MEANING``: the share
of the claim's allowance used (<= 1 on every PASS; JSON-safe: None where undefined). The checks
compare parameters under the sum convention F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P
theta||^2 (see each script).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["DEFAULT_OUT_NAME", "RATIO_MEANING", "find_checks", "format_table", "proofs_dir",
           "run_checks"]

DEFAULT_OUT_NAME = "modelpred_check_output"
# The one meaning of every claim's ratio (proofs_checks._common.ratio computes it).
RATIO_MEANING = ("ratio = share of the claim's allowance used, <= 1 on every PASS: "
                 "measured / bound for <=, bound / measured for >=, "
                 "|measured - bound| / tolerance for ~ and ==")


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


def _json_safe(obj):
    """Replace non-finite floats by None, recursively (valid JSON has no inf / nan)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def run_checks(names=None, *, full: bool = False, seed: int = 0, out: str | None = None,
               plot: bool = True, quiet: bool = True, progress: bool = False) -> list[dict]:
    """Run the selected checks; returns one result dict per check (see proofs_checks._common).

    Parameters
    ----------
    names : list of str, optional
        Checks to run (``"stability"`` or ``"check_stability"``); default all.
    full : bool, default=False
        Paper-size runs instead of the quick ones.
    seed : int, default=0
        Seed passed to every check.
    out : str, optional
        Output folder of the figures (default ``./modelpred_check_output``, created in the
        current working directory).
    plot : bool, default=True
        Save each check's figure.
    quiet : bool, default=True
        When False, every claim is printed to stderr as it is checked.
    progress : bool, default=False
        Show a tqdm bar on stderr.

    Returns
    -------
    list of dict
        Per check: ``check``, ``statement``, ``passed``, ``n_claims``, ``n_passed``,
        ``seconds``, ``figure`` and ``claims``, each claim a dict with ``name``, ``measured``,
        ``bound``, ``ratio`` (``RATIO_MEANING``), ``relation``, ``kind``, ``passed``, ``note``.
        A check that raises is recorded as FAIL with its error message. Nothing is written to
        stdout: anything a check prints is sent to stderr (or dropped when ``quiet``).
    """
    available = find_checks()
    if names:
        unknown = [n for n in names if n not in available and f"check_{n}" not in available]
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; available: {sorted(available)}")
        names = [n if n in available else f"check_{n}" for n in names]
    else:
        names = list(available)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    out = str(Path(out) if out else Path.cwd() / DEFAULT_OUT_NAME)
    argv_common = ["--full" if full else "--quick", "--seed", str(seed), "--out", out]
    if not plot:
        argv_common.append("--no-plot")
    if quiet:
        argv_common.append("--quiet")
    results = []
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="proof checks", unit="check", file=sys.stderr,
                  disable=not sys.stderr.isatty())
    with open(os.devnull, "w") as devnull:
        sink = devnull if quiet else sys.stderr
        for name in it:
            t0 = time.perf_counter()
            try:
                with contextlib.redirect_stdout(sink):
                    res = _load(name, available[name]).main(argv_common)
            except Exception as exc:  # noqa: BLE001 - a crashing check is a FAIL, reported
                res = {"check": name, "passed": False, "n_claims": 0, "n_passed": 0,
                       "claims": [], "error": f"{type(exc).__name__}: {exc}",
                       "seconds": round(time.perf_counter() - t0, 3)}
            results.append(_json_safe(res))
    return results


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def format_table(results: list[dict], *, claims: bool = True) -> str:
    """Human-readable summary: one line per check, and per claim measured / bound / ratio."""
    w = max(len(r["check"]) for r in results)
    lines = [f"{'check':<{w}}  {'claims':>7}  {'time':>7}  result", "-" * (w + 28)]
    if claims or not all(r["passed"] for r in results):
        lines.insert(0, RATIO_MEANING)
    for r in results:
        tag = "PASS" if r["passed"] else "FAIL"
        extra = f"  ({r['error']})" if r.get("error") else ""
        lines.append(f"{r['check']:<{w}}  {r['n_passed']:>3}/{r['n_claims']:<3}  "
                     f"{r['seconds']:>6.1f}s  {tag}{extra}")
        for c in r.get("claims", []):
            if claims or not c["passed"]:
                lines.append(f"    {'PASS' if c['passed'] else 'FAIL'} [{c.get('kind', '')}] "
                             f"measured {_num(c.get('measured'))} {c.get('relation', '')} "
                             f"bound {_num(c.get('bound'))} (ratio {_num(c.get('ratio'))}): "
                             f"{c['name']}")
    n_ok = sum(r["passed"] for r in results)
    lines.append(f"{n_ok}/{len(results)} checks passed")
    return "\n".join(lines)

