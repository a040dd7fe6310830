"""L2 logistic regression (binary and multinomial) under the sum convention."""

from __future__ import annotations

import numpy as np
import torch

from .base import ConvexLearner


class LogisticRegression(ConvexLearner):
    """L2-regularised logistic regression, binary or multinomial (softmax).

    F_S(theta) = sum_i w_i CE(theta; x_i, y_i) + lam/2 ||P theta||^2, i.e. scikit-learn's
    ``LogisticRegression(C=1/lam)`` (which leaves the intercept unpenalised).

    Parameters
    ----------
    lam : float > 0
    n_classes : int, optional
        Number of classes K. None infers K = max(y) + 1 from the labels passed to each call
        (pass it explicitly when subsets may miss the top class). K <= 2 gives the binary model
        with theta = [w, b] (p = d + 1); K > 2 gives the multinomial model with theta the
        (K, d + 1) matrix of rows [w_k, b_k] flattened row by row (p = K (d + 1)).
    penalize_intercept : bool
        Penalise b (then F_S is lam-strongly convex in every direction).

    Notes
    -----
    Gauge of the multinomial model: the softmax is invariant to adding a constant to every
    class's margin. The weights are fixed by the penalty (at the optimum sum_k w_k = 0), but
    unpenalised intercepts are not; we fix the gauge sum_k b_k = 0 (centred intercepts), so
    theta(S) is unique and the Newton system is regularised along the null direction only.
    Labels: binary y in {0, 1}; multinomial y in {0, ..., K-1}.
    """

    name = "logistic"

    def __init__(self, lam: float = 1.0, *, n_classes: int | None = None,
                 penalize_intercept: bool = False, tol: float = 1e-10, max_iter: int = 100):
        super().__init__(lam, penalize_intercept=penalize_intercept, tol=tol, max_iter=max_iter)
        if n_classes is not None and not (isinstance(n_classes, int | np.integer)
                                          and n_classes >= 2):
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        self.n_classes = None if n_classes is None else int(n_classes)

    def get_params(self) -> dict:
        return {**super().get_params(), "n_classes": self.n_classes}

    def encode_y(self, y) -> np.ndarray:
        y = np.asarray(y)
        yf = y.astype(np.float64)
        if not np.all(np.isfinite(yf)) or np.any(yf != np.round(yf)) or np.any(yf < 0):
            raise ValueError("y must hold integer class labels in {0, ..., K-1}")
        yi = yf.astype(np.int64)
        K = self.n_classes if self.n_classes is not None else max(2, int(yi.max()) + 1)
        if yi.max() >= K:
            raise ValueError(f"y has label {int(yi.max())} outside {{0, ..., {K - 1}}}"
                             f" (n_classes={K})")
        if K == 2:
            return yi.astype(np.float64)
        return yi

    def n_outputs(self, y_enc) -> int:
        if y_enc.dtype == np.float64:
            return 1
        return self.n_classes if self.n_classes is not None else int(y_enc.max()) + 1

    def _needs_all_classes(self) -> bool:
        return not self.penalize_intercept

    def _link(self, Z, y, need):
        K = Z.shape[-1]
        if K == 1:
            z = Z[..., 0]  # shape: (k, n)
            loss = torch.nn.functional.softplus(z) - y * z
            if need == "loss":
                return loss
            s = torch.sigmoid(z)
            if need == "grad":
                return loss, (s - y)[..., None]
            return loss, (s - y)[..., None], (s * (1 - s))[..., None, None]
        lse = torch.logsumexp(Z, dim=-1)  # shape: (k, n)
        zy = torch.gather(Z, -1, y.expand(Z.shape[0], -1)[..., None])[..., 0]
        loss = lse - zy
        if need == "loss":
            return loss
        S = torch.softmax(Z, dim=-1)  # shape: (k, n, K)
        onehot = torch.nn.functional.one_hot(y, K).to(Z.dtype)
        dZ = S - onehot
        if need == "grad":
            return loss, dZ
        A = torch.diag_embed(S) - S[..., :, None] * S[..., None, :]  # shape: (k, n, K, K)
        return loss, dZ, A

    def _gauge_direction(self, d, K):
        if K == 1 or self.penalize_intercept:
            return None
        u = torch.zeros(K, d + 1, dtype=torch.float64)
        u[:, d] = 1.0 / np.sqrt(K)
        return u.reshape(-1)

    def _fix_gauge(self, Theta, d, K):
        if K == 1 or self.penalize_intercept:
            return Theta
        T3 = Theta.reshape(Theta.shape[0], K, d + 1).clone()
        T3[:, :, d] -= T3[:, :, d].mean(dim=1, keepdim=True)
        return T3.reshape(Theta.shape)

    def predict_proba(self, theta, X) -> np.ndarray:
        """Class probabilities: (n, 2) binary / (n, K) multinomial; leading k for (k, p)."""
        Z = self.decision_function(theta, X)
        K = np.shape(theta)[-1] // (np.shape(X)[1] + 1)
        if K > 1:
            return torch.softmax(torch.as_tensor(Z), dim=-1).numpy()
        s = 1.0 / (1.0 + np.exp(-Z))
        return np.stack([1 - s, s], axis=-1)

    def predict(self, theta, X) -> np.ndarray:
        """Predicted labels in {0, ..., K-1}."""
        return np.argmax(self.predict_proba(theta, X), axis=-1)

    def accuracy(self, theta, X, y) -> np.ndarray | float:
        """Fraction of correct labels; float for theta (p,), (k,) for (k, p)."""
        pred = self.predict(theta, X)
        acc = (pred == np.asarray(y)).mean(axis=-1)
        return float(acc) if np.ndim(theta) == 1 else acc
