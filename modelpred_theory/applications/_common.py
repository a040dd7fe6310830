"""Validation, seed streams and constants shared by the applications (private module).

Sum convention (docs/design.md): theta(S) minimises
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..learners.validation import check_X, check_y_shape

METRICS = ("neg_loss", "accuracy")
ORACLE_NAMES = ("exact", "influence", "newton", "utility", "modelpred")
# ModelPred bases an oracle spec "modelpred:<base>" may name (forwarded as ModelPred(base=...)).
MODELPRED_BASES = ("none", "influence", "newton")

# Seed-stream ids: derived generators for different purposes never share draws, so e.g. the
# permutations valued by data_shapley(seed=s) differ from those ModelPred(seed=s) trains on.
STREAM_PERMUTATIONS = 101
STREAM_UTILITY_TRAIN = 102
STREAM_MODELPRED = 103
STREAM_LABEL_NOISE = 104
STREAM_SUBSETS = 105


def derived_rng(seed: int, stream: int) -> np.random.Generator:
    """A generator for one purpose (``stream``) derived from an integer ``seed``."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream),)))


# ----------------------------------------------------------------------------------------------
# validation shared by the applications
# ----------------------------------------------------------------------------------------------
def check_data(learner, X, y, X_test=None, y_test=None):
    """Validate the pool (and an evaluation set) for ``learner``; raise ValueError naming them.

    Returns float64 ``X`` (n, d), ``y`` (n,), and ``X_test`` (m, d), ``y_test`` (m,) when given;
    a classifier's ``y_test`` comes encoded with the training classes (``learner.encode_like``):
    a test label never seen in training is refused, a test set missing a class is accepted.
    """
    if not hasattr(learner, "fit_subsets") or not hasattr(learner, "prepare"):
        raise ValueError(f"learner must be a modelpred_theory learner, got {type(learner)!r}")
    Xc, y_enc, _ = learner.prepare(X, y)
    y = np.asarray(y)
    if Xc.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 points, got {Xc.shape[0]}")
    if X_test is None and y_test is None:
        return Xc, y
    if X_test is None or y_test is None:
        raise ValueError("X_test and y_test must be given together")
    Xt = check_X(X_test, name="X_test")
    if Xt.shape[1] != Xc.shape[1]:
        raise ValueError(f"X_test has {Xt.shape[1]} features, X has {Xc.shape[1]}")
    check_y_shape(y_test, Xt.shape[0], name="y_test", numeric=learner.numeric_y)
    yt = learner.encode_like(y_test, y_enc, name="y_test")
    return Xc, y, Xt, (yt if getattr(y_enc, "classes_", None) is not None else np.asarray(y_test))


def check_metric(learner, metric: str) -> str:
    """Validate the utility metric for ``learner``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "accuracy" and not hasattr(learner, "accuracy"):
        raise ValueError(f"metric='accuracy' needs a classifier; {type(learner).__name__} is not")
    return metric


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
