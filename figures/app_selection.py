"""Data selection with values and predicted gains; every reported model is retrained exactly.

Pool: breast_cancer, 150 points; L2 logistic regression, lam = 1, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised).

Left: remove the lowest- or highest-valued points (0-50% of the pool) and retrain exactly; test
accuracy of the retrained model for values from exact Shapley, ModelPred Shapley (200
permutations), exact LOO, first-order influence values, and a random order. The Monte-Carlo
values and the random order are repeated over three seeds: the curves are the mean over seeds
and the bands their min-max spread (LOO and influence values are deterministic).
Right: greedy forward selection from 10 random points, 40 steps, each adding the point with the
largest predicted gain in validation cross-entropy (the test split is halved into validation
and test); oracles exact retraining, ModelPred, influence, random; three seeds of the initial
set (mean and min-max band). The curves are the exact test accuracy of the selected sets.

    python figures/app_selection.py            # full run
    python figures/app_selection.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402

NAME = "app_selection"
SEEDS = 3


def _spread(curves: np.ndarray) -> dict:
    """Mean, sd, min and max over seeds of curves (s, m), and every seed's curve."""
    return {"mean": curves.mean(0).tolist(), "sd": curves.std(0, ddof=1).tolist(),
            "min": curves.min(0).tolist(), "max": curves.max(0).tolist(),
            "per_seed": curves.tolist()}


def _plot(results, keys, fractions, name, n_pool):
    removal, addition = results["removal"], results["addition"]
    fig, axes = C.figure(2)
    for i, key in enumerate(keys):
        for side, ls in (("low", "-"), ("high", "--")):
            r = removal[f"{key}/{side}"]
            axes[0].plot(fractions, r["mean"], color=f"C{i}", ls=ls,
                         label=f"{key}, {side} first")
            axes[0].fill_between(fractions, r["min"], r["max"], color=f"C{i}", alpha=0.15)
    r = removal["random"]
    axes[0].plot(fractions, r["mean"], "k:", label=f"random (mean of {SEEDS})")
    axes[0].fill_between(fractions, r["min"], r["max"], color="k", alpha=0.1)
    axes[0].set_xlabel("fraction of pool removed")
    axes[0].set_ylabel("test accuracy (exact retraining)")
    axes[0].legend(fontsize=6)
    axes[0].set_title(f"removal, {name} n={n_pool} (bands: {SEEDS} seeds)")
    for i, (key, cur) in enumerate(addition.items()):
        acc = cur["test_accuracy"]
        axes[1].plot(cur["sizes"], acc["mean"], color=f"C{i}", label=key)
        axes[1].fill_between(cur["sizes"], acc["min"], acc["max"], color=f"C{i}", alpha=0.15)
    axes[1].set_xlabel("selected set size")
    axes[1].set_ylabel("held-out test accuracy (exact retraining)")
    axes[1].legend(fontsize=7)
    axes[1].set_title("greedy addition by predicted gain")
    fig.tight_layout()
    return fig


def main(argv=None) -> dict:
    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    if args.quick:
        name, n_train, P, steps, init = "iris2", 16, 4, 3, 4
    else:
        name, n_train, P, steps, init = "breast_cancer", 150, 200, 40, 10
    ds = load(name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    model, secs, status = C.modelpred(L, ds.X_train, ds.y_train, args, name)

    seeds = [args.seed + r for r in range(SEEDS)]
    fractions = np.linspace(0.0, 0.5, 11)
    fixed = {"loo_exact": A.loo_values(*data, "exact").values,
             "influence_values": A.loo_values(*data, "influence").values}
    per_seed = {s: {"shapley_exact": A.data_shapley(*data, "exact", P, s).values, **fixed}
                for s in seeds}
    if model is not None:
        for s in seeds:
            per_seed[s]["shapley_modelpred"] = A.data_shapley(*data, model, P, s).values
    keys = list(per_seed[seeds[0]])
    removal = {}
    for key in keys:
        for side in ("low", "high"):
            curves = np.array([A.selection_curve(*data, per_seed[s][key], remove=side,
                                                 fractions=fractions).scores for s in seeds])
            removal[f"{key}/{side}"] = _spread(curves)
    removal["random"] = _spread(np.array([A.selection_curve(*data, None, fractions=fractions,
                                                            seed=s).scores for s in seeds]))

    half = ds.n_test // 2
    X_val, y_val, X_te, y_te = (ds.X_test[:half], ds.y_test[:half], ds.X_test[half:],
                                ds.y_test[half:])
    addition = {}
    oracles = {"exact": "exact", "influence": "influence", "random": "random"}
    if model is not None:
        oracles["modelpred"] = model
    for key, orc in oracles.items():
        runs = [A.greedy_addition(L, ds.X_train, ds.y_train, X_val, y_val, orc, steps, s,
                                  init_size=init, X_test=X_te, y_test=y_te) for s in seeds]
        addition[key] = {"sizes": runs[0].sizes.tolist(),
                         "test_accuracy": _spread(np.array([c.exact_test for c in runs])),
                         "val_neg_loss": _spread(np.array([c.exact for c in runs])),
                         "oracle_seconds": float(np.mean([c.oracle_seconds for c in runs])),
                         "setup_seconds": runs[0].setup_seconds + (secs if key == "modelpred"
                                                                   else 0.0)}
    full_acc = L.accuracy(L.fit(ds.X_train, ds.y_train).theta, ds.X_test, ds.y_test)
    results = {"dataset": name, "n_pool": ds.n_train, "lam": 1.0, "n_permutations": P,
               "full_test_accuracy": full_acc, "fractions_removed": fractions.tolist(),
               "seeds": seeds,
               "removal": removal, "addition": addition, "modelpred_status": status,
               "wall_seconds": time.perf_counter() - t0}

    fig = _plot(results, keys, fractions, name, ds.n_train)
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    print("removal (acc at 0 / 10% / 30% / 50% removed):")
    for k, v in res["removal"].items():
        print(f"  {k:28s}", [round(v["mean"][i], 3) for i in (0, 2, 6, 10)])
    print("addition (final test acc, mean over seeds):",
          {k: round(v["test_accuracy"]["mean"][-1], 3) for k, v in res["addition"].items()})
