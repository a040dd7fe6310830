"""Saving and loading a fitted ModelPred: config.json, weights.pt and base.npz, all checked.

A saved model is a folder with
* ``config.json``: learner, architecture, training settings, base name, gate, classes, the pool
  fingerprint, and the sha256 of the two binary files;
* ``weights.pt``: the network's state dict, loaded with ``torch.load(weights_only=True)`` only;
* ``base.npz``: the classical base's arrays (theta(pool), and for the influence base H0, the
  per-point influence matrix and its constant), float64.

Every corrupt, truncated, foreign or mismatched file is refused with a ValueError naming the file
and the problem; nothing is ever loaded unsafely. Parameters follow the sum convention of
docs/design.md (theta(S) = argmin sum_{i in S} w_i loss_i + lam/2 ||P theta||^2).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["load_model", "save_model"]

FORMAT = "modelpred-theory/ModelPred"
FORMAT_VERSION = 2


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot write {type(v).__name__} to JSON")


def save_model(model, path) -> Path:
    """Write ``path/{config.json, weights.pt, base.npz}`` (a folder, created if needed)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path must be a folder (it is a file): {path}")
    path.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model.net_.state_dict(), buf)
    weights = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, **model.base_.state())
    base = buf.getvalue()
    cfg = model.get_config()
    cfg["network"] = model.net_.config
    cfg["checksums"] = {"weights.pt": _sha256(weights), "base.npz": _sha256(base)}
    _atomic_write(path / "weights.pt", weights)
    _atomic_write(path / "base.npz", base)
    _atomic_write(path / "config.json",
                  json.dumps(cfg, indent=1, default=_json_default).encode())
    return path


def _read_config(cfg_file: Path) -> dict:
    try:
        cfg = json.loads(cfg_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{cfg_file} is not valid JSON ({exc}); the saved model is "
                         f"damaged") from None
    if not isinstance(cfg, dict) or cfg.get("format") != "modelpred-theory/ModelPred":
        raise ValueError(f"{cfg_file} is not a ModelPred config (no 'format' entry of ours)")
    if cfg.get("version") != FORMAT_VERSION:
        raise ValueError(f"{cfg_file} has format version {cfg.get('version')!r}; this library "
                         f"reads version {FORMAT_VERSION} (save the model again)")
    need = ("learner", "seed", "arch", "train_params", "sampler_params", "meta", "network",
            "checksums", "base", "gate_alpha")
    missing = [k for k in need if k not in cfg]
    if missing:
        raise ValueError(f"{cfg_file} lacks the entries {missing}; the saved model is damaged")
    return cfg


def _read_checked(file: Path, expected: str) -> bytes:
    data = file.read_bytes()
    if _sha256(data) != expected:
        raise ValueError(f"{file} does not match the checksum recorded in config.json "
                         f"(truncated, damaged or from another model): refusing to load it")
    return data


def _load_net(cfg: dict, w_file: Path):
    from .architectures import make_network

    data = _read_checked(w_file, cfg["checksums"].get("weights.pt"))
    try:
        state = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as exc:  # torch raises several types for damaged files
        raise ValueError(f"{w_file} is not a readable weights file "
                         f"({type(exc).__name__})") from None
    try:
        net_cfg = dict(cfg["network"])
        net = make_network(net_cfg.pop("in_dim"), net_cfg.pop("out_dim"), **net_cfg)
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{w_file} does not fit the network described in config.json "
                         f"({str(exc).splitlines()[0][:200]})") from None
    return net.eval()


def _load_base(cfg: dict, b_file: Path) -> dict:
    data = _read_checked(b_file, cfg["checksums"].get("base.npz"))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{b_file} is not a readable base file ({type(exc).__name__})") from None


def load_model(cls, path):
    """Rebuild a saved ModelPred from ``path`` (see module docstring for what is checked)."""
    from . import model as _model

    path = Path(path)
    cfg_file, w_file, b_file = path / "config.json", path / "weights.pt", path / "base.npz"
    if not cfg_file.is_file():
        raise ValueError(f"path {path} holds no saved ModelPred (config.json is missing)")
    cfg = _read_config(cfg_file)
    for f in (w_file, b_file):
        if not f.is_file():
            raise ValueError(f"{f} is missing: the saved model in {path} is incomplete")
    learner = _model.learner_from_spec(cfg["learner"], cfg_file)
    try:
        model = cls(learner, seed=cfg["seed"], base=cfg["base"], **cfg["arch"],
                    **cfg["train_params"], **cfg["sampler_params"], progress=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{cfg_file} holds invalid settings: {exc}") from None
    net = _load_net(cfg, w_file)
    arrays = _load_base(cfg, b_file)
    meta = cfg["meta"]
    if net.config["out_dim"] != meta.get("p"):
        raise ValueError(f"{w_file} predicts {net.config['out_dim']} parameters but "
                         f"config.json says p={meta.get('p')}")
    _restore(model, net, meta, cfg["history"], arrays, cfg["gate_alpha"], cfg.get("classes"))
    return model


def _restore(model, net, meta, history, arrays, alpha, classes) -> None:
    """Install loaded state in ``model``, checking the base arrays and the gate first."""
    from .bases import ResidualGate, make_base

    base = make_base(model.base, model.learner)
    p, n = meta.get("p"), meta.get("n_pool")
    expect = {"theta0": (p,), "H0": (p, p), "A": (n, p), "c": (p,)}
    need = [] if model.base is None else (["theta0"] if model.base == "newton"
                                          else list(expect))
    for key in need:
        if key not in arrays or arrays[key].shape != expect[key]:
            raise ValueError(f"base.npz: {key!r} is missing or has the wrong shape for a "
                             f"{model.base!r} base with p={p}, n={n}")
    base.set_state(arrays, meta.get("pool_fingerprint"))
    gate = ResidualGate(n, active=model.base is not None)
    if alpha is None or len(alpha) != gate.alpha.size:
        raise ValueError("config.json: the gate's shrink factors are missing or malformed")
    gate.alpha = np.asarray(alpha, dtype=np.float64)
    if isinstance(model.arch.get("rho_hidden"), str):
        model.arch["rho_hidden"] = list(net.config["rho_hidden"])
    model.net_, model._net_fast, model.base_, model.gate_ = net, None, base, gate
    model.meta_, model.history_ = meta, history
    model.classes_ = None if classes is None else np.asarray(classes)
