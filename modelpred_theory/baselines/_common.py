"""Shared helpers of the baselines: validation, the base fit, and Hessian solves with the gauge.

Sum convention throughout: F_S(theta) = sum_{i} w_i loss_i(theta) + lam/2 ||P theta||^2, with
``w`` a subset mask (or non-negative weights) and a regulariser that does not change with |S|.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..exceptions import ConvergenceWarning
from ..learners.base import ConvexLearner
from ..learners.numerics import check_magnitudes
from ..learners.tensors import DTYPE, regularise_gauge
from ..learners.tensors import as_tensor as _as_tensor
from ..learners.validation import check_sample_weight, check_theta, check_weight_matrix

# Tolerance on the optimality residual of a caller-supplied base fit, relative to
# max(1, ||grad F_base(0)||). Reason: the exact solvers stop at 1e-10; 1e-6 accepts any fit
# exact enough that its error is far below the approximation errors measured here.
BASE_FIT_RTOL = 1e-6


def check_learner(learner, name: str = "learner") -> ConvexLearner:
    """Raise ValueError unless ``learner`` is one of the library's convex learners."""
    if not isinstance(learner, ConvexLearner):
        raise ValueError(
            f"{name} must be a modelpred_theory.learners learner (Ridge, LogisticRegression, "
            f"SquaredHingeSVM), got {type(learner).__name__}"
        )
    return learner


def prepare(learner, X, y):
    """Validate (X, y) with the learner's own checks; returns X (n, d), y_enc, K, p, Xt, yt."""
    X, y_enc, K = learner.prepare(X, y)
    check_magnitudes(learner, X, y_enc, np.ones(X.shape[0]), "the weights")
    Xt, yt = learner.tensors(X, y_enc)
    p = K * (X.shape[1] + 1)
    return X, y_enc, K, p, Xt, yt


def check_masks_weights(masks, n: int, name: str = "masks") -> np.ndarray:
    """Subset masks (bool) or non-negative weights of shape (k, n) as float64 (k, n).

    The one validator of the package (``subsets.check_masks(masks, n, weights=True)``).
    """
    return check_weight_matrix(masks, n, name=name)


def check_subsets(learner, masks, X, y_enc, K, name: str = "masks") -> np.ndarray:
    """Masks validated as ``learner.fit_subsets`` validates them (shape, values, every class
    present where the minimiser needs it, magnitudes); float64 (k, n)."""
    W = check_weight_matrix(masks, X.shape[0], name=name)
    learner.check_existence(W, y_enc, K, name)
    check_magnitudes(learner, X, y_enc, W, name)
    return W


def check_base_mask(base_mask, n: int) -> np.ndarray:
    """The base set as float64 weights (n,); None means the full pool."""
    if base_mask is None:
        return np.ones(n)
    b = np.asarray(base_mask)
    if b.ndim != 1 or b.shape[0] != n:
        raise ValueError(f"base_mask must have shape ({n},), got {b.shape}")
    try:
        return check_sample_weight(b.astype(np.float64), n)
    except ValueError as exc:
        raise ValueError(f"base_mask: {exc}") from None


def base_fit(learner, X, y_enc, K, base_w, theta_base=None, name: str = "theta_base"
             ) -> np.ndarray:
    """The exact minimiser of F_base (sum convention), fitted here or checked when given.

    Parameters
    ----------
    theta_base : ndarray of shape (p,), optional
        A precomputed fit; it must satisfy the optimality condition to BASE_FIT_RTOL.
    name : str
        The caller's name for ``theta_base`` in error messages (e.g. "theta_full").

    Returns
    -------
    ndarray of shape (p,)
    """
    from ..learners.objective import optimality_residual

    p = K * (X.shape[1] + 1)
    learner.check_existence(base_w[None], y_enc, K, "base_mask")
    if theta_base is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = learner.fit(X, y_enc, sample_weight=base_w)
        if not res.converged:
            warnings.warn(
                f"the base fit did not converge (||grad F|| = {res.grad_norm:.3g}); the "
                "approximations are taken around an inexact minimiser",
                ConvergenceWarning,
                stacklevel=3,
            )
        return res.theta
    T = check_theta(theta_base, p, name=name)
    if T.shape[0] != 1:
        raise ValueError(f"{name} must have shape ({p},), got {np.shape(theta_base)}")
    Xt, yt = learner.tensors(X, y_enc)
    scale = float(learner.objective(K).grad_scale(Xt, yt, _as_tensor(base_w)[None])[0])
    r = float(optimality_residual(learner, T, X, y_enc, base_w[None])[0])
    if not np.isfinite(r) or r > BASE_FIT_RTOL * scale:
        raise ValueError(
            f"{name} is not the minimiser of F_base: ||grad F_base({name})|| = {r:.3g} "
            f"> {BASE_FIT_RTOL:g} * {scale:.3g}; pass the exact fit (learner.fit) or None"
        )
    return T[0].copy()


