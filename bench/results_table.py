"""README results rows generated from committed JSON: one source for every number.

Each generated row of README's results table (between ``<!-- results-start -->`` and
``<!-- results-end -->``) is rendered here from a JSON file under ``bench/reference/`` that a
benchmark or command wrote; no number in such a row is typed by hand. A generated row carries
the marker ``<!-- row:ID -->`` at the end of its command cell, so the row is found by its id
wherever it sits in the table (the docs' copy of the table drops the markers).

Every other row of the table was recorded by hand in an earlier run and has no committed
source yet: its first cell ends with ``HAND_LABEL``, so the gap stays visible
(``tests/test_readme_numbers.py`` fails on an unlabelled row).

Updating a row: run the row's command (benchmarks write under ``bench/results/``, which git
ignores), copy the finished JSON to the row's source path under ``bench/reference/``, then

    python bench/results_table.py --write     # rewrite the generated rows of README.md
    python bench/results_table.py --check     # exit 1 listing every row that differs

``--write`` inserts a row whose marker is not in the table yet just before the end marker.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REFERENCE = ROOT / "bench" / "reference"
START = "<!-- results-start -->"
END = "<!-- results-end -->"
HAND_LABEL = "(by hand; no committed source yet)"
MARKER = re.compile(r"<!-- row:([A-Za-z0-9_.-]+) -->")


# ---------------------------------------------------------------------------------------------
# number formatting (every number of a generated row goes through one of these)
# ---------------------------------------------------------------------------------------------
def sig(x: float, digits: int = 2) -> str:
    """``x`` to ``digits`` significant digits, plain below 1e4 and above 1e-3, else 1.2e-5."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    x = float(f"{x:.{digits - 1}e}")  # rounded first, so 0.9999 reads 1.0, not 1.00
    if 1e-3 <= abs(x) < 1e4:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        return f"{x:.{decimals}f}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def dec(x: float, places: int = 3) -> str:
    """Fixed decimals (LDS, correlations)."""
    return f"{float(x):.{places}f}"


def count(n: int) -> str:
    """An integer with thousands separators: 8,985."""
    return f"{int(n):,}"


def span(values, fmt=sig) -> str:
    """``a-b`` for the range of values (``a to b`` when one is in e-notation; one value when
    they agree once formatted)."""
    lo, hi = fmt(min(values)), fmt(max(values))
    if lo == hi:
        return lo
    return f"{lo} to {hi}" if "e" in lo + hi else f"{lo}-{hi}"


def each(values, fmt=sig) -> str:
    """Every value, ``a / b / c``."""
    return " / ".join(fmt(v) for v in values)


def plural(n: int, word: str) -> str:
    """'1 thread', '2 threads'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def median(values) -> float:
    s = sorted(float(v) for v in values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def quick_tag(settings: dict) -> str:
    """A loud prefix for a smoke-test file, so a quick run never reads as the full protocol."""
    return "QUICK SMOKE RUN, not the benchmark's size: " if settings.get("quick") else ""


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One generated README row.

    ``what``, ``result`` and ``command`` each map the parsed source JSON to the cell's text
    (``what`` and ``command`` may also be plain strings). ``source`` is a path relative to
    ``bench/reference/``.
    """

    id: str
    source: str
    what: str | Callable[[dict], str]
    result: Callable[[dict], str]
    command: str | Callable[[dict], str]

    def render(self, doc: dict) -> str:
        def cell(spec):
            text = spec(doc) if callable(spec) else spec
            if "|" in text.replace("\\|", "") or "\n" in text:
                raise ValueError(f"row {self.id}: a cell contains '|' or a newline: {text!r}")
            return text

        return (f"| {cell(self.what)} | {cell(self.result)} | "
                f"{cell(self.command)} <!-- row:{self.id} --> |")


# --- proof checks -----------------------------------------------------------------------------
def _statement_number(check: dict) -> int:
    m = re.search(r"\d+", check.get("statement", ""))
    return int(m.group()) if m else 10**6


def _checks_what(doc: dict) -> str:
    checks = sorted(doc["checks"], key=_statement_number)
    names = ", ".join(c["check"].removeprefix("check_").replace("_", " ") for c in checks)
    return (f"Proof checks ({len(checks)} statements of THEORY.md, one script each under "
            f"`proofs_checks/`: {names})")


