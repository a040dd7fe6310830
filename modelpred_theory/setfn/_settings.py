"""Validated settings of a ModelPred (architecture, training, pair sampler): errors before work."""

from __future__ import annotations

import math

import numpy as np

from ..learners import base as _lbase
from .architectures import make_network

__all__ = ["auto_rho", "build_settings", "check_pos", "learner_from_spec"]


def check_pos(name, v, *, allow_zero=False, integer=False):
    """A positive (or non-negative) finite number / integer, else ValueError naming ``name``."""
    ok_type = (isinstance(v, int | np.integer) if integer
               else isinstance(v, int | float | np.number))
    if isinstance(v, bool) or not ok_type or not math.isfinite(float(v)):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {v!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return int(v) if integer else float(v)


def learner_from_spec(spec, where) -> _lbase.ConvexLearner:
    """Rebuild a learner from ``pairs.learner_spec`` output; ValueError naming ``where``."""
    from .. import learners

    if not isinstance(spec, dict) or "class" not in spec or "params" not in spec:
        raise ValueError(f"{where}: the learner entry is damaged")
    cls = getattr(learners, str(spec["class"]), None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, _lbase.ConvexLearner):
        raise ValueError(f"{where}: unknown learner class {spec['class']!r}")
    try:
        return cls(**spec["params"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: invalid learner parameters ({exc})") from None


def build_settings(*, width, phi_depth, rho_hidden, network, activation, regularize, kappa,
                   utility, weight_l1, weight_l2, n_unlabelled, lr, batch_size, epochs,
                   patience, eval_every, max_time, val_fraction, sampler, n_permutations,
                   n_subsets, min_size, max_size, step):
    """(arch, train_params, sampler_params) dicts, every value checked.

    ``network`` is ``architectures.arch_settings``'s dict (the architecture and its own
    settings), merged into ``arch``."""
    if not isinstance(regularize, bool):
        raise ValueError(f"regularize must be a bool, got {regularize!r}")
    if patience is not None:
        patience = check_pos("patience", patience, integer=True)
    if max_time is not None:
        max_time = check_pos("max_time", max_time)
    if not (isinstance(val_fraction, int | float) and 0 <= val_fraction < 1):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if sampler not in ("permutation", "random"):
        raise ValueError(f"sampler must be 'permutation' or 'random', got {sampler!r}")
    if isinstance(rho_hidden, str | bytes) or not hasattr(rho_hidden, "__iter__"):
        raise ValueError(f"rho_hidden must be a sequence of positive integers, got {rho_hidden!r}")
    arch = {"width": check_pos("width", width, integer=True),
            "phi_depth": check_pos("phi_depth", phi_depth, integer=True),
            "rho_hidden": [check_pos("rho_hidden", h, integer=True) for h in rho_hidden],
            "activation": activation, **network}
    make_network(2, 1, **arch)  # a throwaway network: bad architecture arguments fail now
    train = {
        "regularize": regularize, "kappa": check_pos("kappa", kappa, allow_zero=True),
        "utility": check_pos("utility", utility, allow_zero=True),
        "weight_l1": check_pos("weight_l1", weight_l1, allow_zero=True),
        "weight_l2": check_pos("weight_l2", weight_l2, allow_zero=True),
        "n_unlabelled": check_pos("n_unlabelled", n_unlabelled, allow_zero=True, integer=True),
        "lr": check_pos("lr", lr),
        "batch_size": check_pos("batch_size", batch_size, integer=True),
        "epochs": check_pos("epochs", epochs, integer=True), "patience": patience,
        "eval_every": check_pos("eval_every", eval_every, integer=True),
        "max_time": max_time, "val_fraction": float(val_fraction)}
    sampler_params = {
        "sampler": sampler,
        "n_permutations": check_pos("n_permutations", n_permutations, integer=True),
        "n_subsets": check_pos("n_subsets", n_subsets, integer=True),
        "min_size": None if min_size is None else check_pos("min_size", min_size, integer=True),
        "max_size": None if max_size is None else check_pos("max_size", max_size, integer=True),
        "step": check_pos("step", step, integer=True)}
    return arch, train, sampler_params


# rho_hidden="auto": the last hidden width is the number of singular values of the centred
# targets that leave at most this fraction of their energy (an RMS rank floor of 1e-3 relative).
_RANK_ENERGY = 1e-6


def auto_rho(targets: np.ndarray, width: int) -> list[int]:
    """rho hidden widths (width, width, r), r the energy rank of the centred targets (k, p).

    A last hidden layer of width r confines the predictions to an r-dimensional affine subspace,
    whose best RMS error is the tail of the singular values (Eckart-Young); r is the smallest
    width whose tail holds at most 1e-6 of the energy, clipped to [64, min(p, 4 width)].
    """
    R = targets - targets.mean(0)
    s = np.linalg.svd(R, compute_uv=False) if R.size else np.zeros(1)
    tail = np.cumsum(s[::-1] ** 2)[::-1] / max(float(np.sum(s**2)), 1e-300)
    r = int(np.sum(tail > _RANK_ENERGY))
    r = int(np.clip(r, 64, max(64, min(targets.shape[1], 4 * width))))
    return [width, width, r]
