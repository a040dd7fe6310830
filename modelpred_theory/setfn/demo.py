"""``modelpred demo``: ModelPred against exact retraining and the classical baselines.

On breast_cancer with L2 logistic regression (lam = 1, sum convention of DESIGN.md:
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam, intercept unpenalised)
the demo

1. labels exact training pairs (S, theta(S)) on permutation prefixes (cached on disk, resumable);
2. trains ModelPred (optimality residual + utility regularisers, with extra unlabelled subsets
   for the residual), the "PARA" ablation (plain MSE) on the SAME labelled pairs for the same
   number of epochs, and ModelPred with the paper's own training settings (PAPER_SETTINGS: sum
   pooling, lr 1e-4, batch 32, 15 epochs, both regularisers, 0.01 weight penalties);
3. evaluates on held-out subsets from unseen permutations: deletion (retain 50-100% of the pool)
   and addition (a base half plus random extra points), against exact retraining, first-order
   influence, one Newton step and a linear datamodel: relative parameter error, test-loss
   prediction (Pearson / Spearman), time per model and certificate coverage
   (``setfn.certify``: bound >= true error);
4. times predict-then-correct (exact Newton from the prediction) against a cold exact solve;
5. writes ``modelpred_demo.png`` (parameter error against subset size per method) and
   ``modelpred_demo.json`` under the output folder (default figures/output/).

Run ``modelpred demo --help`` for the options; ``--quick`` is a smoke run of seconds.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]

FULL = {"n_permutations": 240, "step": 5, "min_fraction": 0.4, "epochs": 100,
        "n_unlabelled": 20000, "test_reps": 30, "n_grid": 11,
        "small_permutations": 40, "small_epochs": 150}
QUICK = {"n_permutations": 24, "step": 10, "min_fraction": 0.4, "epochs": 4,
         "n_unlabelled": 500, "test_reps": 3, "n_grid": 6,
         "small_permutations": 6, "small_epochs": 4}
_DATAMODEL_ALPHAS = (0.01, 0.1, 1.0, 10.0)
# Tolerance of the predict-then-correct solves (relative to max(1, ||grad F_S(0)||)): one
# quadratic Newton step past 1e-10 lands at float64 rounding, so the target residual <= 1e-10
# holds in absolute terms for gradients of scale up to ~1e3.
_CORRECT_TOL = 1e-13


LEARNERS = ("auto", "logistic", "svm", "ridge")


def _make_learner(ds, lam: float, learner: str = "auto"):
    """auto: L2 logistic for classification, ridge for regression; svm: the paper's squared-hinge
    SVM, 1/2 ||(w, b)||^2 + C sum_i max(0, 1 - y_i f(x_i))^2, i.e. a penalised intercept."""
    from ..learners import LogisticRegression, Ridge, SquaredHingeSVM

    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")
    if learner == "ridge" or (learner == "auto" and ds.task == "regression"):
        if ds.task != "regression":
            raise ValueError(f"learner 'ridge' needs a regression data set, got {ds.task}")
        return Ridge(lam=lam)
    if ds.task == "regression":
        raise ValueError(f"learner {learner!r} needs a classification data set")
    if learner == "svm":
        if ds.n_classes != 2:
            raise ValueError("learner 'svm' is binary; choose a two-class data set")
        return SquaredHingeSVM(lam=lam, penalize_intercept=True)
    return LogisticRegression(lam=lam, n_classes=ds.n_classes if ds.n_classes > 2 else None)


def _test_masks(n: int, y, need_classes: bool, reps: int, n_grid: int, seed: int):
    """Held-out deletion and addition masks (from a random stream disjoint from training).

    Returns dict experiment -> (masks (k, n) bool, x (k,) retained/added fraction, base mask).
    """
    from ..subsets import covers_all_classes

    gen = np.random.default_rng([seed, 20231])
    fr = np.linspace(0.5, 1.0, n_grid)
    sizes = np.unique(np.round(fr * n).astype(int))
    # deletion: prefixes of unseen permutations, retained fraction 50-100%
    rows, xs = [], []
    for _ in range(reps):
        while True:
            perm = gen.permutation(n)
            rank = np.empty(n, dtype=int)
            rank[perm] = np.arange(n)
            M = rank[None, :] < sizes[:, None]
            if not need_classes or covers_all_classes(M, y).all():
                break
        rows.append(M)
        xs.append(sizes / n)
    dele = (np.concatenate(rows), np.concatenate(xs))
    # addition: a base half B plus m random extra points, m/n in [0, 0.5]
    while True:
        base = np.zeros(n, dtype=bool)
        base[gen.permutation(n)[: n // 2]] = True
        if not need_classes or covers_all_classes(base[None], y).all():
            break
    rest = np.flatnonzero(~base)
    extras = np.unique(np.round(np.linspace(0.0, 1.0, n_grid) * rest.size).astype(int))
    rows, xs = [], []
    for _ in range(reps):
        order = gen.permutation(rest)
        for m in extras:
            mk = base.copy()
            mk[order[:m]] = True
            rows.append(mk)
            xs.append(m / n)
    add = (np.stack(rows), np.asarray(xs))
    return {"deletion": (*dele, None), "addition": (*add, base)}


def _by_group(x, v):
    keys = np.unique(np.round(x, 4))
    return {f"{k:.4f}": float(np.median(v[np.isclose(np.round(x, 4), k)])) for k in keys}


def _corr(a, b):
    from scipy import stats

    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan"), float("nan")
    return float(stats.pearsonr(a, b)[0]), float(stats.spearmanr(a, b)[0])


def _fmt(v, spec):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def run_demo(dataset: str = "breast_cancer", lam: float = 1.0, *, learner: str = "auto",
             quick: bool = False,
             seed: int = 0, out_dir: str | Path = "figures/output",
             cache_dir: str | Path | None = ".cache/modelpred", epochs: int | None = None,
             progress: bool = True, make_figure: bool = True, verbose: bool = True) -> dict:
    """Run the demo end to end and return its results (also written as JSON).

    Parameters follow the sum convention: theta(S) minimises
    sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).

    Parameters
    ----------
    dataset : str, default="breast_cancer"
        A name for ``datasets.load``.
    lam : float, default=1.0
    learner : {"auto", "logistic", "svm", "ridge"}
        "auto" uses L2 logistic regression for classification and ridge for regression; "svm"
        is the paper's squared-hinge SVM with a penalised intercept.
    quick : bool
        Tiny sizes (a smoke run of seconds; its numbers mean nothing).
    seed : int
        Seeds the data split, the pairs, the networks and the held-out subsets.
    out_dir : path
        Where ``modelpred_demo.json`` and ``modelpred_demo.png`` go.
    cache_dir : path or None
        Cache of the exact training labels (resumable); None disables it.
    epochs : int, optional
        Override the number of training epochs of both networks.
    progress : bool
        tqdm bars (on stderr).
    make_figure : bool
        Write the figure.
    verbose : bool
        Print the table to stdout.

    Returns
    -------
    dict
        JSON-able results: config, per-method metrics, per-fraction medians, predict-then-correct
        timings and the target checks.
    """
    import torch

    from .. import datasets
    from .model import PAPER_SETTINGS, ModelPred, relative_error
    from .pairs import generate_pairs

    if not (isinstance(seed, int) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not (isinstance(lam, int | float) and lam > 0):
        raise ValueError(f"lam must be > 0, got {lam!r}")
    cfg = dict(QUICK if quick else FULL)
    if epochs is not None:
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        cfg["epochs"] = epochs
    t_start = time.perf_counter()
    log = (lambda *a: print(*a, file=sys.stderr)) if verbose else (lambda *a: None)

    ds = datasets.load(dataset, seed=seed)
    learner_name = learner
    X, y, Xte, yte = ds.X_train, ds.y_train, ds.X_test, ds.y_test
    n = X.shape[0]
    learner = _make_learner(ds, lam, learner_name)
    need = bool(learner._needs_all_classes())
    log(f"[demo] {dataset}: n={n}, d={X.shape[1]}, learner {learner!r}")

    # 1. labelled pairs (shared by ModelPred and PARA: equal label budget)
    t0 = time.perf_counter()
    pairs = generate_pairs(learner, X, y, n_permutations=cfg["n_permutations"],
                           step=cfg["step"], min_size=max(1, int(cfg["min_fraction"] * n)),
                           rng=seed, cache_dir=cache_dir, progress=progress)
    label_s = time.perf_counter() - t0
    log(f"[demo] {len(pairs)} exact pairs in {label_s:.1f}s (cache: {pairs.cache_path})")

    # 2. ModelPred and the PARA ablation
    common = {"epochs": cfg["epochs"], "progress": progress}
    models, train_s = {}, {}
    paper = {**PAPER_SETTINGS, "epochs": min(PAPER_SETTINGS["epochs"], cfg["epochs"])}
    for name, kw in (("ModelPred", {**common, "regularize": True,
                                    "n_unlabelled": cfg["n_unlabelled"]}),
                     ("PARA", {**common, "regularize": False}),
                     ("ModelPred (paper)", {**paper, "progress": progress})):
        t0 = time.perf_counter()
        models[name] = ModelPred(learner, seed=seed, **kw).fit(
            X, y, masks=pairs.masks, thetas=pairs.thetas, groups=pairs.groups)
        train_s[name] = time.perf_counter() - t0
        log(f"[demo] trained {name} in {train_s[name]:.1f}s "
            f"(best val rel.err {models[name].meta_['best_val_score']:.4f})")

    # the same ablation at a small label budget (the first small_permutations permutations)
    small = pairs.groups < cfg["small_permutations"]
    small_models = {}
    for name, kw in (("ModelPred", {"regularize": True, "n_unlabelled": cfg["n_unlabelled"]}),
                     ("PARA", {"regularize": False})):
        t0 = time.perf_counter()
        small_models[name] = ModelPred(learner, seed=seed, epochs=cfg["small_epochs"],
                                       progress=progress, **kw).fit(
            X, y, masks=pairs.masks[small], thetas=pairs.thetas[small],
            groups=pairs.groups[small])
        train_s[f"{name} (small budget)"] = time.perf_counter() - t0
    log(f"[demo] small-budget ablation trained on {int(small.sum())} pairs")

    # linear datamodel on the same training pairs, alpha chosen on held-out permutations
    from ..baselines import Datamodel, influence, newton_step
    from ..subsets import split_by_group
    from .certify import certify

    t0 = time.perf_counter()
    tr, va, _ = split_by_group(pairs.groups, (0.9, 0.1, 0.0), rng=seed)
    best = (np.inf, None)
    for a in _DATAMODEL_ALPHAS:
        dm = Datamodel(alpha=a).fit(pairs.masks[tr], pairs.thetas[tr])
        err = float(np.median(relative_error(dm.predict(pairs.masks[va]), pairs.thetas[va])))
        if err < best[0]:
            best = (err, a)
    datamodel = Datamodel(alpha=best[1]).fit(pairs.masks, pairs.thetas)
    dm_fit_s = time.perf_counter() - t0

    # 3. held-out subsets and every method
    tests = _test_masks(n, y, need, cfg["test_reps"], cfg["n_grid"], seed)
    theta_full = learner.fit(X, y).theta
    results = {"config": {"dataset": dataset, "lam": lam, "quick": quick, "seed": seed,
                          "n": n, "d": int(X.shape[1]), "p": int(theta_full.size),
                          "learner": repr(learner), "n_pairs": len(pairs), **cfg,
                          "datamodel_alpha": best[1], "torch_threads": torch.get_num_threads()},
               "timing": {"labels_s": label_s, "train_s": train_s,
                          "datamodel_fit_s": dm_fit_s},
               "experiments": {}}
    for exp, (M, x, base) in tests.items():
        k = M.shape[0]
        t0 = time.perf_counter()
        exact = learner.fit_subsets(X, y, M)
        t_exact = time.perf_counter() - t0
        preds, times = {"exact retraining": exact}, {"exact retraining": t_exact}
        for name, mdl in models.items():
            mdl._net_eval()  # build the float64 copy outside the timed region
            t0 = time.perf_counter()
            preds[name] = mdl.predict(X, y, M)
            times[name] = time.perf_counter() - t0
        kw = {} if base is None else {"base_mask": base}
        t0 = time.perf_counter()
        preds["influence (1st order)"] = influence(learner, X, y, M, **kw)
        times["influence (1st order)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        preds["Newton step"] = newton_step(learner, X, y, M, **kw)
        times["Newton step"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        preds["linear datamodel"] = datamodel.predict(M)
        times["linear datamodel"] = time.perf_counter() - t0

        loss_exact = learner.mean_loss(exact, Xte, yte)
        rows = {}
        for name, th in preds.items():
            rel = relative_error(th, exact)
            abs_err = np.linalg.norm(th - exact, axis=1)
            bounds = certify(learner, X, y, M, th)
            lossp = learner.mean_loss(th, Xte, yte)
            pr, sr = _corr(lossp, loss_exact)
            finite = np.isfinite(bounds)
            rows[name] = {
                "median_rel_err": float(np.median(rel)), "mean_rel_err": float(np.mean(rel)),
                "rel_err_by_fraction": _by_group(x, rel),
                "test_loss_pearson": pr, "test_loss_spearman": sr,
                "test_loss_abs_err_median": float(np.median(np.abs(lossp - loss_exact))),
                "time_per_model_s": times[name] / k,
                "certificate_coverage": float(np.mean(bounds >= abs_err)),
                "certificate_finite": float(np.mean(finite)),
                "certificate_median_bound": float(np.median(bounds)),
            }
        results["experiments"][exp] = {"k": int(k), "x": "retained fraction" if exp ==
                                       "deletion" else "added fraction", "methods": rows,
                                       "_rel": {nm: relative_error(th, exact)
                                                for nm, th in preds.items()},
                                       "_x": x, "_sizes": M.sum(1)}

    # 4. predict-then-correct against cold and full-fit warm starts (all held-out masks)
    M_all = np.concatenate([tests["deletion"][0], tests["addition"][0]])
    ex_all = np.concatenate([learner.fit_subsets(X, y, tests[e][0]) for e in tests])
    results["small_budget_ablation"] = {
        "n_pairs": int(small.sum()), "epochs": cfg["small_epochs"],
        "n_unlabelled": cfg["n_unlabelled"],
        **{f"{name}_median_rel_err": float(np.median(relative_error(
            mdl.predict(X, y, M_all), ex_all))) for name, mdl in small_models.items()},
        **{f"{name}_train_s": train_s[f"{name} (small budget)"] for name in small_models}}
    solver = type(learner)(**{**learner.get_params(), "tol": _CORRECT_TOL})
    t0 = time.perf_counter()
    cold = solver.fit_subsets(X, y, M_all, return_info=True)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_full = solver.fit_subsets(X, y, M_all, theta0=theta_full, return_info=True)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    corr, info = models["ModelPred"].predict(X, y, M_all, correct=True, tol=_CORRECT_TOL,
                                             return_info=True)
    t_corr = time.perf_counter() - t0
    from ..learners import optimality_residual

    res_corr = optimality_residual(learner, corr, X, y, M_all)
    results["predict_then_correct"] = {
        "k": int(M_all.shape[0]), "tol": _CORRECT_TOL,
        "cold_s": t_cold, "cold_mean_newton_iters": float(cold.n_iter.mean()),
        "warm_full_fit_s": t_full, "warm_full_mean_newton_iters": float(warm_full.n_iter.mean()),
        "modelpred_correct_s": t_corr,
        "modelpred_correct_mean_newton_iters": float(info["n_iter"].mean()),
        "speedup_vs_cold": t_cold / t_corr,
        "max_residual": float(res_corr.max()),
        "max_diff_vs_cold": float(np.abs(corr - cold.thetas).max()),
        "all_converged": bool(info["converged"].all()),
    }

    # 5. target checks
    dele = results["experiments"]["deletion"]
    mp = dele["methods"]["ModelPred"]
    inf_by = dele["methods"]["influence (1st order)"]["rel_err_by_fraction"]
    beats = {f: mp["rel_err_by_fraction"][f] < inf_by[f] for f in inf_by if float(f) <= 0.7 + 1e-9}
    cover = all(m["certificate_coverage"] == 1.0 for e in results["experiments"].values()
                for m in e["methods"].values())
    results["targets"] = {
        "modelpred_median_rel_err_deletion": mp["median_rel_err"],
        "modelpred_median_rel_err_le_3pct": mp["median_rel_err"] <= 0.03,
        "modelpred_beats_influence_removed_ge_30pct": bool(beats) and all(beats.values()),
        "modelpred_vs_para_median_rel_err": [mp["median_rel_err"],
                                             dele["methods"]["PARA"]["median_rel_err"]],
        "regulariser_helps": mp["median_rel_err"] < dele["methods"]["PARA"]["median_rel_err"],
        "regulariser_helps_small_budget": (
            results["small_budget_ablation"]["ModelPred_median_rel_err"]
            < results["small_budget_ablation"]["PARA_median_rel_err"]),
        "certificate_coverage_all": cover,
        "correct_residual_le_1e-10": results["predict_then_correct"]["max_residual"] <= 1e-10,
    }
    results["timing"]["total_s"] = time.perf_counter() - t_start
    results["config"]["objective"] = (
        f"sum_i {learner.name} loss_i + lam/2 ||P theta||^2, intercept "
        f"{'penalised' if learner.penalize_intercept else 'unpenalised'}; C = 1/lam")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if make_figure:
        results["figure"] = str(_figure(results, out / "modelpred_demo.png"))
    public = _public(results)
    (out / "modelpred_demo.json").write_text(json.dumps(public, indent=1, allow_nan=True))
    if verbose:
        print(format_table(public))
    return public


def _public(results: dict) -> dict:
    out = json.loads(json.dumps({k: v for k, v in results.items() if k != "experiments"},
                                default=float))
    out["experiments"] = {e: {k: v for k, v in r.items() if not k.startswith("_")}
                          for e, r in results["experiments"].items()}
    return out


def _figure(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = results["experiments"]
    fig, axes = plt.subplots(1, len(exps), figsize=(6 * len(exps), 4.2), squeeze=False)
    n = results["config"]["n"]
    for ax, (exp, r) in zip(axes[0], exps.items(), strict=True):
        sizes, rel = r["_sizes"], r["_rel"]
        grid = np.unique(sizes)
        for name, v in rel.items():
            if name == "exact retraining":
                continue
            med = np.array([np.median(v[sizes == s]) for s in grid])
            q1 = np.array([np.quantile(v[sizes == s], 0.25) for s in grid])
            q3 = np.array([np.quantile(v[sizes == s], 0.75) for s in grid])
            line, = ax.plot(grid, np.maximum(med, 1e-16), marker="o", ms=3, label=name)
            ax.fill_between(grid, np.maximum(q1, 1e-16), np.maximum(q3, 1e-16), alpha=0.15,
                            color=line.get_color())
        ax.set_yscale("log")
        # Influence and the Newton step are exact at the base set (error ~1e-16): clip there.
        ax.set_ylim(bottom=1e-5)
        ax.set_xlabel(f"subset size |S| (pool n = {n})")
        ax.set_ylabel("||theta_hat - theta(S)|| / ||theta(S)||")
        title = ("deletion: retain 50-100% (unseen permutations)" if exp == "deletion"
                 else "addition: base n/2 + random extra points")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    cfg = results["config"]
    name = cfg["learner"].split("(")[0]
    fig.suptitle(f"{cfg['dataset']}, {name} (lam={cfg['lam']}): median and IQR over held-out "
                 f"subsets; exact retraining is the reference", fontsize=10, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=80 if cfg["quick"] else 140)
    plt.close(fig)
    return path


def format_table(results: dict) -> str:
    """The demo's results as a plain-text table."""
    lines = []
    cfg = results["config"]
    lines.append(f"ModelPred demo: {cfg['dataset']} (n={cfg['n']}, p={cfg['p']}), "
                 f"{cfg['learner']}, {cfg['n_pairs']} labelled pairs"
                 f"{' [QUICK: numbers are a smoke test]' if cfg['quick'] else ''}")
    for exp, r in results["experiments"].items():
        lines.append("")
        lines.append(f"{exp} ({r['k']} held-out subsets; x = {r['x']})")
        hdr = (f"  {'method':<24}{'med.rel.err':>12}{'mean':>10}{'loss r':>9}{'loss rho':>9}"
               f"{'time/model':>12}{'cert.cov':>9}")
        lines.append(hdr)
        for name, m in r["methods"].items():
            lines.append(
                f"  {name:<24}{_fmt(m['median_rel_err'], '12.2e')}"
                f"{_fmt(m['mean_rel_err'], '10.2e')}{_fmt(m['test_loss_pearson'], '9.4f')}"
                f"{_fmt(m['test_loss_spearman'], '9.4f')}"
                f"{_fmt(m['time_per_model_s'] * 1e3, '10.3f')}ms"
                f"{_fmt(m['certificate_coverage'], '9.3f')}")
        mp = r["methods"]["ModelPred"]["rel_err_by_fraction"]
        inf = r["methods"]["influence (1st order)"]["rel_err_by_fraction"]
        para = r["methods"]["PARA"]["rel_err_by_fraction"]
        lines.append(f"  median rel.err by {r['x']}:  " + "  ".join(
            f"{float(f):.2f}: MP {mp[f]:.2e} / PARA {para[f]:.2e} / infl {inf[f]:.2e}"
            for f in list(mp)[:: max(1, len(mp) // 4)]))
    pc = results["predict_then_correct"]
    lines.append("")
    lines.append(f"predict-then-correct on {pc['k']} subsets (Newton to rel. tol {pc['tol']:g}): "
                 f"cold {pc['cold_s']:.2f}s ({pc['cold_mean_newton_iters']:.1f} it), "
                 f"warm from full fit {pc['warm_full_fit_s']:.2f}s "
                 f"({pc['warm_full_mean_newton_iters']:.1f} it), from ModelPred "
                 f"{pc['modelpred_correct_s']:.2f}s "
                 f"({pc['modelpred_correct_mean_newton_iters']:.1f} it), "
                 f"max residual {pc['max_residual']:.1e}")
    sb = results["small_budget_ablation"]
    lines.append(f"regulariser ablation at a small label budget ({sb['n_pairs']} pairs, "
                 f"{sb['epochs']} epochs, +{sb['n_unlabelled']} unlabelled subsets for R_opt): "
                 f"median rel.err ModelPred {sb['ModelPred_median_rel_err']:.2e} vs PARA "
                 f"{sb['PARA_median_rel_err']:.2e} (train {sb['ModelPred_train_s']:.1f}s vs "
                 f"{sb['PARA_train_s']:.1f}s)")
    t = results["timing"]
    lines.append(f"timing: labels {t['labels_s']:.1f}s, training "
                 + ", ".join(f"{k} {v:.1f}s" for k, v in t["train_s"].items())
                 + f", total {t['total_s']:.1f}s")
    lines.append("targets: " + ", ".join(f"{k}={v}" for k, v in results["targets"].items()
                                         if isinstance(v, bool)))
    return "\n".join(lines)
