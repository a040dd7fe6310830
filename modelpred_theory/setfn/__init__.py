"""Learned set functions S -> theta(S): the DeepSets network, training pairs and ModelPred.

Parameters follow the sum convention of DESIGN.md: theta(S) minimises
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from .certify import certificate_summary, certify, gsc_constant
from .model import PAPER_SETTINGS, ModelPred, relative_error
from .network import DeepSets, encode_points, pad_sets
from .pairs import TrainingPairs, data_fingerprint, generate_pairs, label_masks, sample_masks

__all__ = [
    "PAPER_SETTINGS",
    "certificate_summary",
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
