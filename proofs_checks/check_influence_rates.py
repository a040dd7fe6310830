"""THEORY.md statement 4: error of influence functions and of the one-step Newton update.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||theta||^2 (every coordinate
penalised, so mu = lam is a strong-convexity constant of every F). Removing the group G (weights
w_G) from S, with g_G = sum_{i in G} w_i grad loss_i(theta(S)) the removed gradient sum:

    Newton step   theta_N  = theta(S) - H_{S\\G}(theta(S))^{-1} grad F_{S\\G}(theta(S))
    influence     theta_IF = theta(S) + H_S(theta(S))^{-1} g_G
    ||theta(S\\G) - theta_N||  <= L ||g_G||^2 / (2 mu^3)
    ||theta(S\\G) - theta_IF|| <= L ||g_G||^2 / (2 mu^3) + ||H_G|| ||g_G|| / mu^2

with L the Lipschitz constant of the Hessian (logistic: L = sum ||x~_i||^3 / (6 sqrt 3); ridge 0).

Claims checked (binary logistic, ridge)
---------------------------------------
1. both bounds hold on every removed group (sizes 1 .. n/6), and so does the data-dependent
   form L r^2 / (2 mu_0) with r the certificate of theta(S) for S \\ G (statement 3) and
   mu_0 = lambda_min(H_{S\\G}(theta(S)));
2. removing a fraction eps of a fixed group: error against ||g_G|| (proportional to eps) has
   log-log slope 2 (band [1.8, 2.2]) for the influence function and the Newton step
   (ridge: the Newton step is exact);
3. leave-one-out against lam, lam >= 10 x data curvature: influence error slope -2 (band
   [-2.2, -1.8]); Newton-step error slope <= -2.7 (the bound gives -3);
4. leave-one-out against n at fixed lam and fixed data distribution: slope -2 for both (band
   [-2.4, -1.6]).
"""

from __future__ import annotations

import math

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

try:
    from .check_newton_influence import psi
except ImportError:  # pragma: no cover
    from check_newton_influence import psi

C3 = 1.0 / (6.0 * math.sqrt(3.0))  # max |sigmoid'''|, the logistic third-derivative bound
TOL = 1e-13  # solver tolerance: the truth must be far more accurate than the errors we measure
SLACK = 1e-9  # absolute slack on the bounds (the exact solutions err by ~1e-12)


def approximations(learner, X, y, w_S, w_rem):
    """theta(S), truth theta(S - rem), Newton step, influence, ||g_G||, ||H_G|| for each row.

    w_S (n,) weights of S; w_rem (k, n) removed weights. Uses only the learner's grad / hessian.
    """
    th = learner.fit(X, y, w_S).theta
    W_after = w_S[None] - w_rem
    truth = learner.fit_subsets(X, y, W_after, theta0=th)
    H_S = learner.hessian(th, X, y, w_S)
    g_S = learner.grad(th, X, y, w_S)
    P = np.eye(len(th)) * learner.lam
    out = {"truth": truth, "newton": [], "influence": [], "g": [], "HG": [], "mu0": [],
           "corr": [], "err_h": [], "psi_b": []}
    out["r"] = certify(learner, X, y, W_after, th)  # certified ||theta(S) - theta(S - rem)||
    for j in range(w_rem.shape[0]):
        g_after = learner.grad(th, X, y, W_after[j])
        gG = g_S - g_after  # removed gradient sum (penalties cancel)
        H_after = learner.hessian(th, X, y, W_after[j])
        out["mu0"].append(np.linalg.eigvalsh(H_after)[0])
        out["newton"].append(th - np.linalg.solve(H_after, g_after))
        out["influence"].append(th + np.linalg.solve(H_S, gG))
        HGm = H_S - H_after  # H_G (penalties cancel)
        # statement 7.2: H_0-norm Newton error and psi(nu) ||e||_H0, nu the largest margin change
        e = truth[j] - th
        dN = truth[j] - out["newton"][-1]
        live = W_after[j] > 0
        nu = float(np.max(np.abs(np.c_[X[live], np.ones(live.sum())] @ e)))
        out["err_h"].append(np.sqrt(max(dN @ H_after @ dN, 0.0)))
        out["psi_b"].append(float(psi(nu)) * np.sqrt(max(e @ H_after @ e, 0.0)))
        out["corr"].append(np.linalg.norm(np.linalg.solve(H_S, HGm @ (out["newton"][-1] - th))))
        out["g"].append(np.linalg.norm(gG))
        HG = learner.hessian(th, X, y, w_rem[j]) - P
        out["HG"].append(np.linalg.norm(HG, 2))
    for key in ("newton", "influence", "g", "HG", "mu0", "corr", "err_h", "psi_b"):
        out[key] = np.asarray(out[key])
    out["err_newton"] = np.linalg.norm(out["newton"] - truth, axis=1)
    out["err_if"] = np.linalg.norm(out["influence"] - truth, axis=1)
    return out


