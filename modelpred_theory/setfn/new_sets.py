"""Predictions for sets of NEW points (not subsets of the pool): ``ModelPred.predict_sets``.

Sum convention (docs/design.md): theta(S) = argmin sum_{i in S} loss_i(theta) + lam/2
||P theta||^2 (C = 1/lam). The sets are padded into one batch with a mask (the DeepSets output
does not depend on the padding); both classical bases are functions of the set alone given the
pool fit theta(pool), and the gate uses t = 1 - m / n_pool.
"""

from __future__ import annotations

import numpy as np
import torch

from ..learners.validation import check_X
from .network import pad_sets

__all__ = ["predict_new_sets", "training_codes"]


def training_codes(model, y):
    """y encoded with the classes seen in training (a set may miss some of them)."""
    if model.classes_ is None or "classes" not in model.learner.get_params():
        return y
    params = {**model.learner.get_params(), "classes": list(model.classes_)}
    try:
        return type(model.learner)(**params).encode_y(y)
    except ValueError as exc:
        raise ValueError(f"y of the sets: {exc} (the model was trained with classes "
                         f"{list(model.classes_)})") from None


def predict_new_sets(model, sets) -> np.ndarray:
    """theta_hat(S_i) for sets [(X_1, y_1), ..., (X_k, y_k)] of new points: (k, p) float64."""
    model._check_fitted()
    if isinstance(sets, tuple) and len(sets) == 2 and np.ndim(sets[0]) == 2:
        raise ValueError("sets must be a list of (X_i, y_i) pairs; wrap a single set in a list")
    if not isinstance(sets, list | tuple) or len(sets) == 0:
        raise ValueError("sets must be a non-empty list of (X_i, y_i) pairs")
    Xs, ys = [], []
    for i, item in enumerate(sets):
        if not (isinstance(item, list | tuple) and len(item) == 2):
            raise ValueError(f"sets[{i}] must be a pair (X_i, y_i)")
        try:
            Xi = check_X(item[0], name=f"sets[{i}] X")
            model._encode(Xi, training_codes(model, item[1]))
        except ValueError as exc:
            raise ValueError(f"sets[{i}]: {exc}") from exc
        Xs.append(Xi)
        ys.append(np.asarray(item[1]))
    sizes = np.array([len(x) for x in Xs])
    X_all, y_enc, Z_all, K = model._encode(np.concatenate(Xs),
                                          training_codes(model, np.concatenate(ys)))
    ends = np.cumsum(sizes)
    Zp, mask = pad_sets([Z_all[e - m:e] for e, m in zip(ends, sizes, strict=True)])
    net, dev, dt = model._net_eval(), model._device, model._pred_dtype
    with torch.no_grad():
        g = net.forward_padded(torch.as_tensor(Zp, dtype=dt, device=dev),
                               torch.as_tensor(mask, dtype=dt, device=dev)).cpu().numpy()
    W = np.zeros((len(sets), X_all.shape[0]))
    for j, (e, m) in enumerate(zip(ends, sizes, strict=True)):
        W[j, e - m:e] = 1.0
    if model.base is not None:
        model.learner.check_existence(W, y_enc, K, "sets")
    B = model.base_.predict_new(X_all, y_enc, K, W)
    out = B + model.gate_(sizes)[:, None] * g
    return model.learner.fix_gauge(torch.as_tensor(out), X_all.shape[1], K).numpy()
