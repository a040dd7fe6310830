"""Data attribution against exact ground truth: outputs, ground truth, evaluation, methods.

Sign convention (every attribution matrix in this package and every method follows it): for a
pool N of n training points and m test outputs f_j (see :mod:`.outputs`),

    scores[i, j] ~ f_j(theta(N)) - f_j(theta(N \\ {i})),

the contribution of INCLUDING training point i to test output j. The additive prediction of the
output of a subset S is g_j(S) = sum_{i in S} scores[i, j] (up to a constant that does not depend
on S), which is what the linear datamodeling score rates. ``GroundTruth.loo[i, j]`` is exactly
that difference, computed by exact retraining.

theta(S) is the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from .outputs import OUTPUTS, output_grads, outputs

__all__ = ["OUTPUTS", "output_grads", "outputs"]
