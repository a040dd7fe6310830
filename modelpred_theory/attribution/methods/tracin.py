"""TracIn: the first-order effect of each training point summed along a training trajectory.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int, check_positive

__all__ = ["check_tracin", "gd_trajectory", "tracin"]


def check_tracin(opts, dims):
    opts["n_steps"] = check_int(opts["n_steps"], "n_steps")
    opts["n_checkpoints"] = check_int(opts["n_checkpoints"], "n_checkpoints",
                                      high=opts["n_steps"], what=" (n_steps)")
    if opts["n_steps"] % opts["n_checkpoints"]:
        raise ValueError(f"n_checkpoints={opts['n_checkpoints']} must divide "
                         f"n_steps={opts['n_steps']} (equally spaced checkpoints)")
    if opts["lr"] is not None:
        opts["lr"] = check_positive(opts["lr"], "lr")
    return opts


def gd_trajectory(pb: Problem, n_steps: int, lr: float | None = None):
    """Full-batch gradient descent on F from theta_0 = 0: the iterates (n_steps + 1, p), lr.

    theta_{t+1} = theta_t - lr grad F(theta_t) (``learner.grad``: the sum objective, penalty
    included). lr None: 1 / L with L the largest eigenvalue of H at theta = 0 and at the
    optimum (seeded power iterations), the classical safe step for an L-smooth objective.
    """
    p = pb.p
    if lr is None:
        lr = 1.0 / max(pb.top_eigenvalue(), pb.top_eigenvalue(n_iter=30, theta=np.zeros(p)))
    thetas = np.zeros((n_steps + 1, p))
    for t in range(n_steps):
        thetas[t + 1] = thetas[t] - lr * pb.learner.grad(thetas[t], pb.X, pb.y)
    return thetas, lr


def tracin(pb: Problem, n_steps: int = 100, n_checkpoints: int = 10,
           lr: float | None = None) -> np.ndarray:
    """TracInCP scores over the checkpoints of full-batch gradient descent from zero.

    Parameters
    ----------
    pb : Problem
    n_steps : int
        Gradient-descent steps of the trajectory (from theta = 0 towards theta^).
    n_checkpoints : int
        Equally spaced checkpoints theta_0, theta_s, ..., s = n_steps / n_checkpoints.
    lr : float, optional
        The step size; None: 1 / L (see ``gd_trajectory``).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    The trajectory: full-batch gradient descent on the sum objective F from theta_0 = 0 with a
    constant step, theta_{t+1} = theta_t - lr (sum_i g_i(theta_t) + lam P theta_t). Step t moves
    theta by -lr g_i(theta_t) on account of point i, changing f_j by -lr grad f_j . g_i to
    first order; TracIn sums these contributions over the steps actually taken, and TracInCP
    estimates the sum from checkpoints, each standing for the s steps after it:

        tau_ij = -s lr sum_c grad f_j(theta_{cs}) . g_i(theta_{cs}).

    Why this trajectory: TracIn is defined on the first-order training run that produced the
    model, and its checkpoints are that run's; the library's exact solver is Newton, whose steps
    -H_t^{-1} grad F are not per-example gradient steps, so its iterates would give an
    influence-like, not a TracIn, score. Gradient descent from zero is the first-order run that
    ends at the same theta^ (it converges to the unique minimiser), so the checkpoints are
    those a practitioner training this model by (full-batch) gradient descent would save. With
    one checkpoint per step the sum over i, plus the penalty's share, telescopes to
    f_j(theta_T) - f_j(theta_0) up to O(lr) (a first-order Riemann sum).

    References
    ----------
    Pruthi, G., Liu, F., Kale, S. and Sundararajan, M. (2020). Estimating training data
    influence by tracing gradient descent. NeurIPS.
    """
    thetas, lr = gd_trajectory(pb, n_steps, lr)
    s = n_steps // n_checkpoints
    out = np.zeros((pb.n, pb.m))
    for c in range(n_checkpoints):
        th = thetas[c * s]
        out -= (s * lr) * (pb.grads_at(th) @ pb.output_grads_at(th).T)
    return out
