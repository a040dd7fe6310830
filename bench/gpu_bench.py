"""CPU vs CUDA, same code: the exact batched solver and a small ModelPred training.

Sum convention: F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam; every
ground truth is float64 on every device.

Measured on each device ("cpu", and "cuda" when torch sees one), in one run:

* ``gemm``        : float64 GEMM GFLOP/s (square, best and median of repeats), the roofline;
* ``fit_subsets`` : exact theta(S) of k random half-subsets, breast_cancer (binary, p = 31)
  and digits (10 classes, pool 300, p = 650): fits per second (median of repeats, with the
  spread), whether every residual is below tolerance, and on CUDA the largest difference from
  the CPU thetas;
* ``classical``   : ``baselines.influence`` (orders 1 and 2), ``newton_step`` and ``certify``
  on digits half-subsets: seconds, and on CUDA the largest difference from the CPU answers;
* ``modelpred``   : ``ModelPred(...).fit`` on breast_cancer (iris2 with --quick) with a small
  budget: seconds, and the median relative error on held-out subsets.

Speed-ups are ratios of times measured in the same run. On a machine without CUDA the JSON says
so in ``note`` and holds the CPU figures only. A step whose API takes no ``device=`` in this
version of the library is reported as skipped on CUDA, with the reason.

Usage
-----
    python bench/gpu_bench.py            # full (about a minute on CPU)
    python bench/gpu_bench.py --quick    # seconds
Prints one JSON document and writes it to --out (default bench/results/gpu_bench.json).
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import modelpred_theory as mpt


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def gemm(device: str, size: int, repeats: int) -> dict:
    gen = torch.Generator(device=device).manual_seed(0)
    A = torch.randn(size, size, dtype=torch.float64, device=device, generator=gen)
    B = torch.randn(size, size, dtype=torch.float64, device=device, generator=gen)
    A @ B
    _sync(device)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ B
        _sync(device)
        rates.append(2.0 * size**3 / (time.perf_counter() - t0) / 1e9)
    return {"size": size, "gflops_best": max(rates), "gflops_median": float(np.median(rates))}


def _takes_device(fn) -> bool:
    try:
        return "device" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _problem(name: str, k: int, seed: int):
    ds = mpt.datasets.load(name, seed=seed, n_train=300 if name == "digits" else None)
    X, y = ds.X_train, ds.y_train
    n = len(y)
    masks = mpt.subsets.fixed_size_subsets(n, k, n // 2, rng=seed, y=y, require_all_classes=True)
    return mpt.learners.LogisticRegression(1.0, n_classes=max(2, ds.n_classes)), X, y, masks


def solver(device: str, name: str, k: int, repeats: int, seed: int, reference=None) -> dict:
    learner, X, y, masks = _problem(name, k, seed)
    if device != "cpu" and not _takes_device(learner.fit_subsets):
        return {"skipped": "learner.fit_subsets takes no device= in this version"}
    kw = {} if device == "cpu" else {"device": device}
    learner.fit_subsets(X, y, masks[:4], **kw)  # warm-up (kernels, allocator, thread pools)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = learner.fit_subsets(X, y, masks, return_info=True, **kw)
        times.append(time.perf_counter() - t0)
    tol = learner.residual_tolerance(X, y, masks)
    out = {"dataset": name, "k": k, "p": int(res.thetas.shape[1]),
           "seconds_median": float(np.median(times)), "seconds_min": min(times),
           "seconds_max": max(times), "fits_per_second": k / float(np.median(times)),
           "all_residuals_below_tol": bool(np.all(res.grad_norms <= tol))}
    if reference is not None:
        # float64 on both devices; the solvers stop at the same relative residual, so the
        # thetas agree to about tol * condition number, not bit for bit
        out["max_abs_diff_vs_cpu"] = float(np.abs(res.thetas - reference).max())
    return out, res.thetas


def classical(device: str, k: int, seed: int, reference=None):
    """influence (orders 1, 2), newton_step and certify on k digits half-subsets: seconds each
    (after a warm-up), and on CUDA the largest difference from the CPU answers."""
    from modelpred_theory.baselines import influence, newton_step
    from modelpred_theory.setfn import certify

    learner, X, y, masks = _problem("digits", k, seed)
    theta_full = learner.fit(X, y).theta
    steps = {"influence": lambda kw: influence(learner, X, y, masks, theta_base=theta_full, **kw),
             "influence2": lambda kw: influence(learner, X, y, masks, order=2,
                                                theta_base=theta_full, **kw),
             "newton_step": lambda kw: newton_step(learner, X, y, masks, theta_base=theta_full,
                                                   **kw)}
    fns = {"influence": influence, "influence2": influence, "newton_step": newton_step,
           "certify": certify}
    out, answers = {"dataset": "digits", "k": k}, {}
    for name in [*steps, "certify"]:
        if device != "cpu" and not _takes_device(fns[name]):
            out[name] = {"skipped": f"{name} takes no device= in this version"}
            continue
        kw = {} if device == "cpu" else {"device": device}
        run = steps.get(name) or (lambda kw: certify(learner, X, y, masks,
                                                     answers["newton_step"], **kw))
        run(kw)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        answers[name] = np.asarray(run(kw))
        _sync(device)
        out[name] = {"seconds": time.perf_counter() - t0}
        if reference is not None and name in reference:
            diff = np.abs(answers[name] - reference[name])
            out[name]["max_abs_diff_vs_cpu"] = float(np.nanmax(np.where(np.isinf(diff), 0, diff)))
    return out, answers


def modelpred(device: str, dataset: str, epochs: int, n_permutations: int, seed: int) -> dict:
    if device != "cpu" and not _takes_device(mpt.ModelPred):
        return {"skipped": "ModelPred takes no device= in this version"}
    ds = mpt.datasets.load(dataset, seed=seed)
    X, y = ds.X_train, ds.y_train
    learner = mpt.learners.LogisticRegression(1.0)
    kw = {} if device == "cpu" else {"device": device}
    t0 = time.perf_counter()
    model = mpt.ModelPred(learner, seed=seed, epochs=epochs, n_permutations=n_permutations,
                          progress=False, **kw).fit(X, y)
    seconds = time.perf_counter() - t0
    masks = mpt.subsets.fixed_size_subsets(len(y), 50, len(y) // 2, rng=seed + 1, y=y,
                                           require_all_classes=True)
    exact = learner.fit_subsets(X, y, masks)
    pred = model.predict(X, y, masks)
    rel = np.linalg.norm(pred - exact, axis=1) / np.linalg.norm(exact, axis=1)
    return {"dataset": dataset, "epochs": epochs, "n_permutations": n_permutations,
            "fit_seconds": seconds, "median_rel_err_heldout": float(np.median(rel))}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench/results/gpu_bench.json"))
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    q = args.quick
    cuda = torch.cuda.is_available()
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    result = {"quick": q, "torch": torch.__version__, "cuda_available": cuda,
              "cpu_threads": torch.get_num_threads(), "devices": {}}
    if cuda:
        result["cuda_device"] = torch.cuda.get_device_name(0)
    else:
        result["note"] = ("no CUDA device: torch.cuda.is_available() is False here, so only the "
                          "CPU figures were measured; rerun on a machine with a GPU")
    plan = [("breast_cancer", 20 if q else 2000), ("digits", 2 if q else 200)]
    refs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dev in devices:
            entry = {"gemm": gemm(dev, 128 if q else 2048, 3 if q else 5), "fit_subsets": {}}
            for name, k in plan:
                got = solver(dev, name, k, 1 if q else 3, args.seed, refs.get(name))
                if isinstance(got, dict):
                    entry["fit_subsets"][name] = got
                else:
                    entry["fit_subsets"][name] = got[0]
                    refs.setdefault(name, got[1])
            entry["classical"], got = classical(dev, 4 if q else 200, args.seed,
                                                refs.get("classical"))
            refs.setdefault("classical", got)
            entry["modelpred"] = modelpred(dev, "iris2" if q else "breast_cancer", 1 if q else 30,
                                           1 if q else 20, args.seed)
            result["devices"][dev] = entry
    if cuda:
        speed = {}
        for name, _ in plan:
            c, g = (result["devices"][d]["fit_subsets"][name] for d in ("cpu", "cuda"))
            if "seconds_median" in g:
                speed[f"fit_subsets_{name}"] = c["seconds_median"] / g["seconds_median"]
        c, g = (result["devices"][d]["classical"] for d in ("cpu", "cuda"))
        for name in ("influence", "influence2", "newton_step", "certify"):
            if "seconds" in g.get(name, {}):
                speed[name] = c[name]["seconds"] / g[name]["seconds"]
        c, g = (result["devices"][d]["modelpred"] for d in ("cpu", "cuda"))
        if "fit_seconds" in g:
            speed["modelpred_fit"] = c["fit_seconds"] / g["fit_seconds"]
        result["cuda_speedup_vs_cpu"] = speed
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
