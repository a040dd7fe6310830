"""Benchmark: DeepSets against the Set Transformer inside ModelPred, at equal parameter count and
at equal training time, on breast_cancer and digits, with and without a classical base.

Sum convention (docs/design.md): theta(S) minimises sum_{i in S} loss_i(theta) + lam/2
||P theta||^2 (C = 1/lam), logistic regression (binary on breast_cancer, 10-class multinomial on
digits, theta the (K, d+1) matrix [w_k, b_k] flattened).

Per data set: a pool of ``n_train`` training points; exact permutation-prefix pairs (sizes
50-100% of the pool) labelled once and shared by every model; ``n_test`` held-out random
subsets (sizes 50-100%, every class present) solved exactly. For each base (None and a
classical base: one Newton step on breast_cancer, first-order influence on digits, where the
Newton base's batched p x p Hessians, p = 650, would dominate the run) and each architecture:

* ``equal_epochs``: the same number of epochs E (the same pairs and steps);
* ``equal_time``: the same training CPU time, the set transformer's at E epochs: DeepSets is
  retrained with the number of epochs that fits in it (at most 10 E); the set transformer's
  row is its equal-epochs run. CPU time (``time.process_time``, one torch thread), not wall
  time, so that other load on a shared machine does not decide the budget; the per-epoch cost of
  each architecture is measured as (CPU of an E-epoch fit - CPU of a 1-epoch fit) / (E - 1).

The two architectures get the same rho (hidden widths fixed per data set) and the set
transformer's width is the multiple of its head count whose trainable parameter count is
closest to the DeepSets' (both counts are reported). Error: median relative
||theta_hat - theta(S)|| / ||theta(S)|| over the held-out subsets against exact refits.

Prints JSON (also written to bench/results/arch_compare[_quick].json):

    python bench/arch_compare.py            # full run (minutes on 2 cores)
    python bench/arch_compare.py --quick    # smoke run of seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

FULL = {"datasets": {"breast_cancer": {"n_train": 200, "rho_hidden": (64, 64),
                                       "base": "newton", "lam": 1.0},
                     "digits": {"n_train": 300, "rho_hidden": (128, 256),
                                "base": "influence", "lam": 1.0}},
        "n_permutations": 40, "step": 5, "n_test": 100, "epochs": 40,
        "ds_width": 128, "heads": 4, "inducing": 16, "blocks": 2}
QUICK = {"datasets": {"breast_cancer": {"n_train": 60, "rho_hidden": (16,),
                                        "base": "newton", "lam": 1.0},
                      "digits": {"n_train": 80, "rho_hidden": (16,),
                                 "base": "influence", "lam": 1.0}},
         "n_permutations": 3, "step": 10, "n_test": 8, "epochs": 2,
         "ds_width": 16, "heads": 2, "inducing": 4, "blocks": 1}


def _parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results", help="output folder (relative to cwd)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--datasets", default=None,
                    help="comma-separated subset of breast_cancer,digits (default both)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    cfg = dict(QUICK if args.quick else FULL)
    if args.datasets is not None:
        names = args.datasets.split(",")
        bad = [n for n in names if n not in cfg["datasets"]]
        if bad:
            ap.error(f"--datasets: unknown {bad}; choose from {sorted(cfg['datasets'])}")
        cfg["datasets"] = {n: cfg["datasets"][n] for n in names}
    return args, cfg


def _log(msg: str) -> None:
    print(f"[arch_compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _n_params(net) -> int:
    return int(sum(p.numel() for p in net.parameters() if p.requires_grad))


def _matched_width(in_dim, p, ds_kw, st_kw, heads) -> tuple[int, int, int]:
    """(set transformer width, its parameter count, the DeepSets' count): closest match."""
    from modelpred_theory.setfn.architectures import make_network

    target = _n_params(make_network(in_dim, p, **ds_kw))
    best = None
    for w in range(heads, 8 * ds_kw["width"] + 1, heads):
        count = _n_params(make_network(in_dim, p, width=w, **st_kw))
        if best is None or abs(count - target) < abs(best[1] - target):
            best = (w, count)
        if count > target:
            break
    return best[0], best[1], target


def _errors(err) -> dict:
    return {"median_rel_err": float(np.median(err)), "mean_rel_err": float(np.mean(err)),
            "p90_rel_err": float(np.quantile(err, 0.9))}


def _dataset(name, dcfg, cfg, args) -> dict:
    import modelpred_theory as mpt
    from modelpred_theory.setfn import ModelPred, generate_pairs, relative_error

    ds = mpt.datasets.load(name, seed=args.seed, n_train=dcfg["n_train"])
    X, y = ds.X_train, ds.y_train
    n = X.shape[0]
    K = int(np.unique(y).size)
    learner = mpt.learners.LogisticRegression(lam=dcfg["lam"],
                                              n_classes=K if K > 2 else None)
    t0 = time.perf_counter()
    pairs = generate_pairs(learner, X, y, n_permutations=cfg["n_permutations"],
                           step=cfg["step"], min_size=n // 2, rng=args.seed, progress=False)
    label_s = time.perf_counter() - t0
    test = mpt.subsets.random_subsets(n, cfg["n_test"], rng=args.seed + 7, min_size=n // 2,
                                      max_size=n, y=y, require_all_classes=True)
    exact = learner.fit_subsets(X, y, test)
    p = exact.shape[1]
    label_dim = 2 if K == 2 else K
    in_dim = X.shape[1] + label_dim
    ds_kw = {"arch": "deepsets", "width": cfg["ds_width"], "phi_depth": 3,
             "rho_hidden": dcfg["rho_hidden"], "pooling": "centred"}
    st_common = {"arch": "set_transformer", "heads": cfg["heads"],
                 "inducing": cfg["inducing"], "blocks": cfg["blocks"], "phi_depth": 1,
                 "rho_hidden": dcfg["rho_hidden"]}
    st_width, st_count, ds_count = _matched_width(in_dim, p, ds_kw, st_common, cfg["heads"])
    archs = {"deepsets": {"width": cfg["ds_width"], "phi_depth": 3, "pooling": "centred"},
             "set_transformer": {"arch": "set_transformer", "width": st_width, "phi_depth": 1,
                                 "heads": cfg["heads"], "inducing": cfg["inducing"],
                                 "blocks": cfg["blocks"]}}
    runs, base_own = [], {}

    def fit(arch, base, epochs):
        model = ModelPred(learner, seed=args.seed, base=base, rho_hidden=dcfg["rho_hidden"],
                          epochs=epochs, progress=False, **archs[arch])
        c0, t0 = time.process_time(), time.perf_counter()
        model.fit(X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups)
        return model, time.process_time() - c0, time.perf_counter() - t0

    def record(model, base, budget, arch, epochs, cpu_per_epoch, fit_cpu_s):
        err = relative_error(model.predict(X, y, test), exact)
        runs.append({"base": base, "budget": budget, "arch": arch,
                     "n_params": _n_params(model.net_), "epochs": int(epochs),
                     "train_cpu_s": cpu_per_epoch * epochs, "cpu_s_per_epoch": cpu_per_epoch,
                     "fit_cpu_s": fit_cpu_s, "train_wall_s": float(model.meta_["train_time_s"]),
                     "steps": int(model.meta_["steps"]),
                     "best_epoch": int(model.meta_["best_epoch"]), **_errors(err)})
        _log(f"{name} base={base} {budget} {arch}: epochs {epochs}, "
             f"median rel err {runs[-1]['median_rel_err']:.4g}")
        if base is not None and base not in base_own:  # the base alone, same subsets
            _, y_enc, Kb = learner.prepare(X, y)
            own = model.base_.predict(X, y_enc, Kb, test.astype(np.float64))
            base_own[base] = _errors(relative_error(own, exact))

    E = cfg["epochs"]
    for base in (None, dcfg["base"]):
        per_epoch = {}
        for arch in archs:
            _, c1, _ = fit(arch, base, 1)  # setup + one epoch: the per-epoch CPU cost by difference
            model, cE, _ = fit(arch, base, E)
            per_epoch[arch] = max((cE - c1) / (E - 1), 1e-6)
            record(model, base, "equal_epochs", arch, E, per_epoch[arch], cE)
        # equal training time: the set transformer's CPU time at E epochs; DeepSets gets the
        # epochs that fit in it (at most 10 E)
        E_ds = int(min(10 * E, max(1, round(E * per_epoch["set_transformer"]
                                            / per_epoch["deepsets"]))))
        model, c, _ = fit("deepsets", base, E_ds)
        record(model, base, "equal_time", "deepsets", E_ds, per_epoch["deepsets"], c)
        runs.append({**next(r for r in runs if r["base"] == base and r["arch"] ==
                            "set_transformer" and r["budget"] == "equal_epochs"),
                     "budget": "equal_time"})
    return {"dataset": name, "n_pool": n, "p": int(p), "n_pairs": len(pairs),
            "n_test_subsets": int(len(test)), "label_s": label_s,
            "param_counts": {"deepsets": ds_count, "set_transformer": st_count,
                             "set_transformer_width": st_width},
            "base_alone": base_own, "runs": runs}


def main(argv=None) -> int:
    args, cfg = _parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    results = [_dataset(name, dcfg, cfg, args) for name, dcfg in cfg["datasets"].items()]
    out = {"benchmark": "arch_compare", "quick": args.quick, "seed": args.seed,
           "torch_threads": torch.get_num_threads(),
           "config": json.loads(json.dumps(cfg, default=list)),
           "total_s": time.perf_counter() - t0, "datasets": results}
    text = json.dumps(out, indent=1, default=float)
    print(text)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("arch_compare_quick.json" if args.quick else "arch_compare.json")).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
