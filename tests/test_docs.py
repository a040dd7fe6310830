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


def test_theory_and_design_mentions_become_links():
    pytest.importorskip("sphinx")
    import docstring_fixes as fixes

    out = fixes.escape_bars(["See THEORY.md, statement 3 and docs/design.md.",
                             "Literal ``THEORY.md`` stays.", "", "Formula::", "",
                             "    THEORY.md in a block"])
    assert out[0] == ("See :doc:`THEORY.md </theory>`, statement 3 and "
                      ":doc:`docs/design.md </design>`.")
    assert out[1] == "Literal ``THEORY.md`` stays."
    assert out[5] == "    THEORY.md in a block"


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


# ---------------------------------------------------------------- API pages: members, examples
def test_class_pages_list_methods_and_examples():
    template = (DOCS / "_templates" / "autosummary" / "class.rst").read_text()
    assert ":members:" in template and ":inherited-members:" in template
    assert ".. minigallery::" in template and "Examples using" in template
    assert ".. minigallery::" in (DOCS / "_templates" / "autosummary" / "base.rst").read_text()
    # a default of "members": False overrides the template's :members: (Sphinx >= 9)
    conf = (DOCS / "conf.py").read_text()
    assert not re.search(r'autodoc_default_options\s*=\s*\{[^}]*"members":\s*False', conf)


def test_aliases_link_top_level_names_to_their_pages():
    aliases = apigen.aliases()
    assert aliases["modelpred_theory.setfn.ModelPred"] == "modelpred_theory.ModelPred"
    assert aliases["modelpred_theory.setfn.certify"] == "modelpred_theory.certify"
    assert set(aliases.values()) <= {f"modelpred_theory.{n}" for n in modelpred_theory.__all__}


def test_column_style_attributes_become_numpydoc_fields():
    pytest.importorskip("sphinx")
    import inspect

    import docstring_fixes as fixes

    lines = inspect.getdoc(modelpred_theory.ModelPred).splitlines()
    out = fixes.split_field_columns(lines)
    start = out.index("Attributes")
    section = out[start:]
    assert "net_ : DeepSets or SetTransformer" in section
    assert "    the trained network (float32)" in section
    assert "predict_dtype : str" in section
    # every field header is followed by its indented description
    headers = [i for i, line in enumerate(section) if re.match(r"^\w+ : ", line)]
    assert len(headers) >= 8
    assert all(section[i + 1].startswith("    ") for i in headers)
    # sections already in numpydoc form are untouched
    doc = inspect.getdoc(modelpred_theory.learners.LogisticRegression).splitlines()
    assert fixes.split_field_columns(doc) == doc


# ---------------------------------------------------------------- one source for every number
FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+\s*%|\d+(?:\.\d+)?e-?\d+|\d+\.\d+)")
REFERENCE = re.compile(r"(Theorem|Statement|statement|Remark|Section|section|THEORY\.md,?)"
                       r"\s+\d+(\.\d+)*")
MARKUP = re.compile(r"``.*?``|:\w+:`[^`]*`|`[^`]*`", re.DOTALL)


def _prose_paragraphs(path: Path) -> list[str]:
    """The text a reader sees in a tutorial: its docstring and its ``# %%`` text blocks, as
    paragraphs (lines joined, so inline markup that spans lines is one unit)."""
    import ast

    text = path.read_text(encoding="utf-8")
    blocks = [ast.get_docstring(ast.parse(text), clean=False) or ""]
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("# %%"):
            current = []
            blocks.append("")
            continue
        if current is not None and line.startswith("#"):
            blocks[-1] += line[2:] + "\n"
            continue
        current = None
    paragraphs = []
    for block in blocks:
        paragraphs.extend(p for p in re.split(r"\n\s*\n", block) if p.strip())
    return paragraphs


def hand_typed_figures(paragraph: str) -> list[str]:
    """Decimal or scientific numbers in prose, outside math, literals and theorem numbers."""
    if paragraph.lstrip().startswith(".. math::"):
        return []
    plain = REFERENCE.sub("", MARKUP.sub("", paragraph))
    return [m.group(1) for m in FIGURE.finditer(plain)]


