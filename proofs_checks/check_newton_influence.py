"""THEORY.md statement 7: the Newton step against the influence function.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (binary
logistic, intercept unpenalised). Removing a group G from S, theta_0 = theta(S), e = theta(S - G)
- theta_0, H_0 = H_{S-G}(theta_0), H_S = H_0 + H_G, g_G the removed gradient sum:

    theta_N  = theta_0 + H_0^{-1} g_G,   theta_IF = theta_0 + H_S^{-1} g_G,
    theta_IF - theta_N = -H_S^{-1} H_G (theta_N - theta_0)                       (exact)
    ||theta(S-G) - theta_N||_{H_0} <= psi(nu) ||e||_{H_0},  psi(s) = (e^s - 1)/s - 1,
    nu = max_{i in S-G} |x~_i . e|                     (generalised self-concordance)
    theta(S-G) - theta_N = -(1/2) H_0^{-1} sum_i w_i l'''(z_i) (x~_i . e)^2 x~_i + O(|e|^3).

Claims checked
--------------
1. the identity, with theta_IF and theta_N from ``baselines.influence`` / ``newton_step`` and H_G
   formed separately, to rounding (relative 1e-9), for logistic and ridge;
2. the psi(nu) bound on every removed group (1% to 50% of the pool), nu from the exact refit
   (data-dependent, tight);
3. the same bound made computable: nu <= R r and ||e||_{H_0} <= sqrt(lambda_max(H_0)) r with
   r = certify(theta_0) for S - G (a-priori, looser);
4. the third-derivative term predicts the Newton error at small fractional removals (eps =
   1e-3 of a group): relative discrepancy <= 1%, shrinking like eps (slope 1, band [0.8, 1.2]);
5. the explanation: the influence error stays at the size of H_S^{-1} H_G (theta_N - theta_0)
   (relative to the change it grows with the removed fraction, like the group's share of the
   Hessian), while the Newton error relative to the change is bounded by psi(nu) ~ nu / 2
   (a regression test: the triangle inequality given claim 1);
6. near the pool (1-8 random points removed) the Newton residual is quadratic in the change e:
   the median of ||theta(S-G) - theta_N|| / ||e||^2 has slope 0 in m (band +-0.3);
7. the influence residual is first order in the change times the removed curvature share: the
   median of ||theta(S-G) - theta_IF|| / ||e|| has a slope in m between 0 and 1 (Remark 7.5).
"""

from __future__ import annotations

import numpy as np

from modelpred_theory import baselines, datasets
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

TOL = 1e-13  # solver tolerance: the truth must be far more accurate than the Newton errors


def psi(s):
    """(e^s - 1)/s - 1 (= s/2 + s^2/6 + ...), evaluated stably."""
    s = np.asarray(s, dtype=float)
    small = s < 1e-4
    safe = np.where(small | ~np.isfinite(s), 1.0, s)
    with np.errstate(over="ignore"):
        big = np.expm1(safe) / safe - 1.0
    return np.where(small, s / 2 + s**2 / 6, np.where(np.isfinite(s), big, np.inf))


def hnorm(H, v) -> float:
    return float(np.sqrt(max(v @ H @ v, 0.0)))


def removal_quantities(learner, X, y, w_S, w_rem):
    """Per removal (rows of w_rem): truth, theta_N, theta_IF (library), H_0, H_G, e, nu, R, r."""
    th0 = learner.fit(X, y, w_S).theta
    W_after = w_S[None] - w_rem
    truth = learner.fit_subsets(X, y, W_after, theta0=th0)
    tN = baselines.newton_step(learner, X, y, W_after, base_mask=w_S > 0, theta_base=th0)
    tI = baselines.influence(learner, X, y, W_after, base_mask=w_S > 0, theta_base=th0)
    r = certify(learner, X, y, W_after, th0)  # >= ||theta_0 - theta(S - G)||
    Xa = np.c_[X, np.ones(len(X))]
    H_S = learner.hessian(th0, X, y, w_S)
    rows = []
    for j in range(w_rem.shape[0]):
        H0 = learner.hessian(th0, X, y, W_after[j])
        HG = H_S - H0
        e = truth[j] - th0
        live = W_after[j] > 0
        rows.append({"H0": H0, "HG": HG, "H_S": H_S, "e": e, "th0": th0, "truth": truth[j],
                     "N": tN[j], "IF": tI[j], "r": r[j],
                     "nu": float(np.max(np.abs(Xa[live] @ e))),
                     "R": float(np.linalg.norm(Xa[live], axis=1).max()), "w": W_after[j]})
    return rows


