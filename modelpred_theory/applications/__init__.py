"""What predicted models enable: data valuation, selection, memorisation and calibration.

Every application reads theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md), from an
*oracle*: exact retraining (``"exact"``), first-order influence (``"influence"``), one Newton
step (``"newton"``), a utility predictor (``"utility"``), ModelPred (``"modelpred"``,
``"modelpred:<base>"`` or a fitted model), or any object with ``predict(X, y, masks) -> (k, p)``.
Each is compared with exact retraining.

Data values: :func:`data_shapley` (permutation, antithetic or size-stratified sampling),
:func:`beta_shapley`, :func:`banzhaf` (MSR), :func:`knn_shapley`, :func:`data_oob`,
:func:`loo_values`; exact enumeration :func:`exact_shapley`, :func:`exact_banzhaf`; every
Monte-Carlo estimate carries per-point standard errors, a stopping rule and a resumable state;
:func:`lds` rates any attribution by the linear datamodeling score.
"""

from .calibration import (
    EnsembleResult,
    calibration_metrics,
    expected_calibration_error,
    subset_ensemble,
)
from .estimators import banzhaf, beta_shapley, data_shapley, loo_values
from .exact import (
    exact_banzhaf,
    exact_beta_shapley,
    exact_semivalue,
    exact_shapley,
    loo_from_utility,
)
from .knn import knn_shapley, knn_utility
from .lds import LDSResult, attributions, lds
from .memorization import MemorizationResult, memorization, per_point_scores
from .noisy import (
    NoisyLabelResult,
    detection_scores,
    flip_labels,
    noisy_label_detection,
    noisy_labels,
)
from .oob import data_oob
from .oracles import (
    ExactOracle,
    InfluenceOracle,
    NewtonOracle,
    SubsetUtility,
    UtilityPred,
    constant_predictor,
)
from .resolve import resolve_oracle
from .results import ValuationResult, ValuationState, compare_values
from .selection import AdditionCurve, SelectionCurve, greedy_addition, selection_curve
from .semivalues import (
    banzhaf_from_utility,
    beta_size_weights,
    semivalue_from_utility,
    shapley_from_utility,
    size_probabilities,
)
from .stopping import AnyOf, FixedBudget, RankStability, TargetStderr, WallClock, parse_stopping

__all__ = [
    "AdditionCurve",
    "AnyOf",
    "EnsembleResult",
    "ExactOracle",
    "FixedBudget",
    "InfluenceOracle",
    "LDSResult",
    "MemorizationResult",
    "NewtonOracle",
    "NoisyLabelResult",
    "RankStability",
    "SelectionCurve",
    "SubsetUtility",
    "TargetStderr",
    "UtilityPred",
    "ValuationResult",
    "ValuationState",
    "WallClock",
    "attributions",
    "banzhaf",
    "banzhaf_from_utility",
    "beta_shapley",
    "beta_size_weights",
    "calibration_metrics",
    "compare_values",
    "constant_predictor",
    "data_oob",
    "data_shapley",
    "detection_scores",
    "exact_banzhaf",
    "exact_beta_shapley",
    "exact_semivalue",
    "exact_shapley",
    "expected_calibration_error",
    "flip_labels",
    "greedy_addition",
    "knn_shapley",
    "knn_utility",
    "lds",
    "loo_from_utility",
    "loo_values",
    "memorization",
    "noisy_label_detection",
    "noisy_labels",
    "parse_stopping",
    "per_point_scores",
    "resolve_oracle",
    "selection_curve",
    "semivalue_from_utility",
    "shapley_from_utility",
    "size_probabilities",
    "subset_ensemble",
]
