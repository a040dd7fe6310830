"""THEORY.md statement 11: theta(S) is Lipschitz in the positions of its points.

Sum convention, every coordinate penalised: F_S(theta) = sum_i l(theta; x_i, y_i) + lam/2
||theta||^2, lam-strongly convex. Moving points x_i -> x'_i with labels fixed (S -> S'), with
theta' = theta(S'):

    ||theta(S) - theta(S')|| <= || sum_i (grad l(theta'; x_i, y_i) - grad l(theta'; x'_i, y_i)) ||
                                / lam                                     (sharp)
                             <= sum_i C_i ||x_i - x'_i|| / lam,            (constant form)

logistic C_i = 1 + B ||x~_i|| / 4 with B = sqrt(2 n log 2 / lam) >= ||theta'||; ridge C_i =
|y_i| + B (||x~_i|| + ||x~'_i||) with B = sqrt(sum y^2 / lam). This is the continuity that
predicting theta on sets of new points relies on.

Claims checked (binary logistic and ridge, lam in {0.1, 1, 10}, 1-5 points moved)
--------------------------------------------------------------------------------
1. the sharp bound against exact refits on every moved set (data-dependent in the gradients
   but loose when the data curvature dominates lam, so reported as loose);
2. the certificate of statement 3 applied to theta(S') on the original points, which uses the
   local curvature instead of lam (tight: exact for ridge);
3. the constant form on every moved set (loose);
4. ||theta(S) - theta(S')|| is linear in the displacement size delta for small delta (log-log
   slope 1, band [0.95, 1.05]).
"""

from __future__ import annotations

import numpy as np

from modelpred_theory import datasets
from modelpred_theory.learners import LogisticRegression, Ridge
from modelpred_theory.setfn.certify import certify

try:
    from ._common import (
        Report,
        loglog_slope,
        new_figure,
        parse_args,
        run_as_script,
        save_figure,
        worst_ratio,
    )
except ImportError:  # pragma: no cover
    from _common import (
        Report,
        loglog_slope,
        new_figure,
        parse_args,
        run_as_script,
        save_figure,
        worst_ratio,
    )

SLACK = 1e-9  # exact refits are accurate to ~1e-12 here (tol 1e-12)


def moved_sets(X, k, max_moved, rng, delta=None):
    """k copies of X with 1..max_moved rows moved by random vectors of norm delta (random in
    [1e-3, 1] when None): list of (X' (n, d), moved index array)."""
    out = []
    n, d = X.shape
    for _ in range(k):
        idx = rng.choice(n, rng.integers(1, max_moved + 1), replace=False)
        V = rng.standard_normal((len(idx), d))
        size = delta if delta is not None else 10 ** rng.uniform(-3, 0, (len(idx), 1))
        Xp = X.copy()
        Xp[idx] += size * V / np.linalg.norm(V, axis=1, keepdims=True)
        out.append((Xp, idx))
    return out


