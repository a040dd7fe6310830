"""Attribution methods against exact ground truth: LDS with its standard error, the additive
ceiling, what a 100-subset truth changes, and each method's cost.

Reads the JSON that ``bench/attribution_benchmark.py --sections problems`` wrote (by default
the committed ``bench/reference/attribution_problems.json``, README's source) and draws, per
problem:

- left: each method's LDS +- 2 SE against the large exact truth (filled) and against its first
  ``subsets_small`` subsets, the peers' count (hollow), with the additive ceiling (the best LDS
  any additive attribution reaches on that subset distribution) as a band;
- right: LDS against the method's seconds (log scale), the ceiling as a line.

No number is typed here: everything comes from the benchmark's JSON.

    python figures/attribution_lds.py                  # the committed benchmark run
    python figures/attribution_lds.py --source FILE    # any run of the benchmark
    python figures/attribution_lds.py --quick          # the same (drawing is cheap)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

NAME = "attribution_lds"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "bench" / "reference" / "attribution_problems.json"


def _rows(problem: dict) -> list[dict]:
    rows = []
    for name, m in problem["methods"].items():
        if "lds" not in m:
            continue  # a method that failed in the run (its error is in the JSON)
        rows.append({"method": name, "lds": m["lds"], "se": m["lds_stderr"],
                     "lds_small": m.get("lds_small"), "se_small": m.get("lds_small_stderr"),
                     "seconds": m.get("seconds")})
    rows.sort(key=lambda r: r["lds"])
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(DEFAULT_SOURCE),
                    help="the benchmark's JSON (default: bench/reference/"
                         "attribution_problems.json)")
    ap.add_argument("--quick", action="store_true", help="accepted for the figure runner; "
                    "the drawing is the same")
    ap.add_argument("--out", default="figures/output")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doc = json.loads(Path(args.source).read_text(encoding="utf-8"))
    problems = doc.get("problems") or {}
    if not problems:
        raise ValueError(f"{args.source} has no 'problems' section: run the benchmark with "
                         f"--sections problems")
    settings = doc.get("settings", {})
    fig, axes = plt.subplots(len(problems), 2, figsize=(12, 4.8 * len(problems)),
                             squeeze=False)
    results = {}
    for row_axes, (pname, prob) in zip(axes, problems.items(), strict=True):
        rows = _rows(prob)
        ceil = prob["ceiling"]
        y = np.arange(len(rows))
        ax = row_axes[0]
        lds = np.array([r["lds"] for r in rows])
        se = np.array([r["se"] for r in rows])
        ax.errorbar(lds, y, xerr=2 * se, fmt="o", color="C0", capsize=3,
                    label=f"{prob['truth']['n_subsets']} exact subsets (+- 2 SE)")
        small = [(i, r) for i, r in enumerate(rows) if r["lds_small"] is not None]
        if small:
            ax.errorbar([r["lds_small"] for _, r in small], [i + 0.25 for i, _ in small],
                        xerr=[2 * r["se_small"] for _, r in small], fmt="o", mfc="none",
                        color="C1", capsize=3,
                        label=f"first {settings.get('subsets_small', '?')} subsets")
        ax.axvspan(ceil["lds"] - 2 * ceil["lds_stderr"], ceil["lds"] + 2 * ceil["lds_stderr"],
                   color="0.85", label="additive ceiling (+- 2 SE)")
        ax.set_yticks(y, [r["method"] for r in rows], fontsize=10)
        ax.set_xlabel("LDS (Spearman over held-out subsets, mean over test points)",
                      fontsize=10)
        ax.set_title(f"{pname}: n = {prob['n']}, m = {prob['m']}, exact ground truth",
                     fontsize=11)
        ax.legend(fontsize=9, loc="lower right")
        ax = row_axes[1]
        timed = [r for r in rows if r["seconds"]]
        ax.scatter([r["seconds"] for r in timed], [r["lds"] for r in timed], color="C0")
        for r in timed:
            ax.annotate(r["method"], (r["seconds"], r["lds"]), fontsize=9,
                        xytext=(3, 3), textcoords="offset points")
        ax.axhline(ceil["lds"], color="0.5", ls="--", label="additive ceiling")
        ax.set_xscale("log")
        ax.set_xlabel("seconds (this run's machine)", fontsize=10)
        ax.set_ylabel("LDS", fontsize=10)
        ax.legend(fontsize=9, loc="lower right")
        results[pname] = {"methods": rows, "ceiling": ceil["lds"],
                          "ceiling_stderr": ceil["lds_stderr"]}
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    payload = {"quick": bool(args.quick), "source": Path(args.source).name,
               "source_quick": bool(settings.get("quick")), "results": results}
    (out / f"{NAME}.json").write_text(json.dumps(payload, indent=1))
    return payload


if __name__ == "__main__":
    main()
