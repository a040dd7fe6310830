"""Learned set functions S -> theta(S): the DeepSets network, training pairs and ModelPred.

Parameters follow the sum convention of DESIGN.md: theta(S) minimises
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from .bases import BASES, ClassicalBase, ResidualGate
from .certify import certify, gsc_constant
from .model import PAPER_SETTINGS, ModelPred, relative_error
from .network import DeepSets, encode_points, pad_sets
from .pairs import TrainingPairs, data_fingerprint, generate_pairs, label_masks, sample_masks

__all__ = [
    "BASES",
    "ClassicalBase",
    "PAPER_SETTINGS",
    "ResidualGate",
    "certify",
    "gsc_constant",
    "DeepSets",
    "ModelPred",
    "TrainingPairs",
    "data_fingerprint",
    "encode_points",
    "generate_pairs",
    "label_masks",
    "pad_sets",
    "relative_error",
    "sample_masks",
]