def constant_form(learner, X, Xp, y, lam) -> float:
    """sum_i C_i ||x_i - x'_i|| / lam with the explicit C_i of THEORY.md 11."""
    n = len(X)
    na = np.sqrt((X**2).sum(1) + 1)
    npa = np.sqrt((Xp**2).sum(1) + 1)
    dx = np.linalg.norm(X - Xp, axis=1)
    if learner.name == "logistic":
        B = np.sqrt(2 * n * np.log(2) / lam)
        C = 1.0 + B * na / 4
    else:
        B = np.sqrt((y**2).sum() / lam)
        C = np.abs(y) + B * (na + npa)
    return float((C * dx).sum() / lam)


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_moved_points", "statement 11", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n, d, k = (120, 5, 60) if args.full else (40, 3, 15)
    problems = ((LogisticRegression, datasets.make_logistic(n=n, d=d, rng=args.seed)),
                (Ridge, datasets.make_regression(n=n, d=d, noise=0.5, rng=args.seed)))
    plot = []
    for cls, ds in problems:
        X, y = ds.X_train, ds.y_train
        sharp_r, const_r, cert_r = [], [], []
        for lam in (0.1, 1.0, 10.0):
            learner = cls(lam=lam, penalize_intercept=True, tol=1e-12)
            th = learner.fit(X, y).theta
            for Xp, _ in moved_sets(X, k, 5, rng):
                thp = learner.fit(Xp, y, theta0=th).theta
                dist = np.linalg.norm(th - thp)
                # grad F_S(theta') = sum_i grad l(theta'; x_i) - grad l(theta'; x'_i) (+ 0)
                sharp = np.linalg.norm(learner.grad(thp, X, y)) / lam
                sharp_r.append((dist, sharp + SLACK))
                cert_r.append((dist, certify(learner, X, y, np.ones(n, bool), thp)[0] + SLACK))
                const_r.append((dist, constant_form(learner, X, Xp, y, lam)))
        a = np.array(sharp_r)
        b = np.array(const_r)
        w1, bad1, nt = worst_ratio(a[:, 0], a[:, 1])
        rep.add(f"{cls.__name__}: ||theta(S) - theta(S')|| <= ||grad F_S(theta(S'))|| / lam "
                f"(sharp in the gradients, lam for the curvature) on {nt} moved sets", w1, 1.0,
                bad1 == 0, kind="loose",
                note=f"measured: max distance / bound; {bad1} violations; median ratio "
                     f"{np.median(a[:, 0] / a[:, 1]):.3g}")
        c = np.array(cert_r)
        w4, bad4, _ = worst_ratio(c[:, 0], c[:, 1])
        rep.add(f"{cls.__name__}: ... <= certify(theta(S')) on the original points (statement 3, "
                "the local curvature instead of lam)", w4, 1.0, bad4 == 0, kind="tight",
                note=f"measured: max distance / bound; {bad4} violations; median ratio "
                     f"{np.median(c[:, 0] / c[:, 1]):.3g}")
        w2, bad2, _ = worst_ratio(b[:, 0], b[:, 1])
        rep.add(f"{cls.__name__}: ... <= sum_i C_i ||x_i - x'_i|| / lam (constant form)", w2, 1.0,
                bad2 == 0, kind="loose",
                note=f"measured: max distance / bound; {bad2} violations")
        # 3. linear in delta
        learner = cls(lam=1.0, penalize_intercept=True, tol=1e-13)
        th = learner.fit(X, y).theta
        deltas = np.logspace(-4, -1, 4)
        base = moved_sets(X, 1, 3, np.random.default_rng(args.seed + 1), delta=1.0)[0]
        dists = []
        for delta in deltas:
            Xp = X + delta * (base[0] - X)
            dists.append(np.linalg.norm(th - learner.fit(Xp, y, theta0=th).theta))
        sl = loglog_slope(deltas, dists)
        rep.add(f"{cls.__name__}: ||theta(S) - theta(S')|| linear in the displacement "
                "(delta = 1e-4..0.1)", sl, 1.0, 0.95 <= sl <= 1.05, relation="~", tol=0.05,
                kind="rate",
                note="log-log slope; band [0.95, 1.05]")
        plot.append((cls.__name__, a, b, deltas, dists))

    if args.plot:
        fig, ax = new_figure(2)
        for name, a, b, deltas, dists in plot:
            ax[0].scatter(a[:, 1], a[:, 0], s=6, label=f"{name} sharp")
            ax[0].scatter(b[:, 1], b[:, 0], s=6, marker="x", label=f"{name} constant form")
            ax[1].loglog(deltas, dists, "o-", label=name)
        lo = min(r[1][:, 0].min() for r in plot)
        hi = max(r[2][:, 1].max() for r in plot)
        ax[0].plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax[0].set(xscale="log", yscale="log", xlabel="bound", ylabel="||theta(S) - theta(S')||",
                  title="moved points vs exact refits")
        ax[0].legend(fontsize=6)
        ax[1].set(xlabel="displacement delta", ylabel="||theta(S) - theta(S')||",
                  title="slope 1")
        ax[1].legend(fontsize=7)
        save_figure(fig, args, "check_moved_points", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
