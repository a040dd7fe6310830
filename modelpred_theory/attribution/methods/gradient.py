"""Gradient similarity: influence with the Hessian replaced by the identity.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem

__all__ = ["grad_cos", "grad_dot"]


def grad_dot(pb: Problem) -> np.ndarray:
    """tau_ij = -grad f_j(theta^) . g_i (the influence formula with H = I).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    One gradient step on point i with unit rate moves theta by -g_i, which changes f_j by
    -grad f_j . g_i to first order; with f_j = -loss_j this is +grad loss_j . g_i, positive for
    a proponent (the sign of TracIn at a single checkpoint).

    References
    ----------
    Charpiat, G., Girard, N., Felardos, L. and Tarabalka, Y. (2019). Input similarity from the
    neural network perspective. NeurIPS. Pruthi, G. et al. (2020). TracIn. NeurIPS.
    """
    return -(pb.G @ pb.Gt.T)


def grad_cos(pb: Problem) -> np.ndarray:
    """tau_ij = -cos(grad f_j, g_i): ``grad_dot`` with both gradients normalised.

    Returns
    -------
    ndarray of shape (n, m)
        A zero gradient (a point fitted exactly, e.g. outside the SVM's active set) scores 0.

    Notes
    -----
    tau_ij = -grad f_j . g_i / (||grad f_j|| ||g_i||), insensitive to the gradient scale
    (large-loss points no longer dominate).

    References
    ----------
    Barshan, E., Brunet, M.-E. and Dziugaite, G. K. (2020). RelatIF: identifying explanatory
    training examples via relative influence. AISTATS. Hanawa, K., Yokoi, S., Hara, S. and
    Inui, K. (2021). Evaluation of similarity-based explanations. ICLR.
    """
    gn = np.linalg.norm(pb.G, axis=1)
    tn = np.linalg.norm(pb.Gt, axis=1)
    gi = np.divide(1.0, gn, out=np.zeros_like(gn), where=gn > 0)
    ti = np.divide(1.0, tn, out=np.zeros_like(tn), where=tn > 0)
    return -(pb.G * gi[:, None]) @ (pb.Gt * ti[:, None]).T
