"""THEORY.md statement 13: a lower bound on function values through the fibres of sum pooling.

Sum convention: theta(w) minimises sum_i w_i loss_i(theta) + lam/2 ||theta||^2 (binary logistic,
every coordinate penalised). A sum-pooled predictor f(w) = rho(Phi^T w) with Phi in R^{n x m}
gives the same value on w and w + t v whenever Phi^T v = 0 (a fibre of the pooling map), so for
ANY rho

    max(||f(w + t v) - theta(w + t v)||, ||f(w - t v) - theta(w - t v)||)
        >= ||theta(w + t v) - theta(w - t v)|| / 2.

The kernel of Phi^T has dimension >= n - m, and by Courant-Fischer it contains a unit v with
||[J(w_1); ...; J(w_K)] v|| >= sigma_{m+1} of the stacked Jacobian, so some w_k has
||J(w_k) v|| >= sigma_{m+1} / sqrt(K), and (Theorem 13.1)

    sup_{w in U} ||f(w) - theta(w)|| >= t sigma_{m+1}(J_stack) / sqrt(K) - C t^3.

Claims checked (synthetic logistic pool, n = 30 quick / 60 full, K weightings in [0.5, 1.5]^n)
----------------------------------------------------------------------------------------
1. (tight) for m in a few latent sizes and for every pooling tested (the best linear pooling,
   Phi = the top-m right singular vectors of J_stack, and random Phi), the exact fibre gap
   max_k ||theta(w_k + t v) - theta(w_k - t v)|| / 2 from refits is >= t sigma_{m+1} / sqrt(K)
   (1 - 1e-3) at t = 0.05;
2. (rate) the fibre gap is linear in t (log-log slope 1, +-0.05) for t from 0.01 to 0.1;
3. (regression: linear algebra) the floor is attained to first order by the best pooling: for
   Phi = top-m singular vectors, sqrt(sum_k ||J(w_k) v||^2) = sigma_{m+1} exactly
   (Courant-Fischer equality), and the exact gap reaches at least sigma_{m+1} t / sqrt(K).
"""

from __future__ import annotations

import numpy as np

from modelpred_theory import datasets
from modelpred_theory.learners import LogisticRegression

try:
    from ._common import Report, loglog_slope, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, loglog_slope, new_figure, parse_args, run_as_script, save_figure


def weight_jacobian(learner, X, y, w) -> np.ndarray:
    """J (p, n): J[:, i] = d theta / d w_i = -H_w^{-1} grad l_i(theta(w))."""
    th = learner.fit(X, y, w).theta
    H = learner.hessian(th, X, y, w)
    G = learner.per_sample_grads(th, X, y)  # shape: (n, p)
    return -np.linalg.solve(H, G.T)


def worst_fibre_direction(J_stack: np.ndarray, Phi: np.ndarray) -> np.ndarray:
    """Unit v with Phi^T v = 0 maximising ||J_stack v|| (top right singular vector of J_stack
    restricted to the kernel of Phi^T)."""
    n, m = Phi.shape
    Q, _ = np.linalg.qr(Phi, mode="complete")
    N = Q[:, m:]  # orthonormal basis of ker Phi^T, shape (n, n - m)
    _, _, Vt = np.linalg.svd(J_stack @ N, full_matrices=False)
    return N @ Vt[0]


