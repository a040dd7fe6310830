"""Numerical admissibility of a problem, checked before any solve, and convergence reporting.

The objective F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 (sum convention, see
docs/design.md) is evaluated in float64. Its curvature sum_i w_i a_i x_ij x_ik, its gradient and
the squares the solver forms (norms, Cholesky) must stay finite; inputs whose magnitudes make
them overflow are refused here with a ValueError naming the argument and the offending value,
instead of a solver that silently stops at theta = 0 with an infinite residual.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..exceptions import ConvergenceWarning

# log10 of the largest admissible curvature scale sum_i w_i max(1, |x_ij|)^2 (and, for ridge,
# sum_i w_i y_i^2). Reason: the solver squares gradient and Hessian entries of about this size
# (norms, Cholesky, line search); 1e150 squared is 1e300, below float64's maximum 1.8e308 with
# room for the factors n, p and the loss's curvature bound.
_LOG10_SCALE_LIMIT = 150.0
# log10 of the smallest admissible total weight of a subset. Reason: gradient entries scale with
# the weights, and the stopping test compares norms at tol (1e-10) of them, whose squares must
# stay above float64's smallest normal number 2.2e-308: (1e-100 * 1e-10)^2 = 1e-220 leaves room
# for small |x| and loss derivatives. (Scaling every weight and lam by one factor leaves theta(S)
# unchanged, so such weights can always be rescaled.)
_LOG10_WEIGHT_FLOOR = -100.0
# Largest admissible sqrt(S_j / (V_j + lam)) of a column (see check_columns: S_j its raw second
# moment, V_j its centred one). Reason: the curvature left for w_j once the intercept is
# eliminated, V_j + lam, carries rounding eps S_j: at 1e7 that is 2% of it and Newton still
# converges (measured: offsets of 1e7 solved to 1e-10 or warned), at 1e8 it is noise and the
# fit was wrong (offsets of 1e10, 1e12: wrong with converged=True).
_COLUMN_OFFSET_LIMIT = 1e7
# log10 of the largest admissible objective value at a warm start. Reason: F itself must be
# finite (below 1.8e308) with margin for the line search's comparisons.
_LOG10_OBJECTIVE_LIMIT = 300.0


def _log10(v: float) -> float:
    return math.log10(v) if v > 0 else -math.inf


def check_magnitudes(learner, X: np.ndarray, y_enc: np.ndarray, W: np.ndarray,
                     w_name: str) -> None:
    """Refuse X, y or weights whose products overflow float64 in the solver (ValueError).

    Parameters
    ----------
    X : ndarray of shape (n, d), finite float64
    y_enc : ndarray of shape (n,), encoded labels (real targets for ridge)
    W : ndarray of shape (k, n) or (n,), validated non-negative weights
    w_name : str
        The name of the weights' argument ("sample_weight", "masks") for messages.
    """
    W2 = np.atleast_2d(W)
    sums = W2.sum(axis=1)
    wsum = float(sums.max())
    lw = _log10(wsum)
    low = int(np.argmin(sums))
    if _log10(float(sums[low])) < _LOG10_WEIGHT_FLOOR:
        where = "" if W2.shape[0] == 1 else f" on subset {low}"
        raise ValueError(
            f"{w_name} sums to {float(sums[low]):.3g}{where}: weights this small make the "
            "objective's gradient underflow float64 in the stopping test; rescale the weights "
            "(multiplying every weight and lam by the same factor leaves theta(S) unchanged)"
        )
    if lw > _LOG10_SCALE_LIMIT:
        raise ValueError(
            f"{w_name} sums to {wsum:.3g} on some subset: the objective's curvature overflows "
            "float64 in the solver; rescale the weights (multiplying every weight and lam by the "
            "same factor leaves theta(S) unchanged)"
        )
    absX = np.abs(X)
    flat = int(np.argmax(absX))
    amax = float(absX.flat[flat])
    if lw + 2 * _log10(max(1.0, amax)) > _LOG10_SCALE_LIMIT:
        i, j = np.unravel_index(flat, X.shape)
        raise ValueError(
            f"X has entries as large as {amax:.3g} (X[{i}, {j}] = {X[i, j]:.3g}): with total "
            f"weight {wsum:.3g} the objective's curvature sum_i w_i x_ij^2 reaches "
            f"~{wsum * amax**2 if amax < 1e154 else math.inf:.3g}, whose square overflows "
            "float64; rescale X (e.g. sklearn.preprocessing.StandardScaler) before fitting"
        )
    if getattr(learner, "quadratic", False):
        absy = np.abs(np.asarray(y_enc, dtype=np.float64))
        iy = int(np.argmax(absy))
        ymax = float(absy[iy])
        if lw + 2 * _log10(max(1.0, ymax)) > _LOG10_SCALE_LIMIT:
            raise ValueError(
                f"y has values as large as {ymax:.3g} (y[{iy}] = {float(y_enc[iy]):.3g}): the "
                "squared residuals sum_i w_i (x_i.w + b - y_i)^2 overflow float64; rescale y "
                "(theta scales with it: fit y / s and multiply theta by s)"
            )
    check_columns(X, learner.lam)


def check_columns(X: np.ndarray, lam: float, name: str = "X") -> None:
    """Refuse a column whose variation float64 cannot carry against its magnitude.

    A column x_j = c + v with |c| >> std(v) (an offset of 1e10, a uint64 identifier near 2**63)
    is, in float64, nearly a multiple of the intercept column: the curvature left for w_j once
    the intercept is eliminated, V_j + lam with V_j = sum_i (x_ij - mean_j)^2, is formed from
    entries of size S_j = sum_i x_ij^2 and carries their rounding eps S_j. The column is refused
    when sqrt(S_j / (V_j + lam)) exceeds ``_COLUMN_OFFSET_LIMIT``; a column that is constant up
    to rounding (V_j ~ 0) passes as long as lam dominates its rounding (the penalty then fixes
    w_j ~ 0, as for an exactly constant column).

    Raises
    ------
    ValueError
        Naming the column, its magnitude and spread, and the remedy (centring it).
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean = X.mean(axis=0)
        S = np.einsum("ij,ij->j", X, X)
        V = np.einsum("ij,ij->j", X - mean, X - mean)
        ratio = np.sqrt(S / (V + lam))
    ratio = np.where(np.isfinite(ratio), ratio, 0.0)
    j = int(np.argmax(ratio))
    if ratio[j] > _COLUMN_OFFSET_LIMIT:
        std = float(np.sqrt(V[j] / X.shape[0]))
        raise ValueError(
            f"{name}[:, {j}] has values {float(mean[j]):.6g} +- {std:.3g} (its spread is "
            f"{std / max(float(np.abs(X[:, j]).max()), 1e-300):.1e} of its magnitude): in "
            "float64 it is indistinguishable from a multiple of the intercept column, and its "
            f"weight cannot be solved for; centre it ({name}[:, {j}] - {name}[:, {j}].mean(): "
            "with the unpenalised intercept w is unchanged and b absorbs the shift) or "
            "standardise it (sklearn.preprocessing.StandardScaler)"
        )


