"""Warnings and exceptions of modelpred-theory (re-exported as ``modelpred_theory.*``)."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning

__all__ = ["ConvergenceWarning", "ForeignPoolWarning"]


class ConvergenceWarning(_SkConvergenceWarning):
    """An exact solver stopped before its optimality residual met the tolerance.

    Raised as a warning by ``learner.fit``, ``learner.fit_subsets``, ``baselines.loo_exact``
    and everything built on them; the message names how many subsets did not converge and the
    worst residual ||grad F_S(theta)||. A subclass of scikit-learn's ConvergenceWarning, so
    ``warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)`` covers
    both libraries.
    """


class ForeignPoolWarning(UserWarning):
    """A fitted ModelPred was asked about subsets of a pool other than its training pool.

    The learned correction was trained on the residuals of another pool (the data fingerprint
    differs: other rows, or the same rows with changed labels); ``ModelPred.predict`` then falls
    back to the classical base by default and the message gives the relative change of the
    pool fit, the scale of the error the correction may add.
    """
