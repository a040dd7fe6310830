"""The result objects of ``baselines.compare``: per-mask scores, summaries, JSON and a table.

Sum convention: theta(S) minimises F_S(theta) = sum_{i in S} w_i loss_i(theta)
+ lam/2 ||P theta||^2 (C = 1/lam); every method is scored against these exact minimisers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.stats

__all__ = ["CompareResult", "MethodResult", "format_table"]


@dataclass
class MethodResult:
    """Scores of one method on k held-out masks.

    Attributes
    ----------
    name : str
    thetas : ndarray of shape (k, p)
        The method's approximations of theta(S) (sum convention).
    rel_param_error : ndarray of shape (k,)
        ||theta_hat - theta(S)|| / ||theta(S)||.
    change_error : ndarray of shape (k,)
        ||theta_hat - theta(S)|| / ||theta(S) - theta(full)|| (NaN where S is the full set).
    test_loss : ndarray of shape (k,)
        Mean test loss at theta_hat.
    seconds : float
        Wall-clock time of the prediction call for all k masks (includes the factorisations it
        does itself; excludes the shared full fit).
    setup_seconds : float
        One-off cost outside the per-mask call (datamodel: the exact fits of its training pairs
        and the regression).
    bound : ndarray of shape (k,) or None
        With ``compare(..., certify=True)``: ``setfn.certify``'s upper bound on
        ||theta_hat - theta(S)|| (inf where none is available), computed without refitting.
    covered : ndarray of shape (k,) or None
        Whether ``bound`` >= the true error ||theta_hat - theta(S)|| (it always should be).
    """

    name: str
    thetas: np.ndarray
    rel_param_error: np.ndarray
    change_error: np.ndarray
    test_loss: np.ndarray
    seconds: float
    setup_seconds: float = 0.0
    bound: np.ndarray | None = None
    covered: np.ndarray | None = None


@dataclass
class CompareResult:
    """The outcome of ``compare``: per-mask scores of every method and their summaries.

    Attributes
    ----------
    learner : dict
        The learner's class name and parameters.
    n, p, k : int
        Pool size, parameter dimension, number of held-out masks.
    groups : ndarray of shape (k,)
        Group label of each mask (str); the summary is given per group and over all masks.
    exact_test_loss : ndarray of shape (k,)
        Mean test loss of the exact theta(S).
    full_test_loss : float
        Mean test loss of the full-data fit.
    exact_seconds : float or None
        Wall-clock time of the exact batched refits of the k masks (None when theta_true was
        given).
    full_fit_seconds : float
    methods : dict of str to MethodResult
    """

    learner: dict
    n: int
    p: int
    k: int
    groups: np.ndarray
    exact_test_loss: np.ndarray
    full_test_loss: float
    exact_seconds: float | None
    full_fit_seconds: float
    methods: dict = field(default_factory=dict)

    def summary(self) -> list[dict]:
        """One row per (method, group): medians of the errors, test-loss agreement, time.

        Keys: method, group, n_masks, median_rel_param_error, median_change_error, pearson,
        spearman, nrmse (RMSE of the predicted mean test loss over the standard deviation of
        the exact one), seconds_per_model.
        """
        labels = list(dict.fromkeys(self.groups.tolist()))
        sets = [(g, self.groups == g) for g in labels]
        if len(labels) > 1:
            sets.append(("all", np.ones(self.k, dtype=bool)))
        rows = []
        if self.exact_seconds is not None:
            for g, sel in sets:
                rows.append({"method": "exact", "group": g, "n_masks": int(sel.sum()),
                             "median_rel_param_error": 0.0, "median_change_error": 0.0,
                             "pearson": 1.0, "spearman": 1.0, "nrmse": 0.0,
                             "seconds_per_model": self.exact_seconds / self.k})
        for name, m in self.methods.items():
            for g, sel in sets:
                rows.append({
                    "method": name, "group": g, "n_masks": int(sel.sum()),
                    "median_rel_param_error": _nanmedian(m.rel_param_error[sel]),
                    "median_change_error": _nanmedian(m.change_error[sel]),
                    **_agreement(m.test_loss[sel], self.exact_test_loss[sel]),
                    "seconds_per_model": m.seconds / self.k,
                    **({} if m.bound is None else _certificates(m, sel)),
                })
        return rows

    def to_dict(self, include_arrays: bool = False) -> dict:
        """JSON-ready dict; per-mask arrays (not thetas) only when ``include_arrays``."""
        out = {
            "convention": "F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2",
            "learner": self.learner, "n": self.n, "p": self.p, "k": self.k,
            "full_test_loss": self.full_test_loss, "exact_seconds": self.exact_seconds,
            "full_fit_seconds": self.full_fit_seconds,
            "setup_seconds": {k: v.setup_seconds for k, v in self.methods.items()},
            "summary": [{k: _json_float(v) for k, v in r.items()} for r in self.summary()],
        }
        if include_arrays:
            out["groups"] = self.groups.tolist()
            out["exact_test_loss"] = self.exact_test_loss.tolist()
            out["per_mask"] = {
                k: {"rel_param_error": [_json_float(x) for x in v.rel_param_error],
                    "change_error": [_json_float(x) for x in v.change_error],
                    "test_loss": v.test_loss.tolist()}
                for k, v in self.methods.items()
            }
        return out

    def to_json(self, indent: int | None = 2, include_arrays: bool = False) -> str:
        """The result as a JSON string (NaN written as null)."""
        return json.dumps(self.to_dict(include_arrays), indent=indent)

    def format_table(self) -> str:
        """A printable table of ``summary()``."""
        return format_table(self)


def _certificates(m: MethodResult, sel: np.ndarray) -> dict:
    """Fraction of finite bounds, their median, and the fraction covering the true error."""
    b = m.bound[sel]
    if not b.size:
        return {"certified_fraction": float("nan"), "median_bound": float("nan"),
                "certificate_coverage": float("nan")}
    return {"certified_fraction": float(np.isfinite(b).mean()),
            "median_bound": float(np.median(b)),
            "certificate_coverage": float(m.covered[sel].mean())}


def _json_float(v):
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    return v


def _nanmedian(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _agreement(pred: np.ndarray, exact: np.ndarray) -> dict:
    """Pearson, Spearman and NRMSE (RMSE / std of exact) of predicted vs exact test losses."""
    nan = float("nan")
    if pred.size < 2:
        return {"pearson": nan, "spearman": nan, "nrmse": nan}
    rmse = float(np.sqrt(np.mean((pred - exact) ** 2)))
    sd = float(np.std(exact))
    if sd == 0 or np.std(pred) == 0:
        return {"pearson": nan, "spearman": nan, "nrmse": rmse / sd if sd > 0 else nan}
    return {"pearson": float(scipy.stats.pearsonr(pred, exact)[0]),
            "spearman": float(scipy.stats.spearmanr(pred, exact)[0]),
            "nrmse": rmse / sd}


def format_table(result: CompareResult) -> str:
    """Fixed-width text table of ``result.summary()`` (errors in %, time in ms per model)."""
    head = (f"{'method':<14} {'group':>6} {'k':>4} {'rel.err%':>9} {'chg.err%':>9} "
            f"{'pearson':>8} {'spearman':>8} {'nrmse':>7} {'ms/model':>9}")
    lines = [head, "-" * len(head)]

    def f(x, scale=1.0, w=8, prec=3):
        return f"{'nan':>{w}}" if not math.isfinite(x) else f"{x * scale:>{w}.{prec}f}"

    for r in result.summary():
        lines.append(
            f"{r['method']:<14} {str(r['group']):>6} {r['n_masks']:>4} "
            f"{f(r['median_rel_param_error'], 100, 9, 2)} "
            f"{f(r['median_change_error'], 100, 9, 2)} {f(r['pearson'])} {f(r['spearman'])} "
            f"{f(r['nrmse'], 1, 7)} {f(r['seconds_per_model'], 1e3, 9, 3)}")
    lines.append(
        f"n={result.n} p={result.p} k={result.k}; full fit {result.full_fit_seconds * 1e3:.1f} "
        f"ms; errors are medians of ||theta_hat - theta(S)|| / ||theta(S)|| (rel.err) and "
        f"/ ||theta(S) - theta(full)|| (chg.err)")
    for name, m in result.methods.items():
        if m.bound is not None:
            lines.append(f"certificates of {name}: {np.isfinite(m.bound).mean():.0%} finite, "
                         f"median bound {np.median(m.bound):.3g}, cover the true error on "
                         f"{m.covered.mean():.0%} of the masks")
    return "\n".join(lines)
