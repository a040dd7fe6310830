"""Benchmark: ModelPred against the exact batched solver on digits (multinomial, p = 650).

Sum convention (docs/design.md): theta(S) minimises sum_{i in S} CE_i(theta) + lam/2 ||P theta||^2
(C = 1/lam, intercepts unpenalised and centred), theta the (10, 65) matrix [w_k, b_k] flattened.

A pool of n_train = 300 digits; ModelPred over each base (one Newton step, first-order
influence, none) is trained on the same exact permutation-prefix pairs (sizes 50-100% of the
pool) plus unlabelled subsets for its optimality regulariser; then 10,000 NEW
random subsets (sizes 50-100%, every class present) are predicted in one batch and timed against
``learner.fit_subsets`` in the same run. By default the exact solver runs on a random sample of
``--exact-sample`` of those subsets and its time is extrapolated linearly to all of them (the
batched solver's cost is linear in k beyond one chunk); ``--exact-all`` solves every subset.
Both the exact sample and each prediction are timed ``--repeats`` times (default 3); the speedup
is the ratio of the medians, with the range of the ratio beside it.
The prediction error is measured on the exactly solved subsets.

Prints JSON (also written to bench/results/modelpred_digits_speed[_quick].json):

    python bench/modelpred_digits_speed.py            # full run (several minutes on 2 cores)
    python bench/modelpred_digits_speed.py --quick    # smoke run of seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# rho_hidden: the paper's rho (128, 128, 64) ends in a 64-wide layer, which confines theta_hat
# to a 64-dimensional affine subspace of R^650 (the rank floor below); "auto" sizes the last
# layer from the rank of the training targets.
FULL = {"n_train": 300, "n_permutations": 300, "step": 5, "epochs": 60, "n_unlabelled": 10000,
        "rho_hidden": "auto", "n_new": 10000, "exact_sample": 1000,
        "bases": ("newton", "influence", None)}
QUICK = {"n_train": 300, "n_permutations": 4, "step": 25, "epochs": 2, "n_unlabelled": 200,
         "rho_hidden": (128, 128, 64), "n_new": 1000, "exact_sample": 40,
         "bases": ("newton", "influence", None)}


def _parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-all", action="store_true",
                    help="solve all new subsets exactly (slow) instead of a timed sample")
    ap.add_argument("--cache-dir", default=".cache/modelpred", help="label cache")
    ap.add_argument("--out", default="bench/results", help="output folder (relative to cwd)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--repeats", type=int, default=3,
                    help="time the exact sample and each prediction this many times (median)")
    ap.add_argument("--bases", default=None,
                    help="comma-separated bases to train: newton,influence,none (default all)")
    ap.add_argument("--rho-hidden", default=None, metavar="W1,W2,...",
                    help="widths of rho's hidden layers (default auto; the paper's: 128,128,64)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    cfg = dict(QUICK if args.quick else FULL)
    if args.rho_hidden is not None:
        try:
            cfg["rho_hidden"] = tuple(int(v) for v in args.rho_hidden.split(","))
        except ValueError:
            ap.error("--rho-hidden must be comma-separated integers, e.g. 128,128,64")
        if not cfg["rho_hidden"] or min(cfg["rho_hidden"]) < 1:
            ap.error("--rho-hidden widths must be positive")
    if args.bases is not None:
        names = {"newton": "newton", "influence": "influence", "none": None}
        try:
            cfg["bases"] = tuple(names[b] for b in args.bases.split(","))
        except KeyError:
            ap.error("--bases must be a comma-separated subset of newton,influence,none")
    return args, cfg


def _errors(err) -> dict:
    return {"median_rel_err": float(np.median(err)), "mean_rel_err": float(np.mean(err)),
            "p90_rel_err": float(np.quantile(err, 0.9))}


def _one_base(base, learner, X, y, pairs, new, idx, exact, exact_reps, cfg, args):
    """Train ModelPred over ``base``; its errors, speed and the base's own error and cost."""
    from modelpred_theory.setfn import ModelPred, relative_error

    t0 = time.perf_counter()
    model = ModelPred(learner, seed=args.seed, base=base, epochs=cfg["epochs"],
                      n_unlabelled=cfg["n_unlabelled"], rho_hidden=cfg["rho_hidden"],
                      progress=args.progress)
    model.fit(X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups)
    train_s = time.perf_counter() - t0
    scale = len(new) / len(idx)  # the exact solver's time extrapolated from its sample
    exact_all_s = float(np.median(exact_reps)) * scale
    model._net_eval()  # the evaluation copy is built once, outside the timing
    predict_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        pred, info = model.predict(X, y, new, return_info=True)
        predict_times.append(time.perf_counter() - t0)
    predict_s = float(np.median(predict_times))
    err = relative_error(pred[idx], exact.thetas)
    _, y_enc, K = learner.prepare(X, y)
    base_pred = model.base_.predict(X, y_enc, K, new[idx].astype(np.float64))
    r = int(model.arch["rho_hidden"][-1])
    mean = exact.thetas.mean(axis=0)
    basis = np.linalg.svd(exact.thetas - mean, full_matrices=False)[2][:r]  # shape: (r, p)
    floor = relative_error(mean + (exact.thetas - mean) @ basis.T @ basis, exact.thetas)
    out = {"base": base, "train_s": train_s, "predict_s_all_new": predict_s,
           "base_s_all_new": info["base_time_s"],
           "base_s_per_subset": info["base_time_s"] / len(new),
           "predict_s_repeats": predict_times,
           "speedup_exact_over_modelpred": exact_all_s / predict_s,
           "speedup_range (lowest, highest over all pairs of repeats)":
               [min(exact_reps) * scale / max(predict_times),
                max(exact_reps) * scale / min(predict_times)],
           "rho_hidden": list(model.arch["rho_hidden"]), "output_rank": r,
           "rank_floor_median_rel_err": float(np.median(floor)),
           "gate_alpha": model.gate_.alpha.tolist(), **_errors(err)}
    if base is not None:
        out["base_own"] = _errors(relative_error(base_pred, exact.thetas))
    t0 = time.perf_counter()
    _, cinfo = model.predict(X, y, new[idx], correct=True, return_info=True)
    out["correct_s_on_sample"] = time.perf_counter() - t0
    out["correct_mean_newton_iters"] = float(cinfo["n_iter"].mean())
    out["correct_max_residual"] = float(cinfo["grad_norms"].max())
    return out


