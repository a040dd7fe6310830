"""Extract the results table from README.md so the docs show it without a copy.

README.md is the single source. The table is taken from between two HTML comment markers::

    <!-- results-start -->
    | what | result | command |
    ...
    <!-- results-end -->

Until both markers exist, the section under the ``## Results`` heading is used (up to the next
``## `` heading). Exactly one marker, markers in the wrong order, or neither markers nor a
Results section is an error that fails the build: the docs never show a stale or empty table.
"""

from __future__ import annotations

from pathlib import Path

START = "<!-- results-start -->"
END = "<!-- results-end -->"


def extract_results(readme_text: str) -> str:
    """The results Markdown of a README text (see the module docstring for the rules)."""
    has_start, has_end = START in readme_text, END in readme_text
    if has_start or has_end:
        if not (has_start and has_end):
            missing = END if has_start else START
            raise ValueError(f"README.md has one results marker but not {missing!r}")
        head, _, rest = readme_text.partition(START)
        body, sep, _ = rest.partition(END)
        if not sep or END in head:
            raise ValueError(f"README.md: {END!r} must come after {START!r}")
        body = body.strip("\n")
    else:
        lines = readme_text.splitlines()
        try:
            start = next(i for i, line in enumerate(lines) if line.strip() == "## Results")
        except StopIteration:
            raise ValueError(f"README.md has neither the markers {START!r} / {END!r} nor a "
                             "'## Results' section") from None
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        body = "\n".join(lines[start + 1:end]).strip("\n")
    if "|---" not in body.replace(" ", "") and "|:--" not in body.replace(" ", ""):
        raise ValueError("README.md results section contains no Markdown table")
    return body + "\n"


def write_results(readme: str | Path, out: str | Path) -> Path:
    """Write the extracted results Markdown to ``out`` (only when it changed)."""
    text = extract_results(Path(readme).read_text(encoding="utf-8"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out


SHORTFALLS = "What falls short"


def extract_shortfalls(readme_text: str) -> str:
    """README's list of what falls short: from the paragraph that starts with
    ``What falls short`` (after the results table) to the next ``## `` heading, without that
    opening line. Missing, or empty, is an error: the Results page never drops it silently."""
    lines = readme_text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(SHORTFALLS))
    except StopIteration:
        raise ValueError(f"README.md has no paragraph starting with {SHORTFALLS!r}") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    body = "\n".join(lines[start + 1:end]).strip("\n")
    if not body.strip():
        raise ValueError(f"README.md: the {SHORTFALLS!r} section is empty")
    return body + "\n"


def write_shortfalls(readme: str | Path, out: str | Path) -> Path:
    """Write README's "What falls short" list to ``out`` (only when it changed)."""
    text = extract_shortfalls(Path(readme).read_text(encoding="utf-8"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out
