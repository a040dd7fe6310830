"""THEORY.md statement 10: the minimal latent dimension of an exact weighted sum decomposition.

Sum convention: theta(w) minimises sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 (every
coordinate penalised, so theta(w) is smooth on the open orthant). If theta(w) = rho(sum_i w_i
phi_i) with phi_i in R^m on an open set of weights and rho differentiable, then
d theta / d w (w) = D rho(.) Phi^T has its row space inside that of Phi^T, so stacking the
Jacobians at K weight vectors gives a (K p, n) matrix of rank <= m:

    m >= rank [J(w_1); ...; J(w_K)],   J(w) = -H_w(theta(w))^{-1} [grad l_1, ..., grad l_n].

Over 0/1 masks of a fixed pool nothing of the kind holds: phi_i = 2^i (latent dimension 1) and
rho = a lookup table represent theta exactly on all 2^n masks.

Claims checked
--------------
1. the implicit-function Jacobian equals central finite differences of exact refits;
2. ridge: the stacked rank equals the number of independent monomial features of statement 1,
   rank [x~ x~^T (upper triangle), x~ y] = q(q+1)/2 + q (20 for d = 4), at K = 10 weights;
3. logistic: the stacked rank is n (the pool size): no exact decomposition with m < n;
4. the singular-value decay of the stacked logistic Jacobian (normalised) gives the
   epsilon-approximate latent size m_eps = #{sigma_i > eps sigma_1}; ridge's beyond 9 are at
   rounding level (<= 1e-10 sigma_1);
5. the 0/1 counterexample: a latent of dimension 1 (codes sum_{i in S} 2^i, exact integers in
   float64 for n <= 52) with a lookup rho reproduces theta(S) on all 2^n - 1 non-empty masks of
   an n = 10 pool, while its modulus of continuity is huge (two codes 1 apart, S and S' far);
   a regression test (a lookup reproduces its own table);
6. Corollary 10.2 on real data: on iris (150 rows, 149 distinct labelled points) the stacked
   rank of the 3-class logistic Jacobians is the number of distinct labelled points, 149.
Claim 3 is the generic case of Corollary 10.2 (synthetic rows are distinct).
"""

from __future__ import annotations

import numpy as np

from modelpred_theory import datasets
from modelpred_theory.learners import LogisticRegression, Ridge

try:
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure


def weight_jacobian(learner, X, y, w) -> tuple[np.ndarray, np.ndarray]:
    """(theta(w), J (p, n)) with J[:, i] = d theta / d w_i = -H_w^{-1} grad l_i(theta(w))."""
    th = learner.fit(X, y, w).theta
    H = learner.hessian(th, X, y, w)
    G = learner.per_sample_grads(th, X, y)  # shape: (n, p)
    return th, -np.linalg.solve(H, G.T)


def stacked_spectrum(learner, X, y, W) -> np.ndarray:
    J = np.concatenate([weight_jacobian(learner, X, y, w)[1] for w in W], axis=0)
    return np.linalg.svd(J, compute_uv=False)


