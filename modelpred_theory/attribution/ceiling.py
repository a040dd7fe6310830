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
        LDS (mean over test points, and its standard error) of the datamodel fitted on the
        most training subsets: the ceiling's estimate.
    sizes : ndarray of shape (r,)
        Numbers of training subsets used (the convergence curve).
    lds_by_size, stderr_by_size : ndarray of shape (r,)
    lds_per_point : ndarray of shape (m,)
        Per test point LDS at the largest size.
    scores : ndarray of shape (n, m)
        The datamodel's coefficients at the largest size (an attribution in the package's sign
        convention, up to a scale).
    alphas : ndarray of shape (m,)
        The ridge penalty chosen for each test point (leave-one-subset-out CV) at the largest
        size.
    """

    lds: float
    lds_stderr: float
    sizes: np.ndarray
    lds_by_size: np.ndarray
    stderr_by_size: np.ndarray
    lds_per_point: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    alphas: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"lds": self.lds, "lds_stderr": self.lds_stderr,
                "sizes": self.sizes.tolist(), "lds_by_size": self.lds_by_size.tolist(),
                "stderr_by_size": self.stderr_by_size.tolist(),
                "alpha_median": float(np.median(self.alphas))}


def fit_datamodel(masks: np.ndarray, targets: np.ndarray, alphas=None):
    """Ridge datamodel per output with its penalty chosen by exact leave-one-out CV.

    Parameters
    ----------
    masks : ndarray of shape (k, n)
    targets : ndarray of shape (k, m)
    alphas : array_like of shape (a,), optional
        Candidate penalties, relative to the mean squared singular value of the centred masks;
        default ``logspace(-6, 3, 28)``.

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
    U, s, Vt = np.linalg.svd(Mc, full_matrices=False)
    keep = s > s.max() * 1e-12
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    scale = float(np.mean(s ** 2))
    rel = np.logspace(-6, 3, 28) if alphas is None else np.asarray(alphas, dtype=np.float64)
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
    return coef, best


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
    squares and rank correlation). The convergence curve shows how far from the limit it is.

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
    lds, se = [], []
    res = coef = alpha = None
    for s in sizes:
        coef, alpha = fit_datamodel(train.masks[:s], train.outputs[:s], alphas)
        res = evaluate(coef, truth)
        lds.append(res.lds)
        se.append(res.lds_stderr)
    return Ceiling(lds=float(lds[-1]), lds_stderr=float(se[-1]),
                   sizes=np.asarray(sizes, dtype=np.int64), lds_by_size=np.asarray(lds),
                   stderr_by_size=np.asarray(se), lds_per_point=res.lds_per_point,
                   scores=coef, alphas=alpha)