def main(argv=None) -> int:
    args, cfg = _parse(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import modelpred_theory as mpt
    from modelpred_theory.setfn import generate_pairs, relative_error

    ds = mpt.datasets.load("digits", seed=args.seed, n_train=cfg["n_train"])
    X, y = ds.X_train, ds.y_train
    n = X.shape[0]
    learner = mpt.learners.LogisticRegression(lam=1.0, n_classes=10)
    t0 = time.perf_counter()
    pairs = generate_pairs(learner, X, y, n_permutations=cfg["n_permutations"],
                           step=cfg["step"], min_size=n // 2, rng=args.seed,
                           cache_dir=args.cache_dir, chunk_size=256, progress=args.progress)
    label_s = time.perf_counter() - t0
    new = mpt.subsets.random_subsets(n, cfg["n_new"], rng=args.seed + 7, min_size=n // 2,
                                     max_size=n, y=y, require_all_classes=True)
    k_exact = cfg["n_new"] if args.exact_all else min(cfg["exact_sample"], cfg["n_new"])
    idx = np.sort(np.random.default_rng(args.seed + 8).choice(cfg["n_new"], k_exact,
                                                               replace=False))
    exact_reps = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        exact = learner.fit_subsets(X, y, new[idx], progress=args.progress, return_info=True)
        exact_reps.append(time.perf_counter() - t0)
    exact_s = float(np.median(exact_reps))
    exact_all_s = exact_s * cfg["n_new"] / k_exact
    results = [_one_base(b, learner, X, y, pairs, new, idx, exact, exact_reps, cfg, args)
               for b in cfg["bases"]]
    # The floor of a rank-r output layer (RMS floor, Eckart-Young) on these exact thetas.
    mean = exact.thetas.mean(axis=0)
    vt = np.linalg.svd(exact.thetas - mean, full_matrices=False)[2]
    floors = {}
    for r in (64, 128, 256):
        basis = vt[:r]
        best = mean + (exact.thetas - mean) @ basis.T @ basis
        floors[str(r)] = float(np.median(relative_error(best, exact.thetas)))
    out = {
        "benchmark": "modelpred_digits_speed", "quick": args.quick, "seed": args.seed,
        "n_pool": n, "p": int(exact.thetas.shape[1]), "n_pairs": len(pairs),
        "torch_threads": torch.get_num_threads(),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "label_s": label_s, "n_new_subsets": cfg["n_new"],
        "exact_solved_subsets": k_exact, "exact_measured_s": exact_s,
        "exact_measured_s_repeats": exact_reps,
        "exact_time_for_all_s": exact_all_s,
        "exact_s_per_subset": exact_s / k_exact,
        "exact_time_for_all_is_extrapolated": k_exact < cfg["n_new"],
        "exact_mean_newton_iters": float(exact.n_iter.mean()),
        "rank_r_affine_floor_median_rel_err (fit to the exact thetas, an RMS-optimal "
        "projection)": floors,
        "models": results,
    }
    text = json.dumps(out, indent=1, default=float)
    print(text)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    name = "modelpred_digits_speed_quick.json" if args.quick else "modelpred_digits_speed.json"
    (folder / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
