"""Data attribution against EXACT ground truth: dattri's convex protocol on offline data.

Problems
--------
- ``digits``: the bundled digits images enlarged as scikit-learn's RBM example does (every 8x8
  image also nudged by one pixel up, down, left and right, zero fill: 1,797 x 5 = 8,985 images),
  pixels / 16, lifted to ``--features`` (512) fixed random ReLU features (seeded Gaussian
  weights and biases, then standardised on the training rows), multinomial logistic regression
  with K = 10 (p = 10 * 513 = 5,130), ``--n`` train / ``--m`` test points, output "margin".
- ``synthetic``: multinomial logistic data with known generator
  (``datasets.synthetic.make_multiclass_logistic``, K = 10, condition number 10), d =
  ``--synthetic-d`` (256) Gaussian features, same n and m.

lam = 1: scikit-learn's default C = 1 under the sum convention F_S = sum_i loss_i + lam/2
||w||^2, the setting a peer comparing with scikit-learn uses; a small validation sweep over
lam in {0.3, 1, 3} on these features preferred it (``--lam`` changes it). The standardised
ReLU features make the training set close to separable, so the penalty is what keeps theta(S)
well defined and the Hessian's weight block bounded below by lam.

Sections (each writes into one JSON document)
---------------------------------------------
- ``per_fit``: seconds per exact 50% subset fit at the main size, ours (``fit_subsets``
  warm-started from the full fit, the way ``ground_truth`` runs) against scikit-learn lbfgs at
  tol 1e-10 in the same run; repeats, spread, answers' distance, Newton iterations.
- ``problems``: per problem, the exact ground truth with ``--subsets`` held-out subsets and
  exact LOO; its first ``--subsets-small`` (the peers' count); every method of
  ``attribution.METHODS`` timed (seconds, peak RSS increase) and rated (LDS +- SE against both,
  LOO Pearson / Spearman); how much the small truth moves each LDS and whether it reorders
  methods (Kendall tau of the two orders, pairs that swap beyond their SEs); the additive
  ceiling (linear datamodel on ``--ceiling-subsets`` independent exact subsets, convergence).
- ``growth``: seconds per ground-truth subset and each cheap method's cost at n in ``--growth``.
- ``dask``: the ground truth on a two-worker ``dask.distributed.LocalCluster``, compared bit for
  bit with the local run.

Usage
-----
    python bench/attribution_benchmark.py --quick              # seconds (smoke test)
    python bench/attribution_benchmark.py --n 5000 --m 500 --subsets 1000   # the full protocol
Prints one JSON document and writes it under --out (default bench/results/).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np

import modelpred_theory as mpt
from modelpred_theory.attribution import (
    additive_ceiling,
    evaluate,
    ground_truth,
)
from modelpred_theory.attribution.ground_truth import subset_masks

# Methods whose cost is dominated by exact refits or network training; the growth table runs
# them only at pool sizes <= --growth-refit-max.
REFIT_METHODS = ("loo", "datamodels", "modelpred_loo")
# Methods that solve the m test systems to tol 1e-10 without a preconditioner (influence-CG:
# 1,156 s, LiSSA: 474 s at n = 5,000, m = 500); the growth table runs them only at pool sizes
# <= --growth-slow-max (their n = 5,000 cost is in the problems section).
SLOW_METHODS = ("influence_cg", "lissa")


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def nudge(images: np.ndarray) -> np.ndarray:
    """The images and their four one-pixel shifts (zero fill): (N, h, w) -> (5 N, h, w)."""
    out = [images]
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        shifted = np.roll(images, step, axis=axis)
        edge = [slice(None)] * 3
        edge[axis] = 0 if step == 1 else -1
        shifted[tuple(edge)] = 0.0
        out.append(shifted)
    return np.concatenate(out)


def digits_relu(n: int, m: int, features: int = 512, seed: int = 0):
    """Nudged digits lifted to fixed random ReLU features: X (n, f), y, X_test (m, f), y_test."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = nudge(d.images / 16.0)
    X = images.reshape(images.shape[0], -1)
    y = np.tile(d.target, 5)
    if n + m > X.shape[0]:
        raise ValueError(f"n + m = {n + m} exceeds the {X.shape[0]} nudged images")
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(X.shape[1], features)) / np.sqrt(X.shape[1] * 0.25)
    b = rng.normal(size=features)
    F = np.maximum(0.0, (X - X.mean(axis=0)) @ W + b)
    perm = rng.permutation(X.shape[0])
    tr, te = perm[:n], perm[n:n + m]
    mu, sd = F[tr].mean(axis=0), F[tr].std(axis=0) + 1e-12
    F = (F - mu) / sd
    return F[tr], y[tr], F[te], y[te]


