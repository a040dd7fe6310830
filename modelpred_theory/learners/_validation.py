"""Input validation shared by the learners: every check raises before any work starts."""

from __future__ import annotations

import numbers

import numpy as np


def check_lam(lam: float, *, allow_zero: bool) -> float:
    """Return ``lam`` as a float, or raise ValueError naming it."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise ValueError(f"lam must be a real number, got {type(lam).__name__}")
    lam = float(lam)
    if not np.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam}")
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    if lam == 0 and not allow_zero:
        raise ValueError(
            "lam must be > 0 for this learner: with lam = 0 the minimiser may not exist "
            "(e.g. separable data)"
        )
    return lam


def check_X(X, name: str = "X") -> np.ndarray:
    """Validate a design matrix: 2-D, finite, non-empty; returns float64."""
    X = np.asarray(X)
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_samples, n_features), got ndim={X.ndim}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {X.shape}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf")
    return X


def check_y_shape(y, n: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} entries but X has {n} rows")
    if y.dtype == object or not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {y.dtype}")
    if not np.all(np.isfinite(y.astype(np.float64))):
        raise ValueError(f"{name} contains NaN or inf")
    return y


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Validate non-negative finite weights of shape (n,); None means all ones."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or inf")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero everywhere: the subset is empty")
    return w


def check_weight_matrix(masks, n: int, name: str = "masks") -> np.ndarray:
    """Validate a (k, n) matrix of subset masks (bool or 0/1) or non-negative weights.

    Returns float64 weights of shape (k, n). A 1-D input is treated as one subset.
    """
    M = np.asarray(masks)
    if M.dtype == object:
        raise ValueError(f"{name} must be a boolean or numeric array, got dtype object")
    if M.ndim == 1:
        M = M[None, :]
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (k, n_samples), got ndim={M.ndim}")
    if M.shape[1] != n:
        raise ValueError(f"{name} has rows of length {M.shape[1]}, expected n_samples={n}")
    if M.shape[0] == 0:
        raise ValueError(f"{name} holds no subsets (k = 0)")
    if M.dtype == bool:
        W = M.astype(np.float64)
    elif np.issubdtype(M.dtype, np.number):
        W = M.astype(np.float64)
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{name} contains NaN or inf")
        if np.any(W < 0):
            raise ValueError(f"{name} must be boolean masks or non-negative weights")
    else:
        raise ValueError(f"{name} must be a boolean or numeric array, got dtype {M.dtype}")
    empty = np.flatnonzero(~np.any(W > 0, axis=1))
    if empty.size:
        raise ValueError(
            f"{name} has empty subsets (rows {empty[:10].tolist()}"
            f"{' ...' if empty.size > 10 else ''}): theta(S) needs at least one point"
        )
    return W


def check_theta(theta, p: int, name: str = "theta") -> np.ndarray:
    """Validate parameters of shape (p,) or (k, p); returns float64 with a leading k axis."""
    T = np.asarray(theta, dtype=np.float64)
    if T.ndim == 1:
        T = T[None, :]
    if T.ndim != 2 or T.shape[1] != p:
        raise ValueError(f"{name} must have shape ({p},) or (k, {p}), got {np.shape(theta)}")
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} contains NaN or inf")
    return T
