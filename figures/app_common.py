"""Shared helpers of the figures/app_*.py scripts (argument parsing, outputs, ModelPred cache).

Not a figure itself. Outputs go to figures/output/ (git-ignored) unless --out is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parent / "output"

# ModelPred settings. Full runs: 200 permutation prefixes of the pool (30,000 exact pairs for
# 150 points) and 200 epochs, about 4 minutes on 2 cores for breast_cancer. Quick runs only
# check that the pipeline works end to end.
MODELPRED_FULL = {"n_permutations": 200, "epochs": 200}
MODELPRED_QUICK = {"n_permutations": 3, "epochs": 2}


def parse_args(argv, description: str) -> argparse.Namespace:
    """--quick (a few seconds), --out DIR, --seed S, --no-modelpred."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    p.add_argument("--out", default=str(OUTPUT), help="output folder (default figures/output)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--no-modelpred", action="store_true",
                   help="skip the ModelPred oracle (no network training)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    args = p.parse_args(argv)
    if args.seed < 0:
        p.error("--seed must be >= 0")
    return args


def setup_torch() -> None:
    """One torch thread: on a shared 2-core machine, two spinning OpenMP threads per process
    slow batched solves down by up to an order of magnitude and make timings meaningless."""
    import torch

    torch.set_num_threads(1)


def modelpred(learner, X, y, args, tag: str):
    """A fitted ModelPred for (X, y), cached under OUT/_cache; (model, train_seconds, status).

    Returns (None, 0.0, reason) when ModelPred is unavailable or disabled. ``train_seconds`` is
    the training time measured when the model was trained (stored with the cache), so reruns
    report the true cost.
    """
    if args.no_modelpred:
        return None, 0.0, "disabled (--no-modelpred)"
    try:
        from modelpred_theory.setfn import ModelPred
    except ImportError as exc:  # pragma: no cover - setfn is part of the package
        return None, 0.0, f"unavailable: {exc}"
    settings = MODELPRED_QUICK if args.quick else MODELPRED_FULL
    key = hashlib.sha256(np.ascontiguousarray(X).tobytes() + np.asarray(y).tobytes()
                         + repr((learner, settings, args.seed)).encode()).hexdigest()[:16]
    folder = Path(args.out) / "_cache" / f"modelpred_{tag}_{key}"
    meta = folder / "train_seconds.json"
    if meta.is_file():
        try:
            model = ModelPred.load(folder)
            return model, float(json.loads(meta.read_text())["seconds"]), "cached"
        except (ValueError, OSError, KeyError):
            pass
    t0 = time.perf_counter()
    model = ModelPred(learner, seed=args.seed, progress=args.progress, **settings).fit(X, y)
    seconds = time.perf_counter() - t0
    model.save(folder)
    meta.write_text(json.dumps({"seconds": seconds}))
    return model, seconds, "trained"


def save(name: str, args, results: dict, fig) -> dict:
    """Write OUT/name.png and OUT/name.json; return the JSON payload."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"figure": name, "quick": bool(args.quick), "seed": int(args.seed),
               "results": _strict(results)}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1, default=_jsonable,
                                                 allow_nan=False))
    fig.savefig(out / f"{name}.png", dpi=110 if args.quick else 150, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return payload


def _strict(v):
    """Replace NaN/inf floats by None (strict JSON) and numpy containers by lists."""
    if isinstance(v, dict):
        return {str(k): _strict(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_strict(x) for x in v]
    if isinstance(v, np.ndarray):
        return _strict(v.tolist())
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v)}")


def figure(ncols: int, width: float = 4.2, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]