def synthetic(n: int, m: int, d: int = 64, seed: int = 0):
    """Multinomial logistic data with a known generator (K = 10, condition number 10)."""
    ds = mpt.datasets.synthetic.make_multiclass_logistic(n=n, d=d, n_classes=10, n_test=m,
                                                         condition_number=10.0, rng=seed,
                                                         exact_design=n > d)
    return ds.X_train, ds.y_train, ds.X_test, ds.y_test


# ---------------------------------------------------------------------------------------------
# measurement helpers
# ---------------------------------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Peak resident-set increase over a block, sampled every 5 ms (bytes)."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())
        self.increase = self.peak - self.base
        return False


def _sklearn_fit(X, y, lam):
    from sklearn.linear_model import LogisticRegression as SkLogistic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkLogistic(C=1.0 / lam, tol=1e-10, max_iter=10_000).fit(X, y)
    b = sk.intercept_ - sk.intercept_.mean()
    return np.c_[sk.coef_, b].ravel()


def per_fit(learner, X, y, k_ours: int, k_sklearn: int, repeats: int, seed: int) -> dict:
    """Seconds per exact 50% subset fit: ours (warm-started) and scikit-learn lbfgs.

    Ours runs as ``ground_truth`` runs it: every subset warm-started from the full fit, CG
    preconditioned by a low-rank inverse Hessian there (``learners.preconditioner``, built once per
    process: its seconds are reported apart and amortised over 1,000 subsets). For comparison
    the same warm start given as k identical rows (no common reference, so Jacobi-preconditioned
    CG) and the cold start from zero.
    """
    from modelpred_theory.learners import preconditioner

    masks = subset_masks(learner, y, max(k_ours, k_sklearn, 3), 0.5, seed)
    t0 = time.perf_counter()
    full = learner.fit(X, y).theta
    t_full = time.perf_counter() - t0
    preconditioner.clear_cache()
    t0 = time.perf_counter()
    learner.fit_subsets(X, y, masks[:1], theta0=full)
    t_first = time.perf_counter() - t0
    ours, iters = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = learner.fit_subsets(X, y, masks[:k_ours], theta0=full, return_info=True)
        ours.append((time.perf_counter() - t0) / k_ours)
        iters = res.n_iter
    t_build = max(0.0, t_first - float(np.median(ours)))
    t0 = time.perf_counter()
    jac = learner.fit_subsets(X, y, masks[:k_ours], theta0=np.tile(full, (k_ours, 1)),
                              return_info=True)
    t_jacobi = (time.perf_counter() - t0) / k_ours
    t0 = time.perf_counter()
    cold = learner.fit_subsets(X, y, masks[:k_ours], return_info=True)
    t_cold = (time.perf_counter() - t0) / k_ours
    sk, dist = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        th = [_sklearn_fit(X[mk], y[mk], learner.lam) for mk in masks[:k_sklearn]]
        sk.append((time.perf_counter() - t0) / k_sklearn)
    for j, t in enumerate(th):
        dist.append(float(np.linalg.norm(t - res.thetas[j]) / np.linalg.norm(res.thetas[j])))
    jac_dist = float(np.max(np.linalg.norm(jac.thetas - res.thetas, axis=1)
                            / np.linalg.norm(res.thetas, axis=1)))
    per_1000 = float(np.median(ours)) + t_build / 1000
    tol = learner.residual_tolerance(X, y, masks[:k_ours])
    return {"n": int(X.shape[0]), "p": int(full.size), "k_ours": k_ours,
            "k_sklearn": k_sklearn, "repeats": repeats, "full_fit_seconds": t_full,
            "reference_build_seconds": t_build,
            "ours_seconds_per_fit": ours,
            "ours_seconds_per_fit_amortised_over_1000": per_1000,
            "ours_jacobi_seconds_per_fit": t_jacobi,
            "ours_cold_seconds_per_fit": t_cold,
            "sklearn_seconds_per_fit": sk,
            "ratio_median": float(np.median(sk) / np.median(ours)),
            "ratio_median_amortised_over_1000": float(np.median(sk) / per_1000),
            "ratio_reference_vs_jacobi": float(t_jacobi / np.median(ours)),
            "newton_iterations_warm": iters.tolist(),
            "newton_iterations_jacobi": jac.n_iter.tolist(),
            "newton_iterations_cold": cold.n_iter.tolist(),
            "max_relative_distance_to_sklearn": float(max(dist)),
            "max_relative_distance_reference_vs_jacobi": jac_dist,
            "max_residual": float(res.grad_norms.max()),
            "max_residual_over_tolerance": float(np.max(res.grad_norms / tol))}


