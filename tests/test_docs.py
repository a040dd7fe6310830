"""The documentation sources: every public name is in the API reference, the results table is
read from README.md, and the docstring/math helpers of the Sphinx build behave.

Build-free: the API pages are generated into a temporary folder with the same generator that
``docs/conf.py`` runs, and their autosummary tables are compared with each module's
``__all__``. The Sphinx build itself (``make docs``) runs in CI after the tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import types
from pathlib import Path

import pytest

import modelpred_theory

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import apigen  # noqa: E402
import check_offline  # noqa: E402, F401
import readme_results  # noqa: E402

# What the issue names as the reference's contents; the generator may document more.
REQUIRED_MODULES = {"datasets", "learners", "subsets", "baselines", "setfn", "applications",
                    "checks"}


def _public_modules() -> set[str]:
    """Every public top-level module of the package with an ``__all__`` (found independently
    of the generator), except the CLI layer."""
    found = set()
    for info in pkgutil.iter_modules(modelpred_theory.__path__):
        if info.name.startswith("_") or info.name == "cli":
            continue
        mod = importlib.import_module(f"modelpred_theory.{info.name}")
        if hasattr(mod, "__all__"):
            found.add(info.name)
    return found


@pytest.fixture(scope="module")
def api_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    apigen.write_api(out)
    return out


def test_documented_modules_cover_the_package():
    documented = {m.removeprefix("modelpred_theory.") for m in apigen.documented_modules()}
    assert REQUIRED_MODULES <= documented
    assert _public_modules() <= documented
    assert "cli" not in documented


def test_every_public_name_is_in_the_api_reference(api_dir):
    for short in sorted(_public_modules() | REQUIRED_MODULES):
        modname = f"modelpred_theory.{short}"
        mod = importlib.import_module(modname)
        expected = {n for n in mod.__all__ if not isinstance(getattr(mod, n), types.ModuleType)}
        page = (api_dir / f"{modname}.rst").read_text()
        listed = apigen.parse_autosummary(page)
        assert len(listed) == len(set(listed)), f"{modname}: a name is listed twice"
        assert set(listed) == expected, (
            f"{modname}: missing {sorted(expected - set(listed))}, "
            f"extra {sorted(set(listed) - expected)}")
        assert f".. automodule:: {modname}" in page


def test_every_top_level_name_is_in_the_api_reference(api_dir):
    page = (api_dir / "modelpred_theory.rst").read_text()
    for name in modelpred_theory.__all__:
        obj = getattr(modelpred_theory, name)
        if isinstance(obj, types.ModuleType):
            assert f":doc:`{obj.__name__}`" in page, name
        else:
            assert f"``{name}``" in page, name
    # re-exports point at the page of the object they re-export
    assert ":py:obj:`modelpred_theory.setfn.ModelPred`" in page
    assert ":py:obj:`modelpred_theory.setfn.certify`" in page
    toc = (api_dir.parent / "api_toc.rst").read_text()
    for modname in ["modelpred_theory", *apigen.documented_modules()]:
        assert f"/{modname}\n" in toc


def test_generator_refuses_a_name_that_does_not_exist(monkeypatch):
    import modelpred_theory.subsets as subsets

    monkeypatch.setattr(subsets, "__all__", [*subsets.__all__, "no_such_function"])
    with pytest.raises(ValueError, match="no_such_function"):
        apigen.module_entries("modelpred_theory.subsets")


def test_generator_sorts_names_by_kind():
    entries = apigen.module_entries("modelpred_theory.setfn")
    assert "ModelPred" in entries["class"] and "DeepSets" in entries["class"]
    assert "certify" in entries["function"]
    assert "PAPER_SETTINGS" in entries["data"]


def test_parse_autosummary_reads_only_the_tables():
    text = ("Intro\n\n.. autosummary::\n   :toctree: generated/\n   :nosignatures:\n\n   a\n"
            "   b\n\nAfter text c\n\n.. autosummary::\n   :toctree: generated/\n\n   d\n")
    assert apigen.parse_autosummary(text) == ["a", "b", "d"]


# ---------------------------------------------------------------- README results table
TABLE = "| what | result | command |\n|---|---|---|\n| x | 1 | `make demo` |"


def test_results_table_from_the_readme():
    body = readme_results.extract_results((ROOT / "README.md").read_text())
    assert "| what | result | command |" in body
    assert "`make demo`" in body


def test_results_markers_win_over_the_section():
    text = (f"# T\n\n## Results\n\nold\n\n{readme_results.START}\n{TABLE}\n"
            f"{readme_results.END}\n\nnot this\n\n## Layout\n")
    body = readme_results.extract_results(text)
    assert body == TABLE + "\n"


def test_results_section_until_the_next_heading():
    body = readme_results.extract_results(f"# T\n\n## Results\n\n{TABLE}\n\n## Layout\nno\n")
    assert body == TABLE + "\n"


@pytest.mark.parametrize("text, match", [
    (f"{readme_results.START}\n{TABLE}\n", "not"),
    (f"{TABLE}\n{readme_results.END}\n", "not"),
    (f"{readme_results.END}\n{TABLE}\n{readme_results.START}\n", "after"),
    ("# T\n\n## Layout\n", "neither"),
    (f"{readme_results.START}\nno table here\n{readme_results.END}\n", "no Markdown table"),
])
def test_results_extraction_fails_loudly(text, match):
    with pytest.raises(ValueError, match=match):
        readme_results.extract_results(text)


# ---------------------------------------------------------------- build helpers (need sphinx)
def test_docstring_bars_are_escaped_outside_literals():
    pytest.importorskip("sphinx")
    import docstring_fixes as fixes

    lines = ["Regulariser independent of |S|, ``|x|`` stays.", "", "Formula::", "",
             "    ||w|| = |S|", "", "| a line block", "Back to |S|."]
    out = fixes.escape_bars(lines)
    assert out[0] == r"Regulariser independent of \|S\|, ``|x|`` stays."
    assert out[4] == "    ||w|| = |S|"          # literal block kept as written
    assert out[6] == "| a line block"
    assert out[7] == r"Back to \|S\|."


def test_indented_formulas_become_literal_blocks():
    pytest.importorskip("sphinx")
    import docstring_fixes as fixes

    lines = ["Differentiating gives", "", "    theta'(0) = H^{-1} g", "", "and then", "",
             "Parameters", "----------", "x : int", "    First.", "", "    Second paragraph.",
             "", "* item", "", "  continued item"]
    out = fixes.literalize_indented(lines)
    assert out[0] == "Differentiating gives::"
    assert out[2] == lines[2] and out[4] == "and then"
    assert out[9] == "    First." and out[11] == "    Second paragraph."   # not a formula
    assert out[13] == "* item"                                            # list continuation


def test_mathml_renders_and_rejects():
    pytest.importorskip("sphinx")
    import mathml
    from docutils import nodes
    from sphinx.errors import ExtensionError

    node = nodes.math()
    html = mathml._convert(r"\frac{\lambda}{2}\lVert P\theta\rVert^2", True, node)
    assert html.startswith("<math") and "<mfrac>" in html and "λ" in html
    assert html.count('stretchy="false">‖</mo>') == 2  # norm bars keep their size
    sized = mathml._convert(r"\rho\big(\sum_i \phi_i\Big)", False, node)  # sizes dropped
    assert "<mo>∑</mo>" in sized or "∑" in sized
    with pytest.raises(ExtensionError, match="MathML"):
        mathml._convert(r"\frac{a}", False, node)


def test_conf_is_offline_and_strict():
    text = (DOCS / "conf.py").read_text()
    assert "intersphinx" not in text and "sphinx.ext.mathjax" not in text
    assert re.search(r'"abort_on_example_error":\s*True', text)
    assert re.search(r'"write_computation_times":\s*False', text)  # those pages use CDNs
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"sphinx -b html -W .*docs docs/_build/html", makefile)


def test_offline_check_finds_network_loads(tmp_path):

    (tmp_path / "ok.html").write_text('<a href="https://example.org/">a link</a>'
                                      '<script src="_static/local.js"></script>')
    assert check_offline.remote_loads(tmp_path) == []
    (tmp_path / "bad.html").write_text('<script src="https://cdn.example.org/x.js"></script>')
    (tmp_path / "bad.css").write_text('@font-face { src: url("//fonts.example.org/f.woff"); }')
    found = check_offline.remote_loads(tmp_path)
    assert len(found) == 2 and found[0].startswith("bad.html") and found[1].startswith("bad.css")
    assert check_offline.main([str(tmp_path)]) == 1


def test_tutorials_are_numbered_scripts_with_titles():
    scripts = sorted((ROOT / "examples").glob("plot_*.py"))
    numbers = [int(re.match(r"plot_(\d\d)_", p.name).group(1)) for p in scripts]
    assert numbers == sorted(set(numbers))          # one script per number
    assert {1, 2, 3, 4, 6, 7, 8} <= set(numbers)    # 5 is the integrator's
    for path in scripts:
        text = path.read_text()
        assert re.match(r'^r?"""\n?.+\n=+\n', text), f"{path.name}: no gallery title"
        assert "plt." in text, f"{path.name}: leaves no figure"