def third_order_term(learner, X, w, th0, H0, eN):
    """-(1/2) H_0^{-1} sum_i w_i l'''(z_i) (x~_i . e_N)^2 x~_i for binary logistic."""
    Xa = np.c_[X, np.ones(len(X))]
    s = 1.0 / (1.0 + np.exp(-(Xa @ th0)))
    l3 = s * (1 - s) * (1 - 2 * s)
    T = Xa.T @ (w * l3 * (Xa @ eN) ** 2)
    return -0.5 * np.linalg.solve(H0, T)


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_newton_influence", "statement 7", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    if args.full:
        clf = datasets.load("breast_cancer", seed=args.seed)
        reps = 10
    else:
        clf = datasets.make_logistic(n=120, d=4, rng=args.seed)
        clf.X_train = clf.X_train / np.linalg.norm(clf.X_train, axis=1).max()
        reps = 3
    reg = datasets.make_regression(n=80, d=4, noise=0.5, rng=args.seed)
    X, y = clf.X_train, clf.y_train
    n = len(X)
    learner = LogisticRegression(lam=1.0, tol=TOL)
    fracs = [0.01, 0.05, 0.1, 0.3, 0.5]
    rem = []
    for f in fracs:
        for _ in range(reps):
            while True:
                r = np.zeros(n)
                r[rng.choice(n, max(1, round(f * n)), replace=False)] = 1.0
                if len(np.unique(y[r == 0])) == 2:
                    break
            rem.append(r)
    rows = removal_quantities(learner, X, y, np.ones(n), np.array(rem))

    # 1. the identity (logistic and ridge)
    rl = Ridge(lam=1.0)
    m = len(reg.X_train)
    rem_r = np.zeros((4, m))
    for j in range(4):
        rem_r[j, rng.choice(m, m // 5, replace=False)] = 1.0
    ridge_rows = removal_quantities(rl, reg.X_train, reg.y_train, np.ones(m), rem_r)
    dev = 0.0
    for q in rows + ridge_rows:
        lhs = q["IF"] - q["N"]
        rhs = -np.linalg.solve(q["H_S"], q["HG"] @ (q["N"] - q["th0"]))
        dev = max(dev, float(np.linalg.norm(lhs - rhs) / np.linalg.norm(lhs)))
    rep.add("theta_IF - theta_N = -H_S^-1 H_G (theta_N - theta_0) (library baselines, logistic "
            "and ridge)", dev, 1e-9, dev <= 1e-9, kind="identity",
            note="max relative deviation; tolerance: two float64 solves")

    # 2. psi(nu) bound, nu from the exact refit
    err_h = np.array([hnorm(q["H0"], q["truth"] - q["N"]) for q in rows])
    eh = np.array([hnorm(q["H0"], q["e"]) for q in rows])
    nu = np.array([q["nu"] for q in rows])
    b2 = psi(nu) * eh
    w2, bad2, nt = worst_ratio(err_h, b2 * (1 + 1e-9) + 1e-14)
    rep.add(f"||theta(S-G) - theta_N||_H0 <= psi(nu) ||e||_H0 on {nt} groups "
            f"({fracs[0]:.0%}..{fracs[-1]:.0%} removed), nu from the refit", w2, 1.0, bad2 == 0,
            kind="tight", note=f"measured: max error / bound; {bad2} violations; nu in "
                               f"[{nu.min():.3g}, {nu.max():.3g}]")
    # 3. a-priori form from the certificate
    rb = np.array([q["r"] for q in rows])
    nub = np.array([q["R"] for q in rows]) * rb
    lmax = np.array([np.linalg.eigvalsh(q["H0"])[-1] for q in rows])
    b3 = psi(nub) * np.sqrt(lmax) * rb
    fin = np.isfinite(b3)
    w3, bad3, _ = worst_ratio(err_h[fin], b3[fin])
    rep.add("the same with nu <= R r, ||e||_H0 <= sqrt(lambda_max(H_0)) r, r = certify(theta_0) "
            "(computable before refitting)", w3, 1.0, bad3 == 0 and fin.any(), kind="loose",
            note=f"measured: max error / bound over finite bounds ({fin.mean():.0%} finite; "
                 f"the certificate of theta_0 is infinite for the largest removals); "
                 f"{bad3} violations")

    # 4. third-derivative term at small fractional removals
    G = np.zeros(n)
    G[rng.choice(n, max(4, n // 10), replace=False)] = 1.0
    eps = np.array([1e-3, 3e-3, 1e-2, 3e-2, 1e-1])
    fr = removal_quantities(learner, X, y, np.ones(n), eps[:, None] * G[None])
    disc = []
    for q in fr:
        d3 = third_order_term(learner, X, q["w"], q["th0"], q["H0"], q["N"] - q["th0"])
        true_err = q["truth"] - q["N"]
        disc.append(np.linalg.norm(true_err - d3) / np.linalg.norm(true_err))
    disc = np.array(disc)
    rep.add("third-derivative term vs the true Newton error, eps = 1e-3 of a group",
            disc[0], 0.01, disc[0] <= 0.01, kind="identity",
            note="measured: ||true error - term|| / ||true error||")
    sl = loglog_slope(eps, disc)
    rep.add("its relative discrepancy shrinks like eps", sl, 1.0, 0.8 <= sl <= 1.2,
            relation="~", tol=0.2, kind="rate",
            note="log-log slope; band [0.8, 1.2]; discrepancies "
            + ", ".join(f"{v:.2g}" for v in disc))

    # 5. influence error ~ identity term; Newton error relative to the change ~ psi(nu)
    chg = np.array([np.linalg.norm(q["e"]) for q in rows])
    eIF = np.array([np.linalg.norm(q["truth"] - q["IF"]) for q in rows])
    eN = np.array([np.linalg.norm(q["truth"] - q["N"]) for q in rows])
    corr = np.array([np.linalg.norm(np.linalg.solve(q["H_S"], q["HG"] @ (q["N"] - q["th0"])))
                     for q in rows])
    f_arr = np.repeat(fracs, reps)
    big = f_arr >= 0.3
    dev5 = float(np.max(np.abs(eIF[big] / corr[big] - 1)))
    rep.add("for 30-50% removed, the influence error is the identity term "
            "||H_S^-1 H_G (theta_N - theta_0)|| (within its Newton remainder)", dev5,
            float(np.max(eN[big] / corr[big])), dev5 <= np.max(eN[big] / corr[big]) + 1e-12,
            kind="regression",
            note="the triangle inequality given claim 1 (regression test); "
            "measured: max |err_IF / term - 1|; bound: max err_N / term; "
            "relative influence error by fraction: " + ", ".join(
                f"{f:.0%} {np.median((eIF / chg)[f_arr == f]):.2g}" for f in fracs)
            + "; relative Newton error: " + ", ".join(
                f"{f:.0%} {np.median((eN / chg)[f_arr == f]):.2g}" for f in fracs))

    # 6-7. the laws near the pool (Remark 7.5): m = 1..8 random points removed
    ms = [1, 2, 4, 8]
    draws = 200 if args.full else 40
    th_full = learner.fit(X, y).theta
    law = []
    for m_rm in ms:
        M = np.ones((draws, n), bool)
        for row in M:
            row[rng.choice(n, m_rm, replace=False)] = False
        T = learner.fit_subsets(X, y, M)
        e_m = np.linalg.norm(T - th_full, axis=1)
        rI = np.linalg.norm(baselines.influence(learner, X, y, M) - T, axis=1)
        rN = np.linalg.norm(baselines.newton_step(learner, X, y, M) - T, axis=1)
        law.append([np.median(e_m), np.median(rI), np.median(rN), np.median(rI / e_m),
                    np.median(rN / e_m**2)])
    law = np.array(law)
    s_e, s_I, s_N, s_Ie, s_Ne2 = (loglog_slope(ms, law[:, j]) for j in range(5))
    rep.add(f"Newton residual is quadratic in the change near the pool: slope of median "
            f"||theta(S-G) - theta_N|| / ||e||^2 in m = {ms} removed points", s_Ne2, 0.0,
            abs(s_Ne2) <= 0.3, relation="~", tol=0.3, kind="rate",
            note=f"{draws} random removals per m; median slopes in m: change {s_e:.2f}, Newton "
            f"residual {s_N:.2f}, influence residual {s_I:.2f} (a residual first order in the "
            "change would give a ratio slope of -(change slope))")
    rep.add("influence residual is first order in the change, times the removed curvature "
            f"share: slope of median ||theta(S-G) - theta_IF|| / ||e|| in m = {ms}", s_Ie, 0.5,
            abs(s_Ie - 0.5) <= 0.5, relation="~", tol=0.5, kind="rate",
            note="between 0 (own-leverage terms dominate) and 1 (the mean curvature share m/n "
            "dominates); Remark 7.5")

    if args.plot:
        fig, ax = new_figure(2)
        ax[0].scatter(b2, err_h, s=8, label="psi(nu) ||e||_H0 (nu from refit)")
        ax[0].scatter(b3, err_h, s=8, marker="x", label="a-priori form (certificate)")
        lo, hi = max(err_h.min(), 1e-12), max(b3.max(), b2.max())
        ax[0].plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax[0].set(xscale="log", yscale="log", xlabel="bound", ylabel="||theta(S-G) - theta_N||_H0",
                  title="Newton error vs the self-concordance bound")
        ax[0].legend(fontsize=6)
        for lab, v in (("influence", eIF / chg), ("Newton", eN / chg)):
            ax[1].scatter(f_arr * 100, v, s=8, label=lab)
        ax[1].set(yscale="log", xlabel="% removed", ylabel="error / ||theta(S-G) - theta(S)||",
                  title="relative errors")
        ax[1].legend(fontsize=7)
        save_figure(fig, args, "check_newton_influence", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
