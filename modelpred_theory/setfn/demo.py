"""``modelpred demo``: ModelPred against exact retraining and the classical baselines.

On breast_cancer with L2 logistic regression (lam = 1, sum convention of docs/design.md:
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
import sys
import time
from pathlib import Path

import numpy as np

from .demo_report import figure, format_table
from .demo_training import demo_jobs, train_models

__all__ = ["format_table", "run_demo"]

FULL = {"n_permutations": 240, "step": 5, "min_fraction": 0.4, "epochs": 60,
        "hybrid_epochs": 40,
        "n_unlabelled": 20000, "test_reps": 30, "n_grid": 11,
        "small_permutations": 40, "small_epochs": 100}
QUICK = {"n_permutations": 24, "step": 10, "min_fraction": 0.4, "epochs": 4,
         "hybrid_epochs": 4,
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


def _dataset(dataset, seed):
    from .. import datasets

    if isinstance(dataset, datasets.Dataset):
        return dataset, getattr(dataset, "name", None) or "user data"
    return datasets.load(dataset, seed=seed), str(dataset)


def _fit_datamodel(pairs, seed):
    from ..baselines import Datamodel
    from ..subsets import split_by_group
    from .model import relative_error

    tr, va, _ = split_by_group(pairs.groups, (0.9, 0.1, 0.0), rng=seed)
    best = (np.inf, None)
    for a in _DATAMODEL_ALPHAS:
        dm = Datamodel(alpha=a).fit(pairs.masks[tr], pairs.thetas[tr])
        err = float(np.median(relative_error(dm.predict(pairs.masks[va]), pairs.thetas[va])))
        if err < best[0]:
            best = (err, a)
    return Datamodel(alpha=best[1]).fit(pairs.masks, pairs.thetas), best[1]


def _by_bin(x, v, lo=0.5, width=0.1):
    """Median of v per bin [lo + j width, lo + (j+1) width) of x, the last bin closed."""
    out = {}
    edges = np.arange(lo, 1.0 + 1e-9, width)
    for a in edges[:-1]:
        last = a + width >= 1.0 - 1e-9
        sel = (x >= a - 1e-9) & ((x <= a + width + 1e-9) if last else (x < a + width - 1e-9))
        if sel.any():
            out[f"{a:.1f}-{a + width:.1f}"] = float(np.median(v[sel]))
    return out


def _certificate_stats(learner, X, y, M, th, abs_err) -> dict:
    """Coverage, finite fraction and median bound / true error (``certificate_summary``)."""
    from .certify import certificate_summary, certify

    bounds, det = certify(learner, X, y, M, th, return_details=True)
    summ = certificate_summary(bounds, abs_err, R=det["R"], method=det["method"])
    ratio = summ["median_ratio"]
    return {"certificate_coverage": summ["coverage"],
            "certificate_finite": summ["finite_fraction"],
            "certificate_median_ratio": float("nan") if ratio is None else ratio,
            "certificate_violations": summ["violations"],
            "certificate_reason": summ["reason"]}


def _predictions(learner, X, y, M, base, models, datamodel):
    from ..baselines import influence, newton_step

    t0 = time.perf_counter()
    preds = {"exact retraining": learner.fit_subsets(X, y, M)}
    times = {"exact retraining": time.perf_counter() - t0}
    for name, mdl in models.items():
        mdl._net_eval()  # build the evaluation copy outside the timed region
        t0 = time.perf_counter()
        preds[name] = mdl.predict(X, y, M)
        times[name] = time.perf_counter() - t0
    kw = {} if base is None else {"base_mask": base}
    for name, fn in (("influence (1st order)", influence), ("Newton step", newton_step)):
        t0 = time.perf_counter()
        preds[name] = fn(learner, X, y, M, **kw)
        times[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds["linear datamodel"] = datamodel.predict(M)
    times["linear datamodel"] = time.perf_counter() - t0
    return preds, times


def _experiment(learner, X, y, Xte, yte, M, x, base, exp, models, datamodel):
    from .model import relative_error

    preds, times = _predictions(learner, X, y, M, base, models, datamodel)
    exact = preds["exact retraining"]
    loss_exact = learner.mean_loss(exact, Xte, yte)
    rows, rels = {}, {}
    for name, th in preds.items():
        rel = rels[name] = relative_error(th, exact)
        abs_err = np.linalg.norm(th - exact, axis=1)
        lossp = learner.mean_loss(th, Xte, yte)
        pr, sr = _corr(lossp, loss_exact)
        rows[name] = {
            "median_rel_err": float(np.median(rel)), "mean_rel_err": float(np.mean(rel)),
            "rel_err_by_fraction": _by_group(x, rel),
            "test_loss_pearson": pr, "test_loss_spearman": sr,
            "test_loss_abs_err_median": float(np.median(np.abs(lossp - loss_exact))),
            "time_per_model_s": times[name] / M.shape[0],
            **_certificate_stats(learner, X, y, M, th, abs_err)}
        if name == "exact retraining":  # its true error is rounding: no meaningful ratio
            rows[name]["certificate_median_ratio"] = float("nan")
    lo = 0.5 if exp == "deletion" else 0.0
    return {"k": int(M.shape[0]),
            "x": "retained fraction" if exp == "deletion" else "added fraction",
            "methods": rows,
            "rel_err_by_bin": {nm: _by_bin(x, r, lo=lo) for nm, r in rels.items()},
            "_rel": rels, "_x": x, "_sizes": M.sum(1)}


def _predict_then_correct(learner, X, y, M_all, model, name, theta_full):
    from ..learners import optimality_residual

    solver = type(learner)(**{**learner.get_params(), "tol": _CORRECT_TOL})
    t0 = time.perf_counter()
    cold = solver.fit_subsets(X, y, M_all, return_info=True)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_full = solver.fit_subsets(X, y, M_all, theta0=theta_full, return_info=True)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    corr, info = model.predict(X, y, M_all, correct=True, tol=_CORRECT_TOL, return_info=True)
    t_corr = time.perf_counter() - t0
    res_corr = optimality_residual(learner, corr, X, y, M_all)
    return {"k": int(M_all.shape[0]), "tol": _CORRECT_TOL, "model": name,
            "cold_s": t_cold, "cold_mean_newton_iters": float(cold.n_iter.mean()),
            "warm_full_fit_s": t_full,
            "warm_full_mean_newton_iters": float(warm_full.n_iter.mean()),
            "modelpred_correct_s": t_corr,
            "modelpred_correct_mean_newton_iters": float(info["n_iter"].mean()),
            "speedup_vs_cold": t_cold / t_corr, "max_residual": float(res_corr.max()),
            "max_diff_vs_cold": float(np.abs(corr - cold.thetas).max()),
            "all_converged": bool(info["converged"].all())}


def _targets(results: dict) -> dict:
    """PASS/FAIL targets of the demo (issue targets for the hybrids included)."""
    dele = results["experiments"]["deletion"]
    m = dele["methods"]
    bins = dele["rel_err_by_bin"]

    def never_worse(hybrid, base):
        return all(bins[hybrid][b] <= bins[base][b] for b in bins[base])

    cover = all(r["certificate_coverage"] == 1.0 for e in results["experiments"].values()
                for r in e["methods"].values())
    sb = results["small_budget_ablation"]
    med = {k: r["median_rel_err"] for k, r in m.items()}
    cfg = results["config"]
    # The thresholds were set for L2 logistic on breast_cancer at lam = 1 only.
    thresholds = {} if not (cfg["dataset"] == "breast_cancer" and cfg["lam"] == 1.0
                            and cfg["learner"].startswith("LogisticRegression")) else {
        "newton_hybrid_le_0.1pct": med["ModelPred (Newton base)"] <= 1e-3,
        "influence_hybrid_le_0.5pct": med["ModelPred (influence base)"] <= 5e-3}
    return {
        "newton_hybrid_median_rel_err": med["ModelPred (Newton base)"],
        "influence_hybrid_median_rel_err": med["ModelPred (influence base)"],
        **thresholds,
        "hybrids_beat_raw_model_and_base": all(
            med[h] < min(med[b], med["ModelPred (no base)"])
            for h, b in (("ModelPred (Newton base)", "Newton step"),
                         ("ModelPred (influence base)", "influence (1st order)"))),
        "newton_hybrid_le_base_every_bin": never_worse("ModelPred (Newton base)", "Newton step"),
        "influence_hybrid_le_base_every_bin": never_worse("ModelPred (influence base)",
                                                          "influence (1st order)"),
        "newton_hybrid_beats_every_baseline": all(
            m["ModelPred (Newton base)"]["median_rel_err"] < r["median_rel_err"]
            for nm, r in m.items() if nm not in ("exact retraining", "ModelPred (Newton base)")),
        "regulariser_helps_small_budget": (sb["ModelPred_median_rel_err"]
                                           < sb["PARA_median_rel_err"]),
        "certificate_coverage_all": cover,
        "correct_residual_le_1e-10": results["predict_then_correct"]["max_residual"] <= 1e-10,
    }


def run_demo(dataset="breast_cancer", lam: float = 1.0, *, learner: str = "auto",
             quick: bool = False, seed: int = 0, out_dir: str | Path = "figures/output",
             cache_dir: str | Path | None = ".cache/modelpred", epochs: int | None = None,
             progress: bool = True, make_figure: bool = True, verbose: bool = True,
             n_jobs: int | None = None) -> dict:
    """Run the demo end to end and return its results (also written as JSON).

    Parameters follow the sum convention: theta(S) minimises
    sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).

    Parameters
    ----------
    dataset : str or Dataset, default="breast_cancer"
        A name for ``datasets.load`` or a Dataset (e.g. from ``datasets.from_csv``).
    lam : float, default=1.0
    learner : {"auto", "logistic", "svm", "ridge"}
        "auto": L2 logistic for classification, ridge for regression; "svm": the paper's
        squared-hinge SVM with a penalised intercept.
    quick : bool
        Tiny sizes (a smoke run of seconds; its numbers mean nothing).
    seed : int
        Seeds the data split, the pairs, the networks and the held-out subsets.
    out_dir : path
        Where ``modelpred_demo.json`` and ``modelpred_demo.png`` go (relative to the cwd).
    cache_dir : path or None
        Cache of the exact training labels (resumable); None disables it.
    epochs : int, optional
        Override the number of training epochs of every network.
    progress : bool
        tqdm bars (on stderr).
    make_figure : bool
        Write the figure.
    verbose : bool
        Log the stages on stderr (the table is ``format_table(results)``; nothing goes to stdout).
    n_jobs : int, optional
        Processes that train the networks (``demo_training.train_models``); default
        min(cores, 4), 1 for ``quick``.

    Returns
    -------
    dict
        JSON-able results: config, per-method metrics (certificate coverage, finite fraction
        and median bound / true error included), per-bin medians, predict-then-correct timings
        and the target checks.
    """
    import torch

    from .pairs import generate_pairs

    if not (isinstance(seed, int) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not (isinstance(lam, int | float) and lam > 0):
        raise ValueError(f"lam must be > 0, got {lam!r}")
    cfg = dict(QUICK if quick else FULL)
    jobs = demo_jobs(n_jobs, quick)
    if epochs is not None:
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        cfg["epochs"] = cfg["hybrid_epochs"] = epochs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # fail on a bad output folder before any work
    t_start = time.perf_counter()
    log = (lambda *a: print(*a, file=sys.stderr)) if verbose else (lambda *a: None)
    ds, ds_name = _dataset(dataset, seed)
    X, y, Xte, yte = ds.X_train, ds.y_train, ds.X_test, ds.y_test
    n = X.shape[0]
    learner = _make_learner(ds, lam, learner)
    log(f"[demo] {ds_name}: n={n}, d={X.shape[1]}, learner {learner!r}")
    t0 = time.perf_counter()
    pairs = generate_pairs(learner, X, y, n_permutations=cfg["n_permutations"],
                           step=cfg["step"], min_size=max(1, int(cfg["min_fraction"] * n)),
                           rng=seed, cache_dir=cache_dir, progress=progress)
    label_s = time.perf_counter() - t0
    log(f"[demo] {len(pairs)} exact pairs in {label_s:.1f}s (cache: {pairs.cache_path})")
    models, small_models, n_small, train_s = train_models(learner, X, y, pairs, cfg, seed,
                                                          progress, log, n_jobs=jobs)
    t0 = time.perf_counter()
    datamodel, dm_alpha = _fit_datamodel(pairs, seed)
    dm_fit_s = time.perf_counter() - t0
    tests = _test_masks(n, y, bool(learner.needs_all_classes()), cfg["test_reps"],
                        cfg["n_grid"], seed)
    theta_full = learner.fit(X, y).theta
    results = {"config": {"dataset": ds_name, "lam": lam, "quick": quick, "seed": seed, "n": n,
                          "d": int(X.shape[1]), "p": int(theta_full.size),
                          "learner": repr(learner), "n_pairs": len(pairs), **cfg,
                          "datamodel_alpha": dm_alpha,
                          "torch_threads": torch.get_num_threads(), "train_jobs": jobs,
                          "threads_per_training": (torch.get_num_threads() if jobs == 1 else
                                                   max(1, torch.get_num_threads() // jobs))},
               "timing": {"labels_s": label_s, "train_s": train_s, "datamodel_fit_s": dm_fit_s},
               "experiments": {exp: _experiment(learner, X, y, Xte, yte, M, x, base, exp,
                                                models, datamodel)
                               for exp, (M, x, base) in tests.items()}}
    M_all = np.concatenate([tests[e][0] for e in tests])
    ex_all = np.concatenate([learner.fit_subsets(X, y, tests[e][0]) for e in tests])
    from .model import relative_error

    results["small_budget_ablation"] = {
        "n_pairs": n_small, "epochs": cfg["small_epochs"], "n_unlabelled": cfg["n_unlabelled"],
        **{f"{nm}_median_rel_err": float(np.median(relative_error(
            mdl.predict(X, y, M_all), ex_all))) for nm, mdl in small_models.items()},
        **{f"{nm}_train_s": train_s[f"{nm} (small budget)"] for nm in small_models}}
    best = "ModelPred (Newton base)"
    results["predict_then_correct"] = _predict_then_correct(learner, X, y, M_all, models[best],
                                                            best, theta_full)
    results["targets"] = _targets(results)
    results["timing"]["total_s"] = time.perf_counter() - t_start
    results["config"]["objective"] = (
        f"sum_i {learner.name} loss_i + lam/2 ||P theta||^2, intercept "
        f"{'penalised' if learner.penalize_intercept else 'unpenalised'}; C = 1/lam")
    if make_figure:
        results["figure"] = str(figure(results, out / "modelpred_demo.png"))
    public = _public(results)
    (out / "modelpred_demo.json").write_text(json.dumps(public, indent=1, allow_nan=True))
    return public


def _public(results: dict) -> dict:
    out = json.loads(json.dumps({k: v for k, v in results.items() if k != "experiments"},
                                default=float))
    out["experiments"] = {e: {k: v for k, v in r.items() if not k.startswith("_")}
                          for e, r in results["experiments"].items()}
    return json.loads(json.dumps(out, default=float))