def check_masks_exist(learner, W: np.ndarray, y_enc, K: int, name: str = "masks") -> None:
    """Refuse subsets missing a class exactly as ``learner.fit_subsets`` does."""
    learner.check_existence(W, y_enc, K, name)


class HessianSolver:
    """Factorise one Hessian H (p, p) of F once and solve H s = b for many right-hand sides.

    For the multinomial model with unpenalised intercepts H is singular along the gauge
    direction u (adding a constant to every intercept changes no loss). Every per-sample
    gradient is orthogonal to u, so we solve in the centred subspace: right-hand sides are
    projected onto u^perp and (H + c u u^T) is factorised, which equals the pseudo-inverse of H
    on u^perp (c = mean diagonal of H, so the conditioning is not harmed).
    """

    def __init__(self, H: np.ndarray | torch.Tensor, u: torch.Tensor | None):
        self.u = u
        H = regularise_gauge(_as_tensor(H), u)
        L, info = torch.linalg.cholesky_ex(H)
        self._L = L if int(info) == 0 else None
        self._pinv = None
        if self._L is None:
            warnings.warn(
                "the Hessian is not positive definite (singular design, lam = 0, or an empty "
                "SVM active set); using its pseudo-inverse",
                RuntimeWarning,
                stacklevel=3,
            )
            self._pinv = torch.linalg.pinv(H, hermitian=True)

    def project(self, B: torch.Tensor) -> torch.Tensor:
        """Remove the gauge component of each row of B (m, p)."""
        if self.u is None:
            return B
        return B - (B @ self.u)[:, None] * self.u[None, :]

    def solve(self, B) -> torch.Tensor:
        """H^{-1} b for each row b of B (m, p) -> (m, p) (rows projected onto u^perp)."""
        B = self.project(_as_tensor(B))
        if self._L is not None:
            S = torch.cholesky_solve(B.T, self._L).T  # shape: (m, p)
        else:
            S = B @ self._pinv
        return self.project(S)

    def inverse(self) -> torch.Tensor:
        """The (pseudo-)inverse of H restricted to u^perp, as a (p, p) matrix."""
        p = (self._L if self._L is not None else self._pinv).shape[0]
        return self.solve(torch.eye(p, dtype=DTYPE))


def check_finite_result(out: np.ndarray, what: str) -> np.ndarray:
    """Raise FloatingPointError (naming the subsets) rather than return non-finite parameters.

    The inputs' magnitudes are checked before any work, so this guards a Hessian that is
    numerically singular beyond the pseudo-inverse's reach.
    """
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        raise FloatingPointError(
            f"{what}: the Hessian solve gave non-finite parameters for subsets "
            f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''} (a numerically singular "
            "Hessian); rescale X or use penalize_intercept=True"
        )
    return out


def broadcast_theta(theta: np.ndarray, k: int) -> torch.Tensor:
    """theta (p,) repeated as a (k, p) float64 tensor."""
    return _as_tensor(np.broadcast_to(theta, (k, theta.shape[0])).copy())


def penalty(learner, d: int, K: int) -> torch.Tensor:
    """lam * diag(P^T P) as a (p,) tensor (the penalty's Hessian)."""
    return learner.lam * learner.penalty_vector(d, K)