def fibre_gap(learner, X, y, W, v, t) -> float:
    """max_k ||theta(w_k + t v) - theta(w_k - t v)|| / 2 from exact refits."""
    plus = learner.fit_subsets(X, y, W + t * v[None])
    minus = learner.fit_subsets(X, y, W - t * v[None])
    return float(np.max(np.linalg.norm(plus - minus, axis=1)) / 2)


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_value_floor", "statement 13", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    n, d, K = (60, 4, 10) if args.full else (30, 3, 6)
    ds = datasets.make_logistic(n=n, d=d, rng=args.seed)
    X = ds.X_train / np.linalg.norm(ds.X_train, axis=1).max()
    y = ds.y_train
    learner = LogisticRegression(lam=1.0, penalize_intercept=True, tol=1e-13)
    W = rng.uniform(0.5, 1.5, (K, n))
    J_stack = np.concatenate([weight_jacobian(learner, X, y, w) for w in W], axis=0)
    sig = np.linalg.svd(J_stack, compute_uv=False)
    _, _, Vt_all = np.linalg.svd(J_stack, full_matrices=False)
    ms = [2, 5, 10, 20] if args.full else [2, 5, 10]
    t = 0.05
    worst = (np.inf, 0.0, 1.0)  # (measured / floor, measured, floor)
    rows = []
    for m in ms:
        floor = t * sig[m] / np.sqrt(K)  # sig[m] = sigma_{m+1}
        pools = {"best": Vt_all[:m].T}
        for r in range(3):
            pools[f"random {r}"] = rng.normal(size=(n, m))
        for name, Phi in pools.items():
            v = worst_fibre_direction(J_stack, Phi)
            gap = fibre_gap(learner, X, y, W, v, t)
            rows.append((m, name, gap, floor))
            if gap / floor < worst[0]:
                worst = (gap / floor, gap, floor)
    ok = all(g >= f * (1 - 1e-3) for _, _, g, f in rows)
    rep.add(f"fibre gap of every pooling tested >= t sigma_(m+1) / sqrt(K), m in {ms}, "
            f"t = {t}, K = {K} (best linear pooling and 3 random ones per m)", worst[1],
            worst[2] * (1 - 1e-3), ok, relation=">=", kind="tight",
            note="worst pooling; floors by m (x 1/t): " + ", ".join(
                f"{m}: {sig[m] / np.sqrt(K):.3g}" for m in ms)
            + "; any rho with this pooling has sup error >= the gap")
    # 2. linear in t
    v = worst_fibre_direction(J_stack, Vt_all[:ms[0]].T)
    ts = np.array([0.01, 0.02, 0.05, 0.1])
    gaps = [fibre_gap(learner, X, y, W, v, tt) for tt in ts]
    sl = loglog_slope(ts, gaps)
    rep.add("the fibre gap is linear in t (t = 0.01..0.1)", sl, 1.0, abs(sl - 1) <= 0.05,
            relation="~", tol=0.05, kind="rate", note="log-log slope; the remainder is O(t^3)")
    # 3. the best pooling attains the first-order floor
    best = [(m, g, f) for m, name, g, f in rows if name == "best"]
    rat = max(f / g for _, g, f in best)
    first = [float(np.linalg.norm(J_stack @ worst_fibre_direction(J_stack, Vt_all[:m].T)))
             / sig[m] for m in ms]
    dev = max(abs(x - 1) for x in first)
    rep.add("best linear pooling: ||J_stack v|| = sigma_(m+1) on its fibre (Courant-Fischer "
            "equality), so the first-order floor is sharp", dev, 1e-8, dev <= 1e-8,
            kind="regression", note="linear algebra (regression test); floor / exact gap for "
            f"the best "
            f"pooling: worst {rat:.3g} (at most 1, near 1/sqrt(K) x max/rms over k)")

    if args.plot:
        fig, ax = new_figure(1, width=5.0)
        ax[0].semilogy(np.arange(1, len(sig) + 1), sig / np.sqrt(K), "k.-", ms=3,
                       label="sigma_(m+1) / sqrt(K) (floor / t)")
        for m, name, g, _ in rows:
            ax[0].scatter(m + 1, g / t, s=12, marker="o" if name == "best" else "x",
                          color="C0" if name == "best" else "C1")
        ax[0].set(xlabel="m + 1", ylabel="fibre gap / t", title="value floor of latent-m pooling")
        ax[0].legend(fontsize=7)
        save_figure(fig, args, "check_value_floor", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