# ---------------------------------------------------------------------------------------------
# one problem
# ---------------------------------------------------------------------------------------------
def method_options(name: str, args) -> dict:
    """Bench settings per method (defaults of ``attribute`` otherwise)."""
    if name == "datamodels":
        return {"n_subsets": args.ceiling_subsets, "seed": 7}
    if name == "trak":
        return {"proj_dim": args.proj_dim}
    return {}


def run_methods(learner, X, y, Xt, yt, names, args, theta) -> tuple[dict, dict]:
    from modelpred_theory.attribution import attribute

    scores, cost = {}, {}
    for name in names:
        opts = method_options(name, args)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            try:
                s = attribute(learner, X, y, Xt, yt, name, output="margin", theta=theta, **opts)
            except Exception as exc:  # noqa: BLE001 - reported, the others still run
                cost[name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            secs = time.perf_counter() - t0
        scores[name] = s
        cost[name] = {"seconds": secs, "peak_rss_increase_mb": mem.increase / 2**20,
                      "options": opts}
    return scores, cost


def _order_changes(big: dict, small: dict) -> dict:
    """Kendall tau between the method orders by LDS and the pairs that swap."""
    from scipy.stats import kendalltau

    names = sorted(big)
    a = [big[k]["lds"] for k in names]
    b = [small[k]["lds"] for k in names]
    swaps, significant = [], []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if (a[i] - a[j]) * (b[i] - b[j]) < 0:
                swaps.append([names[i], names[j]])
                se = np.hypot(big[names[i]]["lds_stderr"], big[names[j]]["lds_stderr"])
                if abs(a[i] - a[j]) > 2 * se:
                    significant.append([names[i], names[j]])
    tau = float(kendalltau(a, b)[0]) if len(names) > 1 else float("nan")
    return {"kendall_tau": tau, "swapped_pairs": swaps,
            "swapped_pairs_separated_by_2se_in_big_truth": significant}


def run_problem(name, learner, X, y, Xt, yt, args, methods, log) -> dict:
    out = {"n": int(X.shape[0]), "m": int(Xt.shape[0]), "d": int(X.shape[1]),
           "lam": learner.lam}
    cache = None if args.cache is None else Path(args.cache) / name
    log(f"[{name}] ground truth: {args.subsets} subsets + LOO")
    with PeakRSS() as mem:
        truth = ground_truth(learner, X, y, Xt, yt, n_subsets=args.subsets, seed=0,
                             n_jobs=args.n_jobs, cache_dir=cache, progress=_logger(log, name),
                             chunk_size=args.chunk_size, threads=args.threads)
    out["truth"] = {"n_subsets": truth.n_subsets, "seconds": truth.seconds,
                    "peak_rss_increase_mb": mem.increase / 2**20,
                    "max_residual_over_tolerance": truth.max_relative_residual,
                    "all_below_tolerance": bool(truth.max_relative_residual <= 1.0)}
    small = truth.head(min(args.subsets_small, truth.n_subsets))
    log(f"[{name}] ceiling: {args.ceiling_subsets} training subsets")
    train = ground_truth(learner, X, y, Xt, yt, n_subsets=args.ceiling_subsets, seed=1,
                         loo=False, n_jobs=args.n_jobs, cache_dir=cache,
                         progress=_logger(log, name + " ceiling"), chunk_size=args.chunk_size,
                         threads=args.threads)
    ceil = additive_ceiling(truth, train)
    out["ceiling"] = ceil.to_dict()
    out["ceiling"]["on_small_truth"] = evaluate(ceil.scores, small).lds
    out["ceiling"]["train_seconds"] = train.seconds
    log(f"[{name}] methods: {', '.join(methods)}")
    scores, cost = run_methods(learner, X, y, Xt, yt, methods, args, truth.theta_full)
    res_big, res_small = {}, {}
    for meth, s in scores.items():
        rb, rs = evaluate(s, truth), evaluate(s, small)
        res_big[meth] = rb.to_dict()
        res_small[meth] = rs.to_dict()
        cost[meth].update({"lds": rb.lds, "lds_stderr": rb.lds_stderr,
                           "lds_small": rs.lds, "lds_small_stderr": rs.lds_stderr,
                           "lds_shift_small_minus_big": rs.lds - rb.lds,
                           "loo_pearson": rb.loo_pearson, "loo_spearman": rb.loo_spearman,
                           "fraction_of_ceiling": rb.lds / ceil.lds})
        log(f"[{name}] {meth}: LDS {rb.lds:.3f} +- {rb.lds_stderr:.3f} (small truth "
            f"{rs.lds:.3f}), LOO r {rb.loo_pearson:.3f}, {cost[meth]['seconds']:.1f} s")
    if truth.loo is not None:  # the exact LOO effects themselves, costed as the truth's refits
        rb, rs = evaluate(truth.loo, truth), evaluate(truth.loo, small)
        res_big["exact_loo_truth"], res_small["exact_loo_truth"] = rb.to_dict(), rs.to_dict()
        cost["exact_loo_truth"] = {"seconds": truth.seconds["loo"], "lds": rb.lds,
                                   "lds_stderr": rb.lds_stderr, "lds_small": rs.lds,
                                   "lds_small_stderr": rs.lds_stderr,
                                   "lds_shift_small_minus_big": rs.lds - rb.lds,
                                   "loo_pearson": 1.0, "loo_spearman": 1.0,
                                   "fraction_of_ceiling": rb.lds / ceil.lds}
        log(f"[{name}] exact LOO: LDS {rb.lds:.3f} +- {rb.lds_stderr:.3f} (small truth "
            f"{rs.lds:.3f})")
    out["methods"] = cost
    if res_big:
        out["reordering"] = _order_changes(res_big, res_small)
        shifts = [abs(c["lds_shift_small_minus_big"]) for c in cost.values() if "lds" in c]
        out["max_abs_lds_shift"] = float(max(shifts))
    return out


def _logger(log, name):
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done, total):
        now = time.perf_counter() - t0
        if now - last[0] > 30 or done == total:
            last[0] = now
            eta = now / max(done, 1) * (total - done)
            log(f"[{name}] {done}/{total} fits, {now:.0f} s, ETA {eta:.0f} s")

    return progress


