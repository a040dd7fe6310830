"""``modelpred compare``: the classical baselines against exact refits (``baselines.compare``).

Removes fractions of the training rows and scores influence functions, the one-step Newton
estimate and a linear datamodel against the exact minimisers theta(S) of the sum objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import argparse

from ._common import (
    CommandError,
    add_data_args,
    add_learner_args,
    add_output_args,
    check_data_args,
    check_out_file,
    describe,
    fraction_list,
    load_data,
    make_learner,
    model_targets,
    pick,
    positive_int,
    seed_int,
    write_text,
)

FULL = {"fractions": [0.01, 0.1, 0.3, 0.5, 0.7], "n_masks": 20, "n_train": None,
        "n_datamodel": None}
QUICK = {"fractions": [0.1, 0.5], "n_masks": 3, "n_train": 80, "n_datamodel": 200}


# The baselines of ``baselines.compare`` (METHODS there; a test keeps the two equal, so that
# --help needs no import of the library).
METHODS = ("influence", "influence2", "newton_step", "datamodel")
DEFAULT_METHODS = METHODS


def _methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"must be a comma-separated subset of "
                                         f"{','.join(METHODS)}, got {text!r}")
    return names


def _datamodel_count(text: str) -> int:
    v = positive_int(text)
    if v < 10:
        raise argparse.ArgumentTypeError(f"must be an integer >= 10, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred compare",
        description="Compare influence functions, the one-step Newton estimate and a linear "
                    "datamodel against exact refits theta(S) when a fraction of the training "
                    "rows is removed. Objective (sum convention): F_S(theta) = sum_{i in S} "
                    "loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam.")
    add_data_args(ap)
    add_learner_args(ap)
    ap.add_argument("--fractions", type=fraction_list, default=None,
                    help="removed fractions, comma-separated (default 0.01,0.1,0.3,0.5,0.7; "
                         "--quick: 0.1,0.5)")
    ap.add_argument("--n-masks", type=positive_int, default=None,
                    help="held-out masks per fraction (default 20; --quick: 3)")
    ap.add_argument("--methods", type=_methods, default=list(DEFAULT_METHODS),
                    help=f"comma-separated subset of {','.join(DEFAULT_METHODS)}")
    ap.add_argument("--n-datamodel", type=_datamodel_count, default=None,
                    help="training subsets of the datamodel (default 2 n; --quick: 200)")
    ap.add_argument("--certify", action="store_true",
                    help="also bound every method's parameter error with mpt.certify (no refit)"
                         " and report how often the bound is finite and covers the true error")
    ap.add_argument("--seed", type=seed_int, default=0, help="seed of the split and the masks")
    ap.add_argument("--quick", action="store_true",
                    help="a small run (80-row pool, 3 masks per fraction, 0.1,0.5); explicit "
                         "flags win")
    ap.add_argument("--out", default=None, metavar="FILE",
                    help="also write the result (with per-mask arrays) as JSON to FILE")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    check_data_args(ap, args)


def _masks(ds, learner, y, fractions, n_masks, seed):
    import numpy as np

    from .. import subsets

    n = ds.n_train
    gen = np.random.default_rng(seed)
    need = ds.task != "regression" and learner.needs_all_classes()
    blocks, labels = [], []
    for f in fractions:
        size = n - round(f * n)
        if size < 1:
            raise CommandError(f"--fractions: removing {f:g} of n={n} rows leaves none")
        if need and size < ds.n_classes:
            raise CommandError(f"--fractions: removing {f:g} of n={n} rows leaves {size}, "
                               f"fewer than the {ds.n_classes} classes")
        blocks.append(subsets.fixed_size_subsets(n, n_masks, size, rng=gen,
                                                 y=y if need else None,
                                                 require_all_classes=need))
        labels += [f"{f:g}"] * n_masks
    return np.vstack(blocks), labels


def run(args, ctx) -> int:
    from ..baselines import compare

    out = None if args.out is None else check_out_file(args.out, suffixes=(".json",))
    q = args.quick
    fractions = pick(args.fractions, FULL["fractions"], QUICK["fractions"], q)
    n_masks = pick(args.n_masks, FULL["n_masks"], QUICK["n_masks"], q)
    n_train = pick(args.n_train, FULL["n_train"], QUICK["n_train"], q)
    n_dm = pick(args.n_datamodel, FULL["n_datamodel"], QUICK["n_datamodel"], q)
    ds = load_data(args, n_train=n_train)
    learner = make_learner(args.learner, args.lam, ds, args.penalize_intercept)
    ctx.status(f"[compare] {describe(ds)}; {learner!r}; fractions "
               f"{','.join(f'{f:g}' for f in fractions)}, {n_masks} masks each")
    y, y_test = model_targets(ds)
    masks, groups = _masks(ds, learner, y, fractions, n_masks, args.seed)
    res = compare(learner, ds.X_train, y, ds.X_test, y_test, masks, methods=args.methods,
                  groups=groups, n_datamodel=n_dm, rng=args.seed, progress=ctx.progress,
                  certify=args.certify)
    if out is not None:
        write_text(out, res.to_json(include_arrays=True))
        ctx.status(f"[compare] wrote {out}")
    if ctx.json:
        d = res.to_dict()
        d["data"] = {"name": ds.name, "n_train": ds.n_train, "n_test": ds.n_test,
                     "task": ds.task}
        ctx.emit_json(d)
    else:
        ctx.result(res.format_table())
    return 0
