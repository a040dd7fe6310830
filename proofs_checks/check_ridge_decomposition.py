"""THEORY.md statement 1: ridge regression is exactly sum-decomposable.

theta(S) = rho( sum_{i in S} w_i phi(x_i, y_i) ), phi(x, y) = (upper triangle of x~ x~^T, x~ y)
with x~ = [x, 1] (latent dimension p(p+1)/2 + p, p = d + 1) and rho(A, b) = (A + lam P)^{-1} b.
Sum convention: F_S(theta) = sum_{i in S} w_i (1/2)(x~_i . theta - y_i)^2 + lam/2 ||P theta||^2.

Claims checked
--------------
1. The explicit decomposition reproduces learner.fit_subsets on every sampled subset (boolean
   masks and fractional weights), to ~1e-10 relative.
2. A DeepSets module (fixed phi = the exact features, sum pooling, rho = the linear solve) run on
   ragged sets of NEW points (padded, not the pool) matches learner.fit on each set, and is
   invariant to permuting the rows of each set.
3. An independent reference (scikit-learn Ridge(alpha=lam), same objective up to a factor 2)
   agrees with the decomposition.
"""

from __future__ import annotations

import numpy as np
import torch

from modelpred_theory import datasets, subsets
from modelpred_theory.learners import Ridge

try:  # script run as ``python proofs_checks/check_...py``
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure

# Relative tolerance of the decomposition: two different float64 solves of the same
# well-conditioned system agree to ~1e-13; 1e-9 leaves room for conditioning up to ~1e3.
TOL = 1e-9


def ridge_features(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """phi(x_i, y_i) = (upper triangle of x~ x~^T, x~ y): (n, q(q+1)/2 + q), q = d + 1."""
    Xa = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)  # shape: (n, q)
    q = Xa.shape[1]
    iu = np.triu_indices(q)
    outer = Xa[:, :, None] * Xa[:, None, :]  # shape: (n, q, q)
    return np.concatenate([outer[:, iu[0], iu[1]], Xa * y[:, None]], axis=1)


