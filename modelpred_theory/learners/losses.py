"""Pointwise losses: one per family, its value and derivatives in the margin, nothing else.

A learner minimises F_S(theta) = sum_i w_i loss(z_i; y_i) + (lam / 2) ||P theta||^2 with the
margins z_i = theta [x_i, 1] (K of them per point; see docs/design.md). The loss sees only the
margins Z and the encoded labels y; the objective (``objective.Objective``) turns its derivatives
into gradients, Hessians and Hessian-vector products, and the solvers never see it. Adding a
learner is adding one class here (or in its own file) with:

- ``derivatives(Z, y, need)``: from margins Z (k, n, K) and labels y (n,),

  * need "loss": the per-sample losses (k, n);
  * need "grad": (loss (k, n) or None, dZ (k, n, K)), dZ = d loss / dZ;
  * need "hess": (loss, dZ, A), A (k, n, K, K) = d^2 loss / dZ^2 (a generalised second
    derivative where the loss is only once differentiable);
  * need "curv": as "hess", the loss may be None (a loss whose value costs more than its
    derivatives skips it there);

- the class attributes ``quadratic`` (True when A does not depend on Z: one Newton step is exact),
  ``piecewise_quadratic`` (optional, default False: True when A is piecewise constant in Z, so the
  quadratic model is exact on each piece and truncated Newton solves its steps tightly, see
  ``solvers.newton``) and ``shift_invariant`` (True when adding a constant to every margin of a
  point leaves the loss unchanged: the objective then has a gauge direction, see
  ``Objective.gauge_direction``);
- optionally ``probabilities(dZ, y)``: a (k, n, K) tensor S such that A_i = diag(s_i) - s_i s_i^T,
  which lets the truncated-Newton solver apply the curvature in O(K) per point.

The derivatives must be exact: tests check them against finite differences and the fits against
scikit-learn (tests/test_learners.py) and the identity tests (duplicated rows = doubled weights,
permutations, full set = full fit) hold for any loss written this way.
"""

from __future__ import annotations

import torch


class SquaredLoss:
    """loss(z; y) = (z - y)^2 / 2 (ridge): dZ = z - y, A = 1."""

    quadratic = True
    piecewise_quadratic = False
    shift_invariant = False

    def derivatives(self, Z, y, need):
        r = Z[..., 0] - y  # shape: (k, n)
        loss = 0.5 * r**2
        if need == "loss":
            return loss
        if need == "grad":
            return loss, r[..., None]
        return loss, r[..., None], torch.ones_like(Z)[..., None]


class BinaryLogisticLoss:
    """loss(z; y) = log(1 + e^z) - y z for y in {0, 1}: dZ = s - y, A = s (1 - s), s = sigmoid(z).

    The loss (float64 softplus, several times the cost of the derivatives) is skipped where the
    caller does not need it ("grad", "curv").
    """

    quadratic = False
    piecewise_quadratic = False
    shift_invariant = False

    def derivatives(self, Z, y, need):
        z = Z[..., 0]  # shape: (k, n)
        if need in ("grad", "curv"):
            s = torch.sigmoid(z)
            if need == "grad":
                return None, (s - y)[..., None]
            return None, (s - y)[..., None], (s * (1 - s))[..., None, None]
        loss = torch.nn.functional.softplus(z) - y * z
        if need == "loss":
            return loss
        s = torch.sigmoid(z)
        return loss, (s - y)[..., None], (s * (1 - s))[..., None, None]


class MultinomialLoss:
    """Softmax cross-entropy, loss(z; y) = logsumexp(z) - z_y for y in {0, ..., K-1}.

    dZ = s - onehot(y), A = diag(s) - s s^T with s = softmax(z); invariant to adding a constant to
    every margin (``shift_invariant``). The loss (float64 logsumexp) is skipped where the caller
    does not need it ("grad", "curv").
    """

    quadratic = False
    piecewise_quadratic = False
    shift_invariant = True

    def derivatives(self, Z, y, need):
        K = Z.shape[-1]
        loss = None
        if need not in ("grad", "curv"):
            lse = torch.logsumexp(Z, dim=-1)  # shape: (k, n)
            zy = torch.gather(Z, -1, y.expand(Z.shape[0], -1)[..., None])[..., 0]
            loss = lse - zy
            if need == "loss":
                return loss
        S = torch.softmax(Z, dim=-1)  # shape: (k, n, K)
        onehot = torch.nn.functional.one_hot(y, K).to(Z.dtype)
        dZ = S - onehot
        if need == "grad":
            return None, dZ
        A = torch.diag_embed(S) - S[..., :, None] * S[..., None, :]  # shape: (k, n, K, K)
        return loss, dZ, A

    def probabilities(self, dZ, y):
        """Class probabilities S (k, n, K) from dZ = S - onehot(y): the curvature is
        A_i = diag(s_i) - s_i s_i^T, applied in O(K) per point without forming it."""
        return dZ + torch.nn.functional.one_hot(y, dZ.shape[-1]).to(dZ.dtype)


class SquaredHingeLoss:
    """loss(z; y) = max(0, 1 - y z)^2 for y in {-1, +1}: dZ = -2 y max(0, 1 - y z),
    A = 2 [1 - y z > 0] (the generalised second derivative; the loss is C^1, piecewise quadratic).
    """

    quadratic = False
    piecewise_quadratic = True
    shift_invariant = False

    def derivatives(self, Z, y, need):
        m = 1.0 - y * Z[..., 0]  # shape: (k, n)
        h = torch.clamp(m, min=0.0)
        loss = h**2
        if need == "loss":
            return loss
        dZ = (-2.0 * y * h)[..., None]
        if need == "grad":
            return loss, dZ
        A = (2.0 * (m > 0).to(Z.dtype))[..., None, None]
        return loss, dZ, A
