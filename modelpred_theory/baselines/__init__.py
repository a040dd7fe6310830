"""Classical baselines for theta(S): exact leave-one-out, closed-form ridge LOO, influence
functions (first and second order, direct or conjugate-gradient solves), one exact Newton step,
linear datamodels, and ``compare`` to score them all against exact refits.

Sum convention everywhere: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2
(the regulariser does not change with |S|; C = 1/lam), so group influences carry no 1/n factors.
"""

from .compare import (
    DEFAULT_METHODS,
    METHODS,
    CompareResult,
    MethodResult,
    compare,
    format_table,
)
from .datamodels import Datamodel
from .ihvp import ihvp_cg
from .influence import influence, influence_matrix
from .loo import loo_exact, loo_ridge
from .newton import newton_step, newton_step_loo

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "CompareResult",
    "Datamodel",
    "MethodResult",
    "compare",
    "format_table",
    "ihvp_cg",
    "influence",
    "influence_matrix",
    "loo_exact",
    "loo_ridge",
    "newton_step",
    "newton_step_loo",
]
