"""Memory and time at scale: large synthetic problems through the exact solver and the baselines.

Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam.

For each problem (``datasets.make_logistic`` / ``datasets.make_multiclass_logistic``, n up to
10^5, d up to 784, K up to 10) the script times, and measures the memory of,

* ``generate``     : the data set itself (float64, unit-ball scaled);
* ``fit_subsets``  : exact theta(S) of k random half-subsets (the learner's memory-sized chunks);
* ``influence``    : first-order group influence of the same k subsets (direct solver);
* ``newton_step``  : one exact Newton step from the full fit, chunked.

Memory is the peak resident set size above the level before the step, sampled every 2 ms from
/proc/self/statm (numpy and torch allocations alike), with numpy's own peak from tracemalloc
beside it, and the process's lifetime peak (getrusage). Before each step the script predicts
the step's dominant arrays (formulas in ``predict_gb``); a step predicted above ``--max-gb`` is
not run and its entry says why, so the script never pushes a shared machine into swap or the
OOM killer. The packed per-row outer products (n, q(q+1)/2), q = d + 1, are built only on the
direct (Hessian) path and only below ``tensors.OUTER_BYTES`` (1 GiB); the truncated-Newton path
never builds them, and above the cap Hessians are formed from X directly.

Usage
-----
    python bench/scale_memory.py --quick          # seconds
    python bench/scale_memory.py                  # n up to 10^5, d up to 784, K up to 10
    python bench/scale_memory.py --max-gb 20      # allow bigger steps
    python bench/scale_memory.py --problem multiclass:100000:784:10   # one problem
Prints one JSON document and writes it to --out (default bench/results/scale_memory.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import torch

import modelpred_theory as mpt
from modelpred_theory.learners.tensors import OUTER_BYTES

GB = 2.0**30
# (kind, n, d, K); K = 2 is binary
FULL = [("binary", 100_000, 32, 2), ("multiclass", 10_000, 64, 10),
        ("binary", 800, 784, 2), ("binary", 100_000, 784, 2),
        ("multiclass", 20_000, 256, 10), ("multiclass", 100_000, 784, 10)]
QUICK = [("binary", 600, 8, 2), ("multiclass", 600, 8, 3)]


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc; elsewhere the lifetime peak as a proxy)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class PeakMemory:
    """Context manager: peak RSS above the starting level (sampled) and numpy's traced peak."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval

    def __enter__(self):
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        tracemalloc.start()
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())
        self.numpy_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False

    def report(self) -> dict:
        return {"seconds": self.seconds, "rss_peak_above_start_gb": (self.peak - self.base) / GB,
                "numpy_traced_peak_gb": self.numpy_peak / GB,
                "process_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                * (1 if sys.platform == "darwin" else 1024) / GB}


def predict_gb(step: str, n: int, d: int, K: int, k: int, learner) -> float:
    """Dominant arrays of a step, in GiB (float64 = 8 bytes).

    outer: 3 n q(q+1)/2 (the packed outer products and the two column gathers that build it),
    built only on the direct (Hessian) path and only while the table fits in
    ``tensors.OUTER_BYTES``; otherwise each chunk's Hessians come from X directly (k_c n q
    temporaries). data: 3 n q (the tensor, its augmented copy and a temporary); per-sample
    gradients: 2 n p (G and H^{-1} G); chunked Hessians:
    2 k_c p^2 (k_c the learner's chunk); the CG path's per-subset curvatures 6 n K^2; the data
    generator's QR and products: 5 n d (measured 2.9 GiB at n = 10^5, d = 784).
    """
    q = d + 1
    Kp = 1 if K == 2 else K
    p = Kp * q
    cg = learner.uses_cg(p) and step == "fit_subsets"
    table = 8 * n * q * (q + 1) / 2 <= OUTER_BYTES
    outer = 0.0 if (cg or not table) else 3.0 * n * q * (q + 1) / 2
    chunk = learner.default_chunk_size if step == "fit_subsets" else learner.hessian_chunk_size
    kc = min(k, chunk(n, p, Kp))
    if cg:
        work = kc * (6.0 * n * Kp * Kp + 3.0 * n * Kp + 16.0 * p)
    else:
        work = kc * p * p * 2 + (0.0 if table else kc * n * q)
    data = 3.0 * n * q  # the data as a tensor, its augmented copy [X, 1] and one temporary
    if step == "generate":
        words = 5.0 * n * d
    elif step == "fit_subsets":
        words = data + outer + work + 2.0 * k * n
    elif step == "influence":
        words = data + outer + (0.0 if table else n * q) + 3.0 * n * p + 2.0 * p * p + k * n
    else:  # newton_step
        words = data + outer + work + 2.0 * k * n
    return 8.0 * words / GB


def _problem(kind, n, d, K, seed):
    if kind == "binary":
        return mpt.datasets.make_logistic(n=n, d=d, condition_number=10.0, n_test=1000, rng=seed,
                                          scale=True)
    return mpt.datasets.make_multiclass_logistic(n=n, d=d, n_classes=K, condition_number=10.0,
                                                 n_test=1000, rng=seed, scale=True)


def run_problem(kind, n, d, K, *, k, lam, seed, max_gb) -> dict:
    learner = mpt.learners.LogisticRegression(lam)
    out = {"kind": kind, "n": n, "d": d, "K": K, "p": (1 if K == 2 else K) * (d + 1), "k": k,
           "lam": lam, "steps": {}}

    def guarded(step, fn):
        need = predict_gb(step, n, d, K, k, learner)
        entry = {"predicted_gb": need}
        if need > max_gb:
            entry["skipped"] = (f"predicted {need:.1f} GiB > --max-gb {max_gb:g}"
                                + ("" if step == "generate" else
                                   f" (outer_products alone: "
                                   f"{8 * 3 * n * (d + 1) * (d + 2) / 2 / GB:.1f} GiB)"))
            out["steps"][step] = entry
            return None
        print(f"[scale_memory] {kind} n={n} d={d} K={K}: {step} (predicted {need:.2f} GiB)",
              file=sys.stderr, flush=True)
        try:
            with PeakMemory() as mem:
                value = fn()
        except (ValueError, MemoryError, RuntimeError) as exc:  # recorded; the run goes on
            entry["error"] = f"{type(exc).__name__}: {exc}"
            out["steps"][step] = entry
            return None
        entry.update(mem.report())
        out["steps"][step] = entry
        return value, entry

    got = guarded("generate", lambda: _problem(kind, n, d, K, seed))
    if got is None:
        return out
    ds = got[0]
    X, y = ds.X_train, ds.y_train
    masks = mpt.subsets.random_subsets(n, k, rng=seed, min_size=n // 2, max_size=n // 2, y=y,
                                       require_all_classes=True)
    exact = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported in the JSON instead
        got = guarded("fit_subsets",
                      lambda: learner.fit_subsets(X, y, masks, return_info=True))
        if got is not None:
            res, entry = got
            exact = res.thetas
            entry.update(fits_per_second=k / entry["seconds"],
                         all_converged=bool(np.all(res.converged)),
                         max_grad_norm=float(res.grad_norms.max()))
        for step, fn in (("influence", mpt.baselines.influence),
                         ("newton_step", mpt.baselines.newton_step)):
            got = guarded(step, lambda fn=fn: fn(learner, X, y, masks))
            if got is not None and exact is not None:
                got[1]["median_rel_err_vs_exact"] = _rel(got[0], exact)
    return out


def _rel(approx, exact) -> float:
    return float(np.median(np.linalg.norm(approx - exact, axis=1)
                           / np.maximum(np.linalg.norm(exact, axis=1), 1e-300)))


def _parse_problem(text: str, ap) -> tuple[str, int, int, int]:
    try:
        kind, n, d, K = text.split(":")
        n, d, K = int(n), int(d), int(K)
    except ValueError:
        ap.error(f"--problem must be KIND:N:D:K, got {text!r}")
    if kind not in ("binary", "multiclass") or min(n, d) < 1 or (kind == "binary") != (K == 2):
        ap.error(f"--problem: KIND binary (K = 2) or multiclass (K >= 3), N, D >= 1; got {text!r}")
    return kind, n, d, K


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small problems (seconds)")
    ap.add_argument("--k", type=int, default=None, help="subsets per problem (default 8; 4 quick)")
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-gb", type=float, default=6.0,
                    help="skip a step whose predicted memory exceeds this (GiB)")
    ap.add_argument("--problem", action="append", default=None, metavar="KIND:N:D:K",
                    help="run this problem instead of the plan (repeatable), e.g. "
                         "multiclass:100000:784:10")
    ap.add_argument("--out", type=Path, default=Path("bench/results/scale_memory.json"))
    args = ap.parse_args(argv)
    if args.max_gb <= 0:
        ap.error("--max-gb must be positive")
    if args.k is not None and args.k < 1:
        ap.error("--k must be >= 1")
    k = args.k or (4 if args.quick else 8)
    plan = QUICK if args.quick else FULL
    if args.problem:
        plan = [_parse_problem(text, ap) for text in args.problem]
    results = {"quick": args.quick, "torch_threads": torch.get_num_threads(),
               "max_gb": args.max_gb, "problems": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for kind, n, d, K in plan:
        results["problems"].append(run_problem(kind, n, d, K, k=k, lam=args.lam, seed=args.seed,
                                               max_gb=args.max_gb))
        text = json.dumps(results, indent=2)
        args.out.write_text(text + "\n")  # after every problem: finished work is kept
    print(text)
    return results


if __name__ == "__main__":
    main()