def hessian_lipschitz(learner, X, w) -> np.ndarray:
    """L = C3 sum_i w_i ||x~_i||^3 for logistic, 0 for ridge; w (k, n) -> (k,)."""
    if learner.name == "ridge":
        return np.zeros(w.shape[0])
    r3 = (np.sum(X**2, axis=1) + 1.0) ** 1.5
    return C3 * (w @ r3)


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_influence_rates", "statement 4", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n, d, reps = (300, 5, 6) if args.full else (90, 3, 2)
    clf = datasets.make_logistic(n=n, d=d, rng=args.seed)
    reg = datasets.make_regression(n=n, d=d, noise=0.5, rng=args.seed)
    figdata = {}
    for cls, ds in ((LogisticRegression, clf), (Ridge, reg)):
        name = cls.__name__
        X, y = ds.X_train, ds.y_train
        learner = cls(lam=1.0, penalize_intercept=True, tol=TOL)
        mu = learner.lam
        w_S = np.ones(n)
        # 1. whole groups of increasing size: bounds
        sizes = [1, 2, 4, 8, 16] + ([32, 50] if args.full else [])
        rem = []
        for m in sizes:
            for _ in range(reps):
                r = np.zeros(n)
                r[rng.choice(n, m, replace=False)] = 1.0
                rem.append(r)
        rem = np.array(rem)
        A = approximations(learner, X, y, w_S, rem)
        L = hessian_lipschitz(learner, X, w_S[None] - rem)
        bN = L * A["g"] ** 2 / (2 * mu**3) + SLACK
        bIF = bN + A["HG"] * A["g"] / mu**2
        nt = len(rem)
        wN, badN, _ = worst_ratio(A["err_newton"], bN)
        wI, badI, _ = worst_ratio(A["err_if"], bIF)
        rep.add(f"{name}: Newton-step error <= L||g_G||^2/(2 lam^3) on {nt} groups "
                f"(sizes {sizes[0]}..{sizes[-1]}), constant form", wN, 1.0, badN == 0,
                kind="loose", note=f"measured: max error / bound; {badN}/{nt} violations")
        rep.add(f"{name}: influence error <= that + ||H_G|| ||g_G|| / lam^2, constant form",
                wI, 1.0, badI == 0, kind="loose",
                note=f"measured: max error / bound; {badI}/{nt} violations")
        bS = L * A["r"] ** 2 / (2 * A["mu0"]) + SLACK
        wS, badS, _ = worst_ratio(A["err_newton"], bS)
        rep.add(f"{name}: Newton-step error <= L r^2 / (2 mu_0), r = certify(theta(S)) for "
                "S - G, mu_0 = lambda_min of the Newton matrix (data-dependent constant form)",
                wS, 1.0, badS == 0, kind="loose" if learner.name != "ridge" else "identity",
                note=f"measured: max error / bound; {badS}/{nt} violations"
                     + ("; ridge: both sides are 0 (exact step)" if learner.name == "ridge"
                        else ""))
        if learner.name != "ridge":
            wP, badP, _ = worst_ratio(A["err_h"], A["psi_b"] * (1 + 1e-9) + 1e-14)
            rep.add(f"{name}: Newton-step error in the H_0 norm <= psi(nu) ||e||_H0 (statement "
                    "7.2, nu = largest margin change)", wP, 1.0, badP == 0, kind="tight",
                    note=f"measured: max error / bound; {badP}/{nt} violations")
        # data-dependent influence bound through the identity of statement 7:
        # theta_IF - theta_N = -H_S^{-1} H_G (theta_N - theta_0)
        bI2 = bS + A["corr"]
        wI2, badI2, _ = worst_ratio(A["err_if"], bI2)
        rep.add(f"{name}: influence error <= L r^2/(2 mu_0) + ||H_S^-1 H_G (theta_N - theta_0)|| "
                "(data-dependent, statement 7 identity)", wI2, 1.0, badI2 == 0, kind="tight",
                note=f"measured: max error / bound; {badI2}/{nt} violations")
        figdata[name] = {"groups": A}
        # the library's baselines implement exactly the maps bounded above (independent code)
        keep = (w_S[None] - rem) > 0
        lib_if = baselines.influence(learner, X, y, keep)
        lib_nt = baselines.newton_step(learner, X, y, keep)
        scale = np.linalg.norm(A["truth"], axis=1)
        dev = max(np.max(np.linalg.norm(lib_if - A["influence"], axis=1) / scale),
                  np.max(np.linalg.norm(lib_nt - A["newton"], axis=1) / scale))
        rep.add(f"{name}: baselines.influence / newton_step equal the formulas checked here",
                dev, 1e-9, dev <= 1e-9, kind="identity",
                note="max relative deviation; tolerance: float64 solves")

        # 2. fractional removal of a fixed group: slope 2 in ||g_G||
        G = np.zeros(n)
        G[rng.choice(n, max(4, n // 10), replace=False)] = 1.0
        eps = np.logspace(-3, -1, 5)
        B = approximations(learner, X, y, w_S, eps[:, None] * G[None])
        s_if = loglog_slope(B["g"], B["err_if"])
        rep.add(f"{name}: influence error vs ||g_G|| (remove eps in [1e-3, 0.1] of a group)",
                s_if, 2.0, 1.8 <= s_if <= 2.2, relation="~", tol=0.2, kind="rate",
                note="log-log slope; band [1.8, 2.2]")
        if learner.name == "ridge":
            e = float(B["err_newton"].max() / max(1.0, np.abs(B["truth"]).max()))
            rep.add(f"{name}: Newton step is exact (quadratic loss)", e, 1e-10, e <= 1e-10,
                    kind="identity", note="max relative error")
        else:
            s_n = loglog_slope(B["g"], B["err_newton"])
            rep.add(f"{name}: Newton-step error vs ||g_G||", s_n, 2.0, 1.8 <= s_n <= 2.2,
                    relation="~", tol=0.2, kind="rate", note="log-log slope; band [1.8, 2.2]")
        figdata[name]["frac"] = B
        if learner.name == "ridge":
            continue

        # 3. LOO vs lam in the regime lam >> data curvature
        Xa = np.c_[X, np.ones(n)]
        lmax = 0.25 * np.linalg.eigvalsh(Xa.T @ Xa)[-1]
        lams = lmax * np.array([10.0, 30.0, 100.0, 300.0])
        loo_idx = rng.choice(n, 6 if not args.full else 20, replace=False)
        Rm = np.zeros((len(loo_idx), n))
        Rm[np.arange(len(loo_idx)), loo_idx] = 1.0
        med_if, med_n = [], []
        for lam in lams:
            C = approximations(cls(lam=float(lam), penalize_intercept=True, tol=TOL), X, y, w_S,
                               Rm)
            med_if.append(np.median(C["err_if"]))
            med_n.append(np.median(C["err_newton"]))
        s1, s2 = loglog_slope(lams, med_if), loglog_slope(lams, med_n)
        rep.add(f"{name}: LOO influence error vs lam in [{lams[0]:.3g}, {lams[-1]:.3g}] "
                "(10..300 x data curvature)", s1, -2.0, -2.2 <= s1 <= -1.8, relation="~",
                tol=0.2, kind="rate", note="log-log slope; band [-2.2, -1.8]")
        rep.add(f"{name}: LOO Newton-step error vs lam (same range): decay exponent -slope",
                -s2, 2.7, s2 <= -2.7, relation=">=", kind="rate",
                note="minus the log-log slope; the bound gives 3 (4 for logistic, 4.3(b))")
        figdata[name]["lam"] = (lams, med_if, med_n)

        # 4. LOO vs n at fixed lam (nested pools from one distribution)
        big = datasets.make_logistic(n=32 * n if args.full else 16 * n, d=d, rng=args.seed + 1)
        ns = n * np.array([2, 4, 8, 16] + ([32] if args.full else []))
        k_loo = 40 if args.full else 16
        mi, mn = [], []
        for m in ns:
            Xm, ym = big.X_train[:m], big.y_train[:m]
            Rm = np.zeros((k_loo, m))
            Rm[np.arange(k_loo), np.arange(k_loo)] = 1.0
            C = approximations(cls(lam=1.0, penalize_intercept=True, tol=TOL), Xm, ym,
                               np.ones(m), Rm)
            mi.append(np.median(C["err_if"]))
            mn.append(np.median(C["err_newton"]))
        s3, s4 = loglog_slope(ns, mi), loglog_slope(ns, mn)
        rep.add(f"{name}: LOO influence error vs n in [{ns[0]}, {ns[-1]}] at lam = 1",
                s3, -2.0, -2.4 <= s3 <= -1.6, relation="~", tol=0.4, kind="rate",
                note="log-log slope; band [-2.4, -1.6]")
        rep.add(f"{name}: LOO Newton-step error vs n", s4, -2.0, -2.4 <= s4 <= -1.6,
                relation="~", tol=0.4, kind="rate", note="log-log slope; band [-2.4, -1.6]")
        figdata[name]["n"] = (ns, mi, mn)

    if args.plot:
        fig, ax = new_figure(3)
        for name, fd in figdata.items():
            A = fd["groups"]
            ax[0].scatter(A["g"], A["err_if"], s=6, label=f"{name} influence")
            if name != "Ridge":
                ax[0].scatter(A["g"], A["err_newton"], s=6, marker="x", label=f"{name} Newton")
            B = fd["frac"]
            ax[0].plot(B["g"], B["err_if"], "-", lw=1)
        gg = np.logspace(-3, 1.5, 10)
        ax[0].plot(gg, 1e-3 * gg**2, "k:", label="slope 2")
        ax[0].set(xscale="log", yscale="log", xlabel="||g_G|| (removed gradient sum)",
                  ylabel="error vs exact refit", title="group removal")
        ax[0].legend(fontsize=6)
        lams, a, b = figdata["LogisticRegression"]["lam"]
        ax[1].loglog(lams, a, "o-", label="influence (slope -2)")
        ax[1].loglog(lams, b, "x-", label="Newton step (<= -3)")
        ax[1].set(xlabel="lam", ylabel="median LOO error", title="LOO vs lam (logistic)")
        ax[1].legend(fontsize=7)
        ns, a, b = figdata["LogisticRegression"]["n"]
        ax[2].loglog(ns, a, "o-", label="influence")
        ax[2].loglog(ns, b, "x-", label="Newton step")
        ax[2].set(xlabel="n", ylabel="median LOO error", title="LOO vs n (slope -2)")
        ax[2].legend(fontsize=7)
        save_figure(fig, args, "check_influence_rates", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