class ExactRidgeDeepSets(torch.nn.Module):
    """f(S) = rho(sum_{i in S} phi(x_i, y_i)) with phi, rho the exact ridge maps (no training)."""

    def __init__(self, d: int, lam: float, penalize_intercept: bool):
        super().__init__()
        self.q = d + 1
        self.lam = lam
        pen = torch.ones(self.q, dtype=torch.float64)
        if not penalize_intercept:
            pen[-1] = 0.0
        self.register_buffer("pen", pen)
        self.iu = torch.triu_indices(self.q, self.q)

    @property
    def latent_dim(self) -> int:
        return self.q * (self.q + 1) // 2 + self.q

    def phi(self, Z: torch.Tensor) -> torch.Tensor:
        """Z (..., d + 1) rows [x, y] -> (..., latent_dim); a zero row maps to phi != 0, so the
        pooled sum multiplies by the mask."""
        x, y = Z[..., :-1], Z[..., -1:]
        xa = torch.cat([x, torch.ones_like(y)], dim=-1)  # shape: (..., q)
        outer = xa[..., :, None] * xa[..., None, :]  # shape: (..., q, q)
        return torch.cat([outer[..., self.iu[0], self.iu[1]], xa * y], dim=-1)

    def rho(self, s: torch.Tensor) -> torch.Tensor:
        """s (k, latent_dim) -> theta (k, q): unpack A (symmetric), b, solve (A + lam P) t = b."""
        k, t = s.shape[0], self.q * (self.q + 1) // 2
        A = torch.zeros(k, self.q, self.q, dtype=s.dtype)
        A[:, self.iu[0], self.iu[1]] = s[:, :t]
        A = A + A.transpose(1, 2) - torch.diag_embed(A.diagonal(dim1=1, dim2=2))
        A = A + torch.diag_embed(self.lam * self.pen.expand(k, -1))
        return torch.linalg.solve(A, s[:, t:])

    def forward(self, Z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Z (k, m, d + 1) padded sets, mask (k, m) -> theta (k, q)."""
        return self.rho((mask[..., None] * self.phi(Z)).sum(dim=1))


def decompose(X, y, W, lam, penalize_intercept) -> np.ndarray:
    """theta for each row of W (k, n) through the explicit sum decomposition: (k, q)."""
    net = ExactRidgeDeepSets(X.shape[1], lam, penalize_intercept)
    Phi = torch.as_tensor(ridge_features(X, y))  # shape: (n, latent)
    return net.rho(torch.as_tensor(W, dtype=torch.float64) @ Phi).numpy()


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_ridge_decomposition", "statement 1", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    if args.full:
        ds = datasets.load("diabetes", seed=args.seed)
        k, n_sets = 2000, 200
    else:
        ds = datasets.make_regression(n=40, d=4, noise=0.3, rng=args.seed)
        k, n_sets = 200, 20
    X, y = ds.X_train, ds.y_train
    n, d = X.shape
    lam = 1.0
    worst = 0.0
    errs_all, pairs = [], None
    for pen in (False, True):
        learner = Ridge(lam=lam, penalize_intercept=pen)
        masks = subsets.random_subsets(n, k, rng=rng, min_size=1)
        W = np.concatenate([masks.astype(float), rng.uniform(0, 2, (k // 4, n))], axis=0)
        exact = learner.fit_subsets(X, y, W)
        dec = decompose(X, y, W, lam, pen)
        err = np.linalg.norm(dec - exact, axis=1) / np.maximum(1.0, np.linalg.norm(exact, axis=1))
        errs_all.append(err)
        worst = max(worst, float(err.max()))
        if pairs is None:
            pairs = (exact.ravel(), dec.ravel())
    net = ExactRidgeDeepSets(d, lam, False)
    rep.add(f"explicit decomposition = exact fit on {2 * (k + k // 4)} subsets/weightings "
            f"(latent dim {net.latent_dim} = p(p+1)/2 + p, p = {d + 1})",
            worst, TOL, worst <= TOL, kind="regression",
            note="one linear system solved twice (regression test of the code); max relative "
            "error; tolerance: float64 rounding only")

    # 2. DeepSets on ragged sets of new points (not the pool), padded with masks
    learner = Ridge(lam=lam)
    sizes = rng.integers(1, 3 * d, size=n_sets)
    m = int(sizes.max())
    Xn = rng.standard_normal((n_sets, m, d))
    yn = Xn @ rng.standard_normal(d) + 0.3 * rng.standard_normal((n_sets, m))
    mask = (np.arange(m)[None] < sizes[:, None]).astype(float)
    Z = torch.as_tensor(np.concatenate([Xn, yn[..., None]], axis=2))
    out = net(Z, torch.as_tensor(mask)).numpy()
    ref = np.stack([learner.fit(Xn[j, :sizes[j]], yn[j, :sizes[j]]).theta for j in range(n_sets)])
    e2 = float((np.linalg.norm(out - ref, axis=1) / np.maximum(1, np.linalg.norm(ref, axis=1)))
               .max())
    perm = np.stack([np.concatenate([rng.permutation(s), np.arange(s, m)]) for s in sizes])
    Zp = torch.as_tensor(np.take_along_axis(Z.numpy(), perm[..., None], axis=1))
    out_p = net(Zp, torch.as_tensor(np.take_along_axis(mask, perm, axis=1))).numpy()
    e3 = float(np.abs(out_p - out).max() / max(1.0, np.abs(out).max()))
    rep.add(f"DeepSets(phi exact, sum, rho = solve) on {n_sets} ragged new sets (sizes 1..{m}, "
            "some with |S| < p: lam makes the solve well posed) vs learner.fit",
            e2, TOL, e2 <= TOL, kind="regression",
            note="the same solve on new points (regression test); max relative error")
    rep.add("permuting the rows of every set changes nothing", e3, 1e-12, e3 <= 1e-12,
            kind="regression", note="sum pooling is permutation invariant by construction; max "
            "relative change; tolerance: summation order only")

    # 3. independent reference: scikit-learn Ridge minimises ||y - Xw - b||^2 + alpha ||w||^2
    from sklearn.linear_model import Ridge as SkRidge

    masks = subsets.random_subsets(n, 10, rng=rng, min_size=d + 2)
    dec = decompose(X, y, masks.astype(float), lam, False)
    sk = np.stack([np.r_[r.coef_, r.intercept_] for r in
                   (SkRidge(alpha=lam).fit(X[mk], y[mk]) for mk in masks)])
    e4 = float((np.linalg.norm(dec - sk, axis=1) / np.maximum(1, np.linalg.norm(sk, axis=1))).max())
    rep.add("decomposition vs scikit-learn Ridge(alpha=lam) on 10 subsets (independent code)",
            e4, 1e-8, e4 <= 1e-8, kind="identity",
            note="max relative error; tolerance: scikit-learn's own solver tolerance")

    if args.plot:
        fig, ax = new_figure(2)
        ax[0].scatter(pairs[0], pairs[1], s=4)
        lim = [pairs[0].min(), pairs[0].max()]
        ax[0].plot(lim, lim, "k--", lw=0.8)
        ax[0].set(xlabel="exact theta(S) coordinate (fit_subsets)",
                  ylabel="rho(sum phi) coordinate", title="ridge: explicit sum decomposition")
        e = np.concatenate(errs_all)
        ax[1].hist(np.log10(np.maximum(e, 1e-17)), bins=40)
        ax[1].axvline(np.log10(TOL), color="r", ls="--", label=f"tolerance {TOL:g}")
        ax[1].set(xlabel="log10 relative error", ylabel="subsets", title="reconstruction error")
        ax[1].legend()
        save_figure(fig, args, "check_ridge_decomposition", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
