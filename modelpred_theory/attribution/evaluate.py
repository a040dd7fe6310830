"""Rate any attribution matrix against exact ground truth: LDS, LOO correlation, counterfactuals.

scores (n, m) follows the package's sign convention: scores[i, j] estimates
f_j(theta(N)) - f_j(theta(N \\ {i})), so the additive prediction of f_j on a subset S is
g_j(S) = sum_{i in S} scores[i, j]. theta(S) minimises the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

from .ground_truth import GroundTruth, check_problem, exact_refits
from .outputs import outputs

__all__ = ["AttributionScore", "Counterfactual", "check_scores", "evaluate", "lds_per_output",
           "rowwise_correlation"]


@dataclass
class Counterfactual:
    """Group removal of the k top-attributed points of each test point.

    Attributes
    ----------
    k : int
    pearson, spearman : float
        Correlation over the test points between the predicted change
        sum_{i in G_j} scores[i, j] and the exact change f_j(N) - f_j(N \\ G_j).
    mean_actual, mean_predicted : float
        Mean exact and predicted change of the test outputs.
    actual, predicted : ndarray of shape (m,)
    """

    k: int
    pearson: float
    spearman: float
    mean_actual: float
    mean_predicted: float
    actual: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)


@dataclass
class AttributionScore:
    """Outcome of :func:`evaluate`.

    Attributes
    ----------
    lds, lds_stderr : float
        Mean over test points of the Spearman correlation over the held-out subsets, and its
        standard error over test points.
    lds_per_point : ndarray of shape (m,)
    loo_pearson, loo_pearson_stderr, loo_spearman, loo_spearman_stderr : float
        Mean over test points of the correlation over training points between scores[:, j]
        and the exact LOO effects truth.loo[:, j] (NaN when the truth has no LOO).
    loo_pearson_per_point, loo_spearman_per_point : ndarray of shape (m,) or None
    counterfactual : list of Counterfactual
    n_subsets : int
    """

    lds: float
    lds_stderr: float
    lds_per_point: np.ndarray = field(repr=False)
    loo_pearson: float = float("nan")
    loo_pearson_stderr: float = float("nan")
    loo_spearman: float = float("nan")
    loo_spearman_stderr: float = float("nan")
    loo_pearson_per_point: np.ndarray | None = field(default=None, repr=False)
    loo_spearman_per_point: np.ndarray | None = field(default=None, repr=False)
    counterfactual: list = field(default_factory=list)
    n_subsets: int = 0

    def to_dict(self) -> dict:
        """JSON-able summary (no per-point arrays)."""
        out = {k: v for k, v in asdict(self).items()
               if not isinstance(v, np.ndarray) and k != "counterfactual" and v is not None}
        out["counterfactual"] = [{k: v for k, v in asdict(c).items()
                                  if not isinstance(v, np.ndarray)}
                                 for c in self.counterfactual]
        return out


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def rowwise_correlation(A: np.ndarray, B: np.ndarray, *, rank: bool = False) -> np.ndarray:
    """Correlation between the columns of A and B, column by column.

    Parameters
    ----------
    A, B : ndarray of shape (r, c)
    rank : bool
        Spearman (Pearson of the average ranks, ties averaged as scipy.stats.spearmanr does)
        instead of Pearson.

    Returns
    -------
    ndarray of shape (c,)
        A column that is constant in A or B gets 0 (an attribution that predicts no variation
        explains none).
    """
    from scipy.stats import rankdata

    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if rank:
        A = rankdata(A, axis=0)
        B = rankdata(B, axis=0)
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    num = (A * B).sum(axis=0)
    den = np.sqrt((A * A).sum(axis=0) * (B * B).sum(axis=0))
    ok = (np.ptp(A, axis=0) > 0) & (np.ptp(B, axis=0) > 0) & (den > 0)
    out = np.zeros(A.shape[1])
    out[ok] = num[ok] / den[ok]
    return np.clip(out, -1.0, 1.0)


def lds_per_output(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Spearman correlation over subsets, per output: (k, m), (k, m) -> (m,) (constant -> 0)."""
    return rowwise_correlation(predicted, true, rank=True)


def check_scores(scores, n: int, m: int, name: str = "scores") -> np.ndarray:
    """A finite float64 (n, m) copy of ``scores``; ValueError naming the problem otherwise."""
    try:
        S = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape ({n}, {m}): {exc}") from None
    if S.shape != (n, m):
        hint = " (transposed?)" if S.shape == (m, n) else ""
        raise ValueError(f"{name} must have shape (n, m) = ({n}, {m}) (training points x test "
                         f"points of the ground truth), got {S.shape}{hint}")
    bad = ~np.isfinite(S)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} holds {int(bad.sum())} NaN or inf value(s) (first at "
                         f"[{i}, {j}])")
    return S


def _check_ks(counterfactual_k, n: int) -> list[int]:
    if counterfactual_k is None:
        return []
    ks = [counterfactual_k] if isinstance(counterfactual_k, numbers.Integral) else \
        list(counterfactual_k)
    for k in ks:
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k < n:
            raise ValueError(f"counterfactual_k must hold integers in [1, {n - 1}], got {k!r}")
    return [int(k) for k in ks]


