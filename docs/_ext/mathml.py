"""Render math as MathML at build time: no JavaScript, no network.

Sphinx's default math renderer (MathJax) loads its script from a CDN. This extension registers
an HTML math renderer that converts each LaTeX expression to MathML with docutils' own
converter (``docutils.utils.math.latex2mathml``), so every page is complete offline and the
browser typesets the math natively (MathML Core). An expression the converter does not
understand fails the build with its source, instead of silently showing raw LaTeX.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.utils.math import latex2mathml
from sphinx.errors import ExtensionError

# Delimiter-size commands the converter does not know: MathML stretches delimiters itself.
_SIZING = re.compile(r"\\(?:[bB]ig{1,2}|[bB]igg)[lrm]?(?![a-zA-Z])")


# docutils writes \setminus as U+29F5 (reverse solidus operator), which most math fonts lack;
# unicode-math and MathML fonts use U+2216 (set minus).
_CHARS = {"\u29f5": "\u2216"}
# Norm bars, absolute-value bars and set braces are separate <mo> elements; browsers would stretch
# them to the height of a neighbouring fraction. TeX does not (\lVert is a fixed-size delimiter).
_BARS = re.compile(r'<mo( class="[^"]*")?>(\u2016|\||\{|\})</mo>')


def _convert(latex: str, block: bool, node, docname: str | None = None) -> str:
    latex = _SIZING.sub("", latex)
    try:
        try:
            out = latex2mathml.tex2mathml(latex, as_block=block)
        except TypeError:  # docutils < 0.22 spells the option "inline"
            out = latex2mathml.tex2mathml(latex, inline=not block)
        for old, new in _CHARS.items():
            out = out.replace(old, new)
        return _BARS.sub(r'<mo\1 stretchy="false">\2</mo>', out)
    except Exception as exc:  # the converter raises SyntaxError / ValueError / KeyError
        where = (f"{node.source}:{node.line}" if node.source
                 else f"document {docname!r}" if docname else "unknown source")
        raise ExtensionError(f"MathML conversion failed at {where} for {latex!r}: {exc}") from exc


def visit_math_html(self, node):
    self.body.append(_convert(node.astext(), False, node, self.builder.current_docname))
    raise nodes.SkipNode


def visit_displaymath_html(self, node):
    if node.get("no-wrap", node.get("nowrap", False)):
        latex = node.astext()
    else:
        # one expression per paragraph of the directive; "aligned" lines share one table
        parts = [p.strip() for p in node.astext().split("\n\n") if p.strip()]
        latex = "\n".join(parts)
    self.body.append(self.starttag(node, "div", CLASS="math-wrapper docutils container"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    self.body.append(_convert(latex, True, node, self.builder.current_docname))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math_html, None), (visit_displaymath_html, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
