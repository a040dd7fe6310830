"""The paper's batch deletion / addition experiments on its learners, regenerated.

Sum convention (docs/design.md): theta(S) minimises sum_{i in S} loss_i(theta) +
lam/2 ||P theta||^2, C = 1/lam. For each (data set, learner) - iris2 (the paper's Iris,
classes 0/1) and
breast_cancer, with L2 logistic regression (intercept unpenalised) and the squared-hinge SVM
(1/2 ||(w, b)||^2, a penalised intercept, as in the paper) - this runs ``modelpred demo``'s
pipeline (``setfn.demo.run_demo``): exact permutation-prefix pairs, ModelPred over one Newton
step and over first-order influence (the hybrids), ModelPred with no base (the paper's method,
our training defaults), the PARA ablation, ModelPred with the paper's training settings,
first-order influence, one Newton step and a linear datamodel, evaluated on held-out deletion
(retain 50-100%) and addition subsets from unseen permutations against exact retraining.

Writes figures/output/paper_experiments.{png,json} (median relative parameter error against the
retained / added fraction, one panel per run) and each run's own figure under
figures/output/paper_experiments/<dataset>_<learner>/.

    python figures/paper_experiments.py            # full (about 10 minutes on 2 cores)
    python figures/paper_experiments.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

RUNS = (("iris2", "logistic"), ("iris2", "svm"), ("breast_cancer", "logistic"),
        ("breast_cancer", "svm"))
QUICK_RUNS = (("iris2", "logistic"), ("iris2", "svm"))
METHODS = ("ModelPred (Newton base)", "ModelPred (influence base)", "ModelPred (no base)", "PARA",
           "ModelPred (paper)", "influence (1st order)", "Newton step", "linear datamodel")


def _figure(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = summary["runs"]
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 7), squeeze=False)
    for col, run in enumerate(runs):
        for row, exp in enumerate(("deletion", "addition")):
            ax = axes[row][col]
            for m in METHODS:
                by = run["experiments"][exp][m]["rel_err_by_fraction"]
                x = np.array([float(f) for f in by])
                v = np.maximum(np.array(list(by.values()), dtype=float), 1e-16)
                ax.plot(x, v, marker="o", ms=3, label=m)
            ax.set_yscale("log")
            ax.set_ylim(bottom=1e-5)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("retained fraction" if exp == "deletion" else "added fraction")
            ax.set_title(f"{run['dataset']}, {run['learner']}: {exp}", fontsize=9)
            if col == 0:
                ax.set_ylabel("median ||theta_hat - theta(S)|| / ||theta(S)||")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Batch deletion / addition against exact retraining (held-out permutations)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=80 if summary["quick"] else 130)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="figures/output", help="output folder")
    ap.add_argument("--cache-dir", default=".cache/modelpred", help="label cache (resumable)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")

    from modelpred_theory.setfn.demo import run_demo

    out = Path(args.out)
    runs = []
    t0 = time.perf_counter()
    for dataset, learner in (QUICK_RUNS if args.quick else RUNS):
        res = run_demo(dataset, 1.0, learner=learner, quick=args.quick, seed=args.seed,
                       out_dir=out / "paper_experiments" / f"{dataset}_{learner}",
                       cache_dir=args.cache_dir, progress=False, verbose=False)
        exps = {e: {m: {"median_rel_err": r["methods"][m]["median_rel_err"],
                        "rel_err_by_fraction": r["methods"][m]["rel_err_by_fraction"],
                        "test_loss_spearman": r["methods"][m]["test_loss_spearman"],
                        "certificate_coverage": r["methods"][m]["certificate_coverage"],
                        "certificate_finite": r["methods"][m]["certificate_finite"],
                        "certificate_median_ratio": r["methods"][m]["certificate_median_ratio"]}
                    for m in METHODS}
                for e, r in res["experiments"].items()}
        runs.append({"dataset": dataset, "learner": learner, "n": res["config"]["n"],
                     "p": res["config"]["p"], "experiments": exps})
        line = "  ".join(f"{m} {exps['deletion'][m]['median_rel_err']:.2e}" for m in METHODS)
        print(f"{dataset:>14} {learner:>8}  deletion median rel.err: {line}", flush=True)
    summary = {"quick": args.quick, "seed": args.seed, "lam": 1.0, "runs": runs,
               "seconds": time.perf_counter() - t0}
    out.mkdir(parents=True, exist_ok=True)
    (out / "paper_experiments.json").write_text(json.dumps(summary, indent=1))
    _figure(summary, out / "paper_experiments.png")
    return summary


if __name__ == "__main__":
    main()
