"""Influence functions: the exact first-order effect of removing one training point.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._problem import Problem, check_int, check_positive

__all__ = ["influence_cg", "influence_direct"]


def influence_direct(pb: Problem) -> np.ndarray:
    """Influence scores with one direct (Cholesky) solve of the pool's Hessian.

    Parameters
    ----------
    pb : Problem

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    Removing point i from the sum objective changes the fit by theta(N - i) - theta^ ~
    H^{-1} g_i (g_i = grad loss_i(theta^), H = hess F_N(theta^), penalty included), so the
    contribution of including i to test output f_j is

        tau_ij = f_j(theta^) - f_j(theta(N - i)) ~ -grad f_j(theta^)^T H^{-1} g_i.

    H is factorised once and solved with the m test-output gradients (O(p^3 + m p^2 + n m p)).
    Multinomial with unpenalised intercepts: the solve runs in the centred subspace (the
    pseudo-inverse of H; see the gauge note of ``_problem``).

    References
    ----------
    Cook, R. D. and Weisberg, S. (1982). Residuals and Influence in Regression. Koh, P. W. and
    Liang, P. (2017). Understanding black-box predictions via influence functions. ICML.
    """
    S = pb.solve(pb.Gt)  # shape: (m, p), H^{-1} grad f_j
    return -(pb.G @ S.T)


def check_cg(opts, dims):
    opts["tol"] = check_positive(opts["tol"], "tol")
    if not opts["tol"] < 1:
        raise ValueError(f"tol must be in (0, 1), got {opts['tol']}")
    if opts["maxiter"] is not None:
        opts["maxiter"] = check_int(opts["maxiter"], "maxiter")
    return opts


def influence_cg(pb: Problem, tol: float = 1e-10, maxiter: int | None = None) -> np.ndarray:
    """Influence scores with conjugate-gradient inverse-Hessian-vector products (no p x p matrix).

    Parameters
    ----------
    pb : Problem
    tol : float in (0, 1)
        Each system stops at ||H s - v|| <= tol ||v||.
    maxiter : int, optional
        CG iterations at most (default 10 p).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    tau_ij = -grad f_j^T s_j with H s_j = grad f_j solved by batched conjugate gradient on the
    Hessian-vector products of ``_problem`` (the learner's curvature in factored form: one
    pass over the pool for all m right-hand sides per iteration, O(m n K (d + 1)), no p x p
    matrix; in the centred subspace under the multinomial gauge). Converges to ``influence``
    as tol -> 0 (in exact arithmetic after at most p iterations). A RuntimeWarning names the
    systems that did not reach tol within maxiter.

    References
    ----------
    Martens, J. (2010). Deep learning via Hessian-free optimization. ICML. Koh, P. W. and
    Liang, P. (2017). ICML.
    """
    S, rel, _ = pb.cg_solve(pb.Gt, tol, 10 * pb.p if maxiter is None else maxiter)
    if np.any(rel > tol):
        warnings.warn(f"influence_cg: {int((rel > tol).sum())} of {rel.size} systems did not "
                      f"reach tol={tol:g} (worst relative residual {rel.max():.3g}); raise "
                      "maxiter", RuntimeWarning, stacklevel=3)
    return -(pb.G @ S.T)
