"""THEORY.md statement 2: stability of theta(S) under changes of the training set.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||theta||^2 with every
coordinate penalised (penalize_intercept=True), so F_S is lam-strongly convex. Then for any S, S'

    ||theta(S) - theta(S')|| <= ||grad F_S(theta(S'))|| / lam
                             =  ||sum_{S \\ S'} grad loss_i - sum_{S' \\ S} grad loss_i|| / lam
                             <= G |S symmetric-difference S'| / lam,

with G a bound on the per-point gradients over the ball that holds every minimiser.

Claims checked (ridge, binary logistic, squared-hinge SVM; several lam)
----------------------------------------------------------------------
1. the sharp (middle) bound holds on every sampled pair;
2. the uniform bound G |S delta S'| / lam holds on every pair, with G from THEORY.md (2.3);
3. the 1/lam rate: for lam >= 30 lambda_max(c [X 1]^T [X 1]) (c the loss curvature cap; the
   regime where the data curvature is a small perturbation of lam I), log ||theta(S) -
   theta(S')|| against log lam has slope -1 (band [-1.1, -0.9]); this also holds under a mean
   convention, so two claims follow that would FAIL under it:
4. at lam = 1e4 x data curvature, lam ||theta(S) - theta(S')|| equals ||sum_{S - S'} grad l_i(0)
   - sum_{S' - S} grad l_i(0)|| within 1% for |S| from n/8 to n (a mean convention divides by
   |S|: ratio 1/|S|); the deviation at 1e3 x is reported beside it (O(1/lam));
5. theta(2 w; lam) = theta(w; lam / 2) to the solver tolerance (a mean convention gives
   theta(2 w; lam) = theta(w; lam)).
Claims 1 and 4 are tight, 5 an identity; claim 2 is the loose constant form. Claim 1's bound
adds the certificate of the computed theta(S) (Prop. 3.1 holds for any computed theta(S')), so
no ad-hoc slack is used; pairs whose two parameters agree to the certified solver accuracy
(toggled SVM points with zero loss) are checked but left out of the ratio.
"""

from __future__ import annotations

import numpy as np

from modelpred_theory import certify, datasets
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM
from modelpred_theory.learners.objective import optimality_residual

try:
    from ._common import (
        Report,
        loglog_slope,
        new_figure,
        parse_args,
        run_as_script,
        save_figure,
    )
except ImportError:  # pragma: no cover
    from _common import (
        Report,
        loglog_slope,
        new_figure,
        parse_args,
        run_as_script,
        save_figure,
    )

# Slack for float64: theta(S) is exact to ~1e-10 relative (solver tolerance), so a bound may be
# undercut by at most that much.
SLACK = 1e-8


def gradient_bound(learner, X, y, lam: float) -> float:
    """G >= max_i ||grad loss_i(theta)|| over the ball holding every theta(S) (THEORY.md 2.3).

    R = max ||[x_i, 1]||. Ridge: ||theta(S)|| <= sqrt(sum y^2 / lam), G = R (R B + max|y|).
    Logistic: |sigmoid - y| <= 1, G = R. Squared hinge: ||theta(S)|| <= sqrt(2 n / lam),
    G = 2 R (1 + R B).
    """
    R = float(np.sqrt((X**2).sum(1) + 1).max())
    n = X.shape[0]
    if learner.name == "ridge":
        B = np.sqrt((y**2).sum() / lam)
        return R * (R * B + np.abs(y).max())
    if learner.name == "logistic":
        return R
    if learner.name == "svm":
        B = np.sqrt(2 * n / lam)
        return 2 * R * (1 + R * B)
    raise ValueError(f"no gradient bound for {learner!r}")


def sample_pairs(n: int, k: int, max_change: int, rng, frac=(0.3, 0.9)):
    """k pairs (S, S'): S random (inclusion probability in ``frac``), S' = S with
    1..max_change memberships toggled; two (k, n) boolean arrays."""
    S = rng.random((k, n)) < rng.uniform(*frac, (k, 1))
    S[:, 0] = True
    Sp = S.copy()
    for j in range(k):
        idx = rng.choice(np.arange(1, n), size=rng.integers(1, max_change + 1), replace=False)
        Sp[j, idx] = ~Sp[j, idx]
    return S, Sp


