"""Arnoldi influence: influence restricted to the top-r eigenspace of the Hessian.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int, check_seed

__all__ = ["arnoldi", "check_arnoldi"]

# Relative size below which a new Krylov direction counts as lost (breakdown): the iteration
# restarts from a fresh random vector orthogonal to the basis. Reason: float64 Gram-Schmidt
# leaves ~1e-15 of the old directions; 1e-10 keeps a safety factor well above that.
_BREAKDOWN = 1e-10
# Eigenpairs kept when rank is not given (capped at p). Reason: Schioppa et al. (2022) report
# the top tens of directions carry most of the influence; 50 keeps the cost at 100 HVPs.
DEFAULT_RANK = 50


def check_arnoldi(opts, dims):
    pe = dims["p_eff"]
    what = f" (p = {dims['p']}" + (", less the gauge direction)" if dims["gauge"] else ")")
    if opts["rank"] is None:  # the default: 50 eigenpairs, or all of them on a smaller problem
        opts["rank"] = min(DEFAULT_RANK, pe)
    opts["rank"] = check_int(opts["rank"], "rank", high=pe, what=what)
    if opts["n_iter"] is None:
        opts["n_iter"] = min(pe, 2 * opts["rank"])
    opts["n_iter"] = check_int(opts["n_iter"], "n_iter", low=opts["rank"], high=pe,
                               what=" (from rank to p)")
    opts["seed"] = check_seed(opts["seed"])
    return opts


def arnoldi(pb: Problem, rank: int | None = None, n_iter: int | None = None, seed: int = 0
            ) -> np.ndarray:
    """Influence scores through the r largest Ritz pairs of H found by Arnoldi iteration.

    Parameters
    ----------
    pb : Problem
    rank : int, optional
        r, the eigenpairs kept (1 <= r <= p, or p - 1 under the multinomial gauge); default
        min(50, p).
    n_iter : int, optional
        Krylov dimension (HVPs), rank <= n_iter <= p; default min(p, 2 rank).
    seed : int
        Seeds the start vector (and restarts); reproducible bit for bit.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    Arnoldi iteration (symmetric H: Lanczos with full re-orthogonalisation) builds an
    orthonormal basis Q of the Krylov space span{q, Hq, ..., H^{k-1} q} from Hessian-vector
    products alone; the Rayleigh-Ritz matrix T = Q^T H Q gives Ritz pairs (lambda_l, Q y_l),
    and with U_r the r largest of them

        H^{-1} ~ U_r diag(1 / lambda_l) U_r^T,
        tau_ij = -(U_r^T grad f_j)^T diag(1 / lambda) (U_r^T g_i).

    At full rank (r = n_iter = p) the Krylov space is the whole parameter space and the scores
    equal ``influence``; below it, directions of small curvature (which the inverse weights
    most) are dropped, the trade-off Schioppa et al. accept for scale.

    References
    ----------
    Arnoldi, W. E. (1951). The principle of minimized iterations in the solution of the matrix
    eigenvalue problem. Q. Appl. Math. 9. Schioppa, A., Zablotskaia, P., Vilar, D. and Sokolov,
    A. (2022). Scaling up influence functions. AAAI.
    """
    rng = np.random.default_rng(seed)
    p = pb.p
    Q = np.zeros((n_iter, p))
    W = np.zeros((n_iter, p))  # rows: H q_l
    q = pb.project(rng.standard_normal((1, p)))[0]
    for k in range(n_iter):
        for _ in range(2):  # classical Gram-Schmidt twice (full re-orthogonalisation)
            q = q - Q[:k].T @ (Q[:k] @ q)
        q = pb.project(q[None])[0]
        nq = np.linalg.norm(q)
        if k > 0 and nq <= _BREAKDOWN * np.linalg.norm(W[k - 1]):
            q = pb.project(rng.standard_normal((1, p)))[0]  # breakdown: restart
            for _ in range(2):
                q = q - Q[:k].T @ (Q[:k] @ q)
            nq = np.linalg.norm(q)
        Q[k] = q / nq
        W[k] = pb.project(pb.hvp(Q[k][None]))[0]
        q = W[k].copy()
    T = Q @ W.T  # shape: (n_iter, n_iter), Q^T H Q
    evals, evecs = np.linalg.eigh(0.5 * (T + T.T))
    top = np.argsort(evals)[::-1][:rank]
    lam, U = evals[top], (evecs[:, top].T @ Q)  # U: (r, p) Ritz vectors
    if np.any(lam <= 0):
        raise FloatingPointError(f"arnoldi: {int((lam <= 0).sum())} of the kept Ritz values are "
                                 "<= 0 (a singular Hessian); lower rank or add a penalty")
    A = pb.G @ U.T  # shape: (n, r)
    B = pb.Gt @ U.T  # shape: (m, r)
    return -(A / lam[None, :]) @ B.T
