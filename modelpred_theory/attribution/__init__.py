"""Data attribution against exact ground truth: outputs, ground truth, evaluation, ceiling.

Sign convention (every attribution matrix in this package and every method follows it): for a
pool N of n training points and m test outputs f_j (see :mod:`.outputs`),

    scores[i, j] ~ f_j(theta(N)) - f_j(theta(N \\ {i})),

the contribution of INCLUDING training point i to test output j. The additive prediction of the
output of a subset S is g_j(S) = sum_{i in S} scores[i, j] (up to a constant that does not depend
on S), which is what the linear datamodeling score rates. ``GroundTruth.loo[i, j]`` is exactly
that difference, computed by exact retraining.

* :func:`ground_truth` -> :class:`GroundTruth`: exact outputs on held-out subsets and exact
  leave-one-out effects (resumable, any joblib engine, bit-identical; ``save`` / ``load`` a
  documented ``.npz``);
* :func:`evaluate` -> :class:`AttributionScore`: LDS with its standard error, LOO correlation,
  group-removal counterfactuals, for a score matrix from any tool;
* :func:`additive_ceiling` -> :class:`Ceiling`: the best LDS an additive attribution reaches;
* :func:`attribute` (``method`` one of :data:`METHODS`): the attribution methods, one module per
  family in :mod:`.methods`.

theta(S) is the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from .ceiling import Ceiling, additive_ceiling, fit_datamodel
from .evaluate import AttributionScore, Counterfactual, evaluate
from .ground_truth import GroundTruth, ground_truth
from .methods import METHODS, attribute
from .outputs import OUTPUTS, output_grads, outputs

__all__ = ["AttributionScore", "Ceiling", "Counterfactual", "GroundTruth", "METHODS", "OUTPUTS",
           "additive_ceiling", "attribute", "evaluate", "fit_datamodel", "ground_truth",
           "output_grads", "outputs"]
