"""Linear datamodeling score (LDS) of data attributions: influence, Newton step, datamodels,
ModelPred, and data values, all rated against exactly retrained models on the same subsets.

Pool: breast_cancer, 150 points; L2 logistic regression, lam = 1, sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (intercept unpenalised). LDS
(Park et al. 2023): 100 held-out random halves S_j of the pool are retrained exactly; an
attribution tau predicts f(S_j) = sum_{i in S_j} tau_i; the score is the Spearman correlation
over j, averaged over the test points (output: -test loss of each test point), +- its standard
error over test points.

Per-test-point attributions: leave-one-out effects f(N) - f(N - i) from exact retraining,
first-order influence, one Newton step and ModelPred; ridge datamodels fitted on 1,000 random
halves labelled by exact retraining, and on 10,000 labelled by ModelPred (cheap labels). For the
mean test output (the utility of data valuation): Shapley values (200 permutations) from exact
retraining, influence and ModelPred, Banzhaf (MSR, exact), and exact LOO. Times include
ModelPred's training where it is used.

    python figures/app_lds.py            # full run
    python figures/app_lds.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_common as C  # noqa: E402

NAME = "app_lds"


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> dict:
    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    args = C.parse_args(argv, __doc__.splitlines()[0])
    C.setup_torch()
    t0 = time.perf_counter()
    if args.quick:
        name, n_train, k, m_exact, m_mp, P = "iris2", 20, 12, 40, 200, 4
    else:
        name, n_train, k, m_exact, m_mp, P = "breast_cancer", 150, 100, 1000, 10000, 200
    ds = load(name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    model, mp_secs, status = C.modelpred(L, ds.X_train, ds.y_train, args, name)
    ref = A.lds(*data, np.zeros((ds.n_train, ds.n_test)), n_subsets=k, seed=args.seed)

    per_test = {}
    for key, orc in (("loo_exact", "exact"), ("loo_influence", "influence"),
                     ("loo_newton", "newton")):
        per_test[key] = _timed(lambda orc=orc: A.attributions(*data, method="loo", oracle=orc))
    per_test["datamodels_exact"] = _timed(lambda: A.attributions(
        *data, method="datamodels", oracle="exact", n_train_subsets=m_exact, seed=args.seed))
    if model is not None:
        tau, s = _timed(lambda: A.attributions(*data, method="loo", oracle=model))
        per_test["loo_modelpred"] = (tau, s + mp_secs)
        tau, s = _timed(lambda: A.attributions(*data, method="datamodels", oracle=model,
                                               n_train_subsets=m_mp, seed=args.seed))
        per_test["datamodels_modelpred"] = (tau, s + mp_secs)
    scalar = {"shapley_exact": _timed(lambda: A.data_shapley(*data, "exact", P,
                                                             args.seed).values),
              "shapley_influence": _timed(lambda: A.data_shapley(*data, "influence", P,
                                                                 args.seed).values),
              "banzhaf_exact": _timed(lambda: A.banzhaf(*data, "exact",
                                                        stopping=10 * P).values),
              "loo_exact_mean": _timed(lambda: A.loo_values(*data, "exact").values)}
    if model is not None:
        v, s = _timed(lambda: A.data_shapley(*data, model, P, args.seed).values)
        scalar["shapley_modelpred"] = (v, s + mp_secs)

    def rate(table):
        out = {}
        for key, (tau, secs) in table.items():
            r = A.lds(*data, tau, reference=ref)
            out[key] = {"lds": r.score, "stderr": r.stderr, "seconds": secs}
        return out

    results = {"dataset": name, "n_pool": ds.n_train, "n_test": ds.n_test, "lam": 1.0,
               "n_heldout_subsets": k, "fraction": 0.5, "modelpred_status": status,
               "exact_retraining_seconds": ref.seconds, "per_test_point": rate(per_test),
               "mean_output": rate(scalar), "wall_seconds": time.perf_counter() - t0}

    fig, axes = C.figure(2, width=4.6)
    for ax, key, title in ((axes[0], "per_test_point", "per test point (mean +- SE)"),
                           (axes[1], "mean_output", "mean test output (data values)")):
        block = results[key]
        names = list(block)
        ax.bar(range(len(names)), [block[n]["lds"] for n in names],
               yerr=[0.0 if not np.isfinite(block[n]["stderr"]) else block[n]["stderr"]
                     for n in names], capsize=2, color=[f"C{i}" for i in range(len(names))])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=35, fontsize=7, ha="right")
        ax.set_ylabel("LDS (Spearman vs exact retraining)")
        ax.set_title(f"{name} n={ds.n_train}: {title}", fontsize=8)
    fig.tight_layout()
    C.save(NAME, args, results, fig)
    return results


if __name__ == "__main__":
    res = main()
    for block in ("per_test_point", "mean_output"):
        print(block, {k: (round(v["lds"], 3), round(v["seconds"], 1))
                      for k, v in res[block].items()})
