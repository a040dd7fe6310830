"""``modelpred whatif``: parameters and test metrics after removing or adding given rows.

theta(S) minimises the sum objective F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2
(C = 1/lam) on the changed training set S = (training rows minus ``--remove``) plus the test rows
``--add-from-test``. ``--method exact`` refits; ``influence`` (first-order group influence) and
``newton`` (one exact Newton step) approximate it from the full fit, and ``mpt.certify`` bounds
the approximation's parameter error without refitting.
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
    index_list,
    json_safe,
    load_data,
    make_learner,
    model_targets,
    seed_int,
    write_text,
)

WHATIF_METHODS = ("exact", "influence", "newton")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modelpred whatif",
        description="What the model would be without some training rows (--remove) and/or "
                    "with some test rows added to training (--add-from-test): theta and the "
                    "test loss, accuracy (classification) or R^2 (regression), before and after, "
                    "on the test rows that stay held out. Row numbers are 0-based positions in "
                    "the training / test split (see the index and source_row columns of "
                    "'modelpred value'). Sum objective, C = 1/lam.")
    add_data_args(ap)
    add_learner_args(ap)
    ap.add_argument("--remove", type=index_list, default=[], metavar="ROWS",
                    help="training rows to remove, e.g. 3,17,40 or 0-9")
    ap.add_argument("--add-from-test", type=index_list, default=[], metavar="ROWS",
                    help="test rows to add to the training set, e.g. 0,5")
    ap.add_argument("--method", choices=WHATIF_METHODS, default="exact",
                    help="exact refit (default), first-order influence, or one Newton step")
    ap.add_argument("--verify", action="store_true",
                    help="with an approximation: also refit exactly and report the true error")
    ap.add_argument("--seed", type=seed_int, default=0, help="seed of the split")
    ap.add_argument("--out", default=None, metavar="FILE",
                    help="also write the full result (with theta) as JSON to FILE")
    add_output_args(ap)
    return ap


def validate(ap, args) -> None:
    if args.seed < 0:
        ap.error(f"argument --seed: must be an integer >= 0, got {args.seed}")
    check_data_args(ap, args)
    if not args.remove and not args.add_from_test:
        ap.error("nothing to do: give --remove ROWS and/or --add-from-test ROWS")
    if args.verify and args.method == "exact":
        ap.error("--verify checks an approximation; --method exact is already exact")


def _check_rows(ds, learner, y, remove, add):
    import numpy as np

    for flag, rows, n, what in (("--remove", remove, ds.n_train, "training"),
                                ("--add-from-test", add, ds.n_test, "test")):
        bad = [i for i in rows if i >= n]
        if bad:
            raise CommandError(f"{flag}: row {bad[0]} does not exist; the {what} split has "
                               f"{n} rows (0 to {n - 1})")
    if len(remove) >= ds.n_train and not add:
        raise CommandError("--remove: removing every training row leaves nothing to fit")
    if ds.task != "regression" and learner.needs_all_classes():
        keep = np.ones(ds.n_train, dtype=bool)
        keep[remove] = False
        present = set(y[keep].tolist()) | set(model_targets(ds)[1][add].tolist())
        missing = [ds.classes_[k] for k in range(ds.n_classes) if k not in present]
        if missing:
            raise CommandError(f"--remove: no training row of class {missing[0]!r} would be "
                               "left; the model needs every class")


def _metrics(learner, ds, theta, X, y) -> dict:
    out = {"loss": float(learner.mean_loss(theta, X, y))}
    if ds.task == "regression":
        from sklearn.metrics import r2_score

        pred = learner.decision_function(theta, X)
        out["r2"] = float(r2_score(y, pred)) if len(y) > 1 else float("nan")
    else:
        out["accuracy"] = float(learner.accuracy(theta, X, y))
    return out


def compute(args, ds, learner) -> dict:
    """Before/after parameters, metrics, and the certificate (see the module docstring)."""
    import numpy as np

    from ..baselines import influence, newton_step
    from ..setfn import certify

    y, y_test = model_targets(ds)
    remove, add = list(args.remove), list(args.add_from_test)
    _check_rows(ds, learner, y, remove, add)
    # pool = training rows + the added test rows; base = the training rows; target = S
    X = np.vstack([ds.X_train, ds.X_test[add]])
    Y = np.concatenate([y, y_test[add]])
    base = np.r_[np.ones(ds.n_train, bool), np.zeros(len(add), bool)]
    target = base.copy()
    target[remove] = False
    target[ds.n_train:] = True
    held = np.setdiff1d(np.arange(ds.n_test), add)
    X_eval, y_eval = ds.X_test[held], y_test[held]
    full = learner.fit(ds.X_train, y)
    theta0 = full.theta
    if args.method == "exact":
        theta = learner.fit(X, Y, sample_weight=target.astype(float), theta0=theta0).theta
    elif args.method == "influence":
        theta = influence(learner, X, Y, target[None], base_mask=base, theta_base=theta0)[0]
    else:
        theta = newton_step(learner, X, Y, target[None], base_mask=base, theta_base=theta0)[0]
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # an infinite bound says why
        warnings.simplefilter("always")
        bound = float(certify(learner, X, Y, target[None], theta[None])[0])
    why = [str(w.message).removeprefix("certify: ") for w in caught
           if str(w.message).startswith("certify: ")]
    res = {"method": args.method, "removed": remove, "added_from_test": add,
           "n_train_before": ds.n_train, "n_train_after": int(target.sum()),
           "n_eval": int(held.size),
           "before": {**_metrics(learner, ds, theta0, X_eval, y_eval), "theta": theta0},
           "after": {**_metrics(learner, ds, theta, X_eval, y_eval), "theta": theta},
           "change_norm": float(np.linalg.norm(theta - theta0)),
           "certified_error_bound": bound,
           "certificate_note": why[0] if why else None,
           "optimality_residual": float(learner.optimality_residual(theta, X, Y,
                                                                    target.astype(float)))}
    if args.verify:
        exact = learner.fit(X, Y, sample_weight=target.astype(float), theta0=theta0).theta
        res["exact"] = {**_metrics(learner, ds, exact, X_eval, y_eval), "theta": exact}
        res["true_error"] = float(np.linalg.norm(theta - exact))
    return res


def _table(res: dict, ds) -> str:
    metric = "r2" if ds.task == "regression" else "accuracy"
    rows = [("before (full fit)", res["before"]), (f"after ({res['method']})", res["after"])]
    if "exact" in res:
        rows.append(("after (exact refit)", res["exact"]))
    lines = [f"whatif: removed {len(res['removed'])} training rows, added "
             f"{len(res['added_from_test'])} test rows ({res['n_train_before']} -> "
             f"{res['n_train_after']} training rows); metrics on {res['n_eval']} held-out rows",
             f"  {'':<22}{'test loss':>12}{metric:>12}"]
    for name, m in rows:
        lines.append(f"  {name:<22}{m['loss']:>12.6f}{m[metric]:>12.6f}")
    lines.append(f"  ||theta_after - theta_before|| = {res['change_norm']:.4g}")
    lines.append(f"  certified bound on ||theta_after - theta(S)|| = "
                 f"{res['certified_error_bound']:.3g} (mpt.certify; inf: no certificate)")
    if res.get("certificate_note"):
        lines.append(f"  why no certificate: {res['certificate_note']}")
    if "true_error" in res:
        lines.append(f"  true error ||theta_after - theta(S)|| = {res['true_error']:.3g}")
    return "\n".join(lines)


def run(args, ctx) -> int:
    out = None if args.out is None else check_out_file(args.out, suffixes=(".json",))
    ds = load_data(args, n_train=args.n_train)
    learner = make_learner(args.learner, args.lam, ds, args.penalize_intercept)
    ctx.status(f"[whatif] {describe(ds)}; {learner!r}")
    res = compute(args, ds, learner)
    res["data"] = {"name": ds.name, "task": ds.task, "target": ds.target_name}
    res["convention"] = "theta(S) minimises sum_{i in S} loss_i + lam/2 ||P theta||^2"
    if out is not None:
        import json

        write_text(out, json.dumps(json_safe(res), indent=1))
        ctx.status(f"[whatif] wrote {out}")
    if ctx.json:
        ctx.emit_json(res)
    else:
        ctx.result(_table(res, ds))
    return 0
