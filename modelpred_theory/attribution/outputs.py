"""The test outputs f_j(theta) every attribution explains, and their gradients in theta.

One definition, shared by the ground truth, the evaluation and every attribution method. For
a test point (x_j, y_j) and parameters theta (layout of docs/design.md: [w, b], or the (K, d+1)
matrix of rows [w_k, b_k] flattened row by row):

* ``"neg_loss"``: f_j(theta) = -loss(theta; x_j, y_j);
* ``"margin"`` (classifiers): f_j(theta) = z_{y_j}(x_j) - max_{c != y_j} z_c(x_j) for the
  multinomial model (z_c the class scores); for binary models (one decision value z) the signed
  decision value +z for the positive class, -z for the negative one.

theta is theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from __future__ import annotations

import numpy as np

__all__ = ["OUTPUTS", "check_output", "output_grads", "outputs"]

OUTPUTS = ("neg_loss", "margin")


def check_output(learner, kind: str) -> str:
    """Validate an output kind for ``learner``; raise ValueError naming ``output``."""
    if not isinstance(kind, str) or kind not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {kind!r}")
    if kind == "margin" and not hasattr(learner, "accuracy"):
        raise ValueError(f"output='margin' needs a classifier; {type(learner).__name__} is "
                         "not one (use output='neg_loss')")
    return kind


def outputs(learner, thetas, X_test, y_test, kind: str = "neg_loss") -> np.ndarray:
    """f_j(theta) for every parameter vector and test point.

    Parameters
    ----------
    learner : ConvexLearner
    thetas : ndarray of shape (k, p) or (p,)
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    kind : {"neg_loss", "margin"}

    Returns
    -------
    ndarray of shape (k, m)
        (1, m) for a single theta.

    Notes
    -----
    ``neg_loss``: f_j = -loss(theta; x_j, y_j). ``margin``: f_j = z_{y_j} - max_{c != y_j} z_c
    (multinomial), or s_j z_j with s_j = +1 for the positive class and -1 otherwise (binary).
    """
    check_output(learner, kind)
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    if kind == "neg_loss":
        return -np.atleast_2d(learner.per_sample_loss(thetas, X_test, y_test))
    Z = np.asarray(learner.decision_function(thetas, X_test))
    t = learner.encode_y(y_test)
    if Z.ndim == 2:  # binary: a single margin per point, class 1 positive
        sign = np.where(np.asarray(t) > 0, 1.0, -1.0)
        return Z * sign[None, :]
    ti = np.asarray(t).astype(int)
    true = np.take_along_axis(Z, ti[None, :, None], axis=2)[..., 0]  # shape: (k, m)
    other = Z.copy()
    np.put_along_axis(other, np.broadcast_to(ti[None, :, None], (Z.shape[0], Z.shape[1], 1)),
                      -np.inf, axis=2)
    return true - other.max(axis=2)


def output_grads(learner, theta, X_test, y_test, kind: str = "neg_loss") -> np.ndarray:
    """Gradient of each test output f_j with respect to theta, at one theta.

    Parameters
    ----------
    learner : ConvexLearner
    theta : ndarray of shape (p,)
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    kind : {"neg_loss", "margin"}

    Returns
    -------
    ndarray of shape (m, p)
        Row j is grad_theta f_j(theta).

    Notes
    -----
    ``neg_loss``: -grad loss(theta; x_j, y_j) (the per-sample gradients, no penalty).
    ``margin``, multinomial: with x~ = [x_j, 1], c* = argmax_{c != y_j} z_c (the first one on
    a tie, where f_j is not differentiable and this is one subgradient), the gradient is
    e_{y_j} (x) x~ - e_{c*} (x) x~ in the row-by-row (K, d+1) layout. Binary: s_j x~.
    Both margins are linear in theta away from ties, so finite differences reproduce them to
    rounding.
    """
    check_output(learner, kind)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must have shape (p,), got {theta.shape}")
    if kind == "neg_loss":
        return -np.asarray(learner.per_sample_grads(theta, X_test, y_test))
    Z = np.asarray(learner.decision_function(theta, X_test))  # (m,) or (m, K)
    Xt = np.asarray(X_test, dtype=np.float64)
    m = Xt.shape[0]
    Xa = np.hstack([Xt, np.ones((m, 1))])  # shape: (m, d+1)
    t = np.asarray(learner.encode_y(y_test))
    if Z.ndim == 1:
        sign = np.where(t > 0, 1.0, -1.0)
        return Xa * sign[:, None]
    K = Z.shape[1]
    ti = t.astype(int)
    other = Z.copy()
    other[np.arange(m), ti] = -np.inf
    ci = np.argmax(other, axis=1)
    G = np.zeros((m, K, Xa.shape[1]))  # shape: (m, K, d+1)
    G[np.arange(m), ti] = Xa
    G[np.arange(m), ci] -= Xa
    return G.reshape(m, -1)
