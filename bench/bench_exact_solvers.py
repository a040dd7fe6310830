"""Exact fits per second: batched Newton (fit_subsets) against a scikit-learn loop, same run.

Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||w||^2, C = 1/lam.

Workloads
---------
- breast_cancer, binary L2 logistic regression, lam = 1 (C = 1), random half-subsets of the
  training pool: ``fit_subsets`` on all masks vs a loop of
  ``sklearn.linear_model.LogisticRegression(C=1, tol=1e-10)`` on a sample of them.
- digits, 10-class multinomial (650 parameters), same comparison.

Speed is reported as a ratio of per-fit times measured in the same run (also for
``theta0="pool"``, every subset warm-started from the pool fit, that fit's time included);
accuracy as the optimality residual of every batched fit (relative tolerance 1e-10) and the
relative distance to scikit-learn's solution.

Roofline: the same run times a float64 GEMM (torch, square, best of repeats) and reports, for
each workload, the time its dominant GEMM work would take at that rate and the achieved fraction
``roofline_us_per_fit / measured_us_per_fit``. The work model per fit is the mean number of
Newton iterations times, per iteration, the one Hessian GEMM of the direct path,
2 K^2 n q(q+1)/2 flops (q = d + 1, K = 1 for binary), or, on the truncated-Newton path
(p >= 256), the two gradient GEMMs, 4 n p flops (a lower bound: the CG products are not counted).

Usage
-----
    python bench/bench_exact_solvers.py            # full: 1,000 breast_cancer masks, 200 digits
    python bench/bench_exact_solvers.py --quick    # seconds
    python bench/bench_exact_solvers.py --large 100000   # adds k = 100,000 (bounded memory)
Prints one JSON document and writes it to --out (default bench/results/exact_solvers.json).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression as SkLogistic

import modelpred_theory as mpt
from modelpred_theory.subsets import fixed_size_subsets


def _sklearn_loop(X, y, masks, lam):
    thetas = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in masks:
            sk = SkLogistic(C=1.0 / lam, tol=1e-10, max_iter=10_000).fit(X[m], y[m])
            if sk.coef_.shape[0] == 1:
                thetas.append(np.r_[sk.coef_[0], sk.intercept_])
            else:
                b = sk.intercept_ - sk.intercept_.mean()
                thetas.append(np.c_[sk.coef_, b].ravel())
    return np.array(thetas), (time.perf_counter() - t0) / len(masks)


def gemm_gflops(size: int = 1024, repeats: int = 7) -> dict:
    """float64 GEMM rate of this machine (torch, (size, size) @ (size, size)), best and median."""
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(size, size, dtype=torch.float64, generator=gen)
    B = torch.randn(size, size, dtype=torch.float64, generator=gen)
    A @ B  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ B
        rates.append(2.0 * size**3 / (time.perf_counter() - t0) / 1e9)
    return {"size": size, "repeats": repeats, "gflops_best": max(rates),
            "gflops_median": float(np.median(rates)), "gflops_min": min(rates)}


def roofline(n, d, K, p, mean_iters, measured_s_per_fit, gflops) -> dict:
    """Time of the work model (module docstring) at ``gflops`` vs the measured time per fit."""
    Kh = 1 if K <= 2 else K
    q = d + 1
    if p >= 256:
        path, per_iter = "truncated Newton (gradient GEMMs only: lower bound)", 4.0 * n * p
    else:
        path, per_iter = "direct Newton (Hessian GEMM)", 2.0 * Kh * Kh * n * q * (q + 1) / 2
    flops = mean_iters * per_iter
    roof_s = flops / (gflops * 1e9)
    return {"path": path, "model_flops_per_fit": flops, "mean_newton_iters": mean_iters,
            "roofline_us_per_fit": roof_s * 1e6, "measured_us_per_fit": measured_s_per_fit * 1e6,
            "fraction_of_roofline": roof_s / measured_s_per_fit}


def run_workload(name, n_masks, n_sklearn, lam=1.0, seed=0, n_train=None, gflops=None):
    ds = mpt.datasets.load(name, seed=seed, n_train=n_train)
    X, y = ds.X_train, ds.y_train
    n = len(y)
    learner = mpt.learners.LogisticRegression(lam, n_classes=max(2, ds.n_classes))
    masks = fixed_size_subsets(n, n_masks, n // 2, rng=seed, y=y, require_all_classes=True)
    learner.fit_subsets(X, y, masks[:4])  # warm-up (thread pools, allocator)
    t0 = time.perf_counter()
    res = learner.fit_subsets(X, y, masks, return_info=True, progress=True)
    t_batch = (time.perf_counter() - t0) / n_masks
    t0 = time.perf_counter()  # the pool warm start (its one extra fit included)
    warm = learner.fit_subsets(X, y, masks, theta0="pool", return_info=True)
    t_warm = (time.perf_counter() - t0) / n_masks
    sk_thetas, t_sk = _sklearn_loop(X, y, masks[:n_sklearn], lam)
    rel = np.linalg.norm(res.thetas[:n_sklearn] - sk_thetas, axis=1) / np.linalg.norm(
        sk_thetas, axis=1)
    tol_abs = learner.residual_tolerance(X, y, masks)
    roof = {} if gflops is None else {"roofline": roofline(
        n, X.shape[1], ds.n_classes, res.thetas.shape[1], float(res.n_iter.mean()), t_batch,
        gflops)}
    return {
        "dataset": name,
        "n_pool": n,
        "n_params": int(res.thetas.shape[1]),
        "lam": lam,
        "n_masks": n_masks,
        "n_sklearn_fits": n_sklearn,
        "batched_fits_per_second": 1.0 / t_batch,
        "sklearn_fits_per_second": 1.0 / t_sk,
        "speedup_vs_sklearn": t_sk / t_batch,
        "pool_start_speedup_vs_sklearn": t_sk / t_warm,
        "pool_start_mean_newton_iters": float(warm.n_iter.mean()),
        "pool_start_all_converged": bool(warm.converged.all()),
        "mean_newton_iters": float(res.n_iter.mean()),
        "all_converged": bool(res.converged.all()),
        "all_residuals_below_tol": bool(np.all(res.grad_norms <= tol_abs)),
        "max_grad_norm": float(res.grad_norms.max()),
        "max_newton_iters": int(res.n_iter.max()),
        "median_rel_diff_vs_sklearn": float(np.median(rel)),
        "max_rel_diff_vs_sklearn": float(rel.max()),
        **roof,
    }


def run_large(k, seed=0):
    """fit_subsets on k half-subsets of breast_cancer: time and peak memory (chunked)."""
    import resource

    ds = mpt.datasets.load("breast_cancer", seed=seed)
    X, y = ds.X_train, ds.y_train
    learner = mpt.learners.LogisticRegression(1.0)
    masks = fixed_size_subsets(len(y), k, len(y) // 2, rng=seed, y=y, require_all_classes=True)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = learner.fit_subsets(X, y, masks, return_info=True, progress=True)
    elapsed = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"dataset": "breast_cancer", "n_masks": k, "seconds": elapsed,
            "fits_per_second": k / elapsed, "all_converged": bool(res.converged.all()),
            "peak_rss_mb": rss1 / 1024, "peak_rss_growth_mb": (rss1 - rss0) / 1024,
            "masks_mb": masks.nbytes / 2**20, "thetas_mb": res.thetas.nbytes / 2**20}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--large", type=int, default=0, metavar="K",
                    help="also fit K breast_cancer half-subsets (e.g. 100000) and report memory")
    ap.add_argument("--out", type=Path, default=Path("bench/results/exact_solvers.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.quick:
        plan = [("breast_cancer", 100, 20, None), ("digits", 10, 3, 300)]
    else:
        plan = [("breast_cancer", 1000, 200, None), ("digits", 200, 20, 300)]
    gemm = gemm_gflops(512 if args.quick else 1024, 3 if args.quick else 7)
    results = {"torch_threads": torch.get_num_threads(), "gemm_float64": gemm,
               "workloads": [run_workload(nm, k, ks, seed=args.seed, n_train=nt,
                                          gflops=gemm["gflops_best"])
                             for nm, k, ks, nt in plan]}
    # the GEMM again after the workloads: a machine whose load changed shows it here
    results["gemm_float64_after"] = gemm_gflops(512 if args.quick else 1024,
                                                3 if args.quick else 7)
    if args.large:
        results["large"] = run_large(args.large, seed=args.seed)
    text = json.dumps(results, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return results


if __name__ == "__main__":
    main()