def _checks_result(doc: dict) -> str:
    checks = doc["checks"]
    claims = [(c["statement"], cl) for c in checks for cl in c["claims"]]
    n_pass = sum(c["passed"] for c in checks)
    verdict = "PASS" if doc["passed"] else "FAIL"
    seconds = sum(c["seconds"] for c in checks)
    parts = [f"{n_pass}/{len(checks)} {verdict}, "
             f"{sum(cl['passed'] for _, cl in claims)}/{len(claims)} claims pass "
             f"({doc['mode']} mode, seed {doc['seed']}; {sig(seconds)} s in the checks), each "
             "printing measured, bound and the share of its allowance used (the ratio, <= 1 on "
             "every PASS)"]
    kinds = {}
    for st, cl in claims:
        kinds.setdefault(cl["kind"], []).append((cl["ratio"], st))
    order = ["tight", "loose", "identity", "rate", "empirical", "regression"]
    by_kind = []
    for kind in sorted(kinds, key=lambda k: order.index(k) if k in order else len(order)):
        vals = kinds[kind]
        text = f"{kind} {len(vals)} at ratio {span([r for r, _ in vals])}"
        if kind == "tight":
            low = sorted({st for r, st in vals if r < 0.1}, key=lambda s: int(s.split()[-1]))
            if low:
                text += f" (below 0.1 only in {', '.join(low)})"
        by_kind.append(text)
    parts.append("by kind: " + "; ".join(by_kind))
    cover = [cl for _, cl in claims if "certificate >= true error" in cl["name"]]
    if cover:
        bad = sum(not cl["passed"] for cl in cover)
        parts.append(f"certificate >= true error on every prediction in {len(cover) - bad} of "
                     f"{len(cover)} learner settings")
    ratios = [cl["measured"] for _, cl in claims if "median bound / true error" in cl["name"]]
    if ratios:
        parts.append(f"median certificate / true error {span(ratios)} (worst method per "
                     f"setting: influence, Newton and ModelPred predictions)")
    return "; ".join(parts)


# --- attribution: exact ground truth per fit --------------------------------------------------
def _load(doc: dict) -> str:
    """The machine's load as the run recorded it (timings on a loaded machine are inflated)."""
    m = doc.get("machine", {})
    if "load_average_at_start" not in m:
        return "; machine load not recorded (shared 2-core machine: same-run ratios only)"
    a, b = m["load_average_at_start"][0], m.get("load_average_at_end", [float("nan")])[0]
    return f"; 1-min load average {a:.1f} at start, {b:.1f} at end, {m['cpus']} cores"


def _per_fit_what(doc: dict) -> str:
    s, pf = doc["settings"], doc["per_fit"]
    return (f"{quick_tag(s)}Exact ground truth per fit (digits-ReLU, n = {count(pf['n'])}, "
            f"p = {count(pf['p'])}, 50% subsets) vs scikit-learn lbfgs (tol 1e-10), same run, "
            f"{plural(s['threads'], 'thread')}, {pf['k_ours']} subsets "
            f"ours / {pf['k_sklearn']} scikit-learn, {plural(pf['repeats'], 'repeat')}{_load(doc)}")


def _per_fit_result(doc: dict) -> str:
    pf = doc["per_fit"]
    return (f"ours {each(pf['ours_seconds_per_fit'])} s per fit warm-started from the full fit "
            f"({span(pf['newton_iterations_warm'], str)} Newton iterations; reference "
            f"preconditioner built once in {sig(pf['reference_build_seconds'])} s, "
            f"{sig(pf['ours_seconds_per_fit_amortised_over_1000'])} s per fit amortised over "
            f"1,000; Jacobi-preconditioned CG instead {sig(pf['ours_jacobi_seconds_per_fit'])} s, "
            f"ratio {sig(pf['ratio_reference_vs_jacobi'])}; cold "
            f"{sig(pf['ours_cold_seconds_per_fit'])} s) vs scikit-learn "
            f"{each(pf['sklearn_seconds_per_fit'])} s: {sig(pf['ratio_median'])}x (medians; "
            f"{sig(pf['ratio_median_amortised_over_1000'])}x amortised); answers agree to "
            f"{sig(pf['max_relative_distance_to_sklearn'])} relative, max residual / tolerance "
            f"{sig(pf['max_residual_over_tolerance'])}")


_FLAG_ORDER = ("n", "m", "features", "synthetic_d", "lam", "subsets", "subsets_small",
               "ceiling_subsets", "proj_dim", "problems", "methods", "per_fit_k",
               "per_fit_sklearn", "repeats", "growth", "growth_subsets", "growth_refit_max",
               "growth_slow_max", "dask_n", "dask_subsets", "n_jobs", "threads")
