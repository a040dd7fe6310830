"""Benchmark: when does training a predictor of theta(S) pay? Total time for Q subset queries.

Sum convention (docs/design.md): theta(S) minimises sum_{i in S} loss_i(theta) + lam/2
||P theta||^2 (C = 1/lam). For one problem this measures, in one run:

* the exact batched solver's time per subset (``learner.fit_subsets`` on a sample of queries);
* first-order influence and one Newton step: their one-off set-up (the pool fit, the (n, p)
  influence matrix) and time per subset;
* ModelPred with no base (the paper's method) and over each classical base: the cost of its
  exact training labels (label pairs x exact time per subset), its training time, and its time
  per predicted subset;
* the median relative parameter error of each on the sampled queries (exact refits as truth).

Total time to answer Q queries is fixed + Q x per-query, from those measured costs, for Q from
10^2 to 10^6 (the totals beyond the sampled Q are extrapolated linearly: every method's cost is
linear in Q beyond one chunk); the crossover Q* = fixed / (exact per-query - per-query) is where
a method becomes cheaper than exact retraining (none when its per-query cost is not lower).
Prints JSON and writes figures/output/cost_crossover.png:

    python bench/cost_crossover.py                   # digits and synthetic, one figure
    python bench/cost_crossover.py --problem digits  # digits, pool 300 (minutes)
    python bench/cost_crossover.py --problem synthetic --n 20000 --d 256   # larger
    python bench/cost_crossover.py --quick           # smoke run (seconds)

The synthetic problem is ``datasets.make_multiclass_logistic`` (default n = 5,000, d = 128,
K = 10: p = 1,290, where one exact fit runs the truncated Newton-CG path). Every problem writes
cost_crossover_<problem>.json/.png; ``--problem all`` also writes cost_crossover.png with one
panel per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

PROBLEMS = ("digits", "synthetic")
SYNTHETIC = {"n": 5000, "d": 128, "n_classes": 10}
# Label budget and queries per problem: the synthetic problem's exact fits cost ~100x digits'.
FULL = {"digits": {"n_permutations": 100, "step": 5, "epochs": 40, "n_queries": 2000},
        "synthetic": {"n_permutations": 40, "step": None, "epochs": 40, "n_queries": 200}}
# step None: n // 20, i.e. 10 prefixes per permutation between 50% and 100% of the pool.
QUICK = {"n_permutations": 4, "step": 25, "epochs": 2, "n_queries": 100}
Q_GRID = np.logspace(2, 6, 17)


def _problem(name, quick, seed, synthetic):
    import modelpred_theory as mpt

    if name == "digits":
        ds = mpt.datasets.load("digits", seed=seed, n_train=300)
    else:
        cfg = dict(synthetic)
        if quick:
            cfg.update(n=300, d=16)
        ds = mpt.datasets.make_multiclass_logistic(n=cfg["n"], d=cfg["d"],
                                                   n_classes=cfg["n_classes"], rng=seed,
                                                   scale=True)
    return ds.X_train, ds.y_train


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _row(name, fixed_s, per_query_s, err, exact_per_q):
    saving = exact_per_q - per_query_s
    q_star = fixed_s / saving if saving > 0 else None
    return {"method": name, "fixed_s": fixed_s, "per_query_s": per_query_s,
            "median_rel_err": None if err is None else float(np.median(err)),
            "crossover_Q": q_star,
            "total_s": {f"{q:.0f}": fixed_s + q * per_query_s for q in Q_GRID}}


def _baselines(learner, X, y, Q, exact, exact_per_q):
    from modelpred_theory.baselines import influence, newton_step
    from modelpred_theory.setfn import relative_error
    from modelpred_theory.setfn.bases import make_base

    _, y_enc, K = learner.prepare(X, y)
    rows = []
    for name, base in (("influence (1st order)", "influence"), ("Newton step", "newton")):
        b, setup = _timed(lambda base=base: make_base(base, learner).fit(X, y_enc, K))
        pred, t = _timed(lambda b=b: b.predict(X, y_enc, K, Q.astype(np.float64)))
        rows.append(_row(name, setup, t / len(Q), relative_error(pred, exact), exact_per_q))
    # the library's public baselines give the same numbers (checked, not timed)
    ref = {"influence (1st order)": influence(learner, X, y, Q[:5]),
           "Newton step": newton_step(learner, X, y, Q[:5])}
    for row in rows:
        b = make_base("influence" if row["method"].startswith("influence") else "newton",
                      learner).fit(X, y_enc, K)
        diff = np.abs(b.predict(X, y_enc, K, Q[:5].astype(np.float64)) - ref[row["method"]])
        row["max_diff_vs_public_baseline"] = float(diff.max())
    return rows


def _modelpreds(learner, X, y, Q, exact, exact_per_q, cfg, seed):
    from modelpred_theory.setfn import ModelPred, generate_pairs, relative_error

    n = X.shape[0]
    pairs, _ = _timed(lambda: generate_pairs(learner, X, y, n_permutations=cfg["n_permutations"],
                                             step=cfg["step"] or max(1, n // 20),
                                             min_size=n // 2, rng=seed,
                                             progress=False))
    label_s = len(pairs) * exact_per_q  # the exact solver's cost per subset, same run
    rows = []
    for name, base in (("ModelPred (paper: no base)", None),
                       ("ModelPred over influence", "influence"),
                       ("ModelPred over Newton", "newton")):
        model, train_s = _timed(lambda base=base: ModelPred(
            learner, seed=seed, base=base, epochs=cfg["epochs"], progress=False).fit(
            X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups))
        model._net_eval()
        pred, t = _timed(lambda m=model: m.predict(X, y, Q))
        row = _row(name, label_s + train_s, t / len(Q), relative_error(pred, exact),
                   exact_per_q)
        row.update({"label_pairs": len(pairs), "label_s": label_s, "train_s": train_s})
        rows.append(row)
    return rows


def _panel(ax, out: dict) -> None:
    for row in out["methods"]:
        tot = np.array(list(row["total_s"].values()))
        err = row["median_rel_err"]
        label = row["method"] + ("" if err is None or err == 0 else f" (err {err:.1e})")
        ax.plot(Q_GRID, tot, "-" if row["method"] == "exact retraining" else "--", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of subset queries Q")
    ax.set_ylabel("total time, labels and training included (s)")
    ax.set_title(f"{out['problem']} (n={out['n']}, p={out['p']}): measured per-unit costs",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)


def _figure(outs: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(outs), figsize=(6.5 * len(outs), 4.4), squeeze=False)
    for ax, out in zip(axes[0], outs, strict=True):
        _panel(ax, out)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_problem(problem: str, quick: bool, seed: int, synthetic: dict) -> dict:
    """Measure every method's fixed and per-query cost and error on one problem."""
    import modelpred_theory as mpt

    cfg = QUICK if quick else FULL[problem]
    X, y = _problem(problem, quick, seed, synthetic)
    n = X.shape[0]
    K = len(np.unique(y))
    learner = mpt.learners.LogisticRegression(lam=1.0, n_classes=K if K > 2 else None)
    Q = mpt.subsets.random_subsets(n, cfg["n_queries"], rng=seed + 3, min_size=n // 2,
                                   max_size=n, y=y, require_all_classes=True)
    exact, exact_s = _timed(lambda: learner.fit_subsets(X, y, Q))
    exact_per_q = exact_s / len(Q)
    print(f"[crossover] {problem}: exact {1e3 * exact_per_q:.2f} ms per subset", file=sys.stderr)
    rows = [_row("exact retraining", 0.0, exact_per_q, None, exact_per_q)]
    rows += _baselines(learner, X, y, Q, exact, exact_per_q)
    rows += _modelpreds(learner, X, y, Q, exact, exact_per_q, cfg, seed)
    return {"benchmark": "cost_crossover", "problem": problem, "quick": quick,
            "n": n, "p": int(exact.shape[1]), "sampled_queries": len(Q), "config": cfg,
            **({"synthetic": synthetic} if problem == "synthetic" else {}),
            "note": "totals beyond the sampled queries are linear extrapolations of measured "
                    "per-query costs; label cost = pairs x the exact per-subset time",
            "methods": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problem", choices=(*PROBLEMS, "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=SYNTHETIC["n"], help="synthetic pool size")
    ap.add_argument("--d", type=int, default=SYNTHETIC["d"], help="synthetic features")
    ap.add_argument("--classes", type=int, default=SYNTHETIC["n_classes"],
                    help="synthetic classes")
    ap.add_argument("--out", default="figures/output", help="output folder (relative to cwd)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    for name in ("n", "d", "classes"):
        if getattr(args, name) < (2 if name == "classes" else 1):
            ap.error(f"--{name} must be a positive integer (>= 2 for --classes)")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    synthetic = {"n": args.n, "d": args.d, "n_classes": args.classes}
    problems = PROBLEMS if args.problem == "all" else (args.problem,)
    outs = []
    for problem in problems:
        out = run_problem(problem, args.quick, args.seed, synthetic)
        _figure([out], out_dir / f"cost_crossover_{problem}.png")
        (out_dir / f"cost_crossover_{problem}.json").write_text(json.dumps(out, indent=1))
        outs.append(out)
    if len(outs) > 1:
        _figure(outs, out_dir / "cost_crossover.png")
    print(json.dumps(outs if len(outs) > 1 else outs[0], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