def check_start(learner, T0: np.ndarray, X: np.ndarray, W: np.ndarray) -> None:
    """Refuse a warm start theta0 (k, p) at which F_S is not finite in float64 (ValueError)."""
    tmax = float(np.abs(T0).max())
    if tmax == 0.0:
        return
    xs = max(1.0, float(np.abs(X).max())) * (X.shape[1] + 1)
    zmax = tmax * xs  # bound on every margin |<theta_c, [x_i, 1]>|
    wsum = float(np.atleast_2d(W).sum(axis=1).max())
    bad_loss = _log10(wsum) + 2 * _log10(max(1.0, zmax)) > _LOG10_OBJECTIVE_LIMIT
    bad_pen = _log10(learner.lam) + 2 * _log10(tmax) > _LOG10_OBJECTIVE_LIMIT
    if bad_loss or bad_pen:
        raise ValueError(
            f"theta0 has entries as large as {tmax:.3g}: the objective F_S(theta0) overflows "
            "float64; start from a smaller theta0 (or None for zeros)"
        )


def warn_unconverged(converged: np.ndarray, grad_norms: np.ndarray, max_iter: int,
                     what: str, stacklevel: int = 3) -> None:
    """Warn (ConvergenceWarning) with how many subsets did not converge and the worst residual."""
    bad = ~np.asarray(converged, dtype=bool)
    m = int(bad.sum())
    if m == 0:
        return
    k = bad.size
    worst = float(np.max(grad_norms[bad]))
    subject = (f"{what} did not converge" if k == 1
               else f"{m} of {k} subsets in {what} did not converge")
    warnings.warn(
        f"{subject} (worst residual ||grad F_S(theta)|| = {worst:.3g}; max_iter={max_iter}): "
        "the parameters returned are not the exact minimisers. Increase max_iter, rescale X "
        "(e.g. StandardScaler), or start closer (theta0)",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )
