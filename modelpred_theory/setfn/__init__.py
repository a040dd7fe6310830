"""Learned set functions S -> theta(S): the DeepSets network, training pairs and ModelPred.

Parameters follow the sum convention of docs/design.md: theta(S) minimises
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (C = 1/lam).
"""

from .architectures import ARCHS
from .bases import BASES, ClassicalBase, ResidualGate
from .cache import CacheWarning
from .certify import certificate_summary, certify, gsc_constant
from .engine import fit_subsets_parallel, map_chunks
from .model import PAPER_SETTINGS, ModelPred, relative_error
from .network import DeepSets, encode_points, pad_sets
from .pairs import TrainingPairs, data_fingerprint, generate_pairs, label_masks, sample_masks
from .set_transformer import SetTransformer

__all__ = [
    "ARCHS",
    "BASES",
    "CacheWarning",
    "ClassicalBase",
    "PAPER_SETTINGS",
    "ResidualGate",
    "certificate_summary",
    "certify",
    "gsc_constant",
    "DeepSets",
    "ModelPred",
    "SetTransformer",
    "TrainingPairs",
    "data_fingerprint",
    "encode_points",
    "fit_subsets_parallel",
    "generate_pairs",
    "label_masks",
    "map_chunks",
    "pad_sets",
    "relative_error",
    "sample_masks",
]
