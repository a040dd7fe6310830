"""THEORY.md statement 6: sum-decompositions need a latent dimension >= the set size.

For sets X = {x_1, ..., x_N} of reals, the sorted-values function sort(X) in R^N is continuous and
permutation invariant. (a) It is sum-decomposable through R^N: phi(x) = (x, x^2, ..., x^N) (power
sums) and rho = Newton's identities + polynomial roots. (b) It is NOT sum-decomposable through R^M
with M < N for any continuous phi (THEORY.md 6.1, invariance of domain; Wagstaff et al. 2019).

Claims checked
--------------
1. the power-sum construction with latent dimension N reproduces sort(X) to ~1e-6;
2. DeepSets f = rho(sum phi) trained with latent dimension M (same widths, steps, data):
   held-out RMSE for every M < N is at least 2x the RMSE for every M >= N;
3. a collision witness for a trained M = 1 network (N = 2): two sets X, X' with
   sum phi(X) = sum phi(X') (to 1e-12, by bisection along a segment) whose sorted values differ,
   so the network's sup error is >= ||sort X - sort X'|| / 2 minus rounding - larger than the
   held-out max error of the M = N network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

try:
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure


def power_sum_sort(X: np.ndarray) -> np.ndarray:
    """sort(X) from the latent sum_j (x_j, ..., x_j^N) (k, N): Newton's identities + roots."""
    k, N = X.shape
    p = np.stack([(X**q).sum(1) for q in range(1, N + 1)], axis=1)  # latent: (k, N)
    out = np.empty_like(X)
    for j in range(k):
        e = [1.0]
        for m in range(1, N + 1):  # m e_m = sum_{i=1}^m (-1)^{i-1} e_{m-i} p_i
            e.append(sum((-1) ** (i - 1) * e[m - i] * p[j, i - 1] for i in range(1, m + 1)) / m)
        coeffs = [(-1) ** m * e[m] for m in range(N + 1)]
        out[j] = np.sort(np.roots(coeffs).real)
    return out


class LatentDeepSets(nn.Module):
    """f(X) = rho(sum_j phi(2 x_j - 1)), phi: 1 -> h -> h -> M, rho: M -> h -> h -> N."""

    def __init__(self, N: int, M: int, hidden: int, seed: int):
        super().__init__()
        with torch.random.fork_rng():  # seeded default init without touching the global RNG
            torch.manual_seed(seed)
            self.phi = nn.Sequential(nn.Linear(1, hidden), nn.ELU(), nn.Linear(hidden, hidden),
                                     nn.ELU(), nn.Linear(hidden, M))
            self.rho = nn.Sequential(nn.Linear(M, hidden), nn.ELU(), nn.Linear(hidden, hidden),
                                     nn.ELU(), nn.Linear(hidden, N))

    def latent(self, X: torch.Tensor) -> torch.Tensor:
        return self.phi(2 * X[..., None] - 1).sum(dim=-2)  # shape: (k, M)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.rho(self.latent(X))


