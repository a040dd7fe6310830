"""Feldman-Zhang memorisation from predicted models against exact retraining.

Pool: breast_cancer, 150 points with 10% of the labels flipped (memorisation concentrates on
them); L2 logistic regression, lam = 1, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised).
mem(i) = E[s_i | i in S] - E[s_i | i not in S] over 2000 random subsets of 70% of the pool
(identical for every oracle), with s_i the 0/1 correctness on x_i (Feldman's definition) or the
probability of the (noisy) label (a smooth surrogate). Oracles: exact retraining (reference),
ModelPred (trained here on the noisy pool; its training time is counted) and first-order
influence. Every estimate carries its standard error (the difference of two conditional means
over the subsets; error bars in the figure). Reported: agreement with the exact estimate, its
distance in standard errors, and how well mem(i) flags the flips.

    python figures/app_memorization.py            # full run
    python figures/app_memorization.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402

NAME = "app_memorization"
NOISE = 0.1


def main(argv=None) -> dict:
    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    name, n_train, m = ("iris2", 20, 40) if args.quick else ("breast_cancer", 150, 2000)
    ds = load(name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    # The same noisy pool as app_noisy_labels.py (so the ModelPred cache is shared).
    y_noisy, flipped = A.noisy_labels(ds.y_train, NOISE, args.seed)
    oracles = {"exact": "exact", "influence": "influence"}
    model, secs, status = C.modelpred(L, ds.X_train, y_noisy, args, f"noisy{args.seed}")
    if model is not None:
        oracles["modelpred"] = model
    results = {"dataset": name, "n_pool": ds.n_train, "noise_rate": NOISE, "n_subsets": m,
               "fraction": 0.7, "lam": 1.0, "modelpred_status": status, "scores": {}}
    est, err = {}, {}
    for score in ("correct", "prob"):
        ref = None
        block = {}
        for key, orc in oracles.items():
            res = A.memorization(L, ds.X_train, y_noisy, orc, m, 0.7, args.seed, score=score,
                                 return_info=True)
            est[(score, key)] = res.scores
            err[(score, key)] = res.stderr
            if key == "exact":
                ref = res
            entry = {"seconds": res.oracle_seconds + (secs if key == "modelpred" else 0.0),
                     "median_stderr": float(np.median(res.stderr)),
                     "max_stderr": float(np.max(res.stderr)),
                     # |estimate - exact| in units of the two standard errors combined
                     "median_z_vs_exact": float(np.median(
                         np.abs(res.scores - ref.scores)
                         / np.maximum(np.hypot(res.stderr, ref.stderr), 1e-300))),
                     "mean_abs_error": float(np.mean(np.abs(res.scores - ref.scores))),
                     "flip_detection": A.detection_scores(-res.scores, flipped),
                     "mean_mem_flipped": float(res.scores[flipped].mean()),
                     "mean_mem_clean": float(res.scores[~flipped].mean())}
            if key != "exact":
                entry.update(A.compare_values(res.scores, ref.scores))
            block[key] = entry
        results["scores"][score] = block
    results["wall_seconds"] = time.perf_counter() - t0

    fig, axes = C.figure(2)
    for ax, score in zip(axes, ("correct", "prob"), strict=True):
        ex, ex_se = est[(score, "exact")], err[(score, "exact")]
        for i, key in enumerate(k for k in oracles if k != "exact"):
            e, se = est[(score, key)], err[(score, key)]
            for sel, mk, tag in ((~flipped, "o", "clean"), (flipped, "x", "flipped")):
                ax.errorbar(ex[sel], e[sel], xerr=ex_se[sel], yerr=se[sel], fmt=mk, ms=3,
                            color=f"C{i}", alpha=0.6, elinewidth=0.5, label=f"{key}, {tag}")
        lo, hi = float(ex.min()), float(ex.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"exact-retraining mem(i) [{score}]")
        ax.set_ylabel("estimated mem(i)")
        ax.legend(fontsize=7)
        ax.set_title(f"{name}, n={ds.n_train}, {m} subsets of 70% (bars: 1 SE)")
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    for score, block in res["scores"].items():
        print(score, {k: {kk: round(v[kk], 3) for kk in ("spearman", "mean_abs_error", "seconds")
                          if kk in v} for k, v in block.items()})
