"""Which approximation to trust for given (n, d, k): influence function, one Newton step, or an
exact refit (THEORY.md statement 15), with the certificate of each approximation beside it.

Binary logistic regression under the sum convention F_S(theta) = sum_{i in S} loss_i(theta) +
lam/2 ||theta||^2 (every coordinate penalised, lam = 1), Gaussian features x ~ N(0, I_d), k random
points removed from a pool of n. The script measures, on a grid of (n, d, k), the mean relative
error ||theta_hat - theta(S - T)|| / ||theta(S - T) - theta(S)|| of the influence function and of
the Newton step, fits the laws of THEORY 15.1,

    Newton:     rel. error = a_N sqrt(k (d + 1)) / n,
    influence:  rel. error = a_I (k + d + 1) / n,

and draws, for a tolerance tau, the region where each approximation meets it (influence where
a_I (k + p) / n < tau, Newton where a_N sqrt(k p) / n < tau, a refit elsewhere). Beside every
measured point it prints the median certificate / true error of both approximations
(``certify``: what a user can check without refitting).

Writes ``approximation_map.json`` and ``approximation_map.png`` under ``--out`` (default
``figures/output``).

    python figures/approximation_map.py            # full grid (about a minute on 2 cores)
    python figures/approximation_map.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TAUS = (0.01, 0.1)


def _parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny grid, seconds")
    ap.add_argument("--out", default="figures/output", help="output folder")
    ap.add_argument("--seed", type=int, default=0, help="seed (>= 0)")
    args = ap.parse_args(argv)  # None: the command line
    if args.seed < 0:
        ap.error(f"argument --seed: must be >= 0, got {args.seed}")
    return args


def measure(n: int, d: int, k: int, draws: int, rng) -> dict:
    """Relative errors and certificate / error medians of influence and Newton at (n, d, k)."""
    from modelpred_theory import baselines, certify
    from modelpred_theory.learners import LogisticRegression

    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ (np.ones(d) / np.sqrt(d))))).astype(float)
    learner = LogisticRegression(lam=1.0, penalize_intercept=True, tol=1e-13)
    M = np.ones((draws, n), bool)
    for row in M:
        row[rng.choice(n, k, replace=False)] = False
    th0 = learner.fit(X, y).theta
    truth = learner.fit_subsets(X, y, M, theta0=th0)
    change = np.linalg.norm(truth - th0, axis=1)
    out = {"n": n, "d": d, "k": k}
    for name, fn in (("influence", baselines.influence), ("newton", baselines.newton_step)):
        pred = fn(learner, X, y, M, theta_base=th0)
        err = np.linalg.norm(pred - truth, axis=1)
        cert = certify(learner, X, y, M, pred)
        ok = np.isfinite(cert) & (err > 0)
        out[name] = {"rel_error": float(np.mean(err / change)),
                     "cert_over_error": float(np.median(cert[ok] / err[ok])) if ok.any()
                     else None,
                     "coverage": float(np.mean(cert >= err))}
    return out


def fit_constants(points: list[dict]) -> dict:
    """Least-squares constants (in log) of the two laws over the measured grid."""
    p = np.array([r["d"] + 1.0 for r in points])
    k = np.array([r["k"] for r in points], float)
    n = np.array([r["n"] for r in points], float)
    lawN = np.sqrt(k * p) / n
    lawI = (k + p) / n
    eN = np.array([r["newton"]["rel_error"] for r in points])
    eI = np.array([r["influence"]["rel_error"] for r in points])
    return {"a_newton": float(np.exp(np.mean(np.log(eN / lawN)))),
            "a_influence": float(np.exp(np.mean(np.log(eI / lawI)))),
            "spread_newton": float(np.ptp(np.log10(eN / lawN))),
            "spread_influence": float(np.ptp(np.log10(eI / lawI)))}


def draw(points, const, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted({r["n"] for r in points})
    fig, axes = plt.subplots(1, len(ns), figsize=(5.2 * len(ns), 4.2), squeeze=False)
    for ax, n in zip(axes[0], ns, strict=True):
        ks = np.logspace(0, np.log10(n / 2), 200)
        ds = np.logspace(0, np.log10(n / 4), 200)
        K, D = np.meshgrid(ks, ds)
        P = D + 1
        relN = const["a_newton"] * np.sqrt(K * P) / n
        relI = const["a_influence"] * (K + P) / n
        tau = TAUS[0]
        region = np.where(relI < tau, 0, np.where(relN < tau, 1, 2))
        ax.contourf(K, D, region, levels=[-0.5, 0.5, 1.5, 2.5],
                    colors=["#c6e2c3", "#c9d9f0", "#f3d1c7"])
        for t, ls in zip(TAUS, ("-", "--"), strict=True):
            ax.contour(K, D, relN, levels=[t], colors="C0", linestyles=ls)
            ax.contour(K, D, relI, levels=[t], colors="C2", linestyles=ls)
        for r in (r for r in points if r["n"] == n):
            ci, cn = r["influence"]["cert_over_error"], r["newton"]["cert_over_error"]
            ax.plot(r["k"], r["d"], "k.")
            ax.annotate(f"IF {r['influence']['rel_error']:.1%} (c/e {ci or float('nan'):.1f})\n"
                        f"N {r['newton']['rel_error']:.1%} (c/e {cn or float('nan'):.1f})",
                        (r["k"], r["d"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", yscale="log", xlabel="k (points removed)", ylabel="d",
               title=f"n = {n}: green influence, blue Newton, red refit (tol {tau:.0%}; "
                     f"dashed {TAUS[1]:.0%})")
        ax.title.set_fontsize(8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    args = _parse(argv)
    rng = np.random.default_rng(args.seed)
    if args.quick:
        grid = [(200, d, k) for d in (4, 16) for k in (4, 16)]
        draws = 4
    else:
        grid = [(n, d, k) for n in (500, 2000) for d in (4, 16, 32) for k in (2, 16, 64)]
        draws = 20
    points = [measure(n, d, k, draws, rng) for n, d, k in grid]
    const = fit_constants(points)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"quick": args.quick, "seed": args.seed, "taus": list(TAUS), "constants": const,
              "points": points}
    (out / "approximation_map.json").write_text(json.dumps(result, indent=2))
    draw(points, const, out / "approximation_map.png")
    return result


if __name__ == "__main__":
    main()
