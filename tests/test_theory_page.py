"""The theory page renders: a small Sphinx build of docs/theory.md alone (with THEORY.md included
through it, MyST dollar math, the site's offline MathML renderer), then the HTML is parsed.

It fails on math left unrendered (a ``$`` or a LaTeX command such as ``\\frac`` in the text
outside a <math> element), on blockquotes (a line that starts with ``>`` in the source), on
emphasis that swallowed math (an underscore pair read as italics), on a broken cross-reference
anchor, and on a statement without its numbered anchor. The full documentation build runs the
tutorials and takes minutes; this build takes a few seconds.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

CONF = f"""
import sys
sys.path.insert(0, {str(DOCS / "_ext")!r})
project = "theory-page"
extensions = ["myst_parser", "mathml"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
html_math_renderer = "mathml"
root_doc = "theory"
html_theme = "basic"
highlight_language = "none"
"""

LATEX_CMD = re.compile(r"\\(frac|lambda|theta|sum|nabla|sqrt|le|ge|tilde|hat|lVert|rVert|"
                       r"mathbb|operatorname|varepsilon|sigma|psi|rho)\b")


class _Page(HTMLParser):
    """Collects the text outside <math>, blockquotes, emphasis texts and element ids."""

    def __init__(self):
        super().__init__()
        self.depth_math = 0
        self.depth_skip = 0  # <script>, <style>, <code>, <pre>: literal text is allowed there
        self.in_em = 0
        self.text: list[str] = []
        self.em: list[str] = []
        self.blockquotes = 0
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.n_math = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag == "math":
            self.depth_math += 1
            self.n_math += 1
        elif tag in ("script", "style", "code", "pre"):
            self.depth_skip += 1
        elif tag == "blockquote":
            self.blockquotes += 1
        elif tag == "em":
            self.in_em += 1
            self.em.append("")

    def handle_endtag(self, tag):
        if tag == "math":
            self.depth_math -= 1
        elif tag in ("script", "style", "code", "pre"):
            self.depth_skip -= 1
        elif tag == "em":
            self.in_em -= 1

    def handle_data(self, data):
        if self.depth_math or self.depth_skip:
            return
        self.text.append(data)
        if self.in_em:
            self.em[-1] += data


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sphinx_build = pytest.importorskip("sphinx.cmd.build")
    pytest.importorskip("myst_parser")
    src = tmp_path_factory.mktemp("theory_src")
    (src / "conf.py").write_text(CONF)
    shutil.copy(DOCS / "theory.md", src / "theory.md")
    shutil.copy(ROOT / "THEORY.md", src.parent / "THEORY.md")  # included as ../THEORY.md
    out = src / "_build"
    rc = sphinx_build.build_main(["-q", "-b", "html", "-W", "--keep-going", str(src), str(out)])
    assert rc == 0, "the theory page does not build without warnings"
    parser = _Page()
    parser.feed((out / "theory.html").read_text(encoding="utf-8"))
    return parser


def test_math_is_rendered(page):
    text = "".join(page.text)
    assert page.n_math > 300  # the statements are typeset
    assert "$" not in text, text[max(0, text.find("$") - 80):text.find("$") + 80]
    m = LATEX_CMD.search(text)
    assert m is None, text[max(0, m.start() - 80):m.end() + 80]


def test_no_ascii_math_left_in_the_text(page):
    """Formulas written as ASCII (subscripts x_i, norms ||v||, theta, lam, <=, powers ^2) would
    show as plain text: every formula must be inside math."""
    text = "".join(page.text)
    for pat in (r"\b[a-zA-Z]_\{?[a-zA-Z0-9]", r"\|\|", r"\btheta\b", r"\blam\b", r"\^-?\d",
                r"<=|>="):
        m = re.search(pat, text)
        assert m is None, (pat, text[max(0, m.start() - 80):m.end() + 80])


def test_no_stray_blockquote(page):
    assert page.blockquotes == 0


def test_emphasis_holds_words_not_math(page):
    # italics come from *Proof.*, *Remarks.* and the like; an underscore pair read as emphasis
    # would swallow symbols such as =, |, ^ or parentheses of a formula
    bad = [e for e in page.em if re.search(r"[=|^_\\{}]", e)]
    assert not bad, bad


def test_statements_have_numbered_anchors_and_links_resolve(page):
    for label in ("thm-1", "thm-2-1", "prop-3-1", "prop-3-4", "thm-4-1", "thm-6-1", "thm-7-1",
                  "thm-7-2", "rem-7-5", "thm-8-1", "thm-9-2", "thm-10-1", "cor-10-2",
                  "thm-11-1", "thm-12-1", "thm-12-2", "thm-13-1", "thm-14-1", "thm-14-2",
                  "def-theta-s"):
        assert label in page.ids, label
    missing = [h for h in page.hrefs if h and h not in page.ids]
    assert not missing, missing


def test_source_has_no_line_starting_with_quote_marker():
    """A line starting with '>' (e.g. '>= ...' in a proof) renders as a quotation."""
    lines = (ROOT / "THEORY.md").read_text().splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith(">")]