def numerical_rank(s: np.ndarray, rtol: float) -> int:
    return int((s > rtol * s[0]).sum())


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_jacobian_rank", "statement 10", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n, d, K = (60, 4, 30) if args.full else (24, 4, 10)
    reg = datasets.make_regression(n=n, d=d, noise=0.5, rng=args.seed)
    clf = datasets.make_logistic(n=n, d=d, rng=args.seed)
    ridge = Ridge(lam=1.0, penalize_intercept=True, tol=1e-13)
    logit = LogisticRegression(lam=1.0, penalize_intercept=True, tol=1e-13)
    W = rng.uniform(0.1, 3.0, (K, n))

    # 1. Jacobian vs finite differences of exact refits
    dev = 0.0
    h = 1e-5
    for learner, ds in ((ridge, reg), (logit, clf)):
        X, y = ds.X_train, ds.y_train
        _, J = weight_jacobian(learner, X, y, W[0])
        E = np.eye(n)
        plus = learner.fit_subsets(X, y, W[0][None] + h * E)
        minus = learner.fit_subsets(X, y, W[0][None] - h * E)
        fd = ((plus - minus) / (2 * h)).T  # shape: (p, n)
        dev = max(dev, float(np.linalg.norm(fd - J) / np.linalg.norm(J)))
    rep.add("d theta / d w = -H^-1 grad l_i vs central differences of exact refits (ridge, "
            "logistic)", dev, 1e-6, dev <= 1e-6, kind="identity",
            note="relative Frobenius deviation; tolerance: h^2 truncation + solver tolerance / h")

    # 2. ridge: rank = number of independent monomial features
    X, y = reg.X_train, reg.y_train
    Xa = np.c_[X, np.ones(n)]
    q = d + 1
    iu = np.triu_indices(q)
    feats = np.c_[(Xa[:, :, None] * Xa[:, None, :])[:, iu[0], iu[1]], Xa * y[:, None]]
    n_feat = int(np.linalg.matrix_rank(feats))
    s_r = stacked_spectrum(ridge, X, y, W)
    rk = numerical_rank(s_r, 1e-9)
    rep.add(f"ridge: rank of {K} stacked Jacobians = rank of the monomial features "
            f"(q(q+1)/2 + q = {q * (q + 1) // 2 + q})", rk, n_feat, rk == n_feat, relation="==",
            kind="identity", note=f"singular values beyond {n_feat}: "
            f"{s_r[n_feat] / s_r[0]:.2e} sigma_1 (rounding level)")
    # 3. logistic: full rank n
    X, y = clf.X_train, clf.y_train
    s_l = stacked_spectrum(logit, X, y, W)
    rl = numerical_rank(s_l, 1e-9)
    rep.add(f"logistic: rank of {K} stacked Jacobians = n = {n} (no exact latent below n)", rl, n,
            rl == n, relation="==", kind="identity",
            note=f"sigma_n / sigma_1 = {s_l[n - 1] / s_l[0]:.2e} (threshold 1e-9)")
    # 4. epsilon-approximate latent sizes
    m_eps = {eps: numerical_rank(s_l, eps) for eps in (1e-1, 1e-2, 1e-3, 1e-4)}
    rep.add("ridge singular values beyond the feature count are at rounding level",
            float(s_r[n_feat] / s_r[0]), 1e-10, s_r[n_feat] / s_r[0] <= 1e-10, kind="identity",
            note="logistic m_eps = #{sigma_i > eps sigma_1}: " + ", ".join(
                f"eps={e:g}: {v}" for e, v in m_eps.items()) + f" (of n = {n})")

    # 5. the 0/1 counterexample: latent dimension 1 over masks of a fixed pool
    m0 = 10
    Xs, ys = clf.X_train[:m0], clf.y_train[:m0]
    codes = np.arange(1, 2**m0)
    masks = ((codes[:, None] >> np.arange(m0)[None]) & 1).astype(bool)  # mask of each code
    T = logit.fit_subsets(Xs, ys, masks)
    table = dict(zip(codes.tolist(), T, strict=True))  # rho: code -> theta
    lat = masks.astype(float) @ (2.0 ** np.arange(m0))  # phi_i = 2^i, sum pooled
    rec = np.stack([table[int(c)] for c in lat])
    err5 = float(np.abs(rec - T).max())
    jump = np.linalg.norm(np.diff(T, axis=0), axis=1)
    rep.add(f"0/1 masks of an n = {m0} pool: latent 1 (phi_i = 2^i) + lookup rho is exact on "
            f"all {len(codes)} masks", err5, 0.0, err5 == 0.0, relation="==", tol=0.0,
            kind="regression",
            note="a lookup reproduces its own table (the counterexample, kept as a regression "
                 "test); largest ||theta(S) - theta(S')|| between consecutive codes: "
                 f"{jump.max():.3g} "
                 "(rho has no useful modulus of continuity)")

    # 6. Corollary 10.2 on real data with a duplicated row: the stacked rank is the number of
    # DISTINCT labelled points (iris: 150 rows, 149 distinct (x, y)), not n
    from sklearn.datasets import load_iris

    Xi, yi = load_iris(return_X_y=True)
    Xi = Xi - Xi.mean(0)
    Xi = Xi / np.linalg.norm(Xi, axis=1).max()  # unit ball, as datasets.load scales
    m_star = len(np.unique(np.c_[Xi, yi], axis=0))
    Ki = 30 if args.full else 20
    # log-uniform weights in [0.01, 100]: spread weightings reach the whole row space quickly
    s_i = stacked_spectrum(LogisticRegression(lam=1.0, penalize_intercept=True, tol=1e-13),
                           Xi, yi, 10.0 ** rng.uniform(-2.0, 2.0, (Ki, len(yi))))
    ri = numerical_rank(s_i, 1e-14)
    rep.add(f"iris, 3-class logistic, {Ki} weightings: stacked rank = number of distinct labelled "
            f"points m* = {m_star} (n = {len(yi)})", ri, m_star, ri == m_star, relation="==",
            kind="identity", note=f"threshold 1e-14 sigma_1; sigma_(m*) / sigma_1 = "
            f"{s_i[m_star - 1] / s_i[0]:.2e}, sigma_(m*+1) / sigma_1 = "
            f"{s_i[m_star] / s_i[0]:.2e} (a rank n, as the old corollary said, fails here)")

    if args.plot:
        fig, ax = new_figure(1, width=5.0)
        ax[0].semilogy(np.arange(1, len(s_r) + 1), s_r / s_r[0], "o-", ms=3, label="ridge")
        ax[0].semilogy(np.arange(1, len(s_l) + 1), s_l / s_l[0], "x-", ms=3, label="logistic")
        ax[0].axvline(n, color="gray", ls=":", lw=0.8, label="n")
        ax[0].set(xlabel="index i", ylabel="sigma_i / sigma_1", ylim=(1e-17, 2),
                  title="stacked Jacobians d theta / d w")
        ax[0].legend(fontsize=7)
        save_figure(fig, args, "check_jacobian_rank", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