def evaluate(scores, truth: GroundTruth, *, counterfactual_k=None, learner=None, X=None,
             y=None, X_test=None, y_test=None, n_jobs: int | None = None,
             device=None) -> AttributionScore:
    """LDS, LOO correlation and (optionally) group-removal counterfactuals of an attribution.

    Parameters
    ----------
    scores : array_like of shape (n, m)
        From any tool, in the package's sign convention: scores[i, j] estimates
        f_j(N) - f_j(N \\ {i}).
    truth : GroundTruth
    counterfactual_k : int or list of int, optional
        For each k, remove the k points with the largest scores[:, j] from the pool for every
        test point j, retrain exactly, and compare the predicted change with the exact one.
        Needs ``learner, X, y, X_test, y_test`` (checked against the truth's fingerprints).
    learner, X, y, X_test, y_test : optional
        The problem of ``truth``; when given they are checked against its learner settings
        and data fingerprints before any work (also without counterfactuals).
    n_jobs, device : optional
        Engine of the counterfactual refits (as in :func:`.ground_truth.ground_truth`).

    Returns
    -------
    AttributionScore

    Notes
    -----
    LDS (Park et al. 2023): for each test point j, the Spearman correlation over the k
    held-out subsets between g_j(S_s) = sum_{i in S_s} scores[i, j] and the exact
    f_j(theta(S_s)); averaged over the m test points, with standard error
    sd / sqrt(m). LOO correlation: Pearson and Spearman, over the n training points, between
    scores[:, j] and the exact effects f_j(N) - f_j(N \\ {i}), averaged over j. A constant
    column (no variation predicted) scores 0.

    Counterfactual (Koh & Liang 2017; Park et al. 2023): G_j = the k largest scores[:, j];
    actual_j = f_j(N) - f_j(N \\ G_j) by exact retraining (warm-started at theta(N)),
    predicted_j = sum_{i in G_j} scores[i, j]; reported as their Pearson and Spearman
    correlation over j and their means.

    References
    ----------
    Park, Georgiev, Ilyas, Leclerc, Madry (2023). TRAK: Attributing Model Behavior at Scale.
    ICML. Koh, Liang (2017). Understanding Black-box Predictions via Influence Functions. ICML.
    """
    if not isinstance(truth, GroundTruth):
        raise ValueError(f"truth must be a GroundTruth, got {type(truth).__name__}")
    n, m = truth.n, truth.m
    S = check_scores(scores, n, m)
    ks = _check_ks(counterfactual_k, n)
    given = [a is not None for a in (learner, X, y, X_test, y_test)]
    if ks and not all(given):
        raise ValueError("counterfactual_k needs learner, X, y, X_test and y_test (the "
                         "problem of the ground truth) to retrain exactly")
    if any(given):
        if not all(given):
            raise ValueError("pass all of learner, X, y, X_test, y_test, or none")
        check_problem(truth, learner, X, y, X_test, y_test)
    cf_masks = None
    if ks:
        cf_masks = _removal_masks(S, ks)
        _check_existence(learner, y, cf_masks, ks, m)

    predicted = truth.masks.astype(np.float64) @ S  # shape: (k, m)
    rho = lds_per_output(predicted, truth.outputs)
    lds, lds_se = _mean_se(rho)
    result = AttributionScore(lds=lds, lds_stderr=lds_se, lds_per_point=rho,
                              n_subsets=truth.n_subsets)
    if truth.loo is not None:
        pr = rowwise_correlation(S, truth.loo)
        sr = rowwise_correlation(S, truth.loo, rank=True)
        result.loo_pearson, result.loo_pearson_stderr = _mean_se(pr)
        result.loo_spearman, result.loo_spearman_stderr = _mean_se(sr)
        result.loo_pearson_per_point, result.loo_spearman_per_point = pr, sr
    if ks:
        result.counterfactual = _counterfactual(S, truth, ks, cf_masks, learner, X, y,
                                                X_test, y_test, n_jobs, device)
    return result


def _removal_masks(S: np.ndarray, ks: list[int]) -> np.ndarray:
    """Pool minus the k top-attributed points per test point: (len(ks) * m, n) bool.

    Ties are broken by the lower index (a stable sort), so the groups are reproducible."""
    n, m = S.shape
    order = np.argsort(-S, axis=0, kind="stable")  # shape: (n, m)
    rows = []
    for k in ks:
        M = np.ones((m, n), dtype=bool)
        M[np.repeat(np.arange(m), k), order[:k].T.reshape(-1)] = False
        rows.append(M)
    return np.vstack(rows)


def _check_existence(learner, y, masks, ks, m) -> None:
    if not bool(getattr(learner, "needs_all_classes", lambda: False)()):
        return
    from ..subsets import covers_all_classes

    ok = covers_all_classes(masks, y)
    if not ok.all():
        r = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"counterfactual_k={ks[r // m]}: removing the top-attributed points "
                         f"of test point {r % m} leaves a pool without some class (no minimiser "
                         "with an unpenalised intercept); use smaller k")


def _counterfactual(S, truth, ks, masks, learner, X, y, X_test, y_test, n_jobs, device):
    m = truth.m
    X = np.asarray(X, dtype=np.float64)
    f_after = np.empty((masks.shape[0], m))

    def keep(s, e, thetas, gn):
        f_after[s:e] = outputs(learner, thetas, X_test, y_test, truth.output)

    exact_refits(learner, X, y, masks, np.asarray(truth.theta_full), tag="counterfactual",
                 chunk_size=64, n_jobs=n_jobs, backend=None, device=device, threads=1,
                 cache_dir=None, progress=None, on_chunk=keep)
    out = []
    for r, k in enumerate(ks):
        rows = r * m + np.arange(m)
        actual = truth.full_outputs - f_after[rows, np.arange(m)]  # shape: (m,)
        removed = ~masks[rows].T  # shape: (n, m)
        predicted = (S * removed).sum(axis=0)
        pr = rowwise_correlation(predicted[:, None], actual[:, None])[0]
        sr = rowwise_correlation(predicted[:, None], actual[:, None], rank=True)[0]
        out.append(Counterfactual(k=k, pearson=float(pr), spearman=float(sr),
                                  mean_actual=float(actual.mean()),
                                  mean_predicted=float(predicted.mean()), actual=actual,
                                  predicted=predicted))
    return out