def growth(args, methods, log) -> list:
    """Cost of ground truth (per subset) and of each method at several pool sizes."""
    rows = []
    for n in args.growth:
        if n + args.m <= 8985:
            X, y, Xt, yt = digits_relu(n, args.m, args.features, seed=0)
            source = "digits"
        else:
            X, y, Xt, yt = synthetic(n, args.m, d=args.features, seed=0)
            source = "synthetic"
        learner = mpt.learners.LogisticRegression(lam=args.lam, n_classes=10)
        row = {"n": n, "data": source, "p": 10 * (X.shape[1] + 1)}
        with PeakRSS() as mem:
            t = ground_truth(learner, X, y, Xt, yt, n_subsets=args.growth_subsets, loo=False,
                             n_jobs=args.n_jobs, threads=args.threads)
        row["truth_seconds_per_subset"] = t.seconds["subsets"] / t.n_subsets
        row["truth_full_fit_seconds"] = t.seconds["full_fit"]
        row["truth_peak_rss_increase_mb"] = mem.increase / 2**20
        row["loo_fits_estimated_seconds"] = row["truth_seconds_per_subset"] * n
        names = [mm for mm in methods
                 if (mm not in REFIT_METHODS or n <= args.growth_refit_max)
                 and (mm not in SLOW_METHODS or n <= args.growth_slow_max)]
        _, cost = run_methods(learner, X, y, Xt, yt, names, args, t.theta_full)
        row["methods"] = cost
        row["skipped_methods"] = [mm for mm in methods if mm not in names]
        log(f"[growth n={n}] {row['truth_seconds_per_subset']:.2f} s per subset")
        rows.append(row)
    return rows


