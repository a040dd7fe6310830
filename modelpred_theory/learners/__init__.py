"""Convex learners with exact (batched) solvers, under the sum convention of DESIGN.md."""

from .base import ConvexLearner, FitResult, SubsetFitResult
from .logistic import LogisticRegression
from .objective import optimality_residual
from .ridge import Ridge
from .svm import SquaredHingeSVM

__all__ = [
    "ConvexLearner",
    "FitResult",
    "LogisticRegression",
    "Ridge",
    "SquaredHingeSVM",
    "SubsetFitResult",
    "optimality_residual",
]
