"""``modelpred demo``: ModelPred against exact retraining and the classical baselines.

Trains ModelPred and its ablations on exact pairs (S, theta(S)) of the chosen data (sum
objective F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam) and scores
them with exact retraining, influence, one Newton step and a linear datamodel on held-out
subsets (``setfn.demo.run_demo``). Writes modelpred_demo.json/.png under --out.
"""

from __future__ import annotations

import argparse
import dataclasses

from ._common import (
    add_data_args,
    add_output_args,
    check_data_args,
    check_out_dir,
    describe,
    load_data,
    positive_float,
    positive_int,
    seed_int,
)

LEARNERS = ("auto", "logistic", "svm", "ridge")


# What Ctrl-C keeps (printed by the dispatcher with exit status 130).
INTERRUPTED_HINT = ("the exact labels finished so far stay in --cache-dir unless --no-cache was "
                    "given: the same command resumes from them")

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred demo",
        description="Train ModelPred (L2 logistic regression, lam = 1, on breast_cancer by "
                    "default; sum convention, C = 1/lam) and compare it on held-out "
                    "deletion/addition subsets with exact retraining, the PARA ablation, "
                    "first-order influence, one Newton step and a linear datamodel. The full "
                    "run takes minutes on a CPU; --quick is a smoke run of seconds whose numbers "
                    "mean nothing.")
    ap.add_argument("--quick", action="store_true", help="smoke run of seconds (tiny sizes)")
    add_data_args(ap, n_train=False)
    ap.add_argument("--lam", type=positive_float, default=1.0,
                    help="L2 strength lam = 1/C (default 1)")
    ap.add_argument("--learner", choices=LEARNERS, default="auto",
                    help="auto: logistic (classification) / ridge (regression); svm: the "
                         "paper's squared-hinge SVM (penalised intercept, binary)")
    ap.add_argument("--seed", type=seed_int, default=0, help="seed of every random choice")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help="training epochs (overrides the --quick/full default)")
    ap.add_argument("--out", default="figures/output",
                    help="output folder, relative to the current folder (default "
                         "figures/output)")
    ap.add_argument("--cache-dir", default=".cache/modelpred",
                    help="cache of exact labels, resumable (default .cache/modelpred)")
    ap.add_argument("--no-cache", action="store_true", help="do not cache labels on disk")
    ap.add_argument("--threads", type=positive_int, default=None,
                    help="torch threads (default: torch's)")
    ap.add_argument("--jobs", type=positive_int, default=None,
                    help="processes training the networks side by side (default: min(cores, "
                         "4); 1 with --quick)")
    ap.add_argument("--no-figure", action="store_true", help="skip the figure")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    check_data_args(ap, args)


def run(args, ctx) -> int:
    out_dir = check_out_dir(args.out)
    cache_dir = None if args.no_cache else check_out_dir(args.cache_dir, "--cache-dir")
    if args.data is None:
        dataset = args.dataset
    else:
        dataset = load_data(args)  # a Dataset object: run_demo takes names or Datasets
        ctx.status(f"[demo] {describe(dataset)}")
        if dataset.task != "regression":  # the demo's networks and pairs take class indices
            dataset = dataclasses.replace(dataset, y_train=dataset.encode_labels(dataset.y_train),
                                          y_test=dataset.encode_labels(dataset.y_test),
                                          classes_=None)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    from ..setfn.demo import format_table, run_demo

    ctx.status("[demo] " + ("quick smoke run (seconds; numbers are not meaningful)" if args.quick
                            else "full run: labels, seven networks and the baselines take "
                                 "about three minutes on 2 CPU cores (--quick for a smoke run)"))
    res = run_demo(dataset=dataset, lam=args.lam, learner=args.learner, quick=args.quick,
                   seed=args.seed, out_dir=out_dir, cache_dir=cache_dir, epochs=args.epochs,
                   progress=ctx.progress, make_figure=not args.no_figure, verbose=False,
                   n_jobs=args.jobs)
    if ctx.json:
        ctx.emit_json(res)
    else:
        ctx.result(format_table(res))
        ctx.status(f"[demo] wrote {out_dir / 'modelpred_demo.json'}"
                   + ("" if args.no_figure else f" and {out_dir / 'modelpred_demo.png'}"))
    return 0
