"""THEORY.md statement 9: the size-only floor of sum pooling.

Sum convention: theta(S) minimises sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (binary
logistic on breast_cancer, lam = 1, intercept unpenalised). Any function of |S| alone has mean
squared error >= E ||theta(S) - E[theta(S) | |S|]||^2 (the within-size variance). For a
sum-pooled latent z(S) = sum_{i in S} phi_i over uniform subsets of size s from a pool of n,

    z(S) = s phi_bar + eps_S,   E ||eps_S||^2 = s (n - s) / (n - 1) sigma_phi^2,
    sigma_phi^2 = (1/n) sum_i ||phi_i - phi_bar||^2      (sampling without replacement),

so the size signal s phi_bar grows like s while the set-specific part is at most of order
sqrt(n) sigma_phi: a sum-pooled DeepSets first fits |S|. To first order theta(S) - E[theta | s]
= J (w - E w) with J = -H^{-1} G^T, so the within-size variance is the identity applied to the
influence columns phi_i = J e_i.

Claims checked
--------------
1. the variance identity, exactly, by enumerating every subset of size s of a 12-point pool
   (the with-replacement value s sigma^2 would be off by (n - 1) / (n - s));
2. the identity by Monte Carlo on breast_cancer with phi_i = the influence columns (20,000
   subsets per size): ratio within 3%;
3. the size-only floor: the per-size mean of training sets (the best function of |S|) has
   held-out MSE >= the held-out within-size variance;
4. the first-order floor s (n - s) / (n - 1) sigma_J^2 (J at the uniform weighting s/n of the
   pool) predicts the measured within-size
   variance within a factor 1.5 at every size;
5. (empirical) a plain sum-pooled ModelPred after a short training predicts (almost) a
   function of |S| only: the within-size variance of its predictions is < 10% of the truth's,
   so its MSE stays above the size-only floor.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from modelpred_theory import datasets, subsets
from modelpred_theory.learners import LogisticRegression

try:
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure


def without_replacement_variance(phi: np.ndarray, s: int) -> float:
    """s (n - s) / (n - 1) sigma^2 for rows phi (n, q)."""
    n = len(phi)
    sigma2 = float(((phi - phi.mean(0)) ** 2).sum(1).mean())
    return s * (n - s) / (n - 1) * sigma2


def latent_deviation(phi: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """||sum_{i in S} phi_i - |S| phi_bar||^2 per mask: (k,)."""
    Z = masks.astype(float) @ phi - masks.sum(1, keepdims=True) * phi.mean(0)
    return (Z**2).sum(1)


def influence_columns(learner, X, y, theta, w=None) -> np.ndarray:
    """phi_i = -H_w^{-1} grad l_i(theta): (n, p), H_w the Hessian of F_w at theta."""
    H = learner.hessian(theta, X, y, w)
    G = learner.per_sample_grads(theta, X, y)
    return -np.linalg.solve(H, G.T).T


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_size_floor", "statement 9", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n_pool, m = (300, 200) if args.full else (100, 40)
    ds = datasets.load("breast_cancer", seed=args.seed, n_train=n_pool)
    X, y = ds.X_train, ds.y_train
    n = len(X)
    learner = LogisticRegression(lam=1.0)

    # 1. exact enumeration
    small = rng.standard_normal((12, 3))
    dev1 = 0.0
    for s in (1, 4, 7, 11):
        idx = np.array(list(combinations(range(12), s)))
        masks = np.zeros((len(idx), 12), bool)
        masks[np.arange(len(idx))[:, None], idx] = True
        exact = latent_deviation(small, masks).mean()
        dev1 = max(dev1, abs(exact / without_replacement_variance(small, s) - 1))
    rep.add("E||eps_S||^2 = s(n-s)/(n-1) sigma^2, all subsets of a 12-point pool, s = 1, 4, 7, 11",
            dev1, 1e-12, dev1 <= 1e-12, kind="identity", note="max relative deviation")

    # 2. Monte Carlo with the influence columns
    th = learner.fit(X, y).theta
    J = influence_columns(learner, X, y, th)  # shape: (n, p)
    sizes = [n // 4, n // 2, 3 * n // 4]
    dev2 = 0.0
    for s in sizes:
        M = subsets.fixed_size_subsets(n, 20000, s, rng=rng)
        dev2 = max(dev2, abs(latent_deviation(J, M).mean() / without_replacement_variance(J, s)
                             - 1))
    rep.add(f"the identity by Monte Carlo, phi_i = influence columns, s = {sizes}", dev2, 0.03,
            dev2 <= 0.03, kind="identity", note="max relative deviation; tolerance: about "
            "5 Monte Carlo standard errors")

    # 3-4. the size-only floor from exact refits
    Ms = [subsets.fixed_size_subsets(n, 2 * m, s, rng=rng, y=y, require_all_classes=True)
          for s in sizes]
    Ts = [learner.fit_subsets(X, y, M, theta0=th) for M in Ms]
    floor_s, mse_s, pred_s = [], [], []
    for s, T in zip(sizes, Ts, strict=True):
        tr, te = T[:m], T[m:]
        floor_s.append(float(((te - te.mean(0)) ** 2).sum(1).mean()))
        mse_s.append(float(((te - tr.mean(0)) ** 2).sum(1).mean()))
        # first order around the uniform weighting of the same total size, w_bar = (s/n) 1
        wb = np.full(n, s / n)
        th_s = learner.fit(X, y, wb, theta0=th).theta
        pred_s.append(without_replacement_variance(influence_columns(learner, X, y, th_s, wb), s))
    floor_s, mse_s, pred_s = map(np.array, (floor_s, mse_s, pred_s))
    w3 = float(np.max(floor_s / mse_s))
    rep.add("best function of |S| (per-size training mean): held-out MSE >= within-size "
            "variance", w3, 1.0, w3 <= 1.0, kind="regression",
            note="holds by construction (MSE = variance + bias^2, 9.1); measured: max floor / MSE")
    fac = float(np.max(np.maximum(pred_s / floor_s, floor_s / pred_s)))
    rep.add("first-order floor s(n-s)/(n-1) sigma_J^2 vs measured within-size variance", fac, 1.5,
            fac <= 1.5, kind="tight", note="measured: worst factor; predicted / measured by s: "
            + ", ".join(f"{s}: {a / b:.3g}" for s, a, b in zip(sizes, pred_s, floor_s,
                                                              strict=True)))

    # 5. a sum-pooled DeepSets first learns |S|
    from modelpred_theory.setfn import ModelPred

    M_tr = np.concatenate([M[:m] for M in Ms])
    T_tr = np.concatenate([T[:m] for T in Ts])
    M_te = np.concatenate([M[m:] for M in Ms])
    T_te = np.concatenate([T[m:] for T in Ts])
    net = ModelPred(learner, seed=args.seed, base=None, width=32, phi_depth=2, rho_hidden=(32,),
                    pooling="sum", regularize=False, epochs=20, batch_size=16, lr=3e-3,
                    val_fraction=0.0, progress=False).fit(X, y, M_tr, T_tr)
    P = net.predict(X, y, M_te)
    within_pred = np.mean([((P[j * m:(j + 1) * m] - P[j * m:(j + 1) * m].mean(0)) ** 2).sum(1)
                           .mean() for j in range(len(sizes))])
    mse_net = float(((P - T_te) ** 2).sum(1).mean())
    floor_all = float(floor_s.mean())
    total = float(((T_te - T_te.mean(0)) ** 2).sum(1).mean())
    r5 = float(within_pred / floor_all)
    rep.add("sum-pooled ModelPred after a short training (20 epochs): within-size variance of its "
            "predictions / of the truth", r5, 0.1, r5 <= 0.1 and mse_net >= floor_all,
            kind="empirical", note=f"so its MSE is above the size-only floor: network MSE / "
            f"total variance {mse_net / total:.3g}, size-only floor / total variance "
            f"{floor_all / total:.3g}")

    if args.plot:
        fig, ax = new_figure(1, width=5.0)
        ax[0].plot(sizes, floor_s, "o-", label="within-size variance (exact refits)")
        ax[0].plot(sizes, pred_s, "x--", label="s(n-s)/(n-1) sigma_J^2 (first order)")
        ax[0].axhline(mse_net, color="gray", ls=":", label="sum-pooled ModelPred MSE")
        ax[0].set(xlabel="|S|", ylabel="squared error", title="size-only floor, breast_cancer")
        ax[0].legend(fontsize=7)
        save_figure(fig, args, "check_size_floor", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
