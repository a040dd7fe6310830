"""Error of group influence (first and second order) and of one Newton step against exact refits,
as a function of the fraction of the training pool removed.

Default run: breast_cancer (``datasets.load("breast_cancer", seed=0)``, train split, unit-ball
scaling), L2 logistic regression with lam = 1 under the sum convention
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam, intercept unpenalised),
1%, 10%, 30%, 50% and 70% of the pool removed uniformly at random (masks that keep both classes).
For every method it reports the median relative parameter error ||theta_hat - theta(S)|| /
||theta(S)|| and the median error of the change ||theta_hat - theta(S)|| / ||theta(S) - theta||.

It also re-measures a reference configuration (standardised features without unit-ball scaling,
lam = 5.69) for the first-order influence, and records per fraction:

* the certificates of every method's predictions (``setfn.certificate_summary``: coverage,
  finite fraction, median bound / true error over finite bounds, and why bounds are infinite);
* the explanation of THEORY.md statement 7: the largest margin change nu, the bound psi(nu) on
  the Newton step's error relative to the change (in the H_0 norm), the measured ratio, and the
  share ||H_S^{-1} H_G (theta_N - theta_0)|| / ||theta_N - theta_0|| that the first-order
  influence misses whatever nu is.

Writes ``influence_vs_removed.json`` and ``influence_vs_removed.png`` under ``--out``
(default ``figures/output``). ``--quick`` runs an 80-point pool with 3 masks per fraction.

    python figures/influence_vs_removed.py            # full run (about 15 s on 2 cores)
    python figures/influence_vs_removed.py --quick    # smoke run (about a second)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FRACTIONS = (0.01, 0.1, 0.3, 0.5, 0.7)
METHODS = ("influence", "influence2", "newton_step")
LABELS = {"influence": "influence (1st order)", "influence2": "influence (2nd order)",
          "newton_step": "one Newton step"}


def _masks(n, y, fractions, n_masks, seed, need_classes):
    from modelpred_theory import subsets

    gen = np.random.default_rng(seed)
    blocks, groups = [], []
    for f in fractions:
        blocks.append(subsets.fixed_size_subsets(
            n, n_masks, n - round(f * n), rng=gen, y=y if need_classes else None,
            require_all_classes=need_classes))
        groups += [f"{f:g}"] * n_masks
    return np.vstack(blocks), groups


def _run(ds, lam, fractions, n_masks, seed, methods):
    from modelpred_theory.baselines import compare
    from modelpred_theory.learners import LogisticRegression

    learner = LogisticRegression(lam=lam)
    masks, groups = _masks(ds.X_train.shape[0], ds.y_train, fractions, n_masks, seed, True)
    exact = learner.fit_subsets(ds.X_train, ds.y_train, masks)
    res = compare(learner, ds.X_train, ds.y_train, ds.X_test, ds.y_test, masks,
                  methods=methods, groups=groups, theta_true=exact)
    res.exact_thetas = exact  # kept for the certificates and statement 7 below
    table = {}
    for row in res.summary():
        if row["method"] == "exact" or row["group"] == "all":
            continue
        table.setdefault(row["method"], {})[row["group"]] = {
            "median_rel_param_error": row["median_rel_param_error"],
            "median_change_error": row["median_change_error"],
            "pearson_test_loss": row["pearson"],
            "seconds_per_model": row["seconds_per_model"],
        }
    return res, table


def _certificates(res, ds, lam, masks, groups) -> dict:
    """Per fraction and method: certificate_summary of the method's predictions."""
    from modelpred_theory.learners import LogisticRegression
    from modelpred_theory.setfn import certificate_summary, certify

    learner = LogisticRegression(lam=lam)
    exact = res.exact_thetas
    groups = np.asarray(groups)
    out = {}
    for name, m in res.methods.items():
        c, det = certify(learner, ds.X_train, ds.y_train, masks, m.thetas, return_details=True)
        err = np.linalg.norm(m.thetas - exact, axis=1)
        for g in dict.fromkeys(groups):
            sel = groups == g
            out.setdefault(name, {})[g] = certificate_summary(
                c[sel], err[sel], R=det["R"][sel], method=det["method"])
    return out


