"""Calibration of subset ensembles (a cheap bootstrap) from predicted models.

Pool: breast_cancer, 150 points; L2 logistic regression, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised), for
lam in {0.1, 1}. Ensembles of 100 models on random half-samples (identical subsets for every
oracle) average their predicted probabilities on the test split. Compared: the single full
model, the exact-retrained ensemble, the ModelPred ensemble (lam = 1 only; its training time
counted) and the first-order-influence ensemble. Reported: expected calibration error (15 bins),
negative log-likelihood, Brier score, accuracy, time.

    python figures/app_calibration.py            # full run
    python figures/app_calibration.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402

NAME = "app_calibration"


def main(argv=None) -> dict:
    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    name, n_train, k = ("iris2", 20, 8) if args.quick else ("breast_cancer", 150, 100)
    ds = load(name, seed=args.seed, n_train=n_train)
    results = {"dataset": name, "n_pool": ds.n_train, "n_test": ds.n_test, "n_models": k,
               "fraction": 0.5, "by_lam": {}}
    probs_plot = {}
    for lam in (0.1, 1.0):
        L = LogisticRegression(lam=lam)
        t = time.perf_counter()
        full = L.fit(ds.X_train, ds.y_train).theta
        p_full = L.predict_proba(full, ds.X_test)
        rows = {"full_model": {**A.calibration_metrics(p_full, ds.y_test),
                               "seconds": time.perf_counter() - t}}
        probs = {"full_model": p_full}
        oracles = {"exact": "exact", "influence": "influence"}
        secs = 0.0
        if lam == 1.0:
            model, secs, status = C.modelpred(L, ds.X_train, ds.y_train, args, name)
            results["modelpred_status"] = status
            if model is not None:
                oracles["modelpred"] = model
        for key, orc in oracles.items():
            res = A.subset_ensemble(L, ds.X_train, ds.y_train, ds.X_test, orc, k, 0.5,
                                    args.seed, return_info=True)
            rows[f"ensemble_{key}"] = {
                **A.calibration_metrics(res.probs, ds.y_test),
                "seconds": res.oracle_seconds + (secs if key == "modelpred" else 0.0),
                "max_abs_prob_diff_vs_exact": (
                    float(np.max(np.abs(res.probs - probs["ensemble_exact"])))
                    if key != "exact" else 0.0)}
            probs[f"ensemble_{key}"] = res.probs
        results["by_lam"][str(lam)] = rows
        probs_plot[lam] = probs
    results["wall_seconds"] = time.perf_counter() - t0

    fig, axes = C.figure(2)
    bins = np.linspace(0, 1, 11)
    for ax, lam in zip(axes, (0.1, 1.0), strict=True):
        for i, (key, P) in enumerate(probs_plot[lam].items()):
            conf = P.max(1)
            correct = P.argmax(1) == ds.y_test
            idx = np.clip(np.digitize(conf, bins) - 1, 0, 9)
            xs, ys = [], []
            for b in range(10):
                sel = idx == b
                if sel.any():
                    xs.append(conf[sel].mean())
                    ys.append(correct[sel].mean())
            ece = results["by_lam"][str(lam)][key]["ece"]
            ax.plot(xs, ys, "o-", color=f"C{i}", ms=3, label=f"{key} (ECE {ece:.3f})")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"reliability, {name}, lam={lam}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    for lam, rows in res["by_lam"].items():
        print("lam", lam)
        for key, r in rows.items():
            print(f"  {key:22s} ECE {r['ece']:.4f} NLL {r['nll']:.4f} acc {r['accuracy']:.3f} "
                  f"{r['seconds']:.2f}s")
