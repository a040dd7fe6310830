"""Synthetic data with a known truth: regression, binary and multinomial logistic.

The generators return the parameters that produced the labels in :attr:`Dataset.theta_true`, in
the library's layout ``[w, b]`` (rows ``[w_k, b_k]`` flattened for multiclass) of the SUM
objective ``F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2`` (docs/design.md).
"""

from __future__ import annotations

import numpy as np

from .._utils import as_generator as _as_generator
from .._utils import check_int as _check_int
from ._dataset import Dataset
from ._dataset import check_real as _check_real

__all__ = ["make_logistic", "make_multiclass_logistic", "make_regression"]

# Values below this in absolute value are flushed to zero in synthetic designs. Reason: house
# style rule 9 keeps subnormal numbers out of generated data.
_SUBNORMAL_FLUSH = 1e-300


def _spectrum(d: int, condition_number: float) -> np.ndarray:
    """Singular values of the population design, geometric from 1 to 1/sqrt(cond); shape (d,)."""
    if d == 1:
        return np.ones(1)
    return np.geomspace(1.0, 1.0 / np.sqrt(condition_number), d)


def _design(
    n: int,
    n_test: int,
    d: int,
    condition_number: float,
    exact_design: bool,
    gen: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Training design (n, d) and test design (n_test, d) with population covariance Sigma.

    ``Sigma = Q diag(s^2) Q^T`` with ``s = _spectrum(d, condition_number)`` and ``Q`` a random
    orthogonal matrix, so ``cond(Sigma) = condition_number``. Test rows are i.i.d.
    ``N(0, Sigma)``. Training rows are ``Z diag(s) Q^T`` with ``Z`` either i.i.d. standard
    normal (``exact_design=False``) or ``sqrt(n)`` times an orthonormal basis of a column-centred
    Gaussian matrix (``exact_design=True``). In the exact case ``X^T X = n Sigma`` and the
    columns of ``X`` sum to zero, so ``cond(X^T X) = condition_number`` exactly (up to
    rounding), and the same holds for ``[X, 1]`` since the intercept column is orthogonal to X
    and ``||1||^2 = n`` lies in ``[n min(s^2), n max(s^2)]``.
    """
    s = _spectrum(d, condition_number)  # shape: (d,)
    Q, R = np.linalg.qr(gen.standard_normal((d, d)))
    Q = Q * np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))  # shape: (d, d), Haar
    Z = gen.standard_normal((n, d))  # shape: (n, d)
    if exact_design:
        Z = Z - Z.mean(axis=0)
        U, _ = np.linalg.qr(Z)  # shape: (n, d), orthonormal columns orthogonal to 1
        Z = np.sqrt(n) * U
    X = (Z * s) @ Q.T  # shape: (n, d)
    X_test = (gen.standard_normal((n_test, d)) * s) @ Q.T  # shape: (n_test, d)
    X[np.abs(X) < _SUBNORMAL_FLUSH] = 0.0
    X_test[np.abs(X_test) < _SUBNORMAL_FLUSH] = 0.0
    return X, X_test


def _check_synthetic_args(
    n: int, d: int, n_test: int, condition_number: float, exact_design: bool
) -> tuple[int, int, int, float]:
    n = _check_int(n, "n", minimum=1)
    d = _check_int(d, "d", minimum=1)
    n_test = _check_int(n_test, "n_test", minimum=0)
    condition_number = _check_real(condition_number, "condition_number")
    if condition_number < 1.0:
        raise ValueError(f"condition_number must be >= 1, got {condition_number}")
    if exact_design and n <= d:
        raise ValueError(
            f"n must exceed d when exact_design=True (got n={n}, d={d}); "
            "pass exact_design=False for n <= d"
        )
    return n, d, n_test, condition_number


def _check_vector(value: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _maybe_scale(
    X: np.ndarray, X_test: np.ndarray, W: np.ndarray, scale: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Unit-ball scaling that keeps the decision function: X/s and W*s (W of shape (..., d))."""
    if not scale:
        return X, X_test, W, 1.0
    s = float(np.max(np.linalg.norm(X, axis=1)))
    if s <= 0.0:
        return X, X_test, W, 1.0
    return X / s, X_test / s, W * s, s


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def make_regression(
    n: int = 200,
    d: int = 5,
    noise: float = 0.1,
    condition_number: float = 1.0,
    theta: np.ndarray | None = None,
    intercept: float = 0.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Linear-Gaussian regression ``y = X w + b + noise * eps`` with a chosen conditioning.

    Parameters
    ----------
    n : int, default=200
        Number of training rows.
    d : int, default=5
        Number of features.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise ``eps``; >= 0.
    condition_number : float, default=1.0
        Condition number (>= 1) of the population covariance of ``x`` and, with
        ``exact_design=True``, of ``X^T X`` on the training rows (and of the design with an
        intercept column ``[X, 1]``).
    theta : ndarray of shape (d,) or None, default=None
        The weights ``w``; None draws ``w ~ N(0, I_d)``.
    intercept : float, default=0.0
        The intercept ``b``.
    n_test : int, default=1000
        Number of test rows (i.i.d. from the population).
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling as in :func:`load`: divide all rows by the largest training-row norm
        ``s`` and multiply ``w`` by ``s`` so that the regression function is unchanged.
    exact_design : bool, default=True
        Whiten the training design so its sample covariance equals the population one (see
        Notes); requires ``n > d``. With False, rows are i.i.d. Gaussian.

    Returns
    -------
    Dataset
        ``task="regression"``, ``n_classes=0``, ``theta_true = [w, b]`` of shape (d + 1,).

    Notes
    -----
    The population covariance is ``Sigma = Q diag(s^2) Q^T`` with singular values ``s``
    geometrically spaced from 1 to ``1 / sqrt(condition_number)`` and ``Q`` Haar-orthogonal,
    so ``cond(Sigma) = condition_number``. With ``exact_design=True`` the training design is
    ``X = sqrt(n) U diag(s) Q^T``, ``U`` an orthonormal basis of a column-centred Gaussian
    matrix; then ``X^T X = n Sigma`` and ``1^T X = 0``, so ``cond(X^T X)`` and
    ``cond([X, 1]^T [X, 1])`` both equal ``condition_number``. Test rows are i.i.d.
    ``N(0, Sigma)``. ``theta_true`` uses the library layout ``[w, b]``.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    noise = _check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    intercept = _check_real(intercept, "intercept")
    gen = _as_generator(rng)
    w = gen.standard_normal(d) if theta is None else _check_vector(theta, (d,), "theta")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = X @ w + intercept + noise * gen.standard_normal(n)
    y_test = X_test @ w + intercept + noise * gen.standard_normal(n_test)
    X, X_test, w, s = _maybe_scale(X, X_test, w, scale)
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="regression",
        n_classes=0,
        name="synthetic_regression",
        theta_true=np.concatenate([w, [intercept]]),
        scale_factor=s,
    )


def make_logistic(
    n: int = 200,
    d: int = 5,
    theta: np.ndarray | None = None,
    intercept: float = 0.0,
    condition_number: float = 1.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Binary logistic data: ``y ~ Bernoulli(sigmoid(x . w + b))`` with labels in ``{0, 1}``.

    Parameters
    ----------
    n : int, default=200
        Number of training rows.
    d : int, default=5
        Number of features.
    theta : ndarray of shape (d,) or None, default=None
        The weights ``w``; None draws ``w ~ N(0, I_d)``.
    intercept : float, default=0.0
        The intercept ``b``.
    condition_number : float, default=1.0
        Condition number of the design covariance (see :func:`make_regression`).
    n_test : int, default=1000
        Number of test rows.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling that keeps the decision function (``X / s``, ``w * s``).
    exact_design : bool, default=True
        Whitened training design as in :func:`make_regression`; requires ``n > d``.

    Returns
    -------
    Dataset
        ``task="binary"``, ``n_classes=2``, int64 labels, ``theta_true = [w, b]`` of shape
        (d + 1,). Both classes are not guaranteed to appear when ``|b|`` or ``||w||`` is extreme
        relative to ``n``.

    Notes
    -----
    The design is built as in :func:`make_regression`. ``theta_true`` is the generating
    parameter; a regularised fit converges to it only as ``n -> infinity`` and ``lam / n -> 0``.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    intercept = _check_real(intercept, "intercept")
    gen = _as_generator(rng)
    w = gen.standard_normal(d) if theta is None else _check_vector(theta, (d,), "theta")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = (gen.random(n) < _sigmoid(X @ w + intercept)).astype(np.int64)
    y_test = (gen.random(n_test) < _sigmoid(X_test @ w + intercept)).astype(np.int64)
    X, X_test, w, s = _maybe_scale(X, X_test, w, scale)
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="binary",
        n_classes=2,
        name="synthetic_logistic",
        theta_true=np.concatenate([w, [intercept]]),
        scale_factor=s,
    )


def _sample_categorical(logits: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """One draw per row from softmax(logits); logits of shape (m, K) -> labels (m,) int64."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)  # shape: (m, K)
    cum = np.cumsum(p, axis=1)  # shape: (m, K)
    u = gen.random(logits.shape[0])[:, None]  # shape: (m, 1)
    labels = (u >= cum[:, :-1]).sum(axis=1)
    return labels.astype(np.int64)


def make_multiclass_logistic(
    n: int = 300,
    d: int = 5,
    n_classes: int = 3,
    theta: np.ndarray | None = None,
    intercept: float | np.ndarray = 0.0,
    condition_number: float = 1.0,
    n_test: int = 1000,
    rng: np.random.Generator | int = 0,
    scale: bool = False,
    exact_design: bool = True,
) -> Dataset:
    """Multinomial logistic data: ``P(y = k | x) = softmax_k(W x + b)``.

    Parameters
    ----------
    n : int, default=300
        Number of training rows.
    d : int, default=5
        Number of features.
    n_classes : int, default=3
        Number of classes ``K >= 3`` (use :func:`make_logistic` for two classes).
    theta : ndarray of shape (K, d) or None, default=None
        The weight rows ``w_k``; None draws every entry from ``N(0, 1)``.
    intercept : float or ndarray of shape (K,), default=0.0
        The intercepts ``b_k`` (a scalar is broadcast; a common intercept does not change the
        class probabilities).
    condition_number : float, default=1.0
        Condition number of the design covariance (see :func:`make_regression`).
    n_test : int, default=1000
        Number of test rows.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    scale : bool, default=False
        Unit-ball scaling that keeps the logits (``X / s``, ``W * s``).
    exact_design : bool, default=True
        Whitened training design as in :func:`make_regression`; requires ``n > d``.

    Returns
    -------
    Dataset
        ``task="multiclass"``, int64 labels in ``{0, ..., K - 1}``, ``theta_true`` of shape
        (K * (d + 1),): the (K, d + 1) matrix of rows ``[w_k, b_k]`` flattened row by row.

    Notes
    -----
    The multinomial model is invariant to adding one vector to every row of ``[W, b]``;
    ``theta_true`` is the generating representative, not a normalised one.
    """
    n, d, n_test, condition_number = _check_synthetic_args(
        n, d, n_test, condition_number, exact_design
    )
    K = _check_int(n_classes, "n_classes", minimum=3)
    gen = _as_generator(rng)
    W = gen.standard_normal((K, d)) if theta is None else _check_vector(theta, (K, d), "theta")
    b = np.asarray(intercept, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(K, float(b))
    b = _check_vector(b, (K,), "intercept")
    X, X_test = _design(n, n_test, d, condition_number, exact_design, gen)
    y = _sample_categorical(X @ W.T + b, gen)  # logits shape: (n, K)
    y_test = _sample_categorical(X_test @ W.T + b, gen)
    X, X_test, W, s = _maybe_scale(X, X_test, W, scale)
    theta_true = np.concatenate([W, b[:, None]], axis=1).ravel()  # (K, d+1) row by row
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        task="multiclass",
        n_classes=K,
        name="synthetic_multiclass_logistic",
        theta_true=theta_true,
        scale_factor=s,
    )