def test_the_figure_finder_finds_figures():
    assert hand_typed_figures("error 0.22% over influence") == ["0.22%"]
    assert hand_typed_figures("a bound of 2.4e-02 and AUC 0.640") == ["2.4e-02", "0.640"]
    assert hand_typed_figures("see Theorem 4.1 and :math:`0.5` and ``lr=5e-3``") == []
    assert hand_typed_figures("flip 10% of 120 points") == []  # settings, not measurements


def test_tutorial_prose_quotes_no_measured_figure():
    """A measured number in a tutorial is printed by its code (and asserted where the text
    draws a conclusion from it), never typed into the prose where it could go stale."""
    found = {}
    for path in sorted((ROOT / "examples").glob("plot_*.py")):
        for paragraph in _prose_paragraphs(path):
            figures = hand_typed_figures(paragraph)
            if figures:
                found.setdefault(path.name, []).extend(figures)
    assert not found, f"hand-typed figures in tutorial prose: {found}"


def test_docstrings_quote_no_measured_percentage():
    """Measured accuracies live in the JSON a command writes and README's table (the Results
    page), not in docstrings: no percentage with decimals in any public docstring."""
    import inspect

    pct = re.compile(r"\d+\.\d+\s*%")
    offenders = []
    for modname in apigen.documented_modules():
        mod = importlib.import_module(modname)
        objs = [mod] + [getattr(mod, n) for n in getattr(mod, "__all__", [])]
        for obj in objs:
            members = [obj]
            if inspect.isclass(obj):
                members += [v for v in vars(obj).values() if callable(v) or isinstance(v,
                                                                                    property)]
            for member in members:
                doc = inspect.getdoc(member) or ""
                offenders += [f"{getattr(obj, '__name__', obj)}: {m}" for m in pct.findall(doc)]
    assert not offenders, offenders


# ---------------------------------------------------------------- tutorials end in understanding
def _section(text: str, title: str) -> str:
    """The comment lines of a tutorial's text section, up to the next heading or code."""
    lines = text.splitlines()
    try:
        start = next(i for i in range(len(lines) - 1) if lines[i] == f"# {title}"
                     and re.fullmatch(r"# -+", lines[i + 1]))
    except StopIteration:
        return ""
    out = []
    for i in range(start + 2, len(lines)):
        if not lines[i].startswith("#") or (i + 1 < len(lines)
                                            and re.fullmatch(r"# -+", lines[i + 1])):
            break
        out.append(lines[i])
    return "\n".join(out)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("plot_*.py")),
                         ids=lambda p: p.stem)
def test_every_tutorial_ends_with_what_we_learned_exercises_and_sources(path):
    text = path.read_text(encoding="utf-8")
    learned = " ".join(line[2:] for line in _section(text, "What we learned").splitlines())
    learned = learned.split(".. list-table::")[0]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*:])", learned.strip()) if s]
    assert 3 <= len(sentences) <= 8, f"{path.name}: 'What we learned' has {len(sentences)}"
    assert re.search(r"figure|chart|plot", learned), f"{path.name}: not tied to its figure"
    exercises = re.findall(r"^# \d\. ", _section(text, "Exercises"), re.MULTILINE)
    assert 2 <= len(exercises) <= 3, f"{path.name}: {len(exercises)} exercises"
    entries = _section(text, "References").split("# - ")[1:]
    assert entries, f"{path.name}: cites no source"
    for entry in entries:  # author, title, venue and year
        assert re.search(r"\b(19|20)\d\d\b", entry) and '"' in entry, entry
    assert text.index("# What we learned") < text.index("# Exercises") < text.index(
        "# References"), f"{path.name}: sections out of order"


