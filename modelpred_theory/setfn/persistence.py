"""Saving and loading a fitted ModelPred: config.json, weights.pt and base.npz, all checked.

A saved model is a folder with
* ``manifest.json``: the sha256 of each of the three files below and one hash over them all
  (the folder's signature): a change to any file, config.json included, is detected;
* ``config.json``: learner, architecture, training settings, base name, gate, classes, the pool
  fingerprint, and the sha256 of the two binary files; every field is checked on load (types,
  ranges, finiteness, the learner against the stored arrays' shapes), and the network's size
  against the weights file's before anything is allocated;
* ``weights.pt``: the network's state dict, loaded with ``torch.load(weights_only=True)`` only;
* ``base.npz``: the classical base's arrays (theta(pool), and for the influence base H0, the
  per-point influence matrix and its constant), float64.

Every corrupt, truncated, foreign or mismatched file is refused with a ValueError naming the file
and the problem; nothing is ever loaded unsafely, and no non-finite number is ever loaded.
Parameters follow the sum convention of docs/design.md
(theta(S) = argmin sum_{i in S} w_i loss_i + lam/2 ||P theta||^2).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ._settings import learner_from_spec

__all__ = ["check_config", "load_model", "save_model"]

FORMAT = "modelpred-theory/ModelPred"
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
_FILES = ("config.json", "weights.pt", "base.npz")


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


def _signature(files: dict) -> str:
    """One sha256 over the files' names and hashes (the saved folder's signature)."""
    return _sha256("\n".join(f"{k} {files[k]}" for k in sorted(files)).encode())


def save_model(model, path) -> Path:
    """Write ``path/{config.json, weights.pt, base.npz, manifest.json}`` (a folder).

    Raises ValueError naming ``path`` when the folder cannot be created or written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path must be a folder (it is a file): {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"path {path}: cannot create the folder ({exc.strerror or exc})") \
            from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"path {path}: the folder is not writable")
    buf = io.BytesIO()
    torch.save(model.net_.state_dict(), buf)
    weights = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, **model.base_.state())
    base = buf.getvalue()
    cfg = model.get_config()
    cfg["network"] = model.net_.config
    cfg["checksums"] = {"weights.pt": _sha256(weights), "base.npz": _sha256(base)}
    config = json.dumps(cfg, indent=1, default=_json_default).encode()
    files = {"config.json": _sha256(config), "weights.pt": _sha256(weights),
             "base.npz": _sha256(base)}
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "files": files,
                "signature": _signature(files)}
    try:
        _atomic_write(path / "weights.pt", weights)
        _atomic_write(path / "base.npz", base)
        _atomic_write(path / "config.json", config)
        _atomic_write(path / MANIFEST, json.dumps(manifest, indent=1).encode())
    except OSError as exc:
        raise ValueError(f"path {path}: cannot write the saved model ({exc.strerror or exc})") \
            from None
    return path


def _check_manifest(path: Path) -> dict:
    """The manifest's file hashes, checked against the files (ValueError naming the file)."""
    m_file = path / MANIFEST
    if not m_file.is_file():
        raise ValueError(f"{m_file} is missing: {path} was saved by an older version of this "
                         f"library or is incomplete (fit the model and save it again)")
    try:
        man = json.loads(m_file.read_text())
        files = {k: str(man["files"][k]) for k in _FILES}
        ok = man["format"] == FORMAT and man["signature"] == _signature(files)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{m_file} is damaged ({type(exc).__name__}: {exc})") from None
    if not ok:
        raise ValueError(f"{m_file}: its signature does not match its file list (edited or "
                         f"damaged): refusing to load {path}")
    for name in _FILES:
        f = path / name
        if not f.is_file():
            raise ValueError(f"{f} is missing: the saved model in {path} is incomplete")
        if _sha256(f.read_bytes()) != files[name]:
            raise ValueError(f"{f} does not match the manifest's sha256 (edited, truncated or "
                             f"from another model): refusing to load {path}")
    return files


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
    _check_finite_state(state, w_file)
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
    path = Path(path)
    if path.is_file() and path.name in (*_FILES, MANIFEST):
        raise ValueError(f"path must be the saved model's folder, not one of its files: pass "
                         f"{path.parent} instead of {path}")
    if not path.is_dir():
        raise ValueError(f"path {path} holds no saved ModelPred (it does not exist)"
                         if not path.exists() else
                         f"path {path} holds no saved ModelPred (it is a file, not a folder)")
    cfg_file, w_file, b_file = path / "config.json", path / "weights.pt", path / "base.npz"
    if not cfg_file.is_file():
        raise ValueError(f"path {path} holds no saved ModelPred (config.json is missing)")
    cfg = _read_config(cfg_file)  # its version first: an older folder gets that message
    _check_manifest(path)
    learner = learner_from_spec(cfg["learner"], cfg_file)
    check_config(cfg, learner, cfg_file, w_file.stat().st_size)
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


def _fail(where, msg):
    raise ValueError(f"{where}: {msg}; the saved model is damaged or was edited")


def _int_field(where, d: dict, key: str, lo: int = 1) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        _fail(where, f"{key} must be an integer >= {lo}, got {v!r}")
    return v


