"""Attribution methods: one module per family, one entry point, ``attribute``.

Every method returns scores (n, m) with the one sign convention of the package:

    scores[i, j] estimates f_j(theta(N)) - f_j(theta(N - i)),

the contribution of including training point i to test output f_j (``attribution.outputs``,
"margin" or "neg_loss"), theta(S) the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam). Removing i moves
the full fit by about H^{-1} g_i, so influence gives scores[i, j] = -grad f_j^T H^{-1} g_i.
Every method is reproducible bit for bit (random ones from their ``seed``); options are validated
before any work. All of them read one shared :class:`._problem.Problem` (the full fit, the
per-sample and test-output gradients, the Hessian and its solves, the margin curvature), built
from the learners' public methods.

Which learners each method applies to (a clear ValueError otherwise, raised before any work):

* every learner (Ridge, LogisticRegression, SquaredHingeSVM; the SVM through its generalised
  Hessian): loo, influence, influence_cg, lissa, arnoldi, tracin, grad_dot, grad_cos,
  datamodels, modelpred_loo, trak with the Gauss-Newton kernel;
* kfac / ekfac: every learner, by their well-defined reduction for one margin (binary logistic,
  ridge, SVM): a 1 x 1 class factor, the mean curvature; for ridge the Kronecker form is exact
  and both equal influence;
* trak with kernel="trak" (TRAK's own output log(p / (1 - p)) and Q = 1 - p): logistic only;
* representer: lam > 0 (the representer theorem divides by lam);
* datainf: a damping > 0 (default lam; a Ridge with lam = 0 must pass one);
* knn_shapley: classifiers (its utility is a KNN classifier's likelihood of the right label);
  model-free, so it ignores the learner and the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import (
    arnoldi,
    datainf,
    datamodels,
    gradient,
    influence,
    kfac,
    knn,
    lissa,
    loo,
    modelpred,
    representer,
    tracin,
    trak,
)
from ._problem import make_problem

__all__ = ["METHODS", "attribute"]


def _no_options(opts, dims):
    return opts


@dataclass(frozen=True)
class _Method:
    run: Callable
    summary: str
    defaults: dict = field(default_factory=dict)
    check: Callable = _no_options


_REGISTRY = {
    "loo": _Method(loo.loo_exact_scores, "exact leave-one-out: n batched exact refits, "
                   "warm-started from the full fit", {"chunk_size": None}, loo.check_loo),
    "influence": _Method(influence.influence_direct, "influence functions, one direct "
                         "(Cholesky) solve of the Hessian"),
    "influence_cg": _Method(influence.influence_cg, "influence functions, conjugate-gradient "
                            "inverse-Hessian-vector products", {"tol": 1e-10, "maxiter": None},
                            influence.check_cg),
    "lissa": _Method(lissa.lissa, "LiSSA: stochastic Neumann series for H^-1 grad f",
                     {"depth": 200, "batch_size": None, "scale": None, "damping": 0.0,
                      "repeat": 1, "seed": 0}, lissa.check_lissa),
    "arnoldi": _Method(arnoldi.arnoldi, "influence in the top-r eigenspace of H (Arnoldi)",
                       {"rank": None, "n_iter": None, "seed": 0}, arnoldi.check_arnoldi),
    "kfac": _Method(kfac.kfac, "K-FAC: Kronecker-factored data Hessian, exact penalty"),
    "ekfac": _Method(kfac.ekfac, "EK-FAC: K-FAC with eigenvalues corrected in the Kronecker "
                     "eigenbasis"),
    "datainf": _Method(datainf.datainf, "DataInf: damped empirical Fisher, inverse and "
                       "average swapped (Sherman-Morrison)", {"damping": None},
                       datainf.check_datainf),
    "trak": _Method(trak.trak, "TRAK: random projection of per-sample gradients, "
                    "Gauss-Newton kernel", {"proj_dim": 2048, "kernel": "gauss_newton",
                                            "damping": None, "seed": 0, "projection": None},
                    trak.check_trak),
    "tracin": _Method(tracin.tracin, "TracInCP over full-batch gradient descent from zero",
                      {"n_steps": 100, "n_checkpoints": 10, "lr": None}, tracin.check_tracin),
    "grad_dot": _Method(gradient.grad_dot, "gradient dot product (influence with H = I)"),
    "grad_cos": _Method(gradient.grad_cos, "gradient cosine similarity"),
    "representer": _Method(representer.representer, "representer points of the "
                           "L2-regularised linear model", check=representer.check_representer),
    "knn_shapley": _Method(knn.knn_shapley_scores, "exact KNN-Shapley values per test point "
                           "(model-free)", {"k": 5}, knn.check_knn),
    "datamodels": _Method(datamodels.datamodels, "linear datamodels fitted on exact subset "
                          "outputs", {"n_subsets": 1000, "fraction": 0.5, "alpha": 1.0,
                                      "seed": 0}, datamodels.check_datamodels),
    "modelpred_loo": _Method(modelpred.modelpred_loo, "leave-one-out predicted by ModelPred "
                             "(any base)", {"base": "influence", "seed": 0,
                                            "model_options": None},
                             modelpred.check_modelpred),
}

#: Every method name with its one-line description.
METHODS: dict[str, str] = {name: m.summary for name, m in _REGISTRY.items()}


def attribute(learner, X, y, X_test, y_test, method: str, *, output: str = "margin",
              theta=None, **options) -> np.ndarray:
    """Attribution scores of every training point for every test output.

    Parameters
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
        The training pool.
    y : ndarray of shape (n,)
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    method : str
        One of ``METHODS``.
    output : {"margin", "neg_loss"}
        The test outputs f_j explained (``attribution.outputs``); "margin" needs a classifier.
    theta : ndarray of shape (p,), optional
        The exact fit on the pool, if already computed (else fitted here, once).
    **options
        The method's options (see its function: ``methods.<family>.<name>``); unknown names
        and values that make no sense (proj_dim 0, rank > p, ...) raise before any work.

    Returns
    -------
    ndarray of shape (n, m)
        scores[i, j] estimates f_j(theta(N)) - f_j(theta(N - i)) (float64).

    Raises
    ------
    ValueError
        An unknown method (the valid ones are listed), an unknown or invalid option, bad data.
    """
    if not isinstance(method, str) or method not in _REGISTRY:
        raise ValueError(f"method must be one of {sorted(_REGISTRY)}, got {method!r}")
    spec = _REGISTRY[method]
    unknown = sorted(set(options) - set(spec.defaults))
    if unknown:
        valid = sorted(spec.defaults) or "none"
        raise ValueError(f"method {method!r} has no option(s) {unknown}; its options: {valid}")
    pb = make_problem(learner, X, y, X_test, y_test, output, theta=theta)
    opts = spec.check({**spec.defaults, **options}, pb.dims)
    scores = spec.run(pb, **opts)
    return np.ascontiguousarray(scores, dtype=np.float64)
