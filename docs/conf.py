"""Sphinx configuration: an offline site (no network fetch of any kind), warnings as errors.

Built by ``make docs`` (``sphinx-build -W``). Math is rendered to MathML at build time by the
local ``mathml`` extension (no MathJax download); the API reference is generated from each
module's ``__all__`` (``_ext/apigen.py``); the results table is read from README.md
(``_ext/readme_results.py``); the tutorials are the scripts in ``examples/`` run by
sphinx-gallery.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever is installed
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the gallery output

import apigen  # noqa: E402
import cli_reference  # noqa: E402
import page_snippets  # noqa: E402
import readme_results  # noqa: E402

import modelpred_theory  # noqa: E402

project = "modelpred-theory"
author = "modelpred-theory contributors"
copyright = "the modelpred-theory contributors"
release = version = modelpred_theory.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "mathml",
    "docstring_fixes",
]

# -- generated sources (rewritten at every build, ignored by git) ---------------------------
API_PAGES = apigen.write_api(DOCS / "gen_modules" / "api")
readme_results.write_results(ROOT / "README.md", DOCS / "gen_modules" / "results_table.md")
readme_results.write_shortfalls(ROOT / "README.md", DOCS / "gen_modules" / "shortfalls.md")
cli_reference.write_reference(DOCS / "gen_modules" / "cli_reference.md")
# the Getting started snippets run at every build; the page shows what each one printed
page_snippets.write_outputs(DOCS / "getting_started.md", DOCS / "gen_modules" / "getting_started")

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "gen_modules/results_table.md", "gen_modules/api_toc.rst",
                    "gen_modules/shortfalls.md", "gen_modules/cli_reference.md",
                    "gen_modules/getting_started",
                    "gen_modules/backreferences"]
templates_path = ["_templates"]
highlight_language = "none"  # docstring formulas and THEORY.md blocks are text, not Python
nitpicky = False

# -- autodoc / autosummary / numpydoc -------------------------------------------------------
# the generated module pages, named explicitly: a page written by this very run (a module that
# is new since the last build) is then stubbed too, which autosummary_generate = True misses
autosummary_generate = sorted(str(p.relative_to(DOCS)) for p in API_PAGES)
autosummary_imported_members = True
# The class template (_templates/autosummary/class.rst) documents members explicitly; a
# default of "members": False here would override its :members: option (Sphinx >= 9).
autodoc_default_options: dict[str, object] = {}
# Names a tutorial may use for a documented object (top-level re-exports): the "Examples
# using X" list of each API page collects both spellings (sphinx-gallery backreferences).
autosummary_context = {"aliases": apigen.aliases()}
autodoc_typehints = "none"           # the numpydoc "Parameters" sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- MyST (Markdown pages, THEORY.md) ------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- sphinx-gallery (the tutorials) ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # MPT_DOCS_EXAMPLES=regex runs only the matching tutorials (while editing one); the
    # others are still rendered, without output. Default: every tutorial runs.
    "filename_pattern": os.environ.get("MPT_DOCS_EXAMPLES", r"/plot_"),
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,    # a failing tutorial fails the build
    "only_warn_on_example_error": False,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("modelpred_theory",),
    "reference_url": {"modelpred_theory": None},
    "download_all_examples": True,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "show_memory": False,
    "show_signature": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "gallery_setup.one_torch_thread",
                      "gallery_setup.readable_figures"),
    "capture_repr": ("_repr_html_", "__repr__"),
    "plot_gallery": "True",
    # the execution-times pages load jQuery/DataTables from CDNs: not written (offline site);
    # `make docs` prints the per-tutorial times from the tutorial pages instead.
    "write_computation_times": False,
}

html_math_renderer = "mathml"  # docs/_ext/mathml.py: MathML at build time, no MathJax

# -- HTML: pydata-sphinx-theme, nothing fetched from the network ----------------------------
html_theme = "pydata_sphinx_theme"
html_title = "modelpred-theory"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_end": ["theme-switcher"],   # no icon links to external sites
    "icon_links": [],
    "use_edit_page_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 8,
    "footer_start": ["copyright"],
    "footer_end": ["project-version", "sphinx-version"],
    "navbar_start": ["navbar-logo", "project-version"],
}
html_context = {"default_mode": "light"}
# single pages without sub-pages: no (empty) left navigation column, wider text
html_sidebars = {page: [] for page in ("index", "getting_started", "cli", "design", "theory",
                                       "results", "changelog", "auto_examples/*")}
# tutorials: no side columns either, so a figure is shown at (nearly) its own width and its
# fonts stay at 10 pt or more (docs/_ext/gallery_setup.py)
html_theme_options["secondary_sidebar_items"] = {
    page: ["page-toc", "sourcelink"]
    for page in ("gen_modules/**", "api", "index", "getting_started", "cli", "design", "theory",
                 "results", "changelog")}  # pages not listed (the tutorials) get none
html_show_sourcelink = True
html_copy_source = True
