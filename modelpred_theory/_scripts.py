"""Locate and run the repository's script folders (figures/, proofs_checks/, bench/).

Each script is a module with ``main(argv)``; they live beside the package in the source tree
(the project is installed in editable mode), so they are found relative to it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def script_dir(name: str) -> Path:
    """The folder ``name`` at the repository root; ValueError if it is missing."""
    path = ROOT / name
    if not path.is_dir():
        raise ValueError(f"{name}/ not found beside the package (looked in {path.parent.name}/);"
                         " run from a source checkout (pip install -e .)")
    return path


def discover(name: str, prefix: str = "") -> list[Path]:
    """Scripts ``<name>/<prefix>*.py`` that define ``main`` (helpers and ``_*.py`` skipped)."""
    return sorted(p for p in script_dir(name).glob(f"{prefix}*.py")
                  if not p.name.startswith("_") and "\ndef main(" in p.read_text())


def load_script(path: Path) -> ModuleType:
    """Import a script file as a module (its ``main`` is then callable)."""
    spec = importlib.util.spec_from_file_location(f"_mpt_script_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "main"):
        raise ValueError(f"{path.name} has no main(argv)")
    return module
