"""Run the Python snippets of a Markdown page at build time and keep what they print.

``docs/conf.py`` runs the ``python`` blocks of ``getting_started.md`` in order, in one
namespace, in an empty temporary folder, and writes what block ``k`` (1-based) prints to
``gen_modules/getting_started/block_k.txt``; the page includes that file right after the block,
so every number a reader sees there was computed when the site was built. A snippet that
raises fails the build. ``tests/test_getting_started.py`` runs the same blocks (and the
page's ``modelpred`` commands) in the test suite.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    """The ``python`` fenced blocks of a Markdown text, in page order."""
    return [body for kind, body in BLOCK.findall(text) if kind == "python"]


def run_blocks(blocks: list[str], name: str = "page") -> list[str]:
    """What each block prints, running them in order in one namespace in a fresh folder."""
    namespace: dict = {"__name__": f"__{name}__"}
    outputs = []
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="mpt-snippets-") as folder:
        os.chdir(folder)
        try:
            for k, code in enumerate(blocks, 1):
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    exec(compile(code, f"{name} python block {k}", "exec"), namespace)
                outputs.append(buffer.getvalue())
        finally:
            os.chdir(here)
    return outputs


def write_outputs(page: str | Path, outdir: str | Path) -> list[Path]:
    """Run the page's Python blocks; write ``block_k.txt`` for each (only when changed)."""
    page = Path(page)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, text in enumerate(run_blocks(python_blocks(page.read_text(encoding="utf-8")),
                                        page.stem), 1):
        path = outdir / f"block_{k}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
