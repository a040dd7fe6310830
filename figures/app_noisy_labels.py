"""Noisy-label detection by data values: flip 10% of the labels, rank points by value.

Pool: breast_cancer, 150 points; L2 logistic regression, lam = 1, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised), trained on
the NOISY labels; utility U(S) = -mean test cross-entropy on the clean test split. Methods:
Shapley (200 permutations) from exact retraining, ModelPred (trained here on the noisy pool),
first-order influence and UtilityPred; leave-one-out from exact retraining; first-order
influence values (LOO with the influence oracle). Reported: ROC AUC of -value for the flipped
points, F1 at the number of flips, average precision, time. The cheap methods are repeated on
two more label-noise seeds to show the spread.

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


def _methods(L, ds, args, P, seed, with_learned):
    from modelpred_theory import applications as A

    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    out, curves = {}, {}

    def record(key, res):
        out[key] = {**res.scores, "total_seconds": res.valuation.total_seconds,
                    "setup_seconds": res.valuation.setup_seconds}
        order = np.argsort(res.values, kind="stable")
        curves[key] = np.cumsum(res.flipped[order]) / res.flipped.sum()

    kw = {"n_permutations": P, "seed": seed, "noise_rate": NOISE}
    record("shapley_exact", A.noisy_label_detection(*data, "exact", **kw))
    record("shapley_influence", A.noisy_label_detection(*data, "influence", **kw))
    record("loo_exact", A.noisy_label_detection(*data, "exact", method="loo", **kw))
    record("influence_values", A.noisy_label_detection(*data, "influence", method="loo", **kw))
    if with_learned:
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
    main_run, curves = _methods(L, ds, args, P, args.seed, with_learned=True)
    results = {"dataset": name, "n_pool": ds.n_train, "noise_rate": NOISE,
               "n_permutations": P, "lam": 1.0, "methods": main_run}
    if not args.quick:
        extra = {}
        for s in (args.seed + 1, args.seed + 2):
            extra[str(s)], _ = _methods(L, ds, args, P, s, with_learned=False)
        results["other_noise_seeds"] = extra
    results["wall_seconds"] = time.perf_counter() - t0

    fig, axes = C.figure(2)
    n = ds.n_train
    for key, cur in curves.items():
        axes[0].plot(np.arange(1, n + 1) / n, cur,
                     label=f"{key} (AUC {main_run[key]['auc']:.2f})")
    axes[0].axvline(NOISE, color="k", lw=0.6, ls=":")
    axes[0].set_xlabel("fraction of pool inspected (lowest value first)")
    axes[0].set_ylabel("fraction of flipped labels found")
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"{name}, n={n}, {int(NOISE * 100)}% flipped")
    keys = list(curves)
    axes[1].bar(range(len(keys)), [main_run[k]["auc"] for k in keys],
                color=[f"C{i}" for i in range(len(keys))])
    axes[1].set_xticks(range(len(keys)))
    axes[1].set_xticklabels(keys, rotation=35, fontsize=7, ha="right")
    axes[1].set_ylim(0.4, 1.0)
    axes[1].set_ylabel("detection ROC AUC")
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    print({k: (round(v["auc"], 3), round(v["f1"], 3)) for k, v in res["methods"].items()
           if isinstance(v, dict)})
