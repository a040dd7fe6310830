"""The optimality condition, in one place: everything that needs it calls this function."""

from __future__ import annotations

import numpy as np

from ._validation import check_theta, check_weight_matrix
from .base import _as_tensor


def optimality_residual(learner, thetas, X, y, masks=None) -> np.ndarray:
    """||grad F_S(theta_k)|| for each row (sum convention; zero exactly at theta(S)).

    Parameters
    ----------
    learner : ConvexLearner
    thetas : ndarray of shape (k, p) or (p,)
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n), optional
        Subset masks or weights; None means the full pool for every theta.

    Returns
    -------
    ndarray of shape (k,)
    """
    X, y_enc, K = learner._prepare(X, y)
    T = check_theta(thetas, K * (X.shape[1] + 1), name="thetas")
    W = (np.ones((T.shape[0], X.shape[0])) if masks is None
         else check_weight_matrix(masks, X.shape[0]))
    if W.shape[0] != T.shape[0]:
        if W.shape[0] == 1:
            W = np.broadcast_to(W, (T.shape[0], W.shape[1]))
        else:
            raise ValueError(f"masks has {W.shape[0]} rows but thetas has {T.shape[0]}")
    Xt, yt = learner._tensors(X, y_enc)
    G = learner.batch_grad(_as_tensor(T), Xt, yt, _as_tensor(W), K)
    return G.norm(dim=1).numpy()
