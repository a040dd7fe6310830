"""Make the package's plain-text docstrings build cleanly as reStructuredText.

The docstrings are written to be read in a terminal (``help()``): cardinalities are written
``|S|`` and norms ``||x||``, which reStructuredText would read as substitution references.
This extension escapes those bars before the docstrings are parsed, outside inline literals,
literal blocks and directive bodies (where the text is shown or parsed as written), and outside
tables and line blocks (lines that start with ``|`` or ``+``).

Mentions of ``THEORY.md`` and ``docs/design.md`` in docstring prose become links to the
theory and design pages of the site.

It also fixes the one-line summaries of the autosummary tables: Sphinx cuts the first
sentence at the first period followed by a space even inside an inline literal (``x . w``),
and checks the cut on the wrong text, so the summary can end inside ````...````; here the cut
moves to the first sentence end after the literal closes.
"""

from __future__ import annotations

import re

import sphinx.ext.autosummary as _autosummary

_LITERAL = re.compile(r"(``.+?``|`[^`]+`_?)")
_BAR = re.compile(r"(?<!\\)\|")
# ``classes_`` in prose would be a hyperlink reference to a target "classes"
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*?)_(?=[\s,.;:)\]]|$)")
# numpydoc parameter headers ("name_ : type"): numpydoc renders the name itself
_PARAM_HEADER = re.compile(r"^\s*[A-Za-z_][\w, *]*\s:\s|^\s*[A-Za-z_]\w*\s*$")


# the project's own pages named in docstring prose become links to them on the site
_PAGE_LINKS = ((re.compile(r"(?<![\w/`])THEORY\.md\b"), ":doc:`THEORY.md </theory>`"),
               (re.compile(r"(?<![\w/`])docs/design\.md\b"), ":doc:`docs/design.md </design>`"))


def _escape_text(text: str) -> str:
    text = _TRAILING_UNDERSCORE.sub(r"\1\\_", _BAR.sub(r"\\|", text))
    for pattern, link in _PAGE_LINKS:
        text = pattern.sub(link, text)
    return text


def _escape_line(line: str) -> str:
    if _PARAM_HEADER.match(line):
        return line
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else _escape_text(p) for i, p in enumerate(parts))


def escape_bars(lines: list[str]) -> list[str]:
    """Escape ``|`` in docstring lines outside literals, literal blocks, directives, tables."""
    out = []
    block_indent = None  # indentation of the line that opened a literal block / directive
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                out.append(line)
                continue
            block_indent = None
        if stripped.startswith(("| ", "+-", "+=")) or (stripped.startswith("|")
                                                      and stripped.rstrip().endswith("|")
                                                      and stripped.count("|") > 2):
            out.append(line)
        else:
            out.append(_escape_line(line))
        if stripped.endswith("::") or stripped.startswith(".. "):
            block_indent = indent
    return out


_BULLET = re.compile(r"^(?:[*+-]|\d+[.)]|\(\d+\))\s+")


def _content_indent(line: str) -> int:
    stripped = line.lstrip()
    marker = _BULLET.match(stripped)
    return len(line) - len(stripped) + (marker.end() if marker else 0)


def literalize_indented(lines: list[str]) -> list[str]:
    """Show an indented block that follows a paragraph (formulas) as a literal block.

    The docstrings indent their ASCII formulas under the sentence that introduces them without
    the ``::`` that reStructuredText needs, which it would read as a quotation or a definition
    list (reflowing the formula). The introducing line gets ``::`` appended (shown as ``:``).
    """
    out = list(lines)
    last = None  # index of the last non-blank line seen
    i = 0
    while i < len(out):
        line = out[i]
        if not line.strip():
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        after_blank = last is not None and last < i - 1
        if after_blank and indent > _content_indent(out[last]):
            intro = out[last].rstrip()
            opener = intro.lstrip()
            if not (intro.endswith("::") or opener.startswith(".. ") or set(opener) <= set("-=~")):
                out[last] = intro[:-1] + "::" if intro.endswith(":") else intro + "::"
            base = _content_indent(out[last])
            while i < len(out) and (not out[i].strip()
                                    or len(out[i]) - len(out[i].lstrip()) > base):
                if out[i].strip():
                    last = i
                i += 1
            continue
        last = i
        i += 1
    return out


# "name : type    description" on one line (a column layout for the terminal)
_ONE_LINE_FIELD = re.compile(
    r"^(?P<indent>\s*)(?P<head>[A-Za-z_][\w, ]* : \S.*?)\s{2,}(?P<desc>\S.*)$")
_SECTIONS = ("Attributes",)


def split_field_columns(lines: list[str]) -> list[str]:
    """Turn column-style fields (``name : type    description``) into numpydoc fields.

    Some docstrings align the description of a field in a column on the same line as its
    type, which reads well in a terminal; numpydoc would take the whole line as the type. In
    the sections of ``_SECTIONS`` such a line becomes the field header ``name : type`` and the
    description (with its continuation lines) moves to the indented lines below it. Only the
    Attributes sections use that layout.
    """
    out: list[str] = []
    section = None
    field_indent = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if stripped in _SECTIONS and nxt and set(nxt) == {"-"}:
            section, field_indent = stripped, None
            out.append(line)
            continue
        if section and stripped and set(stripped) == {"-"}:
            out.append(line)
            continue
        if section is None:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip())
        match = _ONE_LINE_FIELD.match(line)
        if match and (field_indent is None or indent <= field_indent):
            field_indent = indent
            out.append(f"{match['indent']}{match['head']}")
            out.append(f"{match['indent']}    {match['desc']}")
            continue
        if field_indent is not None and stripped and indent > field_indent + 4:
            out.append(" " * (field_indent + 4) + stripped)  # continuation of a description
            continue
        if field_indent is not None and stripped and indent <= field_indent:
            field_indent = indent if " : " in stripped or _is_name(stripped) else None
        out.append(line)
    return out


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][\w, ]*", text) is not None


def _process_docstring(app, what, name, obj, options, lines):
    lines[:] = escape_bars(literalize_indented(split_field_columns(lines)))


_original_extract_summary = _autosummary.extract_summary
_SENTENCE_END = re.compile(r"\.(?:\s+|$)")


def extract_summary(doc, settings):
    """Sphinx's summary, extended past any period that fell inside an inline literal."""
    summary = _original_extract_summary(doc, settings)
    if summary.count("``") % 2 == 0:
        return summary
    stanza = []
    for line in doc:
        if not line.strip():
            if stanza:
                break
            continue
        stanza.append(line.strip())
    text = " ".join(stanza)
    for match in _SENTENCE_END.finditer(text):
        candidate = text[:match.start()] + "."
        if len(candidate) >= len(summary) and candidate.count("``") % 2 == 0:
            return candidate
    return text


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    _autosummary.extract_summary = extract_summary
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
