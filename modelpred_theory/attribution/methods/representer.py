"""Representer points: the decomposition of an L2-regularised linear model's prediction over its
training points.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem

__all__ = ["check_representer", "representer"]


def check_representer(opts, dims):
    if not dims["lam"] > 0:
        raise ValueError("representer points need lam > 0 (the representer theorem divides by "
                         f"lam), got lam={dims['lam']}")
    return opts


def representer(pb: Problem) -> np.ndarray:
    """tau_ij = sum_k c_jk alpha_ik k(x_i, x_j): point i's share of test output f_j.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    At the optimum the gradient in the penalised weights vanishes:
    sum_i dloss_i/dz_ik x_i + lam w_k = 0 for each class k, so

        w_k = sum_i alpha_ik x_i,   alpha_ik = -(1/lam) dloss_i/dz_ik,

    and every margin is z_k(x) = sum_i alpha_ik k(x_i, x) + b_k with k(x_i, x) = x_i . x
    (+ 1, and no separate b_k, when the intercept is penalised). dloss_i/dz_ik is read off the
    intercept coordinates of the per-sample gradient (x~ = [x, 1]). A test output is
    attributed through its gradient in the margins, c_j = df_j/dz (the intercept coordinates of
    grad f_j):

        tau_ij = sum_k c_jk alpha_ik k(x_i, x_j).

    For the margin output (linear in z, away from ties) the scores sum exactly to f_j(theta^)
    minus the intercepts' share c_j . b; for the negative loss they decompose its linearisation
    in the margins (Yeh et al. decompose the pre-activation the same way).

    References
    ----------
    Scholkopf, B., Herbrich, R. and Smola, A. J. (2001). A generalized representer theorem.
    COLT. Yeh, C.-K., Kim, J., Yen, I. E.-H. and Ravikumar, P. (2018). Representer point
    selection for explaining deep neural networks. NeurIPS.
    """
    q, d, K = pb.d + 1, pb.d, pb.K
    idx = np.arange(K) * q + d  # the intercept coordinates
    alpha = -pb.G[:, idx] / pb.learner.lam  # shape: (n, K)
    c = pb.Gt[:, idx]  # shape: (m, K)
    kern = pb.X @ pb.X_test.T  # shape: (n, m)
    if pb.learner.penalize_intercept:
        kern = kern + 1.0
    return (alpha @ c.T) * kern