_FLAGS = {"per_fit": ("n", "features", "lam", "per_fit_k", "per_fit_sklearn", "repeats",
                      "threads"),
          "problems": ("n", "m", "features", "synthetic_d", "lam", "subsets", "subsets_small",
                       "ceiling_subsets", "proj_dim", "problems", "methods", "n_jobs",
                       "threads"),
          "growth": ("m", "features", "lam", "proj_dim", "methods", "growth", "growth_subsets",
                     "growth_refit_max", "growth_slow_max", "dask_n", "dask_subsets", "n_jobs",
                     "threads")}


def _attribution_command(section: str) -> Callable[[dict], str]:
    """The command that wrote the file, rebuilt from its recorded settings."""

    def command(doc: dict) -> str:
        s = doc["settings"]
        if s.get("quick"):
            return f"`python bench/attribution_benchmark.py --quick --sections {s['sections']}`"
        args = [f"--sections {s['sections']}"]
        for key in _FLAG_ORDER:
            if key in _FLAGS[section] and s.get(key) is not None:
                v = s[key]
                v = ",".join(str(x) for x in v) if isinstance(v, list) else v
                args.append(f"--{key.replace('_', '-')} {v}")
        return f"`python bench/attribution_benchmark.py {' '.join(args)}`"

    return command


# --- attribution: methods against exact ground truth ------------------------------------------
METHOD_NAMES = {"influence": "influence", "influence_cg": "influence-CG", "lissa": "LiSSA",
                "arnoldi": "Arnoldi", "kfac": "K-FAC", "ekfac": "EK-FAC", "datainf": "DataInf",
                "trak": "TRAK", "tracin": "TracIn", "grad_dot": "gradient dot",
                "grad_cos": "gradient cosine", "representer": "representer",
                "knn_shapley": "KNN-Shapley", "datamodels": "datamodels", "loo": "exact LOO",
                "modelpred_loo": "ModelPred LOO", "exact_loo_truth": None}


def _problems_what(name: str) -> Callable[[dict], str]:
    """The 'what' cell of a problem of the problems section ("digits" or "synthetic")."""

    def what(doc: dict) -> str:
        s, dg = doc["settings"], doc["problems"][name]
        p = 10 * (dg["d"] + 1)
        data = (f"digits (each image and its one-pixel shifts) lifted to {count(dg['d'])} fixed "
                f"ReLU features" if name == "digits" else
                f"synthetic multinomial logistic data (known generator, condition number 10), "
                f"d = {count(dg['d'])}")
        return (f"{quick_tag(s)}Attribution methods against EXACT ground truth: {data}, "
                f"multinomial, p = {count(p)}, n = {count(dg['n'])}, m = {count(dg['m'])}, "
                f"lam = {sig(dg['lam'])}, {count(dg['truth']['n_subsets'])} exact held-out "
                f"halves (small truth: the first {count(s['subsets_small'])}), ceiling trained "
                f"on {count(s['ceiling_subsets'])}, {plural(s['threads'], 'thread')}"
                f"{_load(doc)}")

    return what


def _lds_list(methods: dict, with_se: bool) -> str:
    rated = [(k, v) for k, v in methods.items() if "lds" in v and METHOD_NAMES.get(k, k)]
    rated.sort(key=lambda kv: -kv[1]["lds"])
    out = []
    for k, v in rated:
        name = METHOD_NAMES.get(k, k)
        se = f" +- {dec(v['lds_stderr'])}" if with_se else ""
        out.append(f"{name} {dec(v['lds'])}{se} ({sig(v['seconds'])} s)")
    return ", ".join(out)


def _truth_seconds(truth: dict) -> str:
    """Seconds of the ground truth's parts: the full fit, the subsets, the LOO refits."""
    s = truth["seconds"]
    parts = [f"full fit {sig(s['full_fit'])} s", f"{count(truth['n_subsets'])} subsets "
             f"{sig(s['subsets'])} s"]
    if "loo" in s:
        parts.append(f"exact LOO of every point {sig(s['loo'])} s")
    return ", ".join(parts)