def first_order_deviation(cls, X, y, lam, S, Sp) -> float:
    """max_j |lam ||theta(S_j) - theta(S'_j)|| / ||sum_i (s_i - s'_i) grad l_i(0)|| - 1|.

    At lam >> data curvature, theta(S) = -(1/lam) sum_{i in S} grad l_i(0) + O(lam^-2) under the
    sum convention (THEORY.md 5.3), whatever |S|; under a mean convention the sum would carry
    a factor 1/|S|.
    """
    learner = cls(lam=float(lam), penalize_intercept=True, tol=1e-12)
    dist = np.linalg.norm(learner.fit_subsets(X, y, S) - learner.fit_subsets(X, y, Sp), axis=1)
    G0 = learner.per_sample_grads(np.zeros(X.shape[1] + 1), X, y)  # shape: (n, p)
    pred = np.linalg.norm((S.astype(float) - Sp.astype(float)) @ G0, axis=1)
    return float(np.max(np.abs(lam * dist / pred - 1.0)))


def doubled_weights_error(cls, X, y, S) -> float:
    """max relative ||theta(2 w; lam) - theta(w; lam / 2)|| over the rows of S."""
    a = cls(lam=1.0, penalize_intercept=True, tol=1e-12).fit_subsets(X, y, 2.0 * S)
    b = cls(lam=0.5, penalize_intercept=True, tol=1e-12).fit_subsets(X, y, S.astype(float))
    return float(np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)))


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_stability", "statement 2", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n, d, k = (200, 8, 400) if args.full else (40, 3, 60)
    lams = [0.1, 1.0, 10.0]
    reg = datasets.make_regression(n=n, d=d, noise=0.5, rng=args.seed)
    clf = datasets.make_logistic(n=n, d=d, rng=args.seed)
    problems = [(Ridge, reg), (LogisticRegression, clf), (SquaredHingeSVM, clf)]
    S, Sp = sample_pairs(n, k, 8, rng)
    sym = (S != Sp).sum(1)
    S4, Sp4 = sample_pairs(n, 12, 3, rng, frac=(0.125, 1.0))
    plot_rows = []
    for cls, ds in problems:
        X, y = ds.X_train, ds.y_train
        r_unif, n_bad1, n_bad2, n_equal = [], 0, 0, 0
        worst = (0.0, 0.0, 1.0)  # (ratio, distance, bound) at the worst resolvable pair
        for lam in lams:
            learner = cls(lam=lam, penalize_intercept=True)
            th_S = learner.fit_subsets(X, y, S)
            th_Sp = learner.fit_subsets(X, y, Sp)
            dist = np.linalg.norm(th_S - th_Sp, axis=1)
            # Prop. 3.1 at theta_hat = computed theta(S'): ||theta_hat(S') - theta(S)|| <=
            # ||grad F_S(theta_hat(S'))|| / lam holds for ANY theta_hat(S'), so with the
            # certificate c_S >= ||theta_hat(S) - theta(S)|| the computed distance obeys
            # dist <= sharp + c_S exactly: no ad-hoc slack.
            sharp = optimality_residual(learner, th_Sp, X, y, S) / lam
            cert = certify(learner, X, y, S, th_S)
            bound1 = sharp + cert
            unif = gradient_bound(learner, X, y, lam) * sym / lam
            n_bad1 += int((dist > bound1).sum())
            n_bad2 += int((dist > unif * (1 + SLACK)).sum())
            # pairs whose distance is at the solvers' accuracy say nothing about tightness
            # (e.g. toggled SVM points with zero loss: theta(S) = theta(S') exactly)
            res = sharp > 100.0 * cert
            n_equal += int((~res).sum())
            if res.any():
                r = dist[res] / bound1[res]
                j = int(np.argmax(r))
                if r[j] > worst[0]:
                    worst = (float(r[j]), float(dist[res][j]), float(bound1[res][j]))
            r_unif.append(dist / unif)
            plot_rows.append((cls.__name__, lam, dist, sharp, unif))
        nt = len(lams) * k
        nt_total = nt
        rep.add(f"{cls.__name__}: ||theta(S)-theta(S')|| <= ||grad F_S(theta(S'))||/lam "
                f"(sharp, data-dependent), {k} pairs x lam in {lams}", worst[1], worst[2],
                n_bad1 == 0 and worst[0] <= 1.0, kind="tight",
                note=f"measured / bound: distance and bound (+ certificate of the computed "
                f"theta(S)) at the worst pair; {n_bad1}/{nt} violations; {n_equal} pairs with "
                "theta(S) = theta(S') to the certified solver accuracy are checked but left out "
                "of the ratio")
        w2 = float(np.max(np.concatenate(r_unif)))
        rep.add(f"{cls.__name__}: ||theta(S)-theta(S')|| <= G |S delta S'| / lam (constant form)",
                w2, 1.0, n_bad2 == 0 and w2 <= 1.0, kind="loose",
                note=f"measured: max distance / bound; {n_bad2}/{nt_total} violations")
        # 3. rate in lam (regime lam >> data curvature): slope -1
        Xa = np.c_[X, np.ones(n)]
        curv = {"ridge": 1.0, "logistic": 0.25, "svm": 2.0}[cls.name]
        lmax = curv * np.linalg.eigvalsh(Xa.T @ Xa)[-1]  # data curvature scale
        big = np.array([30.0, 100.0, 300.0, 1000.0]) * lmax
        med = []
        for lam in big:
            learner = cls(lam=float(lam), penalize_intercept=True)
            dist = np.linalg.norm(learner.fit_subsets(X, y, S[:20]) - learner.fit_subsets(
                X, y, Sp[:20]), axis=1)
            med.append(np.median(dist))
        slope = loglog_slope(big, med)
        rep.add(f"{cls.__name__}: rate in lam for lam in [{big[0]:.3g}, {big[-1]:.3g}] "
                f"(30..1000 x data curvature)", slope, -1.0, -1.1 <= slope <= -0.9,
                relation="~", tol=0.1, kind="rate", note="log-log slope; band [-1.1, -0.9]")
        # 4. the sum convention: the first-order change does not depend on |S|
        dev3 = first_order_deviation(cls, X, y, 1e3 * lmax, S4, Sp4)
        dev = first_order_deviation(cls, X, y, 1e4 * lmax, S4, Sp4)
        rep.add(f"{cls.__name__}: sum convention, lam = 1e4 x data curvature: lam ||theta(S) - "
                "theta(S')|| / ||sum_{S-S'} grad l_i(0) - sum_{S'-S} grad l_i(0)|| = 1 for |S| "
                f"from {int(S4.sum(1).min())} to {int(S4.sum(1).max())}", dev, 0.01, dev <= 0.01,
                kind="rate", note="measured: max |ratio - 1| over pairs (the mean convention "
                f"gives ratios of about 1/|S|, i.e. >= 0.875 here); at 1e3 x: {dev3:.3g} (the "
                "correction is O(c R^2 |S| / lam), THEORY 2.5)")
        # 5. doubled weights at lam = unit weights at lam / 2 (false under the mean convention)
        e5 = doubled_weights_error(cls, X, y, S[:10])
        rep.add(f"{cls.__name__}: theta(2 w; lam) = theta(w; lam / 2) (sum convention)", e5,
                1e-8, e5 <= 1e-8, kind="identity",
                note="max relative error; tolerance: solver tolerance 1e-10 x conditioning")

    if args.plot:
        fig, ax = new_figure(2)
        for name, lam, dist, sharp, unif in plot_rows:
            ax[0].scatter(sharp, dist, s=5, label=f"{name} lam={lam:g}")
            ax[1].scatter(unif, dist, s=5)
        for a, t in zip(ax, ["||grad F_S(theta(S'))|| / lam", "G |S delta S'| / lam"],
                        strict=True):
            lo = min(r[2][r[2] > 0].min() for r in plot_rows)
            hi = max(max(r[3].max(), r[4].max()) for r in plot_rows)
            a.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            a.set(xscale="log", yscale="log", xlabel=t, ylabel="||theta(S) - theta(S')||")
        ax[0].set_title("sharp stability bound")
        ax[1].set_title("uniform stability bound")
        ax[0].legend(fontsize=5, ncol=2)
        save_figure(fig, args, "check_stability", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
