"""Exact leave-one-out: the attribution every first-order method approximates.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_int

__all__ = ["check_loo", "loo_exact_scores"]


def check_loo(opts, dims):
    if dims["n"] < 2:
        raise ValueError(f"leave-one-out needs at least 2 training points, got n={dims['n']}")
    if opts["chunk_size"] is not None:
        opts["chunk_size"] = check_int(opts["chunk_size"], "chunk_size")
    return opts


def loo_exact_scores(pb: Problem, chunk_size: int | None = None) -> np.ndarray:
    """tau_ij = f_j(theta(N)) - f_j(theta(N - i)) with every theta(N - i) refitted exactly.

    Parameters
    ----------
    pb : Problem
    chunk_size : int, optional
        Refits per batched Newton solve (``learner.fit_subsets``).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    The n refits are batched exact Newton solves warm-started from the full fit
    (``baselines.loo_exact``), each stopped on its own optimality residual; this is the exact
    quantity the influence methods estimate, to the solver's tolerance.

    References
    ----------
    Cook, R. D. (1977). Detection of influential observation in linear regression.
    Technometrics 19(1).
    """
    from ...baselines import loo_exact

    thetas = loo_exact(pb.learner, pb.X, pb.y, theta_full=pb.theta, chunk_size=chunk_size)
    return pb.f0[None, :] - pb.outputs(thetas)