def _problem_result(doc: dict, name: str) -> str:
    dg = doc["problems"][name]
    ceil, reo, truth = dg["ceiling"], dg["reordering"], dg["truth"]
    swaps = reo["swapped_pairs"]
    beyond = reo["swapped_pairs_separated_by_2se_in_big_truth"]
    fit_seconds = sum(v for k, v in truth["seconds"].items() if k != "fits")
    text = (f"LDS +- SE (seconds): {_lds_list(dg['methods'], True)}; additive ceiling "
            f"{dec(ceil['lds'])} +- {dec(ceil['lds_stderr'])}; the small truth moves each LDS "
            f"by <= {dec(dg['max_abs_lds_shift'])} and swaps {len(swaps)} pair"
            f"{'s' if len(swaps) != 1 else ''} of methods, {len(beyond)} beyond 2 SE (Kendall "
            f"tau {dec(reo['kendall_tau'])}); ground truth {sig(fit_seconds)} s "
            f"({_truth_seconds(truth)}), max residual / tolerance "
            f"{dec(truth['max_residual_over_tolerance'])}")
    loo = dg["methods"].get("exact_loo_truth")
    if loo is not None:
        text += (f"; the exact LOO effects themselves as attributions: LDS {dec(loo['lds'])} +- "
                 f"{dec(loo['lds_stderr'])}")
    failed = [f"{METHOD_NAMES.get(k) or k} ({v['error'].split(':')[0]})"
              for k, v in dg["methods"].items() if "error" in v]
    if failed:
        text += f"; failed: {', '.join(failed)}"
    return text


def _problems_result(name: str) -> Callable[[dict], str]:
    """The 'result' cell of a problem; the digits row also lists a synthetic problem run in the
    same file (a synthetic run of its own has its own row)."""

    def result(doc: dict) -> str:
        text = _problem_result(doc, name)
        syn = doc["problems"].get("synthetic") if name == "digits" else None
        if syn is not None:
            text += (f"; synthetic d = {syn['d']}: {_lds_list(syn['methods'], False)}, ceiling "
                     f"{dec(syn['ceiling']['lds'])}")
        return text

    return result


# --- attribution: cost growth and the Dask cluster -------------------------------------------
def _growth_what(doc: dict) -> str:
    s, rows = doc["settings"], doc["growth"]
    sources = ", ".join(f"n = {count(r['n'])} {r['data']}" for r in rows)
    return (f"{quick_tag(s)}Cost growth of exact ground truth and of each attribution method "
            f"with the pool ({sources}; p = {count(rows[0]['p'])}, m = {count(s['m'])}, "
            f"{count(s['growth_subsets'])} exact half subsets timed per n, "
            f"{plural(s['threads'], 'thread')}), and the same ground truth on a real "
            f"two-worker Dask cluster{_load(doc)}")


def _growth_result(doc: dict) -> str:
    parts = []
    for r in doc["growth"]:
        meth = sorted(((METHOD_NAMES.get(k) or k, v["seconds"]) for k, v in r["methods"].items()
                       if "seconds" in v), key=lambda kv: kv[1])
        listed = ", ".join(f"{name} {sig(sec)} s" for name, sec in meth)
        skipped = [METHOD_NAMES.get(k) or k for k in r.get("skipped_methods", [])]
        text = (f"n = {count(r['n'])}: ground truth {sig(r['truth_seconds_per_subset'])} s per "
                f"subset (full fit {sig(r['truth_full_fit_seconds'])} s, peak +"
                f"{sig(r['truth_peak_rss_increase_mb'])} MB); {listed}")
        if skipped:
            text += f" (not run at this n: {', '.join(skipped)})"
        parts.append(text)
    dk = doc.get("dask")
    if dk is not None:
        same = "yes" if dk["bit_identical"] else "NO"
        parts.append(f"Dask, 2 worker processes, n = {count(dk['n'])}, {count(dk['n_subsets'])} "
                     f"subsets: bit-identical to the local run: {same} "
                     f"({sig(dk['dask_seconds'])} s against {sig(dk['local_seconds'])} s local)")
    return "; ".join(parts)


ROWS: tuple[Row, ...] = (
    Row(id="proof-checks", source="proof_checks.json", what=_checks_what,
        result=_checks_result,
        command="`modelpred check --json --no-plot > bench/results/proof_checks.json` "
                "(`--full` for paper-size runs)"),
    Row(id="attribution-problems", source="attribution_problems.json",
        what=_problems_what("digits"), result=_problems_result("digits"),
        command=_attribution_command("problems")),
    Row(id="attribution-synthetic", source="attribution_synthetic.json",
        what=_problems_what("synthetic"), result=_problems_result("synthetic"),
        command=_attribution_command("problems")),
    Row(id="attribution-per-fit", source="attribution_per_fit.json", what=_per_fit_what,
        result=_per_fit_result, command=_attribution_command("per_fit")),
    Row(id="attribution-growth", source="attribution_growth.json", what=_growth_what,
        result=_growth_result, command=_attribution_command("growth")),
)


