"""Convex learners with exact (batched) solvers, under the sum convention of docs/design.md.

F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from ..exceptions import ConvergenceWarning
from .base import ConvexLearner, FitResult, SubsetFitResult
from .interop import from_sklearn, to_sklearn
from .logistic import LogisticRegression
from .objective import optimality_residual
from .ridge import Ridge
from .svm import SquaredHingeSVM

__all__ = [
    "ConvergenceWarning",
    "ConvexLearner",
    "FitResult",
    "LogisticRegression",
    "Ridge",
    "SquaredHingeSVM",
    "SubsetFitResult",
    "from_sklearn",
    "optimality_residual",
    "to_sklearn",
]
