"""Leave-one-out through the learned set-function predictor ModelPred (any base).

Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem, check_seed

__all__ = ["check_modelpred", "modelpred_loo"]


def check_modelpred(opts, dims):
    from ...setfn import ModelPred

    if dims["n"] < 2:
        raise ValueError(f"leave-one-out needs at least 2 training points, got n={dims['n']}")
    opts["seed"] = check_seed(opts["seed"])
    mo = opts["model_options"]
    if mo is None:
        mo = {}
    if not isinstance(mo, dict):
        raise ValueError(f"model_options must be a dict of ModelPred arguments, got {mo!r}")
    mo = {"progress": False, **mo}
    # constructing the model validates base and every option before any work
    opts["model_options"] = ModelPred(dims["learner"], seed=opts["seed"], base=opts["base"],
                                      **mo)
    return opts


def modelpred_loo(pb: Problem, base="influence", seed: int = 0, model_options=None
                  ) -> np.ndarray:
    """tau_ij = f_j(theta^) - f_j(theta_hat(N - i)), theta_hat predicted by ModelPred.

    Parameters
    ----------
    pb : Problem
    base : {None, "influence", "newton"}
        ModelPred's classical base (its residual network learns what the base misses).
    seed : int
        ModelPred's seed; reproducible bit for bit on the CPU.
    model_options : dict, optional
        Further ``ModelPred`` arguments (epochs, n_subsets, width, ...).

    Returns
    -------
    ndarray of shape (n, m)

    Notes
    -----
    ModelPred is trained on exact pairs (S, theta(S)) of the pool and predicts theta(N - i) for
    the n leave-one-out masks in one batched call; the scores are the exact change of each test
    output under the predicted parameters. With base="influence" and no learned correction this
    reduces to first-order influence through f (not linearised in f).

    References
    ----------
    The ModelPred paper (see the project's design page).
    """
    from ...setfn import ModelPred
    from ...subsets import loo_masks

    model = model_options  # already a ModelPred after check_modelpred
    if not isinstance(model, ModelPred):
        model = ModelPred(pb.learner, seed=seed, base=base,
                          **{"progress": False, **(model_options or {})})
    model.fit(pb.X, pb.y)
    thetas = model.predict(pb.X, pb.y, loo_masks(pb.n))  # shape: (n, p)
    return pb.f0[None, :] - pb.outputs(thetas)
