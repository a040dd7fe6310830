"""Data valuation (kept for existing imports): the names now live in focused modules.

- :mod:`.results` - ValuationResult, ValuationState (resumable), compare_values;
- :mod:`.stopping` - stopping rules; :mod:`.samplers` - permutation, antithetic, stratified;
- :mod:`.semivalues` - Monte-Carlo Shapley / Beta Shapley / Banzhaf (MSR) of any utility;
- :mod:`.exact` - exact Shapley, Banzhaf and Beta Shapley by enumeration, LOO;
- :mod:`.estimators` - learner-level data_shapley, beta_shapley, banzhaf, loo_values;
- :mod:`.knn` - KNN-Shapley; :mod:`.oob` - Data-OOB; :mod:`.lds` - the LDS metric;
- :mod:`.noisy` - noisy-label detection.

Values are semivalues of U(S), a test score of theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).
"""

from __future__ import annotations

from .engine import call_utility as _call_utility  # noqa: F401
from .estimators import banzhaf, beta_shapley, data_shapley, loo_values
from .exact import exact_banzhaf, exact_beta_shapley, exact_shapley, loo_from_utility
from .knn import knn_shapley
from .noisy import (
    NoisyLabelResult,
    detection_scores,
    flip_labels,
    noisy_label_detection,
    noisy_labels,
)
from .oob import data_oob
from .results import ValuationResult, ValuationState, compare_values
from .semivalues import banzhaf_from_utility, shapley_from_utility

__all__ = [
    "NoisyLabelResult",
    "ValuationResult",
    "ValuationState",
    "banzhaf",
    "banzhaf_from_utility",
    "beta_shapley",
    "compare_values",
    "data_oob",
    "data_shapley",
    "detection_scores",
    "exact_banzhaf",
    "exact_beta_shapley",
    "exact_shapley",
    "flip_labels",
    "knn_shapley",
    "loo_from_utility",
    "loo_values",
    "noisy_label_detection",
    "noisy_labels",
    "shapley_from_utility",
]
