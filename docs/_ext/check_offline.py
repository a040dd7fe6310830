"""Fail if the built site would fetch anything from the network (``make docs`` runs it).

Usage: ``python docs/_ext/check_offline.py docs/_build/html``. Looks at every HTML page for
scripts, stylesheets, images, frames and fonts loaded from an absolute URL (``http:``,
``https:`` or protocol-relative ``//``), and at every CSS file for ``url(...)`` or
``@import`` of one. Plain hyperlinks (``<a href>``) are not fetches and are allowed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_REMOTE = r"(?:https?:)?//"
_HTML = re.compile(
    rf"<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*[\"']{_REMOTE}[^\"']*"
    rf"|<link\b[^>]*\bhref\s*=\s*[\"']{_REMOTE}[^\"']*", re.IGNORECASE)
_CSS = re.compile(rf"(?:url\(\s*[\"']?{_REMOTE}[^)]*\)|@import\s+[\"']{_REMOTE}[^\"']*)",
                  re.IGNORECASE)


def remote_loads(site: str | Path) -> list[str]:
    """``file: snippet`` for every network load found under the built site."""
    site = Path(site)
    found = []
    for page in sorted(site.rglob("*.html")):
        for match in _HTML.finditer(page.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{page.relative_to(site)}: {match.group(0)[:120]}")
    for sheet in sorted(site.rglob("*.css")):
        for match in _CSS.finditer(sheet.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{sheet.relative_to(site)}: {match.group(0)[:120]}")
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        sys.stderr.write("usage: check_offline.py BUILT_HTML_FOLDER\n")
        return 2
    found = remote_loads(argv[0])
    for line in found:
        sys.stderr.write(f"network load: {line}\n")
    if found:
        return 1
    print(f"offline: no network loads in {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
