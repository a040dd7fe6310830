"""THEORY.md statement 12: approximation rates of the training map by sum-pooling set functions.

Sum convention: F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||theta||^2 (binary logistic, every
coordinate penalised). Two explicit sum-pooling set functions f(S) = rho(sum_i w_i phi(x_i, y_i)):

* the Newton step from a reference theta_0 (Theorem 12.1): phi = (upper triangle of
  l''(z_i) x~_i x~_i^T, grad l_i(theta_0)), latent p(p+3)/2, rho(A, b) = theta_0 - (A + lam I)^{-1}
  (b + lam theta_0); exact as a set function, with error ||theta(S) - f(S)||_{H_0} <= psi(nu)
  ||theta(S) - theta_0||_{H_0} (Theorem 7.2);
* Chebyshev moment pooling of degree k (Theorem 12.2): phi = (all monomials of x~ of degree <= k
  + 1, y x~), latent C(q + k + 1, q) + q, rho = the minimiser over the ball ||theta|| <= B of the
  surrogate objective in which the sigmoid is replaced by its degree-k Chebyshev interpolant p_k
  on [-Z, Z]; if every margin of the ball lies in [-Z, Z], ||f(S) - theta(S)|| <= h^{-1}(eps_k
  sum_i w_i ||x~_i||) <= 2 eps_k sum_i w_i ||x~_i|| / lam, eps_k = sup |sigmoid - p_k| <= 4 M
  rho^-k / (rho - 1) (Bernstein ellipse rho < rho_0 = pi/Z + sqrt(1 + pi^2/Z^2)).

Claims checked (breast_cancer projected on its first two principal axes, q = 3)
------------------------------------------------------------------------------
1. (identity) the Newton-step DeepSets equals ``baselines.newton_step`` on random subsets;
2. (tight) its error obeys the psi(nu) bound of Theorem 7.2;
3. (tight) for every degree k the moment-pooling error is at most the self-concordant bound
   h^{-1}(e sum_i w_i ||x~_i||), e = max |sigmoid - p_k| over the margins of f(S) (<= eps_k when
   they lie in [-Z, Z]; Prop. 3.4 with the gradient bound of Theorem 12.2(b));
4. (loose) the Chebyshev lemma behind the rate: eps_k <= 4 M rho^-k / (rho - 1) on the working
   Bernstein ellipse, at every k;
5. (rate) the error falls geometrically in k, at least at the rate 0.65 log rho_0 of the
   sigmoid's nearest singularity (the bound's rate is log rho for any rho < rho_0; the error
   can fall faster, since most margins lie well inside [-Z, Z]);
6. (empirical, full mode only) a trained ModelPred with no base at the Newton DeepSets' latent
   size (and at moment pooling's smallest) has a larger max error on the same subsets than the
   explicit Newton DeepSets.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.polynomial import chebyshev as cheb

from modelpred_theory import baselines, datasets
from modelpred_theory.learners import LogisticRegression

try:
    from ._common import Report, new_figure, parse_args, run_as_script, save_figure
except ImportError:  # pragma: no cover
    from _common import Report, new_figure, parse_args, run_as_script, save_figure

TOL = 1e-13  # solver tolerance of the exact fits


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def psi(s):
    """(e^s - 1)/s - 1, stably."""
    s = np.asarray(s, dtype=float)
    safe = np.where(s < 1e-4, 1.0, s)
    return np.where(s < 1e-4, s / 2 + s**2 / 6, np.expm1(safe) / safe - 1.0)


class NewtonDeepSets:
    """The Newton step from theta_0 as phi / sum / rho (Theorem 12.1), latent p(p+3)/2."""

    def __init__(self, theta0: np.ndarray, lam: float):
        self.theta0, self.lam = theta0, lam
        p = len(theta0)
        self.iu = np.triu_indices(p)
        self.latent = p * (p + 3) // 2

    def phi(self, Xa: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = Xa @ self.theta0
        s = sigmoid(z)
        outer = (s * (1 - s))[:, None, None] * Xa[:, :, None] * Xa[:, None, :]  # (n, p, p)
        return np.c_[outer[:, self.iu[0], self.iu[1]], (s - y)[:, None] * Xa]

    def rho(self, pooled: np.ndarray) -> np.ndarray:
        p = len(self.theta0)
        m = len(self.iu[0])
        A = np.zeros((p, p))
        A[self.iu] = pooled[:m]
        A = A + np.triu(A, 1).T
        grad = pooled[m:] + self.lam * self.theta0
        return self.theta0 - np.linalg.solve(A + self.lam * np.eye(p), grad)


class ChebyshevMomentPooling:
    """phi = (monomials of x~ up to degree k + 1, y x~); rho minimises the surrogate objective
    sum_i w_i (P_k(z_i) - y_i z_i) + lam/2 ||theta||^2, P_k' = p_k (Theorem 12.2)."""

    def __init__(self, q: int, k: int, Z: float, lam: float):
        self.q, self.k, self.Z, self.lam = q, k, Z, lam
        self.A = np.array([a for a in itertools.product(range(k + 2), repeat=q)
                           if sum(a) <= k + 1])  # multi-indices, shape (m, q)
        self.pos = {tuple(a): i for i, a in enumerate(self.A)}
        u = np.cos(np.pi * (np.arange(k + 1) + 0.5) / (k + 1))  # Chebyshev points
        cu = cheb.chebfit(u, sigmoid(Z * u), k)
        self.cheb = cu
        c_u = np.zeros(k + 1)
        poly = cheb.cheb2poly(cu)  # may come back shorter (trailing zero coefficients)
        c_u[:len(poly)] = poly
        self.c = c_u / Z ** np.arange(k + 1)  # p_k(z) = sum_j c_j z^j
        # gradient of sum_i w_i p_k(x~_i . theta) x~_i from the moments, term by term:
        # c_j * multinomial(j; a) * theta^a * M[a + e_l] over |a| = j <= k
        rows = [a for a in self.A if a.sum() <= k]
        self.G_exp = np.array(rows)  # (r, q)
        deg = self.G_exp.sum(1)
        mult = np.array([math.factorial(int(t)) / np.prod([math.factorial(int(v)) for v in a])
                         for a, t in zip(rows, deg, strict=True)])
        self.G_coef = self.c[deg] * mult  # (r,)
        self.G_idx = np.array([[self.pos[tuple(a + np.eye(q, dtype=int)[l])] for l in range(q)]
                               for a in rows])  # (r, q)
        self.latent = len(self.A) + q

    def phi(self, Xa: np.ndarray, y: np.ndarray) -> np.ndarray:
        V = np.prod(Xa[:, None, :] ** self.A[None], axis=2)  # shape: (n, m)
        return np.c_[V, y[:, None] * Xa]

    def p(self, z):
        return cheb.chebval(z / self.Z, self.cheb)

    def _grad_hess(self, th, M):
        E = self.G_exp
        with np.errstate(invalid="ignore", divide="ignore"):
            mono = np.prod(th[None] ** E, axis=1)  # theta^a, shape (r,)
        g = (self.G_coef * mono) @ M[self.G_idx]  # shape: (q,)
        H = np.zeros((self.q, self.q))
        for r in range(self.q):
            has = E[:, r] > 0
            Er = E[has].copy()
            Er[:, r] -= 1
            d_mono = E[has, r] * np.prod(th[None] ** Er, axis=1)
            H[:, r] = (self.G_coef[has] * d_mono) @ M[self.G_idx[has]]
        return g, H

    def rho(self, pooled: np.ndarray) -> np.ndarray:
        M, b = pooled[:len(self.A)], pooled[len(self.A):]
        th = np.zeros(self.q)
        for _ in range(100):  # Newton's method on the surrogate stationarity condition
            g, H = self._grad_hess(th, M)
            g = g - b + self.lam * th
            step = np.linalg.solve(H + self.lam * np.eye(self.q), g)
            th = th - step
            if np.linalg.norm(step) <= 1e-14 * (1.0 + np.linalg.norm(th)):
                break
        return th


