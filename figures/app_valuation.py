"""Data Shapley from predicted models against Shapley from exact retraining.

Pools: breast_cancer (150 points, 30 features) and iris2 (all 75 training points), L2 logistic
regression with lam = 1 under the sum convention F_S(theta) = sum_{i in S} loss_i(theta) +
lam/2 ||P theta||^2 (intercept unpenalised). Utility U(S) = -mean test cross-entropy of theta(S);
prefixes missing a class get the utility of the best constant predictor (the same for every
oracle). 200 permutations, identical for every oracle.

Oracles: exact retraining (the reference), ModelPred (trained here on 200 other permutations;
its training time is counted), first-order influence, UtilityPred (a DeepSets regressing U(S),
trained on exact utilities of 50 other permutations; labelling and training counted), and
TMC-Shapley (exact retraining with truncation 0.05), and exact retraining with antithetic and
size-stratified sampling at the same number of utility evaluations. Two agreements are reported
for every estimate and must not be confused: FIDELITY, the agreement with exact retraining on
the SAME permutations (how well the oracle reproduces the exact utility; Monte-Carlo noise is
shared and cancels), and ACCURACY, the agreement with an independent exact reference (another
seed, 4x the evaluations, stratified sampling) that includes the Monte-Carlo noise of both.
Every value carries its standard error (median reported). Also reported: exact LOO against
exact Shapley.

    python figures/app_valuation.py            # full run (ModelPred training dominates)
    python figures/app_valuation.py --quick    # smoke run (seconds)

Writes app_valuation.png and app_valuation.json under --out (default figures/output).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402
import numpy as np  # noqa: E402

NAME = "app_valuation"


def _one(ds_name, n_train, args, P):
    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    ds = load(ds_name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    out = {"dataset": ds_name, "n_pool": ds.n_train, "n_test": ds.n_test,
           "n_permutations": P, "lam": 1.0, "oracles": {}}
    ref = A.data_shapley(*data, "exact", P, args.seed, progress=args.progress)
    indep = A.data_shapley(*data, "exact", 4 * P, args.seed + 1000, sampler="stratified")
    out["independent_reference"] = {"sampler": "stratified", "seed": args.seed + 1000,
                                    "n_utility_calls": indep.n_utility_calls,
                                    "median_stderr": float(np.median(indep.stderr)),
                                    "value_std": float(np.std(indep.values))}
    values = {"exact": ref.values}

    def record(key, res, extra_setup=0.0):
        agree = A.compare_values(res.values, ref.values)
        setup = res.setup_seconds + extra_setup
        out["oracles"][key] = {
            **agree,
            "fidelity_same_permutations": agree,
            "accuracy_vs_independent_reference": A.compare_values(res.values, indep.values),
            "median_stderr": float(np.median(res.stderr)),
            "sampler": res.sampler,
            "total_seconds": res.total_seconds + extra_setup,
            "setup_seconds": setup,
            "utility_seconds": res.utility_seconds,
            "n_utility_calls": res.n_utility_calls,
            "seconds_per_call": res.seconds_per_call,
        }
        values[key] = res.values

    record("exact", ref)
    other = A.data_shapley(*data, "exact", P, args.seed + 1000)
    out["exact_other_seed"] = A.compare_values(other.values, ref.values)
    record("exact_tmc_0.05", A.data_shapley(*data, "exact", P, args.seed, truncation=0.05))
    for sampler in ("antithetic", "stratified"):
        record(f"exact_{sampler}", A.data_shapley(*data, "exact", P, args.seed, sampler=sampler))
    record("influence", A.data_shapley(*data, "influence", P, args.seed))
    ukw = ({"n_train_permutations": 3, "epochs": 2} if args.quick
           else {"n_train_permutations": 50, "epochs": 200})
    record("utility_pred", A.data_shapley(*data, "utility", P, args.seed, oracle_kwargs=ukw))
    model, secs, status = C.modelpred(L, ds.X_train, ds.y_train, args, ds_name)
    out["modelpred_status"] = status
    if model is not None:
        record("modelpred", A.data_shapley(*data, model, P, args.seed),
               extra_setup=secs)
    loo = A.loo_values(*data, "exact").values
    out["loo_exact_vs_shapley"] = A.compare_values(loo, ref.values)
    out["values"] = {k: v.tolist() for k, v in values.items()}
    return out


def main(argv=None) -> dict:
    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    if args.quick:
        runs = [("iris2", 16)]
        P = 4
    else:
        runs = [("breast_cancer", 150), ("iris2", None)]
        P = 200
    results = {"runs": [_one(name, n, args, P) for name, n in runs]}
    results["wall_seconds"] = time.perf_counter() - t0

    fig, axes = C.figure(len(results["runs"]) + 1)
    colors = {"modelpred": "C0", "influence": "C1", "utility_pred": "C2", "exact_tmc_0.05": "C3"}
    for ax, run in zip(axes, results["runs"], strict=False):
        ex = run["values"]["exact"]
        for key, col in colors.items():
            if key in run["values"]:
                rho = run["oracles"][key]["spearman"]
                acc = run["oracles"][key]["accuracy_vs_independent_reference"]["spearman"]
                ax.scatter(ex, run["values"][key], s=8, color=col, alpha=0.7,
                           label=f"{key} (fidelity {rho:.2f}, accuracy {acc:.2f})")
        lo, hi = min(ex), max(ex)
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel("exact-retraining Shapley value")
        ax.set_ylabel("estimated value (fidelity: Spearman on the same permutations)")
        ax.set_title(f"{run['dataset']} (n={run['n_pool']}, {run['n_permutations']} perms)")
        ax.legend(fontsize=7)
    ax = axes[-1]
    keys = ["exact", "exact_tmc_0.05", "exact_antithetic", "exact_stratified", "influence",
            "utility_pred", "modelpred"]
    width = 0.8 / len(results["runs"])
    for j, run in enumerate(results["runs"]):
        ks = [k for k in keys if k in run["oracles"]]
        xs = [keys.index(k) + j * width for k in ks]
        ax.bar(xs, [run["oracles"][k]["total_seconds"] for k in ks], width,
               label=run["dataset"])
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))])
    ax.set_xticklabels(keys, rotation=30, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("total seconds (incl. training)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    for run in res["runs"]:
        print(run["dataset"], "(fidelity, accuracy, seconds)",
              {k: (round(v["spearman"], 3),
                   round(v["accuracy_vs_independent_reference"]["spearman"], 3),
                   round(v["total_seconds"], 2)) for k, v in run["oracles"].items()})
