"""dattri as a client, our side (the project's environment): export the problems, then compare.

Two problems under the sum convention F_S(theta) = sum_{i in S} CE_i(theta) + lam/2 ||P theta||^2
(C = 1/lam), test output f_j = the margin (``attribution.outputs``):

* ``binary``: breast_cancer, 200 training / 50 test points, lam = 1, intercept unpenalised;
* ``multinomial``: digits, 300 / 50 points, 10 classes, lam = 1, intercept penalised (so the
  Hessian dattri inverts explicitly is non-singular; ours would use the gauge otherwise).

``export`` fits the model, computes our exact ground truth (100 held-out 50% subsets and the
exact LOO, ``attribution.ground_truth``) and our scores, and writes DIR/problem.npz for
``dattri_side.py``. ``compare`` reads dattri's scores back, runs our TRAK with dattri's own
projection matrix, and reports the agreement (max |difference| / max |ours|) and both LDS
(``attribution.evaluate`` and ``dattri.metric.lds``) side by side, as JSON (also
DIR/dattri_compare.json).

Sign conventions: ours, scores[i, j] ~ f_j(theta(N)) - f_j(theta(N - i)). dattri's explicit
influence is g_i^T H^{-1} grad f_j, i.e. MINUS ours; its TRAK (train term Q_i grad f_i with
Q_i = 1 - p_i, which is -g_i for cross-entropy) has our sign.

    python bench/peers/dattri_ours.py export --data DIR [--quick]
    .venv-dattri/bin/python bench/peers/dattri_side.py --data DIR
    python bench/peers/dattri_ours.py compare --data DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

N_SUBSETS = 100
PROJ_DIM = {"binary": 16, "multinomial": 256}


def _problems(quick: bool):
    from modelpred_theory.datasets import load
    from modelpred_theory.learners import LogisticRegression

    nb, nm, m = (60, 120, 10) if quick else (200, 300, 50)
    bc = load("breast_cancer", seed=0, n_train=nb)
    dg = load("digits", seed=0, n_train=nm)
    return {
        "binary": (LogisticRegression(lam=1.0), bc.X_train, bc.y_train, bc.X_test[:m],
                   bc.y_test[:m]),
        "multinomial": (LogisticRegression(lam=1.0, n_classes=10, penalize_intercept=True),
                        dg.X_train, dg.y_train, dg.X_test[:m], dg.y_test[:m]),
    }


def _scores(learner, X, y, Xt, yt, theta, **trak):
    from modelpred_theory.attribution.methods import attribute

    t0 = time.perf_counter()
    infl = attribute(learner, X, y, Xt, yt, "influence", theta=theta)
    t1 = time.perf_counter()
    tr = attribute(learner, X, y, Xt, yt, "trak", theta=theta, kernel="trak", **trak)
    return infl, tr, t1 - t0, time.perf_counter() - t1


def export(folder: Path, quick: bool) -> dict:
    from modelpred_theory.attribution import ground_truth

    folder.mkdir(parents=True, exist_ok=True)
    arrays, info = {"problems": np.array(list(PROJ_DIM))}, {}
    for name, (L, X, y, Xt, yt) in _problems(quick).items():
        truth = ground_truth(L, X, y, Xt, yt, n_subsets=20 if quick else N_SUBSETS,
                             output="margin", seed=0, loo=True)
        truth.save(folder / f"{name}_truth.npz")
        theta = truth.theta_full
        d = X.shape[1]
        K = theta.size // (d + 1)
        infl, tr, t_infl, t_trak = _scores(L, X, y, Xt, yt, theta, proj_dim=None)
        arrays.update({
            f"{name}_X": X, f"{name}_y": np.asarray(L.encode_y(y)), f"{name}_X_test": Xt,
            f"{name}_y_test": np.asarray(L.encode_y(yt)), f"{name}_theta": theta.reshape(K, -1),
            f"{name}_lam": L.lam, f"{name}_binary": K == 1,
            f"{name}_pen_mask": L.penalty_vector(d, K).numpy().reshape(K, -1),
            f"{name}_proj_dim": PROJ_DIM[name], f"{name}_masks": truth.masks,
            f"{name}_truth_outputs": truth.outputs, f"{name}_truth_loo": truth.loo,
            f"{name}_ours_influence": infl, f"{name}_ours_trak": tr})
        info[name] = {"n": X.shape[0], "m": Xt.shape[0], "p": theta.size,
                      "influence_seconds": t_infl, "trak_seconds": t_trak}
    np.savez(folder / "problem.npz", **arrays)
    (folder / "ours.json").write_text(json.dumps(info, indent=2))
    return info


def _agreement(a, b) -> float:
    """max |a - b| / max |b|: the relative disagreement of two score matrices."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def compare(folder: Path, quick: bool) -> dict:
    from modelpred_theory.attribution import GroundTruth, evaluate

    z = dict(np.load(folder / "problem.npz"))
    dz = dict(np.load(folder / "dattri.npz"))
    side = json.loads((folder / "dattri.json").read_text())
    report = {"dattri": side.get("dattri"), "torch": side.get("torch"), "problems": {}}
    for name, (L, X, y, Xt, yt) in _problems(quick).items():
        theta = z[f"{name}_theta"].reshape(-1)
        truth = GroundTruth.load(folder / f"{name}_truth.npz")
        ours_inf, ours_trak_id = z[f"{name}_ours_influence"], z[f"{name}_ours_trak"]
        P = dz[f"{name}_projection"]
        p = theta.size
        _, ours_trak_P, _, t_trak_P = _scores(L, X, y, Xt, yt, theta, projection=P)
        d_if = -dz[f"{name}_if_explicit"]  # dattri's sign is minus ours
        rows = {
            "influence": (ours_inf, d_if, "if_explicit", "ours_influence"),
            "trak_no_projection": (ours_trak_id, dz[f"{name}_trak_identity"], "trak_identity",
                                   "ours_trak"),
            "trak_same_projection": (ours_trak_P, dz[f"{name}_trak_normal"], "trak_normal",
                                     None),
        }
        res = {"n": X.shape[0], "m": Xt.shape[0], "p": p, "proj_dim": int(P.shape[1]),
               "n_subsets": truth.n_subsets}
        for key, (ours, theirs, dkey, okey) in rows.items():
            e_ours, e_theirs = evaluate(ours, truth), evaluate(theirs, truth)
            res[key] = {
                "max_rel_difference": _agreement(theirs, ours),
                "lds_ours": e_ours.lds, "lds_ours_stderr": e_ours.lds_stderr,
                "lds_dattri_scores": e_theirs.lds,
                "dattri_metric_lds_on_dattri_scores": float(np.mean(dz[f"{name}_lds_{dkey}"])),
                "loo_pearson_ours": e_ours.loo_pearson,
                "dattri_seconds": side.get(f"{name}_{dkey}_seconds"),
            }
            if okey is not None:
                res[key]["dattri_metric_lds_on_our_scores"] = float(
                    np.mean(dz[f"{name}_lds_{okey}"]))
        res["trak_same_projection"]["ours_seconds"] = t_trak_P
        # our default TRAK (Gauss-Newton kernel: curvature weights and lam kept), same k
        from modelpred_theory.attribution.methods import attribute

        gn = attribute(L, X, y, Xt, yt, "trak", theta=theta, proj_dim=int(P.shape[1]))
        e = evaluate(gn, truth)
        res["ours_trak_gauss_newton"] = {"lds": e.lds, "lds_stderr": e.lds_stderr,
                                         "loo_pearson": e.loo_pearson}
        report["problems"][name] = res
    (folder / "dattri_compare.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=("export", "compare"))
    ap.add_argument("--data", type=Path, required=True, help="exchange folder")
    ap.add_argument("--quick", action="store_true", help="tiny problems (smoke test)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.step == "export":
        out = export(args.data, args.quick)
        print(json.dumps(out))
        return out
    return compare(args.data, args.quick)


if __name__ == "__main__":
    main()
