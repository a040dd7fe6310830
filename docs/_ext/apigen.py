"""Generate the API reference sources from the package's ``__all__`` lists.

Run at configuration time (``docs/conf.py``), so a name that another module adds to its
``__all__`` appears in the reference without editing any page. For every documented module it
writes ``gen_modules/api/<module>.rst`` with the module docstring and one autosummary table per
kind (classes, functions, data); autosummary then generates one page per name from its
docstring. ``tests/test_docs.py`` checks the emitted tables against ``__all__``.

Documented modules: every module named in ``modelpred_theory.__all__``, plus every other
public top-level module of the package that defines ``__all__`` (e.g. ``checks``), except the
command-line layer (``cli``), whose interface is its ``--help`` text.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

PACKAGE = "modelpred_theory"
EXCLUDED = {"cli": "the command-line layer: documented by `modelpred <command> --help`"}
KINDS = (("class", "Classes"), ("function", "Functions"), ("data", "Constants"))


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def documented_modules(package: str = PACKAGE) -> list[str]:
    """Full names of the modules whose ``__all__`` the reference documents, in page order."""
    pkg = importlib.import_module(package)
    names: list[str] = []
    for name in getattr(pkg, "__all__", []):
        obj = getattr(pkg, name)
        if isinstance(obj, types.ModuleType) and name not in EXCLUDED:
            names.append(obj.__name__)
    for info in pkgutil.iter_modules(pkg.__path__):
        full = f"{package}.{info.name}"
        if info.name.startswith("_") or info.name in EXCLUDED or full in names:
            continue
        mod = importlib.import_module(full)
        if hasattr(mod, "__all__"):
            names.append(full)
    return names


def module_entries(modname: str) -> dict[str, list[str]]:
    """``{kind: [names]}`` for one module's ``__all__``; a name that does not exist raises."""
    mod = importlib.import_module(modname)
    if not hasattr(mod, "__all__"):
        raise ValueError(f"{modname} has no __all__: the API reference is generated from it")
    entries: dict[str, list[str]] = {kind: [] for kind, _ in KINDS}
    for name in mod.__all__:
        if not hasattr(mod, name):
            raise ValueError(f"{modname}.__all__ lists {name!r}, which the module does not define")
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType):
            continue  # submodules have their own page
        entries[_kind(obj)].append(name)
    return entries


def top_level_entries(package: str = PACKAGE) -> dict[str, str]:
    """Top-level names that are not modules -> the documented ``module.name`` they re-export."""
    pkg = importlib.import_module(package)
    where: dict[str, str] = {}
    modules = documented_modules(package)
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        if isinstance(obj, types.ModuleType) or name.startswith("__"):
            continue
        for modname in modules:
            mod = importlib.import_module(modname)
            if name in getattr(mod, "__all__", ()) and getattr(mod, name) is obj:
                where[name] = f"{modname}.{name}"
                break
        else:
            raise ValueError(f"{package}.{name} is re-exported but no documented module's "
                             "__all__ lists it, so it would have no API page")
    return where


def aliases(package: str = PACKAGE) -> dict[str, str]:
    """``{documented module.name: package.name}`` for the top-level re-exports.

    A tutorial writes ``mpt.ModelPred``; the API page documents
    ``modelpred_theory.setfn.ModelPred``. The class / function templates list the tutorials
    that use either spelling (sphinx-gallery's backreferences record the spelling used).
    """
    return {target: f"{package}.{name}" for name, target in top_level_entries(package).items()}


def _title(text: str, ch: str = "=") -> str:
    return f"{text}\n{ch * len(text)}\n"


def module_page(modname: str) -> str:
    """reStructuredText of one module's reference page."""
    entries = module_entries(modname)
    out = [_title(f"``{modname}``"), f".. automodule:: {modname}\n   :no-members:\n",
           f".. currentmodule:: {modname}\n"]
    for kind, heading in KINDS:
        if not entries[kind]:
            continue
        out.append(_title(heading, "-"))
        out.append(".. autosummary::\n   :toctree: generated/\n   :nosignatures:\n")
        out.extend(f"   {name}" for name in entries[kind])
        out.append("")
    return "\n".join(out) + "\n"


def top_page(package: str = PACKAGE) -> str:
    """reStructuredText of the package page: the top-level re-exports and the module list."""
    out = [_title(f"``{package}``"), f".. automodule:: {package}\n   :no-members:\n",
           _title("Top-level names", "-"),
           "Re-exported at the top level (``import modelpred_theory as mpt; mpt.NAME``):\n"]
    for name, target in top_level_entries(package).items():
        out.append(f"- ``{name}``: :py:obj:`{target}`")
    version = importlib.import_module(package).__version__
    out.append(f"- ``__version__``: the package version, ``{version}``")
    out.append("")
    out.append(_title("Modules", "-"))
    for modname in documented_modules(package):
        out.append(f"- :doc:`{modname}`")
    out.append("")
    return "\n".join(out) + "\n"


def write_api(outdir: str | Path, package: str = PACKAGE) -> list[Path]:
    """Write the package page and one page per documented module; return the written paths.

    A file whose content is unchanged is not rewritten (keeps incremental builds incremental);
    pages of modules that are no longer documented are removed.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pages = {f"{package}.rst": top_page(package)}
    for modname in documented_modules(package):
        pages[f"{modname}.rst"] = module_page(modname)
    written = []
    for fname, text in pages.items():
        path = outdir / fname
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    for stale in outdir.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    toc = outdir.parent / "api_toc.rst"
    rel = outdir.name if outdir.parent.name != "gen_modules" else f"gen_modules/{outdir.name}"
    text = ".. toctree::\n   :maxdepth: 1\n\n" + "".join(
        f"   {rel}/{fname[:-4]}\n" for fname in pages)
    if not toc.exists() or toc.read_text() != text:
        toc.write_text(text)
    return written


_AUTOSUMMARY = re.compile(r"^\.\. autosummary::\n((?:   .*\n|\n)+)", re.MULTILINE)


def parse_autosummary(text: str) -> list[str]:
    """Names listed in the autosummary tables of a generated page (options skipped)."""
    names = []
    for block in _AUTOSUMMARY.findall(text):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                names.append(line)
    return names
