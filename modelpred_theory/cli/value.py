"""``modelpred value``: one data value per training row, as CSV or JSON.

The values come from ``modelpred_theory.applications`` (utility U(S) = minus the mean test loss,
or the test accuracy, of theta(S), the minimiser of the sum objective F_S(theta) = sum_{i in S}
loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam). ``METHODS`` is the registry of valuation
methods: add an entry to expose another ``applications`` estimator.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass, field

from ._common import (
    CommandError,
    Interrupted,
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
    partial_path,
    pick,
    positive_int,
    seed_int,
    write_text,
)


@dataclass(frozen=True)
class ValueMethod:
    """How ``modelpred value --method NAME`` calls ``applications.<function>``.

    ``kwargs`` are fixed keyword arguments; ``oracle`` says the function takes ``oracle=``
    (from ``--oracle``); ``budget`` names its Monte-Carlo budget argument (from ``--budget``).
    Every function returns a ValuationResult and takes ``progress=``.
    """

    function: str
    help: str
    kwargs: dict = field(default_factory=dict)
    oracle: bool = False
    budget: str | None = None


METHODS: dict[str, ValueMethod] = {
    "loo": ValueMethod("loo_values", "exact leave-one-out U(N) - U(N - {i}) (n exact refits)",
                       {"oracle": "exact"}),
    "influence": ValueMethod("loo_values", "leave-one-out through first-order influence (no "
                             "refit)", {"oracle": "influence"}),
    "shapley": ValueMethod("data_shapley", "permutation-sampling Data Shapley",
                           oracle=True, budget="n_permutations"),
    # listed once applications.banzhaf exists (see _available); its budget is in subsets
    "banzhaf": ValueMethod("banzhaf", "Banzhaf values (maximum-sample-reuse estimator)",
                           oracle=True, budget="stopping"),
}
ORACLES = ("exact", "influence", "newton")
FULL = {"budget": 100, "n_train": None}
QUICK = {"budget": 10, "n_train": 60}


def _available() -> list[str]:
    """The registry's methods (each names an ``applications`` function; a test checks that
    they exist, so ``--help`` needs no import of the library)."""
    return list(METHODS)


def build_parser() -> argparse.ArgumentParser:
    names = _available()
    ap = argparse.ArgumentParser(
        prog="modelpred value",
        description="Per-training-row data values of a data set: "
                    + "; ".join(f"{k}: {METHODS[k].help}" for k in names)
                    + ". Utility: minus the mean test loss (or the test accuracy) of theta(S) "
                      "under the sum objective with C = 1/lam. Output: one row per training "
                      "row: index (its position in the training split), source_row (its row in "
                      "the source data), y (its label or target), value, stderr (Monte-Carlo "
                      "standard error, empty for exact methods).")
    add_data_args(ap)
    add_learner_args(ap)
    ap.add_argument("--method", choices=names, default="loo", help="valuation method "
                    "(default loo)")
    ap.add_argument("--oracle", choices=ORACLES, default="exact",
                    help="how theta(S) is obtained for shapley/banzhaf: exact refits (default), "
                         "first-order influence or one Newton step from the full fit")
    ap.add_argument("--budget", type=positive_int, default=None, metavar="N",
                    help="Monte-Carlo budget of shapley (permutations) / banzhaf (subsets); "
                         "default 100, --quick 10")
    ap.add_argument("--metric", choices=("neg_loss", "accuracy"), default="neg_loss",
                    help="utility: minus the mean test loss (default) or the test accuracy")
    ap.add_argument("--seed", type=seed_int, default=0, help="seed of the split and the sampling")
    ap.add_argument("--quick", action="store_true",
                    help="a small run (60 training rows, budget 10); explicit flags win")
    ap.add_argument("--out", default=None, metavar="FILE",
                    help="write the values to FILE (.csv or .json) instead of stdout. Ctrl-C "
                         "during shapley/banzhaf exits with status 130, writes the finished "
                         "part to FILE.partial.csv (never FILE) and the run's state to "
                         "FILE.state.npz for --resume")
    ap.add_argument("--resume", default=None, metavar="STATE",
                    help="continue an interrupted shapley/banzhaf run from its .state.npz "
                         "(same arguments; the values equal those of an uninterrupted run)")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    check_data_args(ap, args)
    m = METHODS[args.method]
    if args.budget is not None and m.budget is None:
        ap.error(f"--budget is for Monte-Carlo methods; --method {args.method} is exact")
    if args.oracle != "exact" and not m.oracle:
        ap.error(f"--oracle is for shapley/banzhaf; --method {args.method} fixes its oracle")
    if args.resume is not None and m.budget is None:
        ap.error(f"--resume is for Monte-Carlo methods; --method {args.method} keeps no state")


def compute(args, ds, learner, progress: bool):
    """(values (n,), stderr (n,), info dict) of the chosen method."""
    import numpy as np

    from .. import applications

    m = METHODS[args.method]
    y, y_test = model_targets(ds)
    if args.metric == "accuracy" and ds.task == "regression":
        raise CommandError("--metric accuracy needs class labels; use neg_loss for regression")
    kw = dict(m.kwargs)
    kw.update(metric=args.metric, seed=args.seed, progress=progress)
    if m.oracle:
        kw["oracle"] = args.oracle
    if m.budget is not None:
        kw[m.budget] = pick(args.budget, FULL["budget"], QUICK["budget"], args.quick)
        if getattr(args, "resume", None) is not None:
            kw["resume"] = args.resume
    res = getattr(applications, m.function)(learner, ds.X_train, y, ds.X_test, y_test, **kw)
    values = np.asarray(res.values, dtype=np.float64)
    stderr = np.asarray(getattr(res, "stderr", np.full(values.shape, np.nan)), dtype=np.float64)
    info = {"method": args.method, "function": f"applications.{m.function}",
            "oracle": getattr(res, "oracle", kw.get("oracle")), "metric": args.metric,
            "budget": kw.get(m.budget) if m.budget else None,
            "n_utility_calls": getattr(res, "n_utility_calls", None),
            "stopped_by": getattr(res, "stopped_by", None) or None,
            "seconds": getattr(res, "total_seconds", None),
            "n_samples": getattr(res, "n_samples", None)}
    if info["stopped_by"] == "interrupted":
        info["state"] = res.state
    return values, stderr, info


def _rows(ds, values, stderr) -> list[dict]:
    import numpy as np

    src = ds.train_rows if ds.train_rows is not None else np.arange(ds.n_train)
    y = ds.inverse_transform_target(ds.y_train) if ds.task == "regression" else ds.y_train
    labels = y.tolist()  # as in the user's file (regression: the unstandardised target)
    return [{"index": i, "source_row": int(src[i]), "y": labels[i],
             "value": float(values[i]),
             "stderr": None if not np.isfinite(stderr[i]) else float(stderr[i])}
            for i in range(ds.n_train)]


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = ["index", "source_row", "y", "value", "stderr"]
    if rows and "partial" in rows[0]:
        fields.append("partial")
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "value": repr(r["value"]),
                    "stderr": "" if r["stderr"] is None else repr(r["stderr"])})
    return buf.getvalue()


def _interrupted(args, ctx, out, doc, info) -> None:
    """Save the state and the finished part of an interrupted run; raise Interrupted."""
    import shlex
    from pathlib import Path

    base = out if out is not None else Path.cwd() / "modelpred-value.csv"
    state_file = base.with_name(base.stem + ".state.npz")
    info["state"].save(state_file)
    rows = [{**r, "partial": True} for r in doc["values"]]
    doc = {**doc, "partial": True, "stopped_by": "interrupted", "values": rows,
           "state": str(state_file)}
    m = METHODS[args.method]
    units = {"n_permutations": "permutations", "stopping": "subsets"}.get(m.budget, "units")
    budget = info.get("budget")
    done = (f"{info['n_samples']} of {budget} {units}" if budget
            else f"{info['n_samples']} {units}")
    if out is not None:
        part = partial_path(out)
        write_text(part, json.dumps(json_safe(doc), indent=1) if out.suffix.lower() == ".json"
                   else to_csv(rows))
        where = f"partial values from {done} written to {part} ({out} was not written)"
    else:
        where = (f"partial values from {done} printed with partial=true on every row")
        if ctx.json:
            ctx.emit_json(doc)
        else:
            ctx.result(to_csv(rows))
    argv = list(ctx.argv)
    if "--resume" in argv:  # drop an earlier --resume STATE
        i = argv.index("--resume")
        del argv[i:i + 2]
    argv = [a for a in argv if not a.startswith("--resume=")]
    cmd = shlex.join(["modelpred", "value", *argv, "--resume", str(state_file)])
    raise Interrupted(f"{where}; state saved to {state_file}; resume with: {cmd}")


def run(args, ctx) -> int:
    import numpy as np

    out = None if args.out is None else check_out_file(args.out, suffixes=(".csv", ".json"))
    n_train = pick(args.n_train, FULL["n_train"], QUICK["n_train"], args.quick)
    ds = load_data(args, n_train=n_train)
    learner = make_learner(args.learner, args.lam, ds, args.penalize_intercept)
    ctx.status(f"[value] {describe(ds)}; {args.method} values with {learner!r}")
    values, stderr, info = compute(args, ds, learner, ctx.progress)
    rows = _rows(ds, values, stderr)
    doc = {"data": {"name": ds.name, "n_train": ds.n_train, "task": ds.task,
                    "target": ds.target_name},
           "learner": {"class": type(learner).__name__, **learner.get_params()},
           "convention": "U(S) from theta(S) minimising sum_{i in S} loss_i + lam/2 ||P theta||^2",
           **{k: v for k, v in info.items() if k != "state"}, "values": rows}
    if info["stopped_by"] == "interrupted":
        _interrupted(args, ctx, out, doc, info)
    if out is not None:
        text = json.dumps(json_safe(doc), indent=1) if out.suffix.lower() == ".json" \
            else to_csv(rows)
        write_text(out, text)
        ctx.status(f"[value] wrote {len(rows)} values to {out}")
        if ctx.json:
            ctx.emit_json({k: v for k, v in doc.items() if k != "values"} | {"out": str(out)})
        else:
            order = np.argsort(values)
            ctx.result("lowest values (index: value): " + ", ".join(
                f"{int(i)}: {values[i]:.4g}" for i in order[:5]))
        return 0
    if ctx.json:
        ctx.emit_json(doc)
    else:
        ctx.result(to_csv(rows))
    return 0
