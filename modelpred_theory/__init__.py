"""modelpred-theory: how does a trained convex model theta(S) depend on its training set S?

Exact solvers give the ground truth theta(S) (sum convention: F_S(theta) = sum_{i in S} w_i
loss_i(theta) + lam/2 ||P theta||^2, C = 1/lam), classical approximations sit beside the learned
set-function predictor ModelPred, and every claim is checked numerically.
"""

from __future__ import annotations

from importlib import import_module

from . import datasets, learners, subsets
from .exceptions import ConvergenceWarning

__version__ = "0.1.0"

_LAZY = {
    "baselines": ("modelpred_theory.baselines", None),
    "setfn": ("modelpred_theory.setfn", None),
    "applications": ("modelpred_theory.applications", None),
    "attribution": ("modelpred_theory.attribution", None),
    "ModelPred": ("modelpred_theory.setfn", "ModelPred"),
    "certify": ("modelpred_theory.setfn", "certify"),
}


def __getattr__(name):
    """Import the torch-heavy parts on first use (keeps `import modelpred_theory` light)."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'modelpred_theory' has no attribute {name!r}")


__all__ = ["datasets", "learners", "subsets", "baselines", "setfn", "applications",
           "attribution", "ModelPred", "certify", "ConvergenceWarning", "__version__"]
