"""TRAK: influence in a random projection of the per-sample gradients, Gauss-Newton kernel.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int, check_positive, check_seed

__all__ = ["KERNELS", "check_trak", "trak"]

KERNELS = ("gauss_newton", "trak")


def check_trak(opts, dims):
    P = opts["projection"]
    if P is not None:
        P = np.asarray(P, dtype=np.float64)
        if P.ndim != 2 or P.shape[0] != dims["p"] or P.shape[1] == 0:
            raise ValueError(f"projection must have shape (p, k) = ({dims['p']}, k), k >= 1, "
                             f"got {P.shape}")
        if not np.all(np.isfinite(P)):
            raise ValueError("projection contains NaN or inf")
        opts["projection"] = P
        opts["proj_dim"] = P.shape[1]
    elif opts["proj_dim"] is not None:
        opts["proj_dim"] = check_int(opts["proj_dim"], "proj_dim")
    if opts["kernel"] not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {opts['kernel']!r}")
    if opts["kernel"] == "trak" and not dims["classifier_ce"]:
        raise ValueError("kernel='trak' (TRAK's output f = log(p / (1 - p)) and Q = 1 - p) "
                         "needs LogisticRegression; use kernel='gauss_newton'")
    if opts["damping"] is not None:
        opts["damping"] = check_positive(opts["damping"], "damping", allow_zero=True)
    opts["seed"] = check_seed(opts["seed"])
    return opts


def projection_matrix(p: int, k: int, seed: int) -> np.ndarray:
    """The seeded Gaussian projection (p, k), entries N(0, 1/k) (so E[P P^T] = I)."""
    return np.random.default_rng(seed).standard_normal((p, k)) / np.sqrt(k)


# Points per block when the projected Gauss-Newton kernel is accumulated. Reason: a block of b
# points holds b K k projected rows; 512 keeps it near 80 MB at K = 10, k = 2048.
_BLOCK = 512


def _gn_factor(pb: Problem) -> np.ndarray:
    """L_i with A_i = L_i L_i^T (the margin curvature's square root): (n, K, K)."""
    ev, V = np.linalg.eigh(pb.A)  # pb.A: (n, K, K)
    return V * np.sqrt(np.clip(ev, 0.0, None))[:, None, :]


def _kernel_rows(pb: Problem, kernel: str, rows=slice(None)) -> np.ndarray:
    """Rows R (r, p) with R^T R the kernel's curvature of the data term (points ``rows``).

    "gauss_newton": the rows L_i[:, c] (x) x~_i with A_i = L_i L_i^T the margin curvature, so
    R^T R = sum_i A_i (x) x~_i x~_i^T is the exact Gauss-Newton (for these models the exact)
    Hessian of the data term. "trak": one row per point, the gradient of TRAK's output
    f_i = log(p_i / (1 - p_i)) (p_i the probability of the right label), which is
    -g_i / Q_i with Q_i = 1 - p_i = 1 - exp(-loss_i).
    """
    if kernel == "trak":
        Q = 1.0 - np.exp(-np.asarray(pb.learner.per_sample_loss(pb.theta, pb.X, pb.y)))
        return (-pb.G / Q[:, None])[rows]
    L, Xa = _gn_factor(pb)[rows], pb.Xa[rows]
    R = np.einsum("nkc,nq->nckq", L, Xa)  # shape: (b, K(c), K(k), q)
    return R.reshape(-1, pb.p)


def _projected_gram(pb: Problem, kernel: str, P: np.ndarray) -> np.ndarray:
    """(R P)^T (R P) without forming R (k, k): blocks of points, classes projected apiece."""
    if kernel == "trak":
        FR = _kernel_rows(pb, kernel) @ P
        return FR.T @ FR
    K, q, k = pb.K, pb.d + 1, P.shape[1]
    P3 = P.reshape(K, q, k)
    L = _gn_factor(pb)
    M = np.zeros((k, k))
    for s in range(0, pb.n, _BLOCK):
        Xb = pb.Xa[s:s + _BLOCK]
        XP = [Xb @ P3[c] for c in range(K)]  # K GEMMs, each (b, k): x~_i^T P_c
        Lb = L[s:s + _BLOCK]  # shape: (b, K, K)
        for c in range(K):  # projected row (i, c): sum_e L_i[e, c] x~_i^T P_e
            FRc = sum(Lb[:, e, c, None] * XP[e] for e in range(K))  # shape: (b, k)
            M += FRc.T @ FRc
    return M


def trak(pb: Problem, proj_dim: int | None = 2048, kernel: str = "gauss_newton",
         damping: float | None = None, seed: int = 0, projection=None) -> np.ndarray:
    """TRAK scores: a kernel regression in randomly projected gradient features.

    Parameters
    ----------
    pb : Problem
    proj_dim : int or None
        k, the projected dimension. None: no projection (the k -> infinity limit, computed
        exactly).
    kernel : {"gauss_newton", "trak"}
        "gauss_newton": the curvature-weighted features R (R^T R the Gauss-Newton Hessian of the
        data term, exact for these convex models). "trak": TRAK's own features, the unweighted
        gradients of f = log(p / (1 - p)) (logistic regression only), which drop the curvature.
    damping : float >= 0, optional
        delta added to the projected kernel (delta I_k). None: the learner's lam.
    seed : int
        Seeds the Gaussian projection (entries N(0, 1/k)); reproducible bit for bit.
    projection : ndarray of shape (p, k), optional
        Use this projection instead of a seeded one (e.g. another tool's, to compare with it);
        it overrides ``proj_dim`` and ``seed``.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    With a projection P (p, k), train features phi_i = P^T g_i (g_i the loss gradient), test
    features phi_j = P^T grad f_j, and kernel features Phi_R = R P,

        tau_ij = -phi_j^T (Phi_R^T Phi_R + delta I_k)^{-1} phi_i.

    For TRAK's kernel this is Park et al.'s estimator: their train term phi(f_i) Q_i equals
    -P^T g_i for cross-entropy (Q_i = 1 - p_i), and their kernel is Phi_f^T Phi_f.

    Limit: by the push-through identity the score depends on P only through inner products
    a^T P P^T b, which converge to a^T b at the Johnson-Lindenstrauss rate k^{-1/2}; as k grows
    the scores converge at that rate to

        -grad f_j^T (R^T R + delta I_p)^{-1} g_i,

    the damped Gauss-Newton influence. With the Gauss-Newton kernel and delta = lam it is
    ``influence`` with the penalty lam I on every coordinate: ``influence`` itself when the
    intercept is penalised. The k x k system is solved when k <= rows(R), else its equal in
    the r x r form (Woodbury), so any k is exact linear algebra.

    References
    ----------
    Park, S. M., Georgiev, K., Ilyas, A., Leclerc, G. and Madry, A. (2023). TRAK: attributing
    model behavior at scale. ICML. Johnson, W. B. and Lindenstrauss, J. (1984). Extensions of
    Lipschitz mappings into a Hilbert space. Contemp. Math. 26.
    """
    delta = pb.learner.lam if damping is None else damping
    if projection is not None:
        P = projection
    elif proj_dim is not None:
        P = projection_matrix(pb.p, proj_dim, seed)
    else:
        P = None
    r = pb.n * (pb.K if kernel == "gauss_newton" else 1)  # rows of R
    if P is None:  # the limit: the unprojected kernel R^T R
        if kernel == "gauss_newton":
            M = pb.H - np.diag(pb.penalty)  # R^T R is the data term of the Hessian
        else:
            R = _kernel_rows(pb, kernel)
            M = R.T @ R
        F, Ft, k = pb.G, pb.Gt, pb.p
    else:
        F, Ft, k = pb.G @ P, pb.Gt @ P, P.shape[1]  # shapes: (n, k), (m, k)
        M = _projected_gram(pb, kernel, P) if k <= r else None
    if M is not None:
        M = M + delta * np.eye(k)  # shape: (k, k)
        try:
            S = np.linalg.solve(M, Ft.T)  # shape: (k, m)
        except np.linalg.LinAlgError:
            raise FloatingPointError("trak: the projected kernel is singular; use "
                                     "damping > 0") from None
        return -(F @ S)
    if delta <= 0:
        raise ValueError(f"trak: proj_dim={k} exceeds the {r} kernel rows, so the kernel is "
                         "singular without damping; use damping > 0 or a smaller proj_dim")
    # Woodbury: (FR^T FR + delta I)^{-1} = (I - FR^T (FR FR^T + delta I)^{-1} FR) / delta
    FR = _kernel_rows(pb, kernel) @ P  # shape: (r, k); r < k here, so it is small
    Mr = FR @ FR.T + delta * np.eye(r)  # shape: (r, r)
    W = np.linalg.solve(Mr, FR @ F.T)  # shape: (r, n)
    return -((Ft @ F.T) - (Ft @ FR.T) @ W).T / delta
