"""The demo's trained rows: every ModelPred variant on the same labelled pairs, in parallel.

Sum convention (docs/design.md): the labels are theta(S) = argmin sum_{i in S} loss_i(theta) +
lam/2 ||P theta||^2 (C = 1/lam). Each row is an independent training run (its own seed-local
torch.Generator), so the rows are trained in ``n_jobs`` joblib processes with
``torch_threads // n_jobs`` threads each: the networks are small, and two one-thread trainings
on two cores finish in the time of one two-thread training. A run's result depends on its
settings and on the thread count it ran with (recorded in the demo's config), not on which
process ran it or in what order.
"""

from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["demo_jobs", "model_specs", "train_models"]


def model_specs(cfg: dict) -> dict:
    """Name -> (ModelPred keyword arguments, row subset) of every trained row.

    The row subset is "all" (every labelled pair) or "small" (the first
    ``cfg["small_permutations"]`` permutations: the regulariser ablation at a small budget).
    """
    from .model import PAPER_SETTINGS

    paper = {**PAPER_SETTINGS, "epochs": min(PAPER_SETTINGS["epochs"], cfg["epochs"])}
    unl = {"n_unlabelled": cfg["n_unlabelled"]}
    hyb = cfg["hybrid_epochs"]
    return {
        "ModelPred (no base)": ({"base": None, "regularize": True, "epochs": cfg["epochs"],
                                 **unl}, "all"),
        "ModelPred (paper)": (paper, "all"),
        "ModelPred (Newton base)": ({"base": "newton", "epochs": hyb}, "all"),
        "ModelPred (influence base)": ({"base": "influence", "epochs": hyb}, "all"),
        "PARA": ({"base": None, "regularize": False, "epochs": cfg["epochs"]}, "all"),
        "ModelPred (small budget)": ({"base": None, "regularize": True,
                                      "epochs": cfg["small_epochs"], **unl}, "small"),
        "PARA (small budget)": ({"base": None, "regularize": False,
                                 "epochs": cfg["small_epochs"]}, "small"),
    }


def demo_jobs(n_jobs, quick: bool) -> int:
    """Processes for the trainings: n_jobs, or by default min(cores, 4) (1 for --quick)."""
    if n_jobs is None:
        return 1 if quick else max(1, min(os.cpu_count() or 1, 4))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    return int(n_jobs)


def _fit_one(learner, X, y, masks, thetas, groups, kw, seed, threads, progress):
    import torch

    from .model import ModelPred

    if threads is not None:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = ModelPred(learner, seed=seed, progress=progress, **kw).fit(
        X, y, masks=masks, thetas=thetas, groups=groups)
    return model, time.perf_counter() - t0


def train_models(learner, X, y, pairs, cfg, seed, progress, log, n_jobs: int = 1):
    """Train every row of :func:`model_specs`; returns (models, small_models, n_small, times).

    With n_jobs > 1 the rows run in joblib (loky) processes, longest first, each with
    max(1, torch threads // n_jobs) threads; tqdm bars only in the serial case.
    """
    import torch

    small = pairs.groups < cfg["small_permutations"]
    rows = {"all": (pairs.masks, pairs.thetas, pairs.groups),
            "small": (pairs.masks[small], pairs.thetas[small], pairs.groups[small])}
    specs = model_specs(cfg)
    if n_jobs > 1:
        from joblib import Parallel, delayed

        threads = max(1, torch.get_num_threads() // n_jobs)
        done = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_fit_one)(learner, X, y, *rows[part], kw, seed, threads, False)
            for kw, part in specs.values())
    else:
        done = [_fit_one(learner, X, y, *rows[part], kw, seed, None, progress)
                for kw, part in specs.values()]
    models, small_models, train_s = {}, {}, {}
    for (name, (_, part)), (model, secs) in zip(specs.items(), done, strict=True):
        train_s[name] = secs
        if part == "small":
            small_models[name.replace(" (small budget)", "")] = model
            continue
        models[name] = model
        log(f"[demo] trained {name} in {secs:.1f}s "
            f"(best val rel.err {model.meta_.get('best_val_score', float('nan')):.4f})")
    log(f"[demo] small-budget ablation trained on {int(small.sum())} pairs")
    order = ("ModelPred (Newton base)", "ModelPred (influence base)", "ModelPred (no base)",
             "PARA", "ModelPred (paper)")
    return {k: models[k] for k in order}, small_models, int(small.sum()), train_s