# Bytes per network parameter in weights.pt (float32) and the slack torch's format adds.
_BYTES_PER_PARAM = 4


def _min_params(net: dict) -> int:
    """A lower bound on the DeepSets parameters a network config declares (no allocation)."""
    w, depth = net["width"], net["phi_depth"]
    n = net["in_dim"] * w + (depth - 1) * w * w
    d_in = w
    for h in list(net["rho_hidden"]) + [net["out_dim"]]:
        n += d_in * h
        d_in = h
    return n


def check_config(cfg: dict, learner, where, weights_bytes: int) -> None:
    """Every field of a saved config checked (types, ranges, finiteness, consistency).

    Raises ValueError naming ``where`` (config.json) and the field. The network's declared size
    is compared with the weights file's size before anything is allocated.
    """
    seed = cfg["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        _fail(where, f"seed must be a non-negative integer, got {seed!r}")
    if cfg["base"] not in (None, "newton", "influence"):
        _fail(where, f"base must be null, 'newton' or 'influence', got {cfg['base']!r}")
    for key in ("arch", "train_params", "sampler_params", "meta", "network", "checksums"):
        if not isinstance(cfg[key], dict):
            _fail(where, f"{key} must be an object, got {type(cfg[key]).__name__}")
    if not isinstance(cfg.get("history", []), list):
        _fail(where, "history must be a list")
    lam = cfg.get("lam")
    if lam is not None and lam != learner.lam:
        _fail(where, f"lam={lam!r} disagrees with the learner's lam={learner.lam!r}")
    meta = cfg["meta"]
    d, K, p = (_int_field(where, meta, k) for k in ("d", "K", "p"))
    _int_field(where, meta, "n_pool")
    label_dim = _int_field(where, meta, "label_dim")
    if not isinstance(meta.get("pool_fingerprint"), str):
        _fail(where, "meta.pool_fingerprint must be a string")
    if p != K * (d + 1):
        _fail(where, f"meta.p={p} is not K (d + 1) = {K * (d + 1)} for K={K}, d={d}")
    name = type(learner).__name__
    regression = not learner.needs_all_classes() and learner.numeric_y
    if regression:
        if K != 1 or label_dim != 1 or cfg.get("classes") is not None:
            _fail(where, f"the learner {name} is a regression learner but the stored model "
                         f"has K={K}, label_dim={label_dim}, classes={cfg.get('classes')!r} "
                         f"(a classifier's)")
    else:
        want = K if K > 1 else 2
        classes = cfg.get("classes")
        if label_dim != want:
            _fail(where, f"the learner {name} is a classifier with {want} classes but the "
                         f"stored model has label_dim={label_dim}")
        if not isinstance(classes, list) or len(classes) != want \
                or len({repr(c) for c in classes}) != want:
            _fail(where, f"classes must list {want} distinct labels, got {classes!r}")
        n_cls = learner.get_params().get("n_classes")
        if K > 1 and n_cls not in (None, K):
            _fail(where, f"the learner has n_classes={n_cls} but the stored model K={K}")
        if K == 1 and n_cls not in (None, 2):
            _fail(where, f"the learner has n_classes={n_cls} but the stored model is binary")
    net = cfg["network"]
    for key in ("in_dim", "out_dim", "width", "phi_depth"):
        _int_field(where, net, key)
    if not isinstance(net.get("rho_hidden"), list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1
            for h in net["rho_hidden"]):
        _fail(where, f"network.rho_hidden must list positive integers, got "
                     f"{net.get('rho_hidden')!r}")
    if net["in_dim"] != d + label_dim or net["out_dim"] != p:
        _fail(where, f"the network maps {net['in_dim']} -> {net['out_dim']} but the data need "
                     f"{d + label_dim} -> {p}")
    for key in ("width", "phi_depth", "rho_hidden"):
        arch_v = cfg["arch"].get(key)
        if key == "rho_hidden" and arch_v == "auto":
            continue
        if arch_v != net[key]:
            _fail(where, f"arch.{key}={arch_v!r} disagrees with network.{key}={net[key]!r}")
    if net.get("arch", "deepsets") == "deepsets":
        need = _min_params(net) * _BYTES_PER_PARAM
        if need > weights_bytes:
            _fail(where, f"the network declares at least {need / 2**20:.1f} MiB of weights "
                         f"(width {net['width']}) but weights.pt holds "
                         f"{weights_bytes / 2**20:.1f} MiB")
    alpha = cfg["gate_alpha"]
    if not isinstance(alpha, list) or not alpha or not all(
            isinstance(a, int | float) and not isinstance(a, bool) and math.isfinite(a)
            and 0.0 <= a <= 1.0 for a in alpha):
        _fail(where, f"gate_alpha must be a list of shrink factors in [0, 1], got "
                     f"{str(alpha)[:80]}")


def _check_finite_state(state: dict, w_file) -> None:
    for k, v in state.items():
        if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError(f"{w_file}: the weight {k!r} holds NaN or inf; refusing to load it")


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
        if arrays[key].dtype.kind != "f" or not np.all(np.isfinite(arrays[key])):
            raise ValueError(f"base.npz: {key!r} holds NaN, inf or non-float values; "
                             f"refusing to load it")
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