def train(N: int, M: int, steps: int, hidden: int, seed: int) -> LatentDeepSets:
    net = LatentDeepSets(N, M, hidden, seed)
    g = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        X = torch.rand(128, N, generator=g)
        loss = ((net(X) - X.sort(dim=1).values) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.double().eval()


def collision_witness(net: LatentDeepSets, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a latent dimension 1 net: the pair (X_c, X') with equal latent sums and the most
    distant sorted values, X' found by bisection on the segment between the latent extremes."""
    with torch.no_grad():
        lat = lambda Z: net.latent(torch.as_tensor(Z))[:, 0].numpy()
        s = lat(X)
        lo, hi = X[np.argmin(s)], X[np.argmax(s)]
        c = s  # target levels (inside [s_lo, s_hi] by construction)
        a, b = np.zeros(len(X)), np.ones(len(X))
        for _ in range(80):
            t = 0.5 * (a + b)
            val = lat(lo[None] + t[:, None] * (hi - lo)[None]) - c
            a, b = np.where(val < 0, t, a), np.where(val < 0, b, t)
        Xp = lo[None] + 0.5 * (a + b)[:, None] * (hi - lo)[None]
    dist = np.linalg.norm(np.sort(X, 1) - np.sort(Xp, 1), axis=1)
    j = int(np.argmax(dist))
    return X[j], Xp[j]


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_latent_dimension", "statement 6", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    settings = [(2, [1, 2] + ([3] if args.full else []))] + (
        [(3, [1, 2, 3, 4])] if args.full else [])
    steps, hidden = (4000, 64) if args.full else (500, 32)

    # 1. constructive decomposition
    worst = 0.0
    for N in (2, 3, 4):
        X = rng.random((500, N))
        worst = max(worst, float(np.abs(power_sum_sort(X) - np.sort(X, 1)).max()))
    rep.add("power sums (latent N) + Newton identities + roots = sort(X), N = 2, 3, 4",
            worst, 1e-6, worst <= 1e-6, kind="identity",
            note="max error; tolerance: root conditioning near ties")

    curves = {}
    nets = {}
    for N, Ms in settings:
        Xte = rng.random((2000, N))
        target = np.sort(Xte, 1)
        errs = []
        for M in Ms:
            net = train(N, M, steps, hidden, args.seed + 10 * M + N)
            with torch.no_grad():
                out = net(torch.as_tensor(Xte)).numpy()
            errs.append(float(np.sqrt(((out - target) ** 2).mean())))
            nets[(N, M)] = (net, float(np.abs(out - target).max()))
        curves[N] = (Ms, errs)
        below = [e for M, e in zip(Ms, errs, strict=True) if M < N]
        above = [e for M, e in zip(Ms, errs, strict=True) if M >= N]
        rep.add(f"N = {N}: trained held-out RMSE, min over M < N vs 2 x max over M >= N "
                f"(M = {Ms})", min(below), 2 * max(above), min(below) >= 2 * max(above),
                relation=">=", kind="empirical",
                note="RMSE by M: " + ", ".join(f"{e:.3g}" for e in errs))

    # 3. collision witness for (N, M) = (2, 1)
    net1, _ = nets[(2, 1)]
    Xc, Xp = collision_witness(net1, rng.random((2000, 2)))
    with torch.no_grad():
        lat = net1.latent(torch.as_tensor(np.stack([Xc, Xp])))[:, 0].numpy()
        f = net1(torch.as_tensor(np.stack([Xc, Xp]))).numpy()
    gap = float(np.linalg.norm(np.sort(Xc) - np.sort(Xp)))
    lower = (gap - float(np.linalg.norm(f[0] - f[1]))) / 2
    max_err_full = nets[(2, 2)][1]
    rep.add(f"collision witness for the trained M = 1 net (N = 2): X = {np.round(Xc, 3)}, "
            f"X' = {np.round(Xp, 3)}, |latent gap| = {abs(lat[0] - lat[1]):.1e}",
            lower, max_err_full, lower > max_err_full and abs(lat[0] - lat[1]) <= 1e-9,
            relation=">", kind="tight",
            note="measured: certified sup-error lower bound of the M = 1 net; bound: held-out "
                 "max error of the M = 2 net")

    if args.plot:
        fig, ax = new_figure(2)
        for N, (Ms, errs) in curves.items():
            ax[0].semilogy(Ms, errs, "o-", label=f"N = {N}")
            ax[0].axvline(N - 0.5, color="gray", ls=":", lw=0.8)
        ax[0].set(xlabel="latent dimension M", ylabel="held-out RMSE of sort(X)",
                  title="DeepSets needs M >= N")
        ax[0].legend()
        g = np.linspace(0, 1, 101)
        G1, G2 = np.meshgrid(g, g)
        with torch.no_grad():
            L = net1.latent(torch.as_tensor(np.c_[G1.ravel(), G2.ravel()]))[:, 0].numpy()
        ax[1].contour(G1, G2, L.reshape(G1.shape), levels=20, linewidths=0.6)
        ax[1].plot(*Xc, "ro", label="X")
        ax[1].plot(*Xp, "rs", label="X' (same latent)")
        ax[1].set(xlabel="x1", ylabel="x2", title="M = 1: level sets of sum phi")
        ax[1].legend(fontsize=7)
        save_figure(fig, args, "check_latent_dimension", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
