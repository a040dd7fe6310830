"""Noisy-label detection by data values: flip 10% of the labels, rank points by value.

Pool: breast_cancer, 150 points; L2 logistic regression, lam = 1, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised), trained on
the NOISY labels; utility U(S) = -mean test cross-entropy on the clean test split. Every
estimator runs on three label-noise seeds (different flipped points, different Monte-Carlo
samples) and the spread is reported: Shapley (200 permutations; exact retraining with
permutation and size-stratified sampling, first-order influence, one Newton step, UtilityPred,
ModelPred trained here on each noisy pool), Beta(16, 1) Shapley and Banzhaf (MSR, 2,000 subsets)
from exact retraining, KNN-Shapley (k = 5, closed form), Data-OOB (400 exact bootstrap models),
leave-one-out from exact retraining and first-order influence values (LOO with the influence
oracle). Reported per method: ROC AUC of -value for the flipped points (mean, sd, min, max and
each seed), F1 at the number of flips, average precision, time.

    python figures/app_noisy_labels.py            # full run
    python figures/app_noisy_labels.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402

NAME = "app_noisy_labels"
NOISE = 0.1
SEEDS = 3


def _methods(L, ds, args, P, seed):
    from modelpred_theory import applications as A

    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    out, curves = {}, {}

    def record(key, res):
        out[key] = {**res.scores, "total_seconds": res.valuation.total_seconds,
                    "setup_seconds": res.valuation.setup_seconds,
                    "median_stderr": float(np.median(res.valuation.stderr))}
        order = np.argsort(res.values, kind="stable")
        curves[key] = np.cumsum(res.flipped[order]) / res.flipped.sum()

    kw = {"n_permutations": P, "seed": seed, "noise_rate": NOISE}
    record("shapley_exact", A.noisy_label_detection(*data, "exact", **kw))
    record("shapley_exact_stratified", A.noisy_label_detection(*data, "exact",
                                                               sampler="stratified", **kw))
    record("shapley_influence", A.noisy_label_detection(*data, "influence", **kw))
    record("shapley_newton", A.noisy_label_detection(*data, "newton", **kw))
    record("beta16_exact", A.noisy_label_detection(*data, "exact", method="beta_shapley",
                                                   alpha=16.0, beta=1.0, **kw))
    record("banzhaf_exact", A.noisy_label_detection(*data, "exact", method="banzhaf", **kw))
    record("knn_shapley", A.noisy_label_detection(*data, method="knn", k=5, **kw))
    record("data_oob_exact", A.noisy_label_detection(*data, "exact", method="oob", **kw))
    record("loo_exact", A.noisy_label_detection(*data, "exact", method="loo", **kw))
    record("influence_values", A.noisy_label_detection(*data, "influence", method="loo", **kw))
    ukw = ({"n_train_permutations": 3, "epochs": 2} if args.quick
           else {"n_train_permutations": 50, "epochs": 200})
    record("shapley_utility_pred", A.noisy_label_detection(*data, "utility",
                                                            oracle_kwargs=ukw, **kw))
    y_noisy, _ = A.noisy_labels(ds.y_train, NOISE, seed)
    model, secs, status = C.modelpred(L, ds.X_train, y_noisy, args, f"noisy{seed}")
    out["modelpred_status"] = status
    if model is not None:
        res = A.noisy_label_detection(*data, model, **kw)
        res.valuation.total_seconds += secs
        res.valuation.setup_seconds += secs
        record("shapley_modelpred", res)
    return out, curves


def main(argv=None) -> dict:
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    name, n_train, P = ("iris2", 20, 4) if args.quick else ("breast_cancer", 150, 200)
    ds = load(name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    per_seed, first_curves = {}, None
    for s in range(args.seed, args.seed + SEEDS):
        per_seed[str(s)], curves = _methods(L, ds, args, P, s)
        first_curves = first_curves or curves
    keys = [k for k, v in per_seed[str(args.seed)].items() if isinstance(v, dict)]
    summary = {}
    for k in keys:
        aucs = np.array([per_seed[s][k]["auc"] for s in per_seed if k in per_seed[s]])
        summary[k] = {"auc_mean": float(aucs.mean()), "auc_sd": float(aucs.std(ddof=1)),
                      "auc_min": float(aucs.min()), "auc_max": float(aucs.max()),
                      "auc_per_seed": aucs.tolist(), "n_seeds": int(aucs.size),
                      "f1_mean": float(np.mean([per_seed[s][k]["f1"] for s in per_seed])),
                      "seconds_mean": float(np.mean([per_seed[s][k]["total_seconds"]
                                                     for s in per_seed]))}
    results = {"dataset": name, "n_pool": ds.n_train, "noise_rate": NOISE,
               "n_permutations": P, "lam": 1.0, "noise_seeds": list(per_seed),
               "summary": summary, "per_seed": per_seed,
               "wall_seconds": time.perf_counter() - t0}

    fig, axes = C.figure(2, width=5.0)
    n = ds.n_train
    for key, cur in first_curves.items():
        axes[0].plot(np.arange(1, n + 1) / n, cur, lw=1,
                     label=f"{key} (AUC {summary[key]['auc_mean']:.2f})")
    axes[0].axvline(NOISE, color="k", lw=0.6, ls=":")
    axes[0].set_xlabel("fraction of pool inspected (lowest value first)")
    axes[0].set_ylabel(f"fraction of flipped labels found (noise seed {args.seed})")
    axes[0].legend(fontsize=5.5)
    axes[0].set_title(f"{name}, n={n}, {int(NOISE * 100)}% flipped")
    x = np.arange(len(keys))
    axes[1].bar(x, [summary[k]["auc_mean"] for k in keys],
                yerr=[summary[k]["auc_sd"] for k in keys], capsize=2,
                color=[f"C{i}" for i in range(len(keys))], alpha=0.7)
    for i, k in enumerate(keys):
        axes[1].scatter(np.full(summary[k]["n_seeds"], i), summary[k]["auc_per_seed"], s=8,
                        color="k", zorder=3)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels(keys, rotation=40, fontsize=6, ha="right")
    axes[1].set_ylim(0.3, 1.0)
    axes[1].set_ylabel(f"detection ROC AUC (mean +- sd, dots: {SEEDS} noise seeds)")
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    print({k: (round(v["auc_mean"], 3), round(v["auc_sd"], 3))
           for k, v in res["summary"].items()})
