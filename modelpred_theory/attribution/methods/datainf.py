"""DataInf: a closed-form inverse of the damped empirical Fisher, one rank-one term at a time.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_positive

__all__ = ["check_datainf", "datainf"]


def check_datainf(opts, dims):
    if opts["damping"] is not None:
        opts["damping"] = check_positive(opts["damping"], "damping")
    return opts


def datainf(pb: Problem, damping: float | None = None) -> np.ndarray:
    """Influence scores with DataInf's swap of the inverse and the average.

    Parameters
    ----------
    pb : Problem
    damping : float > 0, optional
        delta, the damping of the whole curvature (the Hessian of a sum of n losses plus
        delta I). None: the learner's lam (on every coordinate, the intercepts included).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    DataInf approximates the Hessian by the damped empirical Fisher, written as an average of n
    rank-one terms with mu = delta / n,

        H ~ sum_k g_k g_k^T + delta I = n * mean_k (g_k g_k^T + mu I),

    and swaps the inverse and the average; each term inverts by Sherman-Morrison:

        H^{-1} ~ (1/n) mean_k (g_k g_k^T + mu I)^{-1}
               = 1 / (n^2 mu) sum_k (I - g_k g_k^T / (mu + ||g_k||^2)),

        tau_ij = -grad f_j^T H^{-1} g_i
               = -1/(n^2 mu) [n grad f_j . g_i
                              - sum_k (grad f_j . g_k)(g_k . g_i) / (mu + ||g_k||^2)].

    O(n m p) with two GEMMs and no p x p matrix. The swap is exact when all g_k are equal (then
    both sides are the inverse of n g g^T + delta I); the empirical Fisher itself differs from
    the Hessian (it uses the observed labels; the Hessian averages over the model's), and
    the damping replaces the penalty lam P.

    References
    ----------
    Kwon, Y., Wu, E., Wu, K. and Zou, J. (2024). DataInf: efficiently estimating data influence
    in LoRA-tuned LLMs and diffusion models. ICLR.
    """
    delta = pb.learner.lam if damping is None else damping
    if delta <= 0:
        raise ValueError("datainf needs damping > 0 (the learner has lam = 0): pass damping")
    n = pb.n
    mu = delta / n
    G, Gt = pb.G, pb.Gt
    T = Gt @ G.T  # shape: (m, n), grad f_j . g_k
    c = mu + (G * G).sum(axis=1)  # shape: (n,)
    second = (T / c[None, :]) @ G  # shape: (m, p), sum_k (grad f_j . g_k) g_k / c_k
    inner = n * T - second @ G.T  # shape: (m, n)
    return -(inner / (n * n * mu)).T