def test_the_surprising_outputs_are_explained():
    """Tutorials 2, 4 and 7 show outputs that contradict a first guess; each has a section that
    explains it, and asserts that back the explanation."""
    expect = {"plot_02_ridge_decomposition.py": "Why the short curves go flat",
              "plot_04_training_modelpred.py": "The surprise",
              "plot_07_data_valuation.py": "Why exact-oracle Shapley first loses"}
    for name, heading in expect.items():
        text = (ROOT / "examples" / name).read_text(encoding="utf-8")
        assert heading in text, name
        assert text.count("assert ") >= 3, name


def test_tutorials_cite_the_papers_they_reproduce():
    cites = {"plot_03": ["Koh and P. Liang"], "plot_04": ["ModelPred"],
             "plot_05": ["ModelPred", "Deep"], "plot_07": ["Ghorbani and J. Zou"],
             "plot_09": ["ModelPred", "Koh and P. Liang", "Ilyas", "TRAK"],
             "plot_10": ["Koh and P. Liang", "TRAK", "TracIn", "Datamodels"]}
    for prefix, needles in cites.items():
        (path,) = (ROOT / "examples").glob(f"{prefix}_*.py")
        refs = _section(path.read_text(encoding="utf-8"), "References")
        for needle in needles:
            assert needle in refs, f"{path.name}: no {needle!r} in its references"


def test_tutorial_figures_are_readable():
    """Figures are drawn with fonts of at least 10 pt at page width (gallery_setup sets the
    sizes): no tutorial sets a smaller font, a figure wider than 9.6 in, or an axis floor at
    rounding level (1e-16) that squashes the data."""
    for path in sorted((ROOT / "examples").glob("plot_*.py")):
        text = path.read_text(encoding="utf-8")
        for size in re.findall(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", text):
            assert float(size) >= 10, f"{path.name}: fontsize={size}"
        for width in re.findall(r"figsize\s*=\s*\((\d+(?:\.\d+)?)", text):
            assert float(width) <= 9.6, f"{path.name}: figure {width} in wide"
        assert "1e-16" not in text, f"{path.name}: an axis runs to rounding level"
    setup = (DOCS / "_ext" / "gallery_setup.py").read_text()
    assert re.search(r'"xtick.labelsize": 1[2-9]', setup)
    assert "gallery_setup.readable_figures" in (DOCS / "conf.py").read_text()


# ---------------------------------------------------------------- pages generated from sources
def test_changelog_starts_with_the_package_version():
    text = (DOCS / "changelog.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", text, re.MULTILINE)
    assert first and first.group(1) == modelpred_theory.__version__
    assert "changelog" in (DOCS / "index.md").read_text()


def test_version_on_every_page():
    conf = (DOCS / "conf.py").read_text()
    assert '"project-version"' in conf
    assert "{{ version }}" in (DOCS / "_templates" / "project-version.html").read_text()


def test_cli_reference_has_every_subcommand():
    import cli_reference

    from modelpred_theory import cli

    text = cli_reference.reference_markdown()
    for name in cli.COMMANDS:
        assert f"## `modelpred {name}`" in text
        assert f"usage: modelpred {name}" in text
    blocks = re.findall(r"^```text\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert len(blocks) == len(cli.COMMANDS) + 1
    # argparse wrapped the help text: no line of it scrolls sideways on the page
    assert max(len(line) for block in blocks for line in block.splitlines()) <= \
        cli_reference.WIDTH


def test_results_page_keeps_what_falls_short():
    body = readme_results.extract_shortfalls((ROOT / "README.md").read_text())
    assert body.lstrip().startswith("- ")
    with pytest.raises(ValueError, match="What falls short"):
        readme_results.extract_shortfalls("# T\n\n## Results\n\n| a |\n|---|\n")
    assert "gen_modules/shortfalls.md" in (DOCS / "results.md").read_text()


def test_getting_started_prose_quotes_no_measured_figure():
    """The page's numbers are printed by its snippets (run by tests/test_getting_started.py);
    its prose names versions only."""
    text = (DOCS / "getting_started.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    prose = re.sub(r"\$[^$]*\$|`[^`]*`|Python \d+\.\d+", "", prose)
    assert [f for p in prose.split("\n\n") for f in hand_typed_figures(p)] == []
