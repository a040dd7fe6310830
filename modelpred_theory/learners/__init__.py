"""Convex learners with exact (batched) solvers, under the sum convention of docs/design.md.

F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).

Layout (composition, see docs/design.md): ``losses`` (a pointwise loss per family),
``objective`` (the batched objective: value, gradient, Hessian, HVP, per-sample terms, the
optimality residual, the gauge), ``solvers`` (Newton, truncated Newton-CG, line search),
``fitting`` (fit, fit_subsets: chunks, joblib, device), the thin estimators (``ridge``,
``logistic``, ``svm`` on ``base``), ``interop`` / ``export`` (scikit-learn), and the public
helpers the other packages share: ``tensors``, ``validation``, ``numerics``, ``labels``.
"""

from ..exceptions import ConvergenceWarning
from .base import ConvexLearner
from .fitting import FitResult, SubsetFitResult
from .interop import from_sklearn, to_sklearn
from .logistic import LogisticRegression
from .losses import BinaryLogisticLoss, MultinomialLoss, SquaredHingeLoss, SquaredLoss
from .objective import Objective, optimality_residual
from .ridge import Ridge
from .svm import SquaredHingeSVM

__all__ = [
    "BinaryLogisticLoss",
    "ConvergenceWarning",
    "ConvexLearner",
    "FitResult",
    "LogisticRegression",
    "MultinomialLoss",
    "Objective",
    "Ridge",
    "SquaredHingeLoss",
    "SquaredHingeSVM",
    "SquaredLoss",
    "SubsetFitResult",
    "from_sklearn",
    "optimality_residual",
    "to_sklearn",
]
