"""THEORY.md statement 14: learning from sampled subsets, and how parameter error carries on.

Sum convention: theta(S) minimises sum_{i in S} loss_i(theta) + lam/2 ||theta||^2 (binary
logistic, every coordinate penalised, lam = 1; theta(empty set) = 0). A predictor f of theta(S)
is trained on k labelled subsets; eps(S) = ||f(S) - theta(S)||.

* Theorem 14.1 (held-out generalisation): for k' fresh labelled subsets drawn i.i.d. from the
  subset distribution D, independent of f, and eps <= E a.s., with probability >= 1 - delta
  E_D eps <= mean_j eps(S'_j) + E sqrt(log(1/delta) / (2 k')) (Hoeffding), E = 2 B with
  B = sqrt(2 n log 2 / lam) when f is clipped to the ball of THEORY 2.2.
* Theorem 14.2 (test loss): |L(f(S)) - L(theta(S))| <= ||grad L(theta(S))|| eps(S) + (c/2) r2
  eps(S)^2, L the mean test log-loss, c = 1/4, r2 = mean_j ||x~_j||^2.
* Corollary 14.3 (Shapley values of the test utility v(S) = -L(theta(S))): |phi_hat_i - phi_i|
  <= sum_{S not containing i} w_S (b(S + i) + b(S)), b(S) the bound of 14.2 and w_S the
  Shapley weights; <= 2 max_S b(S).

Claims checked (pool of n = 10 quick / 12 full points of breast_cancer, 40 test points; the
truth by enumerating every subset)
-----------------------------------------------------------------------------------------
1. (loose) Theorem 14.1 for a linear datamodel f(S) = a + B 1_S trained on k random labelled
   subsets (a DeepSets with phi_i = e_i and a linear rho), D = the Shapley subset distribution:
   over 40 independent validation draws the bound fails at most as often as delta = 0.1 allows
   (binomial 99.9% quantile); the measured number is the worst E_D eps / bound;
2. (tight) Theorem 14.2 on every subset, for the datamodel and for the Newton step;
3. (tight) Corollary 14.3 for every point i, both predictors;
4. (loose) the uniform form 2 max_S b(S).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.stats import binom

from modelpred_theory import baselines, datasets
from modelpred_theory.learners import LogisticRegression

try:
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure


def test_loss(theta: np.ndarray, Xt: np.ndarray, yt: np.ndarray) -> np.ndarray:
    """Mean log-loss on the test points for each row of theta (k, p)."""
    z = np.c_[Xt, np.ones(len(Xt))] @ np.atleast_2d(theta).T  # shape: (m, k)
    return np.mean(np.logaddexp(0.0, z) - yt[:, None] * z, axis=0)


def test_grad(theta: np.ndarray, Xt: np.ndarray, yt: np.ndarray) -> np.ndarray:
    Xa = np.c_[Xt, np.ones(len(Xt))]
    z = Xa @ np.atleast_2d(theta).T
    return ((1.0 / (1.0 + np.exp(-z)) - yt[:, None]).T @ Xa) / len(Xt)  # shape: (k, p)


def shapley(values: dict, n: int) -> np.ndarray:
    """Exact Shapley values of the set function values[frozenset]."""
    phi = np.zeros(n)
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        for s in range(n):
            w = math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            for S in itertools.combinations(rest, s):
                phi[i] += w * (values[frozenset(S + (i,))] - values[frozenset(S)])
    return phi


def shapley_bound(b: dict, n: int) -> np.ndarray:
    """sum over S not containing i of w_S (b(S + i) + b(S)) (Corollary 14.3)."""
    out = np.zeros(n)
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        for s in range(n):
            w = math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            for S in itertools.combinations(rest, s):
                out[i] += w * (b[frozenset(S + (i,))] + b[frozenset(S)])
    return out


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_subset_learning", "statement 14", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n = 12 if args.full else 10
    ds = datasets.load("breast_cancer", seed=args.seed)
    idx = rng.choice(len(ds.y_train), n, replace=False)
    X, y = ds.X_train[idx], ds.y_train[idx].astype(float)
    Xt, yt = ds.X_test[:40], ds.y_test[:40].astype(float)
    lam = 1.0
    learner = LogisticRegression(lam=lam, penalize_intercept=True, tol=1e-12)
    p = X.shape[1] + 1
    subsets = [frozenset(S) for s in range(n + 1) for S in itertools.combinations(range(n), s)]
    masks = np.array([[i in S for i in range(n)] for S in subsets])
    nonempty = masks.any(1)
    truth = np.zeros((len(subsets), p))  # theta(empty) = 0 with every coordinate penalised
    truth[nonempty] = learner.fit_subsets(X, y, masks[nonempty])
    # the Shapley subset distribution: size uniform on 0..n, then a uniform subset of that size
    sizes = masks.sum(1)
    prob = 1.0 / ((n + 1) * np.array([math.comb(n, int(s)) for s in sizes]))

    # predictors: a linear datamodel trained on k labelled subsets, and the Newton step
    k = 8 * n
    tr = rng.choice(len(subsets), k, p=prob)
    A = np.c_[np.ones(k), masks[tr].astype(float)]
    coef, *_ = np.linalg.lstsq(A, truth[tr], rcond=None)
    B_ball = math.sqrt(2 * n * math.log(2) / lam)  # THEORY 2.2: ||theta(S)|| <= B

    def clip(T):
        nrm = np.linalg.norm(T, axis=1, keepdims=True)
        return T * np.minimum(1.0, B_ball / np.maximum(nrm, 1e-300))

    f_dm = clip(np.c_[np.ones(len(subsets)), masks.astype(float)] @ coef)
    th_full = learner.fit(X, y).theta
    f_nt = np.tile(th_full, (len(subsets), 1))
    f_nt[nonempty] = baselines.newton_step(learner, X, y, masks[nonempty], theta_base=th_full)

    # 1. Theorem 14.1 (Hoeffding), datamodel, over independent validation draws
    eps_dm = np.linalg.norm(f_dm - truth, axis=1)
    mean_true = float(prob @ eps_dm)
    delta, k_val, reps = 0.1, 200, 40
    E = 2 * B_ball
    fails, worst = 0, 0.0
    for _ in range(reps):
        val = rng.choice(len(subsets), k_val, p=prob)
        bound = eps_dm[val].mean() + E * math.sqrt(math.log(1 / delta) / (2 * k_val))
        fails += int(mean_true > bound)
        worst = max(worst, mean_true / bound)
    allowed = int(binom.ppf(0.999, reps, delta))
    rep.add(f"Theorem 14.1: E_D eps <= validation mean + E sqrt(log(1/delta) / (2 k')), "
            f"k' = {k_val}, delta = {delta}, {reps} draws (datamodel trained on k = {k} subsets)",
            worst, 1.0, fails <= allowed, kind="loose",
            note=f"measured: worst E_D eps / bound; {fails} failures (allowed {allowed}); "
            f"E_D eps = {mean_true:.3g}, range E = 2B = {E:.3g}: valid, range-dominated")

    # 2-4. test loss and Shapley values
    L_true = test_loss(truth, Xt, yt)
    c, r2 = 0.25, float(np.mean(np.sum(np.c_[Xt, np.ones(len(Xt))] ** 2, axis=1)))
    gnorm = np.linalg.norm(test_grad(truth, Xt, yt), axis=1)
    phi_true = shapley({S: -v for S, v in zip(subsets, L_true, strict=True)}, n)
    w14, w143, w_unif = (0.0, 0.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 1.0)
    ok2 = ok3 = ok4 = True
    summary = []
    for name, F in (("datamodel", f_dm), ("Newton step", f_nt)):
        eps = np.linalg.norm(F - truth, axis=1)
        dL = np.abs(test_loss(F, Xt, yt) - L_true)
        bL = gnorm * eps + 0.5 * c * r2 * eps**2
        ok2 &= bool(np.all(dL <= bL * (1 + 1e-9) + 1e-15))
        live = bL > 0
        j = int(np.argmax(np.where(live, dL / np.where(live, bL, 1), 0)))
        if dL[j] / bL[j] > w14[0]:
            w14 = (dL[j] / bL[j], dL[j], bL[j])
        phi_hat = shapley({S: -v for S, v in zip(subsets, test_loss(F, Xt, yt), strict=True)},
                          n)
        err = np.abs(phi_hat - phi_true)
        bS = shapley_bound(dict(zip(subsets, bL, strict=True)), n)
        ok3 &= bool(np.all(err <= bS * (1 + 1e-9)))
        i = int(np.argmax(err / bS))
        if err[i] / bS[i] > w143[0]:
            w143 = (err[i] / bS[i], err[i], bS[i])
        u = 2 * bL.max()
        ok4 &= bool(np.all(err <= u))
        if err.max() / u > w_unif[0]:
            w_unif = (err.max() / u, err.max(), u)
        summary.append(f"{name}: median eps {np.median(eps):.2g}, max |dphi| {err.max():.2g}")
    rep.add("Theorem 14.2: |L(f(S)) - L(theta(S))| <= ||grad L|| eps + (c/2) r2 eps^2 on all "
            f"{len(subsets)} subsets, datamodel and Newton step", w14[1], w14[2], ok2,
            kind="tight", note="worst subset; " + "; ".join(summary))
    rep.add(f"Corollary 14.3: |phi_hat_i - phi_i| <= sum_S w_S (b(S + i) + b(S)) for all {n} "
            "points, both predictors (exact Shapley values by enumeration)", w143[1], w143[2],
            ok3, kind="tight", note="worst point")
    rep.add("the uniform form |phi_hat_i - phi_i| <= 2 max_S b(S)", w_unif[1], w_unif[2], ok4,
            kind="loose", note="worst point")

    if args.plot:
        fig, ax = new_figure(1, width=5.0)
        eps = np.linalg.norm(f_nt - truth, axis=1)
        ax[0].scatter(gnorm * eps + 0.5 * c * r2 * eps**2,
                      np.abs(test_loss(f_nt, Xt, yt) - L_true), s=5, label="Newton step")
        eps = np.linalg.norm(f_dm - truth, axis=1)
        ax[0].scatter(gnorm * eps + 0.5 * c * r2 * eps**2,
                      np.abs(test_loss(f_dm, Xt, yt) - L_true), s=5, label="datamodel")
        ax[0].plot([1e-9, 1], [1e-9, 1], "k--", lw=0.8)
        ax[0].set(xscale="log", yscale="log", xlabel="bound (Theorem 14.2)",
                  ylabel="|test-loss error|", title="parameter error carried to test loss")
        ax[0].legend(fontsize=7)
        save_figure(fig, args, "check_subset_learning", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
