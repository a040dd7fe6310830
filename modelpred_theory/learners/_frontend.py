"""The numpy front end of the learners (a mixin of ConvexLearner): validate, call the math.

Every method validates its arguments (raising ValueError naming them before any work), converts
to float64 tensors and calls the batched functions of ``_math``. Sum convention:
F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 (see docs/design.md).
"""

from __future__ import annotations

import numpy as np
import torch

from ._tensors import DTYPE, _as_tensor, augment
from ._validation import check_sample_weight, check_theta, check_X


class FrontEnd:
    """Objective, gradients, Hessians, HVPs and margins on numpy inputs."""

    def _tensors(self, X, y_enc, device=None):
        """(X, y_enc) as tensors: X float64 (n, d), y float64 or int64 (n,)."""
        Xt = _as_tensor(X, device=device)
        yt = torch.as_tensor(np.ascontiguousarray(np.asarray(y_enc)))
        if yt.is_floating_point():
            yt = yt.to(DTYPE)
        return Xt, (yt if device is None else yt.to(device))

    def _theta_for(self, theta, X, K, name="theta"):
        p = K * (X.shape[1] + 1)
        try:
            return check_theta(theta, p, name=name)
        except ValueError as exc:
            try:
                last = np.shape(theta)[-1:]
            except ValueError:  # ragged: the message of check_theta says it all
                raise exc from None
            if K > 1 or last != (p,):
                raise ValueError(f"{exc} (p = K (d + 1) with K = {K} output(s) for these "
                                 "labels; pass n_classes / classes to the learner when the "
                                 "labels do not show every class)") from None
            raise

    def loss(self, theta, X, y, sample_weight=None) -> float:
        """The objective F_S(theta) (sum convention, penalty included)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = self._theta_for(theta, X, K)
        Xt, yt = self._tensors(X, y_enc)
        return float(self.batch_objective(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0])

    def per_sample_loss(self, theta, X, y) -> np.ndarray:
        """Unweighted losses loss(theta; x_i, y_i): (n,) for theta (p,), (k, n) for (k, p)."""
        X, y_enc, K = self._prepare(X, y)
        T = self._theta_for(theta, X, K)
        Xt, yt = self._tensors(X, y_enc)
        out = self.batch_per_sample_loss(_as_tensor(T), Xt, yt, K).numpy()
        return out[0] if np.ndim(theta) == 1 else out

    def mean_loss(self, theta, X, y) -> np.ndarray | float:
        """Mean unweighted loss over (X, y) (the test loss): float, or (k,) for (k, p)."""
        out = np.asarray(self.per_sample_loss(theta, X, y))
        return float(out.mean()) if out.ndim == 1 else out.mean(axis=1)

    def grad(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """grad F_S(theta): (p,)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = self._theta_for(theta, X, K)
        Xt, yt = self._tensors(X, y_enc)
        return self.batch_grad(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0].numpy()

    def per_sample_grads(self, theta, X, y) -> np.ndarray:
        """Gradients of the unweighted losses loss(theta; x_i, y_i) (no penalty): (n, p)."""
        X, y_enc, K = self._prepare(X, y)
        T = self._theta_for(theta, X, K)
        if T.shape[0] != 1:
            raise ValueError("per_sample_grads takes a single theta of shape (p,)")
        Xt, yt = self._tensors(X, y_enc)
        Xa = augment(Xt)
        _, dZ = self._link(self._margins(_as_tensor(T), Xa, K), yt, "grad")
        return torch.einsum("nc,nj->ncj", dZ[0], Xa).reshape(X.shape[0], -1).numpy()

    def hessian(self, theta, X, y, sample_weight=None) -> np.ndarray:
        """Hessian of F_S at theta (generalised Hessian for the SVM): (p, p)."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        T = self._theta_for(theta, X, K)
        Xt, yt = self._tensors(X, y_enc)
        return self.batch_hessian(_as_tensor(T), Xt, yt, _as_tensor(w)[None], K)[0].numpy()

    def hvp(self, theta, v, X, y, sample_weight=None) -> np.ndarray:
        """Hessian-vector product H_S(theta) v: (p,) (or (k, p) for v of shape (k, p))."""
        X, y_enc, K = self._prepare(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        p = K * (X.shape[1] + 1)
        T = self._theta_for(theta, X, K)
        V = check_theta(v, p, name="v")
        if T.shape[0] not in (1, V.shape[0]):
            raise ValueError(f"theta has {T.shape[0]} rows but v has {V.shape[0]}")
        Xt, yt = self._tensors(X, y_enc)
        T = np.broadcast_to(T, V.shape)
        W = _as_tensor(np.broadcast_to(w, (V.shape[0], w.shape[0])))
        out = self.batch_hvp(_as_tensor(T), _as_tensor(V), Xt, yt, W, K).numpy()
        return out[0] if np.ndim(v) == 1 else out

    def decision_function(self, theta, X) -> np.ndarray:
        """Margins: (n,) for K = 1, (n, K) for multinomial; (k, n[, K]) for theta (k, p)."""
        X = check_X(X)
        q = X.shape[1] + 1
        if np.ndim(theta) not in (1, 2):
            raise ValueError(f"theta must have shape (p,) or (k, p), got {np.shape(theta)}")
        T = check_theta(theta, np.shape(theta)[-1])
        if T.shape[-1] % q:
            raise ValueError(f"theta has {T.shape[-1]} entries, not a multiple of d+1={q} "
                             f"(X has d={q - 1} features)")
        K = T.shape[-1] // q
        Z = self._margins(_as_tensor(T), augment(_as_tensor(X)), K).numpy()
        if K == 1:
            Z = Z[..., 0]
        return Z[0] if np.ndim(theta) == 1 else Z

    def optimality_residual(self, theta, X, y, sample_weight=None) -> float:
        """||grad F_S(theta)||, the optimality residual (zero exactly at theta(S))."""
        from .objective import optimality_residual

        if sample_weight is not None:
            X_ = check_X(X)
            sample_weight = check_sample_weight(sample_weight, X_.shape[0])[None]
        return float(optimality_residual(self, np.asarray(theta)[None], X, y, sample_weight)[0])
