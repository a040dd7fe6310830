"""Peer benchmark, pyDVL's side: run in .venv-peers (``make bench-peers``), never in .venv.

Reads DIR/problem.npz written by ours.py and writes DIR/pydvl.json. pyDVL 0.10 evaluates the same
utility with scikit-learn's LogisticRegression(C = 1/lam) (the same minimiser as the library's sum
objective sum_i CE_i + lam/2 ||w||^2; tol 1e-10 so the solver error is negligible), scorer
-log-loss with the constant predictor's utility as the default for degenerate subsets.

    .venv-peers/bin/python bench/peers/pydvl_side.py --data DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=".cache/peers")
    args = ap.parse_args(argv)
    folder = Path(args.data)
    import pydvl
    from pydvl.valuation import (
        DataOOBValuation,
        Dataset,
        KNNShapleyValuation,
        LOOValuation,
        MaxUpdates,
        ModelUtility,
        MSRBanzhafValuation,
        SupervisedScorer,
    )
    from pydvl.valuation.types import Sample
    from sklearn.ensemble import BaggingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    z = np.load(folder / "problem.npz")
    train, test = Dataset(z["X"], z["y"]), Dataset(z["X_test"], z["y_test"])
    model = LogisticRegression(C=1.0 / float(z["lam"]), tol=1e-10, max_iter=10000)
    scorer = SupervisedScorer("neg_log_loss", test, default=float(z["u_degenerate"]))
    utility = ModelUtility(model, scorer, catch_errors=True, show_warnings=False)
    utility = utility.with_dataset(train)
    out = {"version": pydvl.__version__}

    def timed(fn):
        t0 = time.perf_counter()
        r = fn()
        return r, time.perf_counter() - t0

    def save(key):  # write after every method: finished work is never lost
        (folder / "pydvl.json").write_text(json.dumps(out))
        print(f"pyDVL {key}: {out[key + '_seconds']:.1f} s", file=sys.stderr, flush=True)

    def values(valuation):
        valuation.fit(train)
        r = valuation.values(sort=False)
        v = np.empty(len(train))
        v[np.asarray(r.indices)] = r.values
        return v.tolist()

    out["loo"], out["loo_seconds"] = timed(lambda: values(LOOValuation(utility)))
    save("loo")

    def same_permutations():
        perms = z["permutations"]
        n = perms.shape[1]
        acc = np.zeros(n)
        for pi in perms:
            prev = utility(Sample(None, np.array([], dtype=int)))
            for j in range(n):
                cur = utility(Sample(None, np.sort(pi[:j + 1])))
                acc[pi[j]] += cur - prev
                prev = cur
        return (acc / perms.shape[0]).tolist()

    out["shapley"], out["shapley_seconds"] = timed(same_permutations)
    save("shapley")
    out["knn"], out["knn_seconds"] = timed(lambda: values(KNNShapleyValuation(
        KNeighborsClassifier(n_neighbors=5), test, progress=False)))
    save("knn")
    out["msr"], out["msr_seconds"] = timed(lambda: values(MSRBanzhafValuation(
        utility, MaxUpdates(int(z["msr_subsets"])), seed=0)))
    save("msr")
    bag = BaggingClassifier(model, n_estimators=int(z["oob_models"]), random_state=0)
    out["oob"], out["oob_seconds"] = timed(lambda: values(DataOOBValuation(bag.fit(
        train.data().x, train.data().y))))
    save("oob")
    return out


if __name__ == "__main__":
    main()
