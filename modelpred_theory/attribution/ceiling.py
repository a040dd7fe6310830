"""The additive ceiling: the best LDS an additive attribution reaches on a subset distribution.

Any attribution scores (n, m) predicts f_j(S) by the additive g_j(S) = sum_{i in S} scores[i, j]
(+ a constant), so no attribution method can score a higher LDS than the best additive
predictor of the exact outputs on that subset distribution. We estimate that predictor by a
linear datamodel (Ilyas et al. 2022): ridge-regularised least squares of the exact outputs
f_j(theta(S)) on the mask 1_S, fitted on TRAINING subsets drawn independently of the held-out
evaluation subsets, and rate it with the same LDS on the evaluation subsets. Its LDS as the
number of training subsets grows is reported, so the reader sees whether it has converged.
A method is then read against this ceiling, not against 1.

theta(S) minimises the SUM objective F_S(theta) = sum_{i in S} w_i loss_i(theta)
+ lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .evaluate import evaluate
from .ground_truth import GroundTruth

__all__ = ["Ceiling", "additive_ceiling", "fit_datamodel"]


@dataclass
class Ceiling:
    """Outcome of :func:`additive_ceiling`.

    Attributes
    ----------
    lds, lds_stderr : float
        The ceiling's estimate: the higher LDS (mean over test points, and its standard error)
        of the two datamodels fitted on the most training subsets.
    estimator : str
        Which one gave it: ``"datamodel"`` (ridge towards zero) or ``"datamodel_loo_prior"``
        (ridge towards the best multiple of the exact LOO effects).
    sizes : ndarray of shape (r,)
        Numbers of training subsets used (the convergence curve).
    curves : dict
        Per estimator, ``{"lds": [...], "stderr": [...]}`` over ``sizes``.
    lds_per_point : ndarray of shape (m,)
        Per test point LDS of the chosen estimator at the largest size.
    scores : ndarray of shape (n, m)
        Its coefficients (an attribution in the package's sign convention, up to a scale).
    alphas : ndarray of shape (m,)
        The ridge penalty chosen for each test point (leave-one-subset-out CV).
    """

    lds: float
    lds_stderr: float
    estimator: str
    sizes: np.ndarray
    curves: dict
    lds_per_point: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    alphas: np.ndarray = field(repr=False)

    @property
    def lds_by_size(self) -> np.ndarray:
        """LDS of the chosen estimator over ``sizes``."""
        return np.asarray(self.curves[self.estimator]["lds"])

    @property
    def stderr_by_size(self) -> np.ndarray:
        return np.asarray(self.curves[self.estimator]["stderr"])

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"lds": self.lds, "lds_stderr": self.lds_stderr, "estimator": self.estimator,
                "sizes": self.sizes.tolist(), "curves": self.curves,
                "alpha_median": float(np.median(self.alphas))}


def fit_datamodel(masks: np.ndarray, targets: np.ndarray, alphas=None, prior=None):
    """Ridge datamodel per output with its penalty chosen by exact leave-one-out CV.

    Parameters
    ----------
    masks : ndarray of shape (k, n)
    targets : ndarray of shape (k, m)
    alphas : array_like of shape (a,), optional
        Candidate penalties, relative to the mean squared singular value of the centred masks;
        default ``logspace(-6, 6, 37)``.
    prior : ndarray of shape (n, m), optional
        Coefficients to shrink towards instead of zero: per output the best multiple c_j of
        prior[:, j] is fitted by least squares first, and the ridge is fitted on what it leaves
        (a large penalty then returns c_j prior[:, j], a small one the plain least squares).

    Returns
    -------
    coef : ndarray of shape (n, m)
    alpha : ndarray of shape (m,)
        The absolute penalty chosen per output.

    Notes
    -----
    With centred masks M_c = U diag(s) V^T (thin SVD) and centred targets Y_c, the ridge
    coefficients are V diag(s / (s^2 + a)) U^T Y_c and the hat matrix is
    1/k + U diag(s^2 / (s^2 + a)) U^T, so the leave-one-subset-out residuals are
    r_i / (1 - H_ii) for every penalty from one SVD (Golub, Heath, Wahba 1979).
    """
    M = np.asarray(masks, dtype=np.float64)
    Y = np.asarray(targets, dtype=np.float64)
    k = M.shape[0]
    Mc = M - M.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    base = np.zeros((M.shape[1], Y.shape[1]))
    if prior is not None:
        P = np.asarray(prior, dtype=np.float64)
        if P.shape != base.shape or not np.all(np.isfinite(P)):
            raise ValueError(f"prior must be finite of shape {base.shape}, got {P.shape}")
        Up = Mc @ P  # shape: (k, m)
        norm = (Up * Up).sum(axis=0)
        c = np.where(norm > 0, (Up * Yc).sum(axis=0) / np.where(norm > 0, norm, 1.0), 0.0)
        base = P * c[None, :]
        Yc = Yc - Up * c[None, :]
    U, s, Vt = np.linalg.svd(Mc, full_matrices=False)
    keep = s > s.max() * 1e-12
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    scale = float(np.mean(s ** 2))
    rel = np.logspace(-6, 6, 37) if alphas is None else np.asarray(alphas, dtype=np.float64)
    if rel.ndim != 1 or rel.size == 0 or not np.all(rel > 0):
        raise ValueError(f"alphas must be a non-empty 1-D array of positive numbers, got {alphas}")
    UtY = U.T @ Yc  # shape: (r, m)
    best_err = np.full(Y.shape[1], np.inf)
    best = np.zeros(Y.shape[1])
    for a in rel * scale:
        h = s ** 2 / (s ** 2 + a)
        fitted = U @ (h[:, None] * UtY)
        H = 1.0 / k + (U ** 2) @ h  # shape: (k,)
        err = (((Yc - fitted) / (1.0 - H)[:, None]) ** 2).mean(axis=0)
        better = err < best_err
        best_err[better], best[better] = err[better], a
    coef = Vt.T @ ((s[:, None] / (s[:, None] ** 2 + best[None, :])) * UtY)  # shape: (n, m)
    return base + coef, best


def _check_pair(truth: GroundTruth, train: GroundTruth) -> None:
    for name, t in (("truth", truth), ("train", train)):
        if not isinstance(t, GroundTruth):
            raise ValueError(f"{name} must be a GroundTruth, got {type(t).__name__}")
    for attr in ("learner", "fingerprint", "test_fingerprint", "output", "fraction"):
        if getattr(truth, attr) != getattr(train, attr):
            raise ValueError(f"train and truth differ in {attr} ({getattr(train, attr)!r} vs "
                             f"{getattr(truth, attr)!r}): the ceiling needs the same problem "
                             "and subset distribution")
    if train.seed == truth.seed:
        raise ValueError(f"train has the same seed ({train.seed}) as truth: the datamodel "
                         "must be fitted on subsets independent of the evaluation subsets")


def additive_ceiling(truth: GroundTruth, train: GroundTruth, *, sizes=None,
                     alphas=None) -> Ceiling:
    """LDS of the best linear datamodel fitted on exact outputs, with its convergence.

    Parameters
    ----------
    truth : GroundTruth
        The held-out evaluation subsets.
    train : GroundTruth
        Exact outputs on independent training subsets of the same problem and distribution
        (``ground_truth(..., seed=<another seed>, loo=False)``).
    sizes : sequence of int, optional
        Numbers of training subsets (first rows of ``train``) to fit on; default a doubling
        sequence from 25 ending at all of them.
    alphas : array_like, optional
        Relative ridge penalties (see :func:`fit_datamodel`).

    Returns
    -------
    Ceiling

    Notes
    -----
    Any attribution's LDS is the Spearman correlation of an additive predictor with the exact
    outputs. The linear datamodel is the least-squares best additive predictor on the training
    distribution; as its training subsets grow, its LDS on the held-out subsets converges to
    that of the population-optimal additive predictor (up to the difference between least
    squares and rank correlation). Every fitted additive predictor is a lower estimate of that
    limit, so two are fitted and the higher is reported: the ridge datamodel shrunk towards
    zero (n unknowns: it needs k >> n subsets), and, when ``truth`` has exact LOO effects, the
    ridge datamodel shrunk towards their best multiple (it starts at the LOO effects' LDS and
    corrects them with the subsets). Neither uses the evaluation subsets. The convergence
    curves show how far from the limit they are; a method above the ceiling by more than the
    standard errors means the ceiling has not converged.

    References
    ----------
    Ilyas, Park, Engstrom, Leclerc, Madry (2022). Datamodels: Predicting Predictions from
    Training Data. ICML.
    """
    _check_pair(truth, train)
    kt = train.n_subsets
    if sizes is None:
        sizes, s = [], 25
        while s < kt:
            sizes.append(s)
            s *= 2
        sizes.append(kt)
    sizes = list(sizes)
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or not 3 <= s <= kt:
            raise ValueError(f"sizes must hold integers in [3, {kt}], got {s!r}")
    priors = {"datamodel": None}
    if truth.loo is not None:
        priors["datamodel_loo_prior"] = truth.loo
    curves, last = {}, {}
    for name, prior in priors.items():
        lds, se = [], []
        for s in sizes:
            coef, alpha = fit_datamodel(train.masks[:s], train.outputs[:s], alphas, prior)
            res = evaluate(coef, truth)
            lds.append(res.lds)
            se.append(res.lds_stderr)
        curves[name] = {"lds": lds, "stderr": se}
        last[name] = (res, coef, alpha)
    best = max(curves, key=lambda k: curves[k]["lds"][-1])
    res, coef, alpha = last[best]
    return Ceiling(lds=float(res.lds), lds_stderr=float(res.lds_stderr), estimator=best,
                   sizes=np.asarray(sizes, dtype=np.int64), curves=curves,
                   lds_per_point=res.lds_per_point, scores=coef, alphas=alpha)