# ---------------------------------------------------------------------------------------------
# README plumbing
# ---------------------------------------------------------------------------------------------
def table_span(text: str) -> tuple[int, int]:
    """Character offsets of the text between the results markers."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise ValueError(f"README must hold exactly one {START!r} and one {END!r}")
    a, b = text.index(START) + len(START), text.index(END)
    if b < a:
        raise ValueError(f"{END!r} comes before {START!r}")
    return a, b


def table_rows(text: str) -> list[str]:
    """The table rows (lines starting with ``|``) between the markers, header and rule
    excluded."""
    a, b = table_span(text)
    lines = [ln for ln in text[a:b].splitlines() if ln.startswith("|")]
    return [ln for ln in lines[2:]]


def render_all(reference: Path = REFERENCE, rows=ROWS) -> tuple[dict, dict]:
    """``({id: rendered line}, {id: error})`` for every row (missing or unreadable source)."""
    rendered, errors = {}, {}
    for row in rows:
        path = Path(reference) / row.source
        if not path.is_file():
            errors[row.id] = f"source {path} is missing"
            continue
        try:
            rendered[row.id] = row.render(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            errors[row.id] = f"source {path} cannot be rendered: {type(exc).__name__}: {exc}"
    return rendered, errors


def check(readme_text: str, reference: Path = REFERENCE, rows=ROWS) -> list[str]:
    """One message per generated row that differs from its rendering, is missing from the
    table, appears twice or has no source; empty when README agrees with every source."""
    rendered, errors = render_all(reference, rows)
    problems = [f"{rid}: {msg}" for rid, msg in errors.items()]
    found: dict[str, list[str]] = {}
    for line in table_rows(readme_text):
        for rid in MARKER.findall(line):
            found.setdefault(rid, []).append(line)
    known = {r.id for r in rows}
    for rid in found:
        if rid not in known:
            problems.append(f"{rid}: marker in README but no such row in bench/results_table.py")
    for row in rows:
        lines = found.get(row.id, [])
        if not lines:
            problems.append(f"{row.id}: no row with <!-- row:{row.id} --> in README's table")
        elif len(lines) > 1:
            problems.append(f"{row.id}: {len(lines)} rows carry its marker")
        elif row.id in rendered and lines[0] != rendered[row.id]:
            problems.append(f"{row.id}: README differs from {row.source}\n  README:  {lines[0]}"
                            f"\n  source:  {rendered[row.id]}")
    return problems


def write(readme_text: str, reference: Path = REFERENCE, rows=ROWS) -> tuple[str, list[str]]:
    """README text with every renderable generated row replaced in place (or inserted before
    the end marker when absent), and the messages of rows that could not be rendered."""
    rendered, errors = render_all(reference, rows)
    a, b = table_span(readme_text)
    lines = readme_text[a:b].split("\n")
    for rid, new in rendered.items():
        hits = [i for i, ln in enumerate(lines) if ln.startswith("|") and
                rid in MARKER.findall(ln)]
        if len(hits) > 1:
            errors[rid] = f"{len(hits)} rows carry its marker; fix README by hand"
        elif hits:
            lines[hits[0]] = new
        else:
            last = max(i for i, ln in enumerate(lines) if ln.startswith("|"))
            lines.insert(last + 1, new)
    text = readme_text[:a] + "\n".join(lines) + readme_text[b:]
    return text, [f"{rid}: {msg}" for rid, msg in errors.items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated rows")
    mode.add_argument("--check", action="store_true", help="exit 1 if any row differs")
    ap.add_argument("--readme", default=str(README))
    ap.add_argument("--reference", default=str(REFERENCE))
    args = ap.parse_args(argv)
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    if args.check:
        problems = check(text, Path(args.reference))
        for msg in problems:
            print(msg, file=sys.stderr)
        if not problems:
            print(f"{len(ROWS)} generated rows agree with their sources")
        return 1 if problems else 0
    new, problems = write(text, Path(args.reference))
    if new != text:
        readme.write_text(new, encoding="utf-8")
    for msg in problems:
        print(msg, file=sys.stderr)
    print(f"{len(ROWS) - len(problems)} of {len(ROWS)} generated rows written to {readme.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
