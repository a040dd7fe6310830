"""``modelpred attribute``: exact ground truth, attribution methods and their scores.

Computes the exact held-out outputs and leave-one-out effects of a data set
(``attribution.ground_truth``), runs the chosen methods of ``attribution.METHODS`` and rates each
with ``attribution.evaluate`` (LDS with its standard error, LOO correlation), beside the additive
ceiling when asked. theta(S) minimises the sum objective F_S(theta) = sum_{i in S}
loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ._common import (
    CommandError,
    add_data_args,
    add_learner_args,
    add_output_args,
    check_data_args,
    check_out_file,
    describe,
    json_safe,
    load_data,
    make_learner,
    model_targets,
    open_fraction,
    pick,
    positive_int,
    write_text,
)

DEFAULT_METHODS = "influence,arnoldi,ekfac,trak,grad_dot,representer"
FULL = {"n_subsets": 100, "n_test": 50, "n_train": None}
QUICK = {"n_subsets": 20, "n_test": 10, "n_train": 60}


def _method_list(text: str) -> list[str]:
    from ..attribution import METHODS

    names = [t.strip() for t in text.split(",") if t.strip()]
    if text.strip() == "all":
        return list(METHODS)
    bad = [t for t in names if t not in METHODS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"unknown method(s) {bad or [text]}; choose from "
                                         f"{', '.join(METHODS)} (or 'all')")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"methods repeat in {text!r}")
    return names


def _k_list(text: str) -> list[int]:
    try:
        ks = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}") \
            from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers >= 1, got {text!r}")
    return ks


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred attribute",
        description="Data attribution against exact ground truth: retrains the model exactly "
                    "on held-out random subsets (and leaves each training row out), runs the "
                    "chosen attribution methods and reports each one's linear datamodeling "
                    "score (LDS, Spearman over the subsets per test point, mean +- standard "
                    "error) and its correlation with the exact leave-one-out effects. Scores "
                    "follow one sign convention: scores[i, j] ~ f_j(all rows) - f_j(all rows "
                    "but i).")
    add_data_args(ap, default="breast_cancer")
    add_learner_args(ap)
    ap.add_argument("--methods", type=_method_list, default=None, metavar="LIST",
                    help=f"comma-separated methods or 'all' (default {DEFAULT_METHODS})")
    ap.add_argument("--n-subsets", type=positive_int, default=None, metavar="K",
                    help="held-out subsets retrained exactly (default 100, --quick 20)")
    ap.add_argument("--fraction", type=open_fraction, default=0.5,
                    help="subset size as a fraction of the training rows (default 0.5)")
    ap.add_argument("--output", choices=("margin", "neg_loss"), default=None,
                    help="the test output explained (default margin for classifiers, "
                         "neg_loss for regression)")
    ap.add_argument("--n-test", type=positive_int, default=None, metavar="M",
                    help="test points explained (the first M of the test split; default 50, "
                         "--quick 10)")
    ap.add_argument("--no-loo", action="store_true",
                    help="skip the exact leave-one-out effects (n refits; no LOO correlation)")
    ap.add_argument("--ceiling", type=positive_int, default=None, metavar="K",
                    help="also fit the additive ceiling on K independent exact subsets")
    ap.add_argument("--counterfactual-k", type=_k_list, default=None, metavar="LIST",
                    help="group-removal counterfactual for these k (exact refits per test "
                         "point and k)")
    ap.add_argument("--n-jobs", type=int, default=None, metavar="N",
                    help="joblib workers for the exact refits (-1: all cores)")
    ap.add_argument("--cache", default=None, metavar="DIR",
                    help="keep finished chunks of refits in DIR; a rerun resumes from them")
    ap.add_argument("--save-truth", default=None, metavar="FILE.npz",
                    help="write the ground truth as a documented .npz (numpy-readable)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split and the subsets")
    ap.add_argument("--quick", action="store_true",
                    help="a small run (60 training rows, 10 test points, 20 subsets)")
    ap.add_argument("--out", default=None, metavar="FILE.json",
                    help="also write the JSON report to FILE")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    if args.n_jobs is not None and (args.n_jobs == 0 or args.n_jobs < -1):
        ap.error(f"argument --n-jobs: must be a positive integer or -1, got {args.n_jobs}")
    check_data_args(ap, args)


class _FitProgress:
    """``done/total fits, elapsed, ETA`` on one stderr line (a terminal) when enabled."""

    def __init__(self, ctx, label):
        self.ctx, self.label, self.t0 = ctx, label, time.perf_counter()
        self.shown = False

    def __call__(self, done, total):
        if not self.ctx.progress:
            return
        el = time.perf_counter() - self.t0
        eta = el / max(done, 1) * (total - done)
        self.ctx.err.write(f"\r[{self.label}] {done}/{total} fits, {el:.0f} s, ETA {eta:.0f} s ")
        self.ctx.err.flush()
        self.shown = True
        if done == total:
            self.ctx.err.write("\n")
            self.shown = False


def run(args, ctx) -> int:
    from .. import attribution

    out = None if args.out is None else check_out_file(args.out, suffixes=(".json",))
    save = None if args.save_truth is None else check_out_file(args.save_truth, "--save-truth",
                                                               suffixes=(".npz",))
    methods = args.methods or _method_list(DEFAULT_METHODS)
    n_train = pick(args.n_train, FULL["n_train"], QUICK["n_train"], args.quick)
    k = pick(args.n_subsets, FULL["n_subsets"], QUICK["n_subsets"], args.quick)
    m_test = pick(args.n_test, FULL["n_test"], QUICK["n_test"], args.quick)
    if k < 3:
        raise CommandError(f"--n-subsets must be >= 3, got {k}")
    ds = load_data(args, n_train=n_train)
    learner = make_learner(args.learner, args.lam, ds, args.penalize_intercept)
    output = args.output or ("neg_loss" if ds.task == "regression" else "margin")
    y, y_test = model_targets(ds)
    X, Xt = ds.X_train, ds.X_test[:m_test]
    yt = y_test[:m_test]
    ctx.status(f"[attribute] {describe(ds)}; {learner!r}; {len(yt)} test points, output "
               f"{output}; {k} subsets{'' if args.no_loo else ' + exact LOO'}")
    truth = attribution.ground_truth(learner, X, y, Xt, yt, n_subsets=k, fraction=args.fraction,
                                     output=output, seed=args.seed, loo=not args.no_loo,
                                     n_jobs=args.n_jobs, cache_dir=args.cache,
                                     progress=_FitProgress(ctx, "ground truth"))
    if save is not None:
        truth.save(save)
        ctx.status(f"[attribute] wrote the ground truth to {save}")
    doc = {"data": {"name": ds.name, "n_train": ds.n_train, "n_test": int(len(yt)),
                    "task": ds.task},
           "learner": {"class": type(learner).__name__, **learner.get_params()},
           "convention": "scores[i, j] ~ f_j(theta(N)) - f_j(theta(N - i)); theta(S) minimises "
                         "sum_{i in S} loss_i + lam/2 ||P theta||^2",
           "output": output,
           "ground_truth": {"n_subsets": truth.n_subsets, "fraction": truth.fraction,
                            "loo": truth.loo is not None, "seconds": truth.seconds,
                            "max_residual_over_tolerance": truth.max_relative_residual,
                            "fingerprint": truth.fingerprint},
           "methods": {}}
    if args.ceiling is not None:
        train = attribution.ground_truth(learner, X, y, Xt, yt, n_subsets=max(3, args.ceiling),
                                         fraction=args.fraction, output=output,
                                         seed=args.seed + 1, loo=False, n_jobs=args.n_jobs,
                                         cache_dir=args.cache,
                                         progress=_FitProgress(ctx, "ceiling subsets"))
        doc["ceiling"] = attribution.additive_ceiling(truth, train).to_dict()
    for name in methods:
        t0 = time.perf_counter()
        scores = attribution.attribute(learner, X, y, Xt, yt, name, output=output,
                                       theta=truth.theta_full)
        secs = time.perf_counter() - t0
        res = attribution.evaluate(scores, truth, counterfactual_k=args.counterfactual_k,
                                   **({} if args.counterfactual_k is None else
                                      {"learner": learner, "X": X, "y": y, "X_test": Xt,
                                       "y_test": yt}))
        doc["methods"][name] = {"seconds": secs, **res.to_dict()}
        ctx.status(f"[attribute] {name}: LDS {res.lds:.3f} +- {res.lds_stderr:.3f}"
                   + ("" if truth.loo is None else f", LOO r {res.loo_pearson:.3f}")
                   + f" ({secs:.2f} s)")
    if out is not None:
        write_text(out, json.dumps(json_safe(doc), indent=1))
    if ctx.json:
        ctx.emit_json(doc)
    else:
        ctx.result(_table(doc))
    return 0


def _table(doc) -> str:
    rows = [f"{'method':<14} {'LDS':>7} {'+-SE':>6} {'LOO r':>7} {'seconds':>8}"]
    for name, r in doc["methods"].items():
        loo = r.get("loo_pearson", float("nan"))
        rows.append(f"{name:<14} {r['lds']:>7.3f} {r['lds_stderr']:>6.3f} "
                    f"{'' if not np.isfinite(loo) else f'{loo:.3f}':>7} {r['seconds']:>8.2f}")
    if "ceiling" in doc:
        c = doc["ceiling"]
        rows.append(f"{'ceiling':<14} {c['lds']:>7.3f} {c['lds_stderr']:>6.3f}")
    return "\n".join(rows)