def bernstein_constants(Z: float) -> tuple[float, float, float]:
    """(rho_0, rho, M): the sigmoid(Z u) singularity ellipse rho_0 = pi/Z + sqrt(1 + pi^2/Z^2),
    a working ellipse rho = (1 + rho_0)/2 and M = max |sigmoid(Z u)| on it (maximum principle:
    on its boundary, sampled finely)."""
    a = math.pi / Z
    rho0 = a + math.sqrt(1.0 + a * a)
    rho = 0.5 * (1.0 + rho0)
    t = np.linspace(0, 2 * np.pi, 20001)
    u = 0.5 * (rho * np.exp(1j * t) + np.exp(-1j * t) / rho)
    M = float(np.max(np.abs(1.0 / (1.0 + np.exp(-Z * u)))))
    return rho0, rho, M


def sc_bound(g: float, mu: float, lam: float, M: float) -> float:
    """h^{-1}(g) for h(r) = (mu - lam)(1 - e^{-M r})/M + lam r (Prop. 3.4, bisection)."""
    mu_L = max(mu - lam, 0.0)
    lo, hi = 0.0, g / lam

    def h(r):
        return mu_L * -np.expm1(-M * r) / M + lam * r

    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if h(mid) < g else (lo, mid)
    return hi


def main(argv=None) -> dict:
    args = parse_args(argv, __doc__.splitlines()[0])
    rep = Report("check_approximation_rates", "statement 12", "full" if args.full else "quick",
                 quiet=args.quiet)
    rep.header()
    rng = np.random.default_rng(args.seed)
    from sklearn.decomposition import PCA

    ds = datasets.load("breast_cancer", seed=args.seed)
    X = PCA(2, random_state=0).fit_transform(ds.X_train)
    X = X / np.linalg.norm(X, axis=1).max()
    y = ds.y_train.astype(float)
    n = len(y)
    lam = 1.0
    learner = LogisticRegression(lam=lam, penalize_intercept=True, tol=TOL)
    Xa = np.c_[X, np.ones(n)]
    n_sub = 12 if args.full else 5
    W = (rng.random((n_sub, n)) < rng.uniform(0.5, 1.0, (n_sub, 1))).astype(float)
    truth = learner.fit_subsets(X, y, W)

    # 1-2. the Newton step as an exact DeepSets
    th0 = learner.fit(X, y).theta
    net = NewtonDeepSets(th0, lam)
    P = net.phi(Xa, y)
    f_net = np.stack([net.rho(w @ P) for w in W])
    f_lib = baselines.newton_step(learner, X, y, W, theta_base=th0)
    dev = float(np.max(np.linalg.norm(f_net - f_lib, axis=1) / np.linalg.norm(f_lib, axis=1)))
    rep.add(f"Newton step = DeepSets with latent p(p+3)/2 = {net.latent} (phi, sum, rho "
            f"explicit) vs baselines.newton_step on {n_sub} subsets", dev, 1e-9, dev <= 1e-9,
            kind="identity", note="max relative deviation; tolerance: two float64 solves")
    err_h, bnd = [], []
    for j, w in enumerate(W):
        H0 = learner.hessian(th0, X, y, w)
        e = truth[j] - th0
        nu = float(np.max(np.abs(Xa[w > 0] @ e)))
        r = truth[j] - f_net[j]
        err_h.append(np.sqrt(r @ H0 @ r))
        bnd.append(psi(nu) * np.sqrt(e @ H0 @ e))
    err_h, bnd = np.array(err_h), np.array(bnd)
    j = int(np.argmax(err_h / bnd))
    rep.add("its error ||theta(S) - f(S)||_H0 <= psi(nu) ||theta(S) - theta_0||_H0 (Theorem 7.2)",
            err_h[j], bnd[j], bool(np.all(err_h <= bnd * (1 + 1e-9))), kind="tight",
            note="worst subset; the latent does not grow with n, the error does not shrink "
            "with the latent")

    # 3-5. Chebyshev moment pooling of degree k
    Z = 1.1 * float(np.abs(Xa @ truth.T).max())  # margins of the subsets' minimisers
    rho0, rho_w, M_ell = bernstein_constants(Z)
    ks = [2, 4, 6, 8, 10, 12, 14] if args.full else [2, 4, 6, 8]
    row_norm = np.linalg.norm(Xa, axis=1)
    grid = np.linspace(-Z, Z, 20001)
    errs, tight, loose, eps_k, lat = [], [], [], [], []
    outside = 0
    for k in ks:
        mp = ChebyshevMomentPooling(3, k, Z, lam)
        Pk = mp.phi(Xa, y)
        ek = float(np.max(np.abs(mp.p(grid) - sigmoid(grid))))
        e_cheb = 4 * M_ell * rho_w ** (-k) / (rho_w - 1)
        worst = (0.0, 0.0, 0.0, 1.0)
        for jj, w in enumerate(W):
            f = mp.rho(w @ Pk)
            # the stationary form: ||grad F_S(f)|| <= max_i |p_k - s|(z_i(f)) sum_i w_i ||x~_i||,
            # <= eps_k when the margins of f lie in [-Z, Z] (low degrees can leave it)
            z_f = Xa[w > 0] @ f
            outside += int(np.abs(z_f).max() > Z)
            e_loc = float(np.max(np.abs(mp.p(z_f) - sigmoid(z_f))))
            err = float(np.linalg.norm(f - truth[jj]))
            g_bound = e_loc * float(w @ row_norm)
            mu = float(np.linalg.eigvalsh(learner.hessian(f, X, y, w))[0])
            t_b = sc_bound(g_bound, mu, lam, float(row_norm[w > 0].max()))
            l_b = e_cheb
            if err / t_b >= worst[0]:
                worst = (err / t_b, err, t_b, l_b)
        errs.append(worst[1])
        tight.append(worst[2])
        loose.append(worst[3])
        eps_k.append(ek)
        lat.append(mp.latent)
    errs, tight, loose = np.array(errs), np.array(tight), np.array(loose)
    jt = int(np.argmax(errs / tight))
    rep.add(f"moment pooling, degree k in {ks} (latent {lat[0]}..{lat[-1]}): error <= "
            "h^-1(eps_k sum_i w_i ||x~_i||) (Theorem 12.2 with Prop. 3.4)", errs[jt], tight[jt],
            bool(np.all(errs <= tight)), kind="tight",
            note="worst k and subset; errors by k: " + ", ".join(
                f"{k}: {e:.2g}" for k, e in zip(ks, errs, strict=True))
            + f"; Z = {Z:.3g}; (subset, k) pairs whose f(S) has a margin outside "
            f"[-Z, Z]: {outside} of {len(ks) * n_sub} (there the local max of |p_k - s| is "
            "used); the eps_k are measured on a 20,001-point grid")
    eps_arr = np.array(eps_k)
    jl = int(np.argmax(eps_arr / loose))
    rep.add("Chebyshev lemma: eps_k = sup |sigmoid - p_k| on [-Z, Z] <= 4 M rho^-k / (rho - 1) "
            "at every k (Bernstein ellipse rho < rho_0)", eps_arr[jl], loose[jl],
            bool(np.all(eps_arr <= loose)), kind="loose",
            note=f"worst k; rho_0 = {rho0:.3g}, working rho = {rho_w:.3g}, M = {M_ell:.3g}")
    half = len(ks) // 2
    rate = -float(np.polyfit(ks[half - 1:], np.log(errs[half - 1:]), 1)[0])
    rep.add("geometric decay: -d log(error) / dk >= 0.65 log rho_0 (rho_0: nearest singularity "
            "of the sigmoid; the bound's rate, up to the working-ellipse slack)", rate,
            0.65 * math.log(rho0), rate >= 0.65 * math.log(rho0), relation=">=", kind="rate",
            note="fitted over the larger degrees; eps_k by k: " + ", ".join(
                f"{k}: {e:.2g}" for k, e in zip(ks, eps_k, strict=True)))

    # 6. (full mode) a trained ModelPred (no base) at the same latent sizes, same subsets
    net_err = {}
    if args.full:
        from modelpred_theory import ModelPred

        for m in (net.latent, lat[0]):
            # latent m = width m - 1 pooled features plus |S| (the default centred pooling)
            model = ModelPred(learner, seed=args.seed, base=None, width=m - 1, epochs=30,
                              sampler="random", n_subsets=2000, progress=False).fit(X, y)
            net_err[m] = float(np.max(np.linalg.norm(model.predict(X, y, W > 0) - truth,
                                                     axis=1)))
        e_newton = float(np.max(np.linalg.norm(truth - f_net, axis=1)))
        rep.add(f"a trained ModelPred (no base, 2,000 labelled subsets, 30 epochs) at latent "
                f"{net.latent} has a larger max error than the Newton DeepSets of that latent",
                e_newton, net_err[net.latent], e_newton < net_err[net.latent], kind="empirical",
                note="measured: Newton DeepSets max error; bound: trained network's; trained at "
                + ", ".join(f"latent {m}: {v:.3g}" for m, v in net_err.items())
                + f"; moment pooling at latent {lat[0]}: {errs[0]:.3g}, at {lat[-1]}: "
                f"{errs[-1]:.3g}")

    if args.plot:
        fig, ax = new_figure(1, width=5.0)
        ax[0].semilogy(lat, errs, "o-", label="moment pooling: error")
        ax[0].semilogy(lat, tight, "x--", label="bound h^-1(eps_k sum ||x~||)")
        ax[0].axhline(float(np.max(np.linalg.norm(truth - f_net, axis=1))), color="gray",
                      ls=":", label=f"Newton DeepSets (latent {net.latent})")
        ax[0].set(xlabel="latent size", ylabel="max ||f(S) - theta(S)||",
                  title="sum-pooling approximation of theta(S)")
        ax[0].legend(fontsize=7)
        save_figure(fig, args, "check_approximation_rates", rep)
    return rep.finish()


if __name__ == "__main__":
    run_as_script(main)
