"""What predicted models enable: data valuation, selection, memorisation and calibration.

Every application reads theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2 (DESIGN.md), from an *oracle*:
exact retraining (``"exact"``), first-order influence (``"influence"``), a utility predictor
(``"utility"``), ModelPred (``"modelpred"`` or a fitted model), or any object with
``predict(X, y, masks) -> (k, p)``. Each is compared with exact retraining.
"""

from .calibration import (
    EnsembleResult,
    calibration_metrics,
    expected_calibration_error,
    subset_ensemble,
)
from .memorization import MemorizationResult, memorization, per_point_scores
from .oracles import (
    ExactOracle,
    InfluenceOracle,
    SubsetUtility,
    UtilityPred,
    constant_predictor,
    resolve_oracle,
)
from .selection import AdditionCurve, SelectionCurve, greedy_addition, selection_curve
from .valuation import (
    NoisyLabelResult,
    ValuationResult,
    compare_values,
    data_shapley,
    detection_scores,
    exact_shapley,
    flip_labels,
    loo_from_utility,
    loo_values,
    noisy_label_detection,
    noisy_labels,
    shapley_from_utility,
)

__all__ = [
    "AdditionCurve",
    "EnsembleResult",
    "ExactOracle",
    "InfluenceOracle",
    "MemorizationResult",
    "NoisyLabelResult",
    "SelectionCurve",
    "SubsetUtility",
    "UtilityPred",
    "ValuationResult",
    "calibration_metrics",
    "compare_values",
    "constant_predictor",
    "data_shapley",
    "detection_scores",
    "exact_shapley",
    "expected_calibration_error",
    "flip_labels",
    "greedy_addition",
    "loo_from_utility",
    "loo_values",
    "memorization",
    "noisy_label_detection",
    "noisy_labels",
    "per_point_scores",
    "resolve_oracle",
    "selection_curve",
    "shapley_from_utility",
    "subset_ensemble",
]
