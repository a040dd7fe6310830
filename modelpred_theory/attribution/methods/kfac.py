"""K-FAC and EK-FAC: Kronecker-factored inverse Hessians of the generalised linear models.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem

__all__ = ["ekfac", "kfac"]


def _class_basis(A_sum: np.ndarray):
    """Eigenpairs of the class factor (K, K); for K > 1 the first is (0, 1_K / sqrt(K)).

    Every multinomial curvature annihilates 1_K (softmax invariance), so that eigenvector is
    fixed exactly rather than left to rounding; the rest diagonalise A_sum on 1_K^perp.
    """
    K = A_sum.shape[0]
    if K == 1:
        return A_sum[0, 0] * np.ones(1), np.ones((1, 1))
    Z, _ = np.linalg.qr(np.column_stack([np.ones(K), np.eye(K)[:, :K - 1]]))  # Z[:, 0] ~ 1/sqrt(K)
    Z[:, 0] = 1.0 / np.sqrt(K)
    N = Z[:, 1:]
    ev, V = np.linalg.eigh(N.T @ A_sum @ N)
    return np.concatenate([[0.0], ev]), np.column_stack([Z[:, 0], N @ V])


def _factors(pb: Problem):
    """Per-point curvature A (n, K, K), augmented inputs Xa (n, q), the class eigenbasis."""
    alpha, QA = _class_basis(pb.A.sum(axis=0))
    return pb.A, pb.Xa, alpha, QA


def _block_solve(pb: Problem, QA: np.ndarray, blocks) -> np.ndarray:
    """H_approx^{-1} grad f_j for every test output, H_approx block diagonal in the class basis.

    blocks[a] is the (q, q) curvature of class direction a, the exact penalty lam D included.
    Under the gauge, block 0 (the direction 1_K) is lam D, singular exactly on the intercept:
    that coordinate is the gauge direction, solved as zero (the pseudo-inverse).
    """
    K, q, d = pb.K, pb.d + 1, pb.d
    R = pb.project(pb.Gt).reshape(pb.m, K, q)
    Rh = np.einsum("mkq,ka->maq", R, QA)  # shape: (m, K, q), class basis
    Sh = np.empty_like(Rh)
    for a in range(K):
        M = blocks[a]
        gauge_block = pb.u is not None and a == 0
        if gauge_block:
            M = M.copy()
            M[d, d] += 1.0
        Sh[:, a, :] = np.linalg.solve(M, Rh[:, a, :].T).T
        if gauge_block:
            Sh[:, a, d] = 0.0
    S = np.einsum("maq,ka->mkq", Sh, QA).reshape(pb.m, pb.p)
    return -(pb.G @ pb.project(S).T)


def _penalty_block(pb: Problem) -> np.ndarray:
    """lam D, the penalty of one class row (q, q): lam on the weights, on b if penalised."""
    return np.diag(pb.penalty[: pb.d + 1])


def kfac(pb: Problem) -> np.ndarray:
    """Influence scores with the K-FAC approximation of the data term of the Hessian.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    In the class-major layout theta = vec of rows [w_k, b_k], the Hessian of F at theta^ is

        H = sum_i A_i (x) x~_i x~_i^T + lam I_K (x) D,   x~_i = [x_i, 1],

    with A_i the curvature of loss_i in its K margins (softmax: diag(p_i) - p_i p_i^T; binary
    logistic p_i (1 - p_i); ridge 1; squared hinge 2 on the active set) and D = diag(1, ..., 1,
    0) (the last 1 with ``penalize_intercept``). K-FAC replaces the sum of Kronecker products by
    one product of the factor sums,

        sum_i A_i (x) x~_i x~_i^T  ~  (sum_i A_i) (x) (1/n) sum_i x~_i x~_i^T,

    and keeps the penalty EXACT (not as a damping of both factors): in the eigenbasis
    (alpha_a, q_a) of sum_i A_i the approximation is block diagonal, block a being
    alpha_a B + lam D with B = (1/n) sum x~ x~^T, each solved exactly. It is exact when all
    A_i are equal (e.g. every p_i equal) or all x~_i are (one point repeated). Softmax
    curvatures annihilate 1_K, so alpha = 0 there and that block is lam D, whose null intercept
    coordinate is the gauge direction of the unpenalised intercepts (solved as zero). The
    models with one margin (binary logistic, ridge, SVM) reduce to a 1 x 1 class factor, the
    mean curvature; for ridge (A_i = 1) K-FAC is exact and equals ``influence``.

    References
    ----------
    Martens, J. and Grosse, R. (2015). Optimizing neural networks with Kronecker-factored
    approximate curvature. ICML. Grosse, R. et al. (2023). Studying large language model
    generalization with influence functions. arXiv:2308.03296.
    """
    A, Xa, alpha, QA = _factors(pb)
    B = Xa.T @ Xa / pb.n  # shape: (q, q)
    P = _penalty_block(pb)
    return _block_solve(pb, QA, [alpha[a] * B + P for a in range(pb.K)])


def ekfac(pb: Problem) -> np.ndarray:
    """Influence scores with the eigenvalue-corrected K-FAC (EK-FAC) approximation.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    Keep K-FAC's Kronecker eigenbasis Q_A (x) U_B (Q_A the class factor's, U_B that of
    B = (1/n) sum x~ x~^T) and replace its eigenvalues by the exact diagonal of the data term in
    that basis,

        Lambda*_{ab} = sum_i (q_a^T A_i q_a) (u_b^T x~_i)^2,

    the best diagonal in that basis (Frobenius). George et al. estimate it from sampled
    gradients; for these models the expectation over the labels is available in closed form and
    is used here (no sampling, deterministic). The penalty lam I_K (x) D is added exactly as in
    ``kfac``: block a is U_B diag(Lambda*_a) U_B^T + lam D. When the data term is a Kronecker
    product (all A_i equal, or all x~_i equal) it is diagonal in that basis and EK-FAC equals
    ``influence``.

    References
    ----------
    George, T., Laurent, C., Bouthillier, X., Ballas, N. and Vincent, P. (2018). Fast
    approximate natural gradient descent in a Kronecker-factored eigenbasis. NeurIPS. Grosse,
    R. et al. (2023). arXiv:2308.03296.
    """
    A, Xa, alpha, QA = _factors(pb)
    _, UB = np.linalg.eigh(Xa.T @ Xa / pb.n)
    a_diag = np.einsum("ka,nkl,la->na", QA, A, QA)  # shape: (n, K), q_a^T A_i q_a
    if pb.K > 1:
        a_diag[:, 0] = 0.0  # A_i 1_K = 0 exactly
    C2 = (Xa @ UB) ** 2  # shape: (n, q)
    Lam = a_diag.T @ C2  # shape: (K, q)
    P = _penalty_block(pb)
    return _block_solve(pb, QA, [(UB * Lam[a][None, :]) @ UB.T + P for a in range(pb.K)])