def _newton_explanation(res, ds, lam, masks, groups) -> dict:
    """Per fraction: medians of nu, psi(nu), the Newton error / change (H_0 norm) and the share
    ||H_S^{-1} H_G (theta_N - theta_0)|| / ||theta_N - theta_0|| (THEORY.md 7.1-7.2)."""
    from modelpred_theory.learners import LogisticRegression

    learner = LogisticRegression(lam=lam)
    X, y = ds.X_train, ds.y_train
    Xa = np.c_[X, np.ones(len(X))]
    th0 = learner.fit(X, y).theta
    H_S = learner.hessian(th0, X, y)
    exact = res.exact_thetas
    newton = res.methods["newton_step"].thetas
    rows = {}
    for j, g in enumerate(groups):
        w = masks[j].astype(float)
        H0 = learner.hessian(th0, X, y, w)
        e, dN = exact[j] - th0, newton[j] - th0
        nu = float(np.max(np.abs(Xa[masks[j]] @ e)))
        psi = float(np.expm1(nu) / nu - 1.0) if nu > 1e-8 else nu / 2
        hn = lambda v, H=H0: float(np.sqrt(max(v @ H @ v, 0.0)))  # noqa: E731
        share = np.linalg.norm(np.linalg.solve(H_S, (H_S - H0) @ dN)) / np.linalg.norm(dN)
        rows.setdefault(g, []).append((nu, psi, hn(exact[j] - newton[j]) / hn(e), share))
    return {g: dict(zip(("median_nu", "median_psi_nu", "median_newton_error_over_change_H0",
                         "median_influence_share_missed"),
                        map(float, np.median(np.array(v), axis=0)), strict=True))
            for g, v in rows.items()}


def _plot(table, fractions, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    keys = [f"{f:g}" for f in fractions]
    for ax, metric, name in zip(
            axes, ("median_rel_param_error", "median_change_error"),
            ("relative parameter error", "error of the change"), strict=True):
        for m, rows in table.items():
            vals = [rows[k][metric] * 100 for k in keys]
            ax.plot(np.array(fractions) * 100, vals, marker="o", label=LABELS.get(m, m))
        ax.set_xlabel("% of the training pool removed")
        ax.set_ylabel(f"median {name} (%)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    """Run the measurement, write the JSON and the PNG, print a short table; returns 0."""
    import torch

    from modelpred_theory import datasets

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                    help="output folder (default figures/output)")
    ap.add_argument("--n-masks", type=int, default=50, help="masks per removed fraction")
    ap.add_argument("--lam", type=float, default=1.0, help="regularisation (sum convention)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split and of the masks")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))

    n_train = 80 if args.quick else None
    n_masks = 3 if args.quick else args.n_masks
    if n_masks < 1:
        raise ValueError(f"--n-masks must be >= 1, got {n_masks}")
    ds = datasets.load("breast_cancer", seed=args.seed, n_train=n_train)
    res, table = _run(ds, args.lam, FRACTIONS, n_masks, args.seed, METHODS)

    masks, groups = _masks(ds.X_train.shape[0], ds.y_train, FRACTIONS, n_masks, args.seed, True)
    certs = _certificates(res, ds, args.lam, masks, groups)
    explain = _newton_explanation(res, ds, args.lam, masks, groups)

    ref_ds = datasets.load("breast_cancer", seed=args.seed, n_train=n_train, scale=False)
    _, ref_table = _run(ref_ds, 5.69, FRACTIONS, n_masks, args.seed, ("influence",))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "description": "median errors against exact refits vs fraction of the pool removed",
        "convention": "F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2, "
                      "intercept unpenalised, C = 1/lam",
        "dataset": "breast_cancer", "seed": args.seed, "lam": args.lam, "n": res.n, "p": res.p,
        "n_masks_per_fraction": n_masks, "quick": bool(args.quick),
        "fractions": list(FRACTIONS), "results": table,
        "reference_config": {"scale": False, "lam": 5.69, "results": ref_table},
        "certificates": certs,
        "newton_vs_influence": explain,
    }
    (out / "influence_vs_removed.json").write_text(json.dumps(payload, indent=2))
    _plot(table, FRACTIONS, out / "influence_vs_removed.png",
          f"breast_cancer, L2 logistic, lam={args.lam:g} (sum convention), n={res.n}")
    print(f"{'method':<13}" + "".join(f"{f * 100:>10g}%" for f in FRACTIONS))
    for m, rows in table.items():
        for metric, tag in (("median_rel_param_error", "rel"), ("median_change_error", "chg")):
            vals = "".join(f"{rows[f'{f:g}'][metric] * 100:>10.3g}%" for f in FRACTIONS)
            print(f"{m + ' ' + tag:<13}{vals}")
    print("statement 7: removed  nu  psi(nu)  Newton err/change (H0)  influence share missed")
    for g, v in explain.items():
        print(f"  {float(g) * 100:>6g}%  {v['median_nu']:.3g}  {v['median_psi_nu']:.3g}  "
              f"{v['median_newton_error_over_change_H0']:.3g}  "
              f"{v['median_influence_share_missed']:.3g}")
    print("certificates (coverage / finite fraction / median bound/error):")
    for m, rows in certs.items():
        print(f"  {m:<13}" + "".join(
            f"  {float(g) * 100:g}%: {r['coverage']:.2f}/{r['finite_fraction']:.2f}/"
            f"{(r['median_ratio'] or float('nan')):.3g}" for g, r in rows.items()))
    print(f"wrote {out / 'influence_vs_removed.json'} and {out / 'influence_vs_removed.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
