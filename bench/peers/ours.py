"""Peer benchmark, our side (runs in the project's environment): export the problem, then
compare with pyDVL's answers (computed by pydvl_side.py in .venv-peers; ``make bench-peers``).

Problem: breast_cancer, 150 points, L2 logistic regression with lam = 1 under the sum convention
F_S(theta) = sum_{i in S} CE_i(theta) + lam/2 ||P theta||^2 (scikit-learn's C = 1/lam, intercept
unpenalised), U(S) = -mean test log-loss; subsets missing a class get the constant predictor's
utility (pyDVL's scorer default is set to the same number). Compared: exact LOO; permutation
Shapley on the SAME permutations (pyDVL's ModelUtility evaluates every prefix); KNN-Shapley
(k = 5); MSR Banzhaf and Data-OOB (stochastic: rank agreement at equal budgets). Times are
same-machine wall times; the ratio is pyDVL / ours.

    python bench/peers/ours.py export --data DIR      # writes DIR/problem.npz, DIR/ours.json
    python bench/peers/ours.py compare --data DIR     # prints JSON (also DIR/peers.json)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

N_PERMUTATIONS = 20
MSR_SUBSETS = 2000
OOB_MODELS = 200


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def export(folder: Path, quick: bool) -> dict:
    import torch

    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    torch.set_num_threads(1)
    n_train, P = (30, 3) if quick else (150, N_PERMUTATIONS)
    msr_subsets, oob_models = (300, 50) if quick else (MSR_SUBSETS, OOB_MODELS)
    ds = load("breast_cancer", seed=0, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    util = A.SubsetUtility(*data[:5], A.ExactOracle(L))
    shap, t_shap = _timed(lambda: A.data_shapley(*data, "exact", P, 0))
    out = {"n_pool": ds.n_train, "lam": 1.0, "u_degenerate": util.u_degenerate}
    out["loo"], out["loo_seconds"] = _timed(lambda: A.loo_values(*data, "exact").values.tolist())
    out["shapley"], out["shapley_seconds"] = shap.values.tolist(), t_shap
    knn, out["knn_seconds"] = _timed(lambda: A.knn_shapley(ds.X_train, ds.y_train, ds.X_test,
                                                           ds.y_test, k=5))
    out["knn"] = knn.values.tolist()
    msr, out["msr_seconds"] = _timed(lambda: A.banzhaf(*data, "exact", stopping=msr_subsets))
    out["msr"] = msr.values.tolist()
    oob, out["oob_seconds"] = _timed(lambda: A.data_oob(L, ds.X_train, ds.y_train, "exact",
                                                        stopping=oob_models))
    out["oob"] = oob.values.tolist()
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "problem.npz", X=ds.X_train, y=ds.y_train, X_test=ds.X_test,
             y_test=ds.y_test, permutations=shap.permutations, lam=1.0,
             u_degenerate=util.u_degenerate, msr_subsets=msr_subsets, oob_models=oob_models)
    (folder / "ours.json").write_text(json.dumps(out))
    return out


def compare(folder: Path) -> dict:
    from scipy.stats import spearmanr

    ours = json.loads((folder / "ours.json").read_text())
    peer = json.loads((folder / "pydvl.json").read_text())
    res = {"pydvl_version": peer["version"], "n_pool": ours["n_pool"]}
    for key, exact in (("loo", True), ("shapley", True), ("knn", True), ("msr", False),
                       ("oob", False)):
        a, b = np.asarray(ours[key]), np.asarray(peer[key])
        entry = {"ours_seconds": ours[f"{key}_seconds"], "pydvl_seconds": peer[f"{key}_seconds"],
                 "time_ratio_pydvl_over_ours": peer[f"{key}_seconds"] / ours[f"{key}_seconds"],
                 "spearman": float(spearmanr(a, b)[0])}
        if exact:
            entry["max_abs_diff"] = float(np.max(np.abs(a - b)))
        res[key] = entry
    (folder / "peers.json").write_text(json.dumps(res, indent=1))
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["export", "compare"])
    ap.add_argument("--data", default=".cache/peers", help="folder shared with pydvl_side.py")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (export only)")
    args = ap.parse_args(argv)
    folder = Path(args.data)
    out = export(folder, args.quick) if args.step == "export" else compare(folder)
    json.dump(out, sys.stdout, indent=1)
    print()
    return out


if __name__ == "__main__":
    main()
