"""Benchmark: where a learned oracle pays for data Shapley, at equal wall time (training included).

Sum convention (docs/design.md): theta(S) minimises sum_{i in S} CE_i(theta) + lam/2 ||P theta||^2
(L2 logistic regression, lam = 1, intercepts unpenalised); U(S) = -mean test cross-entropy of
theta(S); subsets missing a class get the best constant predictor's utility (every oracle alike).

For each pool (breast_cancer, 150 points; digits, a multinomial pool sized to run in minutes on
2 cores) a REFERENCE is computed first: exact retraining, antithetic permutations, a seed of its
own, run for ``ref_seconds``, with its own per-point standard errors. Then every method runs in
growing budgets (resumed, so no work is repeated) until ``cap_seconds``: the Shapley estimate
after each budget is compared with the reference (Spearman, relative L2 error) against the
method's total wall time, training of a learned oracle included. Methods: oracles exact
retraining, first-order influence, and ModelPred (every base the installed ModelPred accepts;
trained here, its time counted), each with permutation, antithetic and size-stratified sampling.

Reported (JSON on stdout, also bench/results/valuation_budget[_quick].json; the figure
figures/output/valuation_budget.png): the time at which each method first reaches Spearman 0.9
against the reference (null if never within its cap), and every interval in which ModelPred's
curve lies above exact retraining's with the same sampler (the crossover, if any).

    python bench/valuation_budget.py            # full run (about 15-20 minutes on 2 cores)
    python bench/valuation_budget.py --quick    # smoke run of seconds
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("permutation", "antithetic", "stratified")
# Pools: (dataset, n_train, ref_seconds, query-time caps in seconds for exact retraining and for
# the cheap oracles, ModelPred settings). An exact digits permutation (p = 650: a Newton solve of
# a 650 x 650 system per subset) took 0.6 s at 100 points and 1.6 s at 200 on 2 shared cores,
# growing faster than linearly, so at 1,000 points a reference of a few thousand permutations
# would take hours: the full run uses 100 points.
FULL = {"pools": {
    "breast_cancer": ("breast_cancer", 150, 150.0, 45.0, 20.0,
                      {"n_permutations": 30, "epochs": 40}),
    "digits": ("digits", 100, 150.0, 45.0, 20.0,
               {"n_permutations": 30, "epochs": 40, "rho_hidden": (256, 256, 256)})},
    "growth": 1.6}
QUICK = {"pools": {"iris2": ("iris2", 12, 0.5, 0.3, 0.3,
                             {"n_permutations": 2, "epochs": 1, "width": 16,
                              "rho_hidden": (16,)})},
         "growth": 3.0}
TARGET_SPEARMAN = 0.9


def _bases() -> list:
    """The ModelPred bases this installation accepts: ``[None]`` (no ``base=`` argument: plain
    ModelPred), else every base, "none" (the paper's plain ModelPred) included."""
    from modelpred_theory.setfn import ModelPred

    if "base" in inspect.signature(ModelPred.__init__).parameters:
        return ["none", "influence", "newton"]
    return [None]


def _curve(run, setup: float, ref: np.ndarray, n: int, cap: float, growth: float) -> list:
    """Run ``run(stopping, resume)`` in growing evaluation budgets until ``cap`` seconds of
    querying; each point's ``seconds`` includes the oracle's training (``setup``)."""
    from modelpred_theory import applications as A

    points, res, budget = [], None, 2.0 * n
    while True:
        res = run(A.FixedBudget(evaluations=budget), res)
        seconds = setup + res.state.elapsed_seconds
        agree = A.compare_values(res.values, ref) if np.all(np.isfinite(res.values)) else {}
        se2 = res.stderr**2
        points.append({"seconds": seconds, "evaluations": res.n_utility_calls,
                       "units": res.n_samples, "spearman": agree.get("spearman"),
                       "rel_l2": agree.get("rel_l2"),
                       "median_stderr": float(np.median(res.stderr)),
                       "mean_se2": float(np.mean(se2)) if np.all(np.isfinite(se2)) else None})
        if res.state.elapsed_seconds >= cap:  # the cap bounds query time (training excluded)
            return points
        budget = max(budget * growth, res.n_utility_calls + 1.0)


def _time_to(points, target=TARGET_SPEARMAN):
    for p in points:
        if p["spearman"] is not None and p["spearman"] >= target:
            return p["seconds"]
    return None


def _lead_intervals(mp: list, ex: list) -> list:
    """Time intervals where ModelPred's Spearman (last value so far) beats exact's."""
    def at(points, t):
        vals = [p["spearman"] for p in points if p["seconds"] <= t and p["spearman"] is not None]
        return vals[-1] if vals else None

    grid = sorted({p["seconds"] for p in mp + ex})
    out, start = [], None
    for t in grid:
        a, b = at(mp, t), at(ex, t)
        lead = a is not None and (b is None or a > b)
        if lead and start is None:
            start = t
        if not lead and start is not None:
            out.append([start, t])
            start = None
    if start is not None:
        out.append([start, None])
    return out


def _variance_reduction(methods: dict, oracle: str) -> dict:
    """Mean SE^2 x evaluations of plain permutations over each sampler's, at the final point."""
    def eff(key):
        p = methods[f"{oracle}/{key}"]["points"][-1]
        return None if p["mean_se2"] is None else p["mean_se2"] * p["evaluations"]

    base = eff("permutation")
    out = {}
    for sampler in SAMPLERS:
        e = eff(sampler)
        out[sampler] = base / e if base is not None and e else None
    return out


def _pool(name, n_train, ref_seconds, cap_exact, cap_cheap, mp_settings, args, growth):
    import torch

    from modelpred_theory import applications as A
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression
    from modelpred_theory.setfn import ModelPred

    ds = load(name, seed=args.seed, n_train=n_train)
    L = LogisticRegression(lam=1.0)
    data = (L, ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    n = ds.n_train
    ref = A.data_shapley(*data, "exact", None, args.seed + 1000, sampler="stratified",
                         stopping=A.WallClock(ref_seconds), round_size=1)
    reliability = 1.0 - float(np.mean(ref.stderr**2)) / float(np.var(ref.values))
    out = {"dataset": name, "n_pool": n, "n_test": ds.n_test, "lam": 1.0,
           "torch_threads": torch.get_num_threads(),
           "reference": {"oracle": "exact", "sampler": "stratified",
                         "n_cycles": ref.n_samples, "n_evaluations": ref.n_utility_calls,
                         "permutation_equivalents": ref.n_utility_calls / max(1, n - 1),
                         "seconds": ref.total_seconds,
                         "reliability": reliability,
                         "median_stderr": float(np.median(ref.stderr)),
                         "max_stderr": float(np.max(ref.stderr)),
                         "value_std": float(np.std(ref.values)),
                         "stopped_by": ref.stopped_by},
           "methods": {}, "modelpred": {}}
    oracles = {"exact": ("exact", 0.0), "influence": ("influence", 0.0)}
    for base in _bases():
        kw = dict(mp_settings)
        if base is not None:
            kw["base"] = None if base == "none" else base
        t0 = time.perf_counter()
        model = ModelPred(L, seed=args.seed, progress=args.progress, **kw).fit(ds.X_train,
                                                                               ds.y_train)
        secs = time.perf_counter() - t0
        key = "modelpred" if base is None else f"modelpred:{base}"
        oracles[key] = (model, secs)
        out["modelpred"][key] = {"train_seconds": secs, "settings": {
            k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}}
    for key, (orc, setup) in oracles.items():
        for sampler in SAMPLERS:
            def run(stopping, resume, orc=orc, sampler=sampler):
                return A.data_shapley(*data, orc, None, args.seed, sampler=sampler,
                                      stopping=stopping, resume=resume, round_size=(
                                          1 if sampler == "stratified" else 16))

            cap = cap_exact if key == "exact" else cap_cheap
            pts = _curve(run, setup, ref.values, n, cap, growth)
            out["methods"][f"{key}/{sampler}"] = {
                "oracle": key, "sampler": sampler, "setup_seconds": setup, "points": pts,
                "seconds_to_spearman_0.9": _time_to(pts),
                "final_spearman": pts[-1]["spearman"], "final_rel_l2": pts[-1]["rel_l2"]}
            print(f"{name} {key}/{sampler}: final Spearman {pts[-1]['spearman']}, "
                  f"{pts[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    out["variance_reduction"] = {k: _variance_reduction(out["methods"], k) for k in oracles}
    out["crossover"] = {}
    for key in oracles:
        if key.startswith("modelpred"):
            for sampler in SAMPLERS:
                out["crossover"][f"{key}/{sampler}"] = _lead_intervals(
                    out["methods"][f"{key}/{sampler}"]["points"],
                    out["methods"][f"exact/{sampler}"]["points"])
    return out


def _plot(results, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pools = results["pools"]
    fig, axes = plt.subplots(2, len(pools), figsize=(5.2 * len(pools), 7.2), squeeze=False)
    styles = {"permutation": "-", "antithetic": "--", "stratified": ":"}
    for j, pool in enumerate(pools):
        colors = {}
        for key, m in pool["methods"].items():
            col = colors.setdefault(m["oracle"], f"C{len(colors)}")
            pts = [p for p in m["points"] if p["spearman"] is not None]
            t = [p["seconds"] for p in pts]
            label = f"{key}" + (f" ({m['setup_seconds']:.0f} s training)"
                                if m["setup_seconds"] else "")
            axes[0, j].plot(t, [p["spearman"] for p in pts], styles[m["sampler"]], color=col,
                            label=label, lw=1.2, marker=".", ms=3)
            axes[1, j].plot(t, [p["rel_l2"] for p in pts], styles[m["sampler"]], color=col,
                            lw=1.2, marker=".", ms=3)
        axes[0, j].axhline(TARGET_SPEARMAN, color="k", lw=0.6, ls=":")
        r = pool["reference"]
        axes[0, j].set_title(f"{pool['dataset']} n={pool['n_pool']}: reference exact, "
                             f"stratified, {r['permutation_equivalents']:.0f} perm-equiv., "
                             f"reliability {r['reliability']:.2f}", fontsize=7)
        for ax in axes[:, j]:
            ax.set_xscale("log")
            ax.set_xlabel("total wall time, training included (s)")
        axes[0, j].set_ylabel("Spearman vs reference")
        axes[1, j].set_ylabel("relative L2 error vs reference")
        axes[1, j].set_yscale("log")
        axes[0, j].legend(fontsize=5.5, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (tiny sizes, seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="JSON folder")
    ap.add_argument("--figure", default=str(ROOT / "figures" / "output"
                                            / "valuation_budget.png"), help="PNG path")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--pools", default=None,
                    help="comma-separated pools to run (default: all of the mode)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    import torch

    torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    names = list(cfg["pools"]) if args.pools is None else args.pools.split(",")
    for k in names:
        if k not in cfg["pools"]:
            ap.error(f"--pools: unknown pool {k!r}; choose from {sorted(cfg['pools'])}")
    t0 = time.perf_counter()
    results = {"bench": "valuation_budget", "quick": bool(args.quick), "seed": args.seed,
               "target_spearman": TARGET_SPEARMAN,
               "pools": [_pool(*cfg["pools"][k], args, cfg["growth"]) for k in names]}
    results["wall_seconds"] = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = ("valuation_budget_quick.json" if args.quick
            else f"valuation_budget_{'_'.join(names)}.json")
    (out / name).write_text(json.dumps(results, indent=1))
    _plot(results, Path(args.figure))
    summary = {p["dataset"]: {k: m["seconds_to_spearman_0.9"] for k, m in p["methods"].items()}
               for p in results["pools"]}
    print(json.dumps({"seconds_to_spearman_0.9": summary,
                      "reference": {p["dataset"]: p["reference"] for p in results["pools"]},
                      "variance_reduction": {p["dataset"]: p["variance_reduction"]
                                             for p in results["pools"]},
                      "crossover": {p["dataset"]: p["crossover"] for p in results["pools"]},
                      "json": str(out / name)}, indent=1))
    return results


if __name__ == "__main__":
    main()