def dask_check(args, log) -> dict:
    """Ground truth on a real two-worker Dask cluster against the local run, bit for bit."""
    import distributed

    X, y, Xt, yt = digits_relu(args.dask_n, min(args.m, 50), args.features, seed=0)
    learner = mpt.learners.LogisticRegression(lam=args.lam, n_classes=10)
    kw = dict(n_subsets=args.dask_subsets, loo=False, chunk_size=max(1, args.dask_subsets // 4))
    t0 = time.perf_counter()
    local = ground_truth(learner, X, y, Xt, yt, **kw)
    t_local = time.perf_counter() - t0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster):
        t0 = time.perf_counter()
        remote = ground_truth(learner, X, y, Xt, yt, backend="dask", n_jobs=2, **kw)
        t_dask = time.perf_counter() - t0
    same = bool(np.array_equal(local.outputs, remote.outputs)
                and np.array_equal(local.residuals, remote.residuals))
    log(f"[dask] bit-identical: {same}")
    return {"n": args.dask_n, "n_subsets": args.dask_subsets, "bit_identical": same,
            "local_seconds": t_local, "dask_seconds": t_dask, "workers": 2}


# ---------------------------------------------------------------------------------------------
def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--features", type=int, default=512)
    ap.add_argument("--synthetic-d", type=int, default=256)
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--subsets", type=int, default=1000)
    ap.add_argument("--subsets-small", type=int, default=100)
    ap.add_argument("--ceiling-subsets", type=int, default=1000)
    ap.add_argument("--proj-dim", type=int, default=2048)
    ap.add_argument("--problems", default="digits,synthetic")
    ap.add_argument("--methods", default=None, help="comma list (default: all of METHODS)")
    ap.add_argument("--sections", default="per_fit,problems,growth,dask")
    ap.add_argument("--per-fit-k", type=int, default=20)
    ap.add_argument("--per-fit-sklearn", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--growth", default="1000,5000,20000")
    ap.add_argument("--growth-subsets", type=int, default=4, help="subsets timed per n (>= 3)")
    ap.add_argument("--growth-refit-max", type=int, default=1000)
    ap.add_argument("--growth-slow-max", type=int, default=1000)
    ap.add_argument("--dask-n", type=int, default=500)
    ap.add_argument("--dask-subsets", type=int, default=16)
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and BLAS threads of this process (default 1: on a shared "
                         "machine more threads than free cores slow torch down many times)")
    ap.add_argument("--chunk-size", type=int, default=16, help="subsets per ground-truth chunk")
    ap.add_argument("--cache", default=None, help="ground-truth chunk cache (resumable)")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--log", default=None, help="progress log file (default stderr)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.m, args.features, args.synthetic_d = 120, 12, 16, 8
        args.subsets, args.subsets_small, args.ceiling_subsets = 40, 20, 60
        args.proj_dim, args.per_fit_k, args.per_fit_sklearn, args.repeats = 32, 4, 2, 1
        args.growth, args.growth_subsets, args.growth_refit_max = "80,160", 3, 80
        args.growth_slow_max = 80
        args.dask_n, args.dask_subsets, args.chunk_size = 60, 4, 8
    args.growth = [int(v) for v in str(args.growth).split(",") if v]
    return args


def main(argv=None) -> dict:
    import sys

    args = parse(argv)
    log_file = open(args.log, "a") if args.log else None  # noqa: SIM115 - closed below

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, file=log_file or sys.stderr, flush=True)

    sections = set(args.sections.split(","))
    methods = []
    if sections & {"problems", "growth"}:
        from modelpred_theory.attribution import METHODS

        methods = list(METHODS) if args.methods is None else args.methods.split(",")
        if args.quick and args.methods is None:
            methods = [mm for mm in methods if mm != "modelpred_loo"]
    # settings as run, without paths of the machine (a cache folder is recorded as used or not)
    settings = {k: v for k, v in vars(args).items() if k not in ("log", "out")}
    settings["cache"] = args.cache is not None
    result = {"settings": settings,
              "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                          "note": "shared machine: timings are same-run ratios"}}
    t_all = time.perf_counter()
    import torch
    from threadpoolctl import threadpool_limits

    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    limits = threadpool_limits(args.threads)
    try:
        if "per_fit" in sections:
            X, y, _, _ = digits_relu(args.n, args.m, args.features, seed=0)
            log(f"[per_fit] n={args.n}, p={10 * (args.features + 1)}")
            learner = mpt.learners.LogisticRegression(lam=args.lam, n_classes=10)
            result["per_fit"] = per_fit(learner, X, y, args.per_fit_k, args.per_fit_sklearn,
                                        args.repeats, 0)
            log(f"[per_fit] {json.dumps(result['per_fit'])}")
        if "problems" in sections:
            result["problems"] = {}
            for name in args.problems.split(","):
                data = (digits_relu(args.n, args.m, args.features, seed=0) if name == "digits"
                        else synthetic(args.n, args.m, d=args.synthetic_d, seed=0))
                learner = mpt.learners.LogisticRegression(lam=args.lam, n_classes=10)
                result["problems"][name] = run_problem(name, learner, *data, args, methods,
                                                       log)
        if "growth" in sections:
            result["growth"] = growth(args, methods, log)
        if "dask" in sections:
            result["dask"] = dask_check(args, log)
    finally:
        limits.restore_original_limits()
        torch.set_num_threads(threads_before)
        result["total_seconds"] = time.perf_counter() - t_all
        result["machine"]["load_average_at_end"] = os.getloadavg()
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tag = "quick" if args.quick else f"n{args.n}_k{args.subsets}"
        path = out / f"attribution_benchmark_{tag}.json"
        path.write_text(json.dumps(result, indent=1, default=float))
        if log_file is not None:
            log_file.close()
    print(json.dumps(result, indent=1, default=float))
    return result


if __name__ == "__main__":
    main()
