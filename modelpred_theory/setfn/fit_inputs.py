"""The pairs ModelPred.fit trains on: generated or given, labels checked for optimality.

Labels are theta(S) = argmin sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam;
docs/design.md). Given labels are checked with the learner's own optimality residual.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import subsets as _subsets
from ..learners.objective import optimality_residual
from .pairs import generate_pairs, label_masks, sample_masks

__all__ = ["check_labels", "labelled_pairs", "unlabelled_masks"]

# Labels whose relative optimality residual ||grad F_S|| / max(1, ||grad F_S(0)||) exceeds this
# are refused (they are not minimisers); above _WARN_RESIDUAL they are accepted with a warning.
# Reason: exact labels reach ~1e-10; 1e-7 still gives parameters accurate to ~1e-7 / mu_S.
_MAX_RESIDUAL = 1e-4
_WARN_RESIDUAL = 1e-7


def check_labels(learner, X, y, M, T) -> None:
    """Refuse (or warn about) labels T (k, p) that are not minimisers of F_S on masks M (k, n)."""
    gn = optimality_residual(learner, T, X, y, M)
    rel = gn / (learner.residual_tolerance(X, y, M) / learner.tol)
    worst = int(np.argmax(rel))
    bad = np.flatnonzero(rel > _MAX_RESIDUAL)
    if bad.size:
        raise ValueError(
            f"thetas are not minimisers of the learner's objective on their masks: {bad.size} "
            f"of {len(T)} rows have a relative optimality residual above {_MAX_RESIDUAL:g} "
            f"(worst row {worst}: {rel[worst]:.3g}); pass thetas=None to label the masks exactly")
    if rel[worst] > _WARN_RESIDUAL:
        warnings.warn(f"thetas are inexact minimisers: worst relative optimality residual "
                      f"{rel[worst]:.3g} (row {worst})", stacklevel=4)


def labelled_pairs(model, X, y, K, masks, thetas, groups):
    """(masks (k, n), thetas (k, p), groups (k,), TrainingPairs or None) for ``model.fit``."""
    n, p = X.shape[0], K * (X.shape[1] + 1)
    if masks is None:
        if thetas is not None or groups is not None:
            raise ValueError("thetas/groups were given without masks")
        pairs = generate_pairs(model.learner, X, y, rng=model.seed, cache_dir=model.cache_dir,
                               progress=model.progress, n_jobs=model.n_jobs,
                               device=model.label_device, **model.sampler_params)
        return pairs.masks, pairs.thetas, pairs.groups, pairs
    M = _subsets.check_masks(masks, n)
    k = M.shape[0]
    if groups is None:
        G = np.arange(k)
    else:
        G = np.asarray(groups)
        if G.shape != (k,):
            raise ValueError(f"groups must have shape ({k},), got {G.shape}")
    if thetas is None:
        T, _, _ = label_masks(model.learner, X, y, M, cache_dir=model.cache_dir,
                              progress=model.progress, n_jobs=model.n_jobs,
                              device=model.label_device)
        return M, T, G, None
    T = np.asarray(thetas, dtype=np.float64)
    if T.shape != (k, p):
        raise ValueError(f"thetas must have shape ({k}, {p}) to match masks, got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError("thetas contains NaN or inf")
    check_labels(model.learner, X, y, M, T)
    return M, T, G, None


def unlabelled_masks(model, X, y_enc, K, M, unlabelled):
    """Subsets for R_opt only: the given ones (checked), ``n_unlabelled`` random ones, or None."""
    n = X.shape[0]
    if unlabelled is not None:
        U = _subsets.check_masks(unlabelled, n)
        model.learner.check_existence(U.astype(np.float64), y_enc, K, "unlabelled")
        return U
    if model.train_params["n_unlabelled"] > 0:
        sizes = M.sum(1)
        U, _ = sample_masks(n, y_enc, sampler="random",
                            n_subsets=model.train_params["n_unlabelled"],
                            min_size=int(sizes.min()), max_size=int(sizes.max()),
                            require_all_classes=bool(model.learner.needs_all_classes()),
                            rng=model.seed + 1)
        return U
    return None
