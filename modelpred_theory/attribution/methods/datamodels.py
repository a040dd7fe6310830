"""Linear datamodels fitted on EXACT subset outputs.

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._problem import Problem, check_int, check_positive, check_seed

__all__ = ["SEED_STREAM", "check_datamodels", "datamodels"]

# The datamodel's training subsets come from np.random.default_rng([seed, SEED_STREAM]), a
# stream of their own: the same seed never reproduces another tool's (e.g. a ground truth's
# held-out) subsets, so a datamodel is never scored on the subsets it was fitted on.
SEED_STREAM = 24_101


def check_datamodels(opts, dims):
    opts["n_subsets"] = check_int(opts["n_subsets"], "n_subsets", low=2)
    f = opts["fraction"]
    if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 < f < 1:
        raise ValueError(f"fraction must be in (0, 1), got {f!r}")
    size = int(round(f * dims["n"]))
    if not 1 <= size < dims["n"]:
        raise ValueError(f"fraction={f} gives subsets of {size} of n={dims['n']} points; need "
                         "1 <= size < n")
    opts["alpha"] = check_positive(opts["alpha"], "alpha")
    opts["seed"] = check_seed(opts["seed"])
    return opts


def datamodels(pb: Problem, n_subsets: int = 1000, fraction: float = 0.5, alpha: float = 1.0,
               seed: int = 0) -> np.ndarray:
    """tau_ij = the weight of point i in a ridge datamodel of f_j fitted on exact refits.

    Parameters
    ----------
    pb : Problem
    n_subsets : int >= 2
        Training subsets, each refitted exactly.
    fraction : float in (0, 1)
        Subset size as a fraction of the pool (the LDS protocol's alpha).
    alpha : float > 0
        The datamodel's ridge penalty (scikit-learn scaling, see ``baselines.Datamodel``).
    seed : int
        Seeds the subsets (stream ``SEED_STREAM``); reproducible bit for bit.

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    Draw subsets S_1..S_k of size round(fraction n) (each holding every class where the
    minimiser needs it), refit theta(S_l) exactly (batched Newton warm-started from the full
    fit), and fit f_j(theta(S_l)) ~ b_j + sum_{i in S_l} tau_ij by ridge regression on the
    indicators 1_{S_l}. The labels are exact, so the datamodel's error is its own (linearity,
    finite k), not label noise.

    References
    ----------
    Ilyas, A., Park, S. M., Engstrom, L., Leclerc, G. and Madry, A. (2022). Datamodels:
    predicting predictions from training data. ICML.
    """
    from ...baselines import Datamodel
    from ...subsets import fixed_size_subsets

    rng = np.random.default_rng([seed, SEED_STREAM])
    size = int(round(fraction * pb.n))
    classifier = hasattr(pb.learner, "accuracy")
    masks = fixed_size_subsets(pb.n, n_subsets, size, rng, y=pb.y if classifier else None,
                               require_all_classes=classifier)
    thetas = pb.learner.fit_subsets(pb.X, pb.y, masks, theta0=pb.theta)
    Y = pb.outputs(thetas)  # shape: (k, m)
    dm = Datamodel(alpha=alpha).fit(masks, Y)
    return np.atleast_2d(dm.coef_).T.copy()
