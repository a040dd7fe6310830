"""Linear datamodels: a regularised linear surrogate of S -> theta(S) (or of a scalar behaviour).

The surrogate is fitted on sampled pairs (mask, target), where the target is theta(S) under the
sum convention F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam), or
any chosen behaviour of it (a test loss, a margin).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.exceptions import NotFittedError

from .._utils import check_masks

_METHODS = ("ridge", "lasso")


def _check_masks(masks, n: int | None, name: str = "masks") -> np.ndarray:
    """Masks or non-negative weights (k, n) as float64, by the package's one validator
    (``subsets.check_masks(..., weights=True)``); empty subsets are allowed here."""
    M = np.asarray(masks.toarray() if hasattr(masks, "toarray") else masks)
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (k, n), got shape {M.shape}")
    if n is not None and M.shape[1] != n:
        raise ValueError(f"{name} has rows of length {M.shape[1]}, expected n={n} (the pool "
                         f"size the datamodel was fitted on)")
    if M.shape[1] == 0:
        raise ValueError(f"{name} has rows of length 0: the pool is empty")
    return check_masks(M, M.shape[1], allow_empty=True, weights=True, name=name)


class Datamodel:
    """The linear datamodel of Ilyas et al. (2022), fitted by ridge or lasso (scikit-learn).

    Predicts a target (theta(S) of shape (p,), or a scalar behaviour such as the test loss of
    theta(S)) from the subset indicator 1_S in {0, 1}^n:

        target(S) ~ b + W^T 1_S,   W of shape (n, t).

    Targets follow the library's sum convention: theta(S) minimises
    F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).

    Parameters
    ----------
    alpha : float > 0
        Regularisation strength, in scikit-learn's scaling: ridge minimises
        ||Y - M W - b||^2 + alpha ||W||^2; lasso minimises
        (1 / (2 m)) ||Y - M W - b||^2 + alpha ||W||_1 (m training masks), each target column
        separately.
    method : {"ridge", "lasso"}
        Ilyas et al. use the lasso; ridge is the fast default for parameter-vector targets.
    fit_intercept : bool
        Fit b (recommended: masks of one size have a constant row sum).
    max_iter : int
        Coordinate-descent iterations for the lasso.

    Attributes
    ----------
    coef_ : ndarray of shape (t, n), or (n,) for a 1-D target
        Row j holds the datamodel weights of target j (the per-point effects).
    intercept_ : ndarray of shape (t,), or float for a 1-D target
    n_features_in_ : int
        The pool size n.

    References
    ----------
    Ilyas, A., Park, S. M., Engstrom, L., Leclerc, G. and Madry, A. (2022). Datamodels:
    predicting predictions from training data. ICML (arXiv:2202.00622).
    """

    def __init__(self, alpha: float = 1.0, method: str = "ridge", *, fit_intercept: bool = True,
                 max_iter: int = 10000):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (
                np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if not isinstance(fit_intercept, bool | np.bool_):
            raise ValueError("fit_intercept must be a bool")
        if not (isinstance(max_iter, int | np.integer) and max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        self.alpha = float(alpha)
        self.method = method
        self.fit_intercept = bool(fit_intercept)
        self.max_iter = int(max_iter)

    def __repr__(self) -> str:
        return (f"Datamodel(alpha={self.alpha!r}, method={self.method!r}, "
                f"fit_intercept={self.fit_intercept!r})")

    def fit(self, masks, targets) -> Datamodel:
        """Fit the surrogate on m sampled pairs.

        Parameters
        ----------
        masks : ndarray of shape (m, n)
            Subset indicators (bool or 0/1; fractional weights are accepted as features).
        targets : ndarray of shape (m,) or (m, t)
            theta(S) (t = p, sum convention) or any behaviour of it, one row per mask.

        Returns
        -------
        self
        """
        M = _check_masks(masks, None)
        Y = np.asarray(targets, dtype=np.float64)
        if Y.ndim not in (1, 2):
            raise ValueError(f"targets must have shape (m,) or (m, t), got {Y.shape}")
        if Y.shape[0] != M.shape[0]:
            raise ValueError(f"targets has {Y.shape[0]} rows but masks has {M.shape[0]}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("targets contains NaN or inf")
        if M.shape[0] < 2:
            raise ValueError("masks must hold at least 2 subsets to fit a datamodel")
        if self.method == "ridge":
            from sklearn.linear_model import Ridge as _Ridge

            model = _Ridge(alpha=self.alpha, fit_intercept=self.fit_intercept)
        else:
            from sklearn.linear_model import Lasso as _Lasso

            model = _Lasso(alpha=self.alpha, fit_intercept=self.fit_intercept,
                           max_iter=self.max_iter)
        model.fit(M, Y)
        self._scalar = Y.ndim == 1
        self.coef_ = np.asarray(model.coef_, dtype=np.float64)
        self.intercept_ = (float(np.asarray(model.intercept_).reshape(-1)[0]) if self._scalar
                           else np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
                           * np.ones(Y.shape[1]))
        self.n_features_in_ = M.shape[1]
        return self

    def predict(self, masks) -> np.ndarray:
        """Predicted targets for k subsets: (k,) or (k, t), matching the fitted targets."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("this Datamodel is not fitted yet; call fit(masks, targets)")
        M = _check_masks(np.atleast_2d(masks) if np.ndim(masks) == 1 else masks,
                         self.n_features_in_)
        if self._scalar:
            return M @ self.coef_ + self.intercept_
        return M @ self.coef_.T + self.intercept_[None, :]
