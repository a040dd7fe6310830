"""Every snippet of the Getting started page runs (docs/getting_started.md).

The page's Python blocks run in order in one namespace, in an empty temporary folder, and each
``$ modelpred ...`` line of its console blocks runs through ``modelpred_theory.cli.main``, the
function the installed ``modelpred`` command calls, in the same folder and in the same process
(one import of torch instead of one per command), after the Python blocks that precede it (the
commands read the CSV file the page writes). The install lines (``make``, ``pip``,
``python3 -m venv``) are not run here: CI runs ``make test`` and ``make docs`` themselves. The
test checks that nothing else is skipped.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "getting_started.md"
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"^\$ (make (demo|test|docs)|python3 -m venv |\.venv/bin/pip install )")


def page_snippets(text: str) -> list[tuple[str, str]]:
    """``[(kind, code)]`` in page order: kind "python" (a block) or "command" (one line)."""
    out = []
    for kind, body in BLOCK.findall(text):
        if kind == "python":
            out.append(("python", body))
            continue
        for line in body.splitlines():
            if not line.strip():
                continue
            assert line.startswith("$ "), f"console line without a prompt: {line!r}"
            out.append(("command", line))
    return out


def test_each_shown_output_follows_its_own_block():
    """The page shows ``block_k.txt`` (what python block k printed at build time,
    docs/_ext/page_snippets.py) right after block k, and for every block that prints."""
    text = PAGE.read_text(encoding="utf-8")
    pieces = re.split(r"^```python\n.*?^```\n", text, flags=re.MULTILINE | re.DOTALL)
    blocks = re.findall(r"^```python\n(.*?)^```\n", text, flags=re.MULTILINE | re.DOTALL)
    for k, (block, after) in enumerate(zip(blocks, pieces[1:], strict=True), 1):
        shown = re.match(r"\s*```\{literalinclude\} gen_modules/getting_started/block_(\d+)\.txt",
                         after)
        if "print(" in block:
            assert shown and int(shown.group(1)) == k, f"block {k}: its output is not shown"
        else:
            assert shown is None, f"block {k} prints nothing but an output follows it"


def test_the_page_has_snippets_of_each_kind():
    snippets = page_snippets(PAGE.read_text(encoding="utf-8"))
    commands = [c for k, c in snippets if k == "command"]
    assert sum(k == "python" for k, _ in snippets) >= 4
    skipped = [c for c in commands if NOT_RUN.match(c)]
    run = [c for c in commands if not NOT_RUN.match(c)]
    assert all(c.startswith("$ modelpred ") for c in run), run   # nothing else skipped
    assert {c.split()[1] for c in skipped} == {"make", "python3", ".venv/bin/pip"}


@pytest.mark.slow
def test_every_snippet_on_the_getting_started_page_runs(tmp_path, monkeypatch):
    from modelpred_theory import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    namespace: dict = {"__name__": "__getting_started__"}
    ran = []
    for kind, code in page_snippets(PAGE.read_text(encoding="utf-8")):
        if kind == "python":
            exec(compile(code, f"{PAGE.name} python block", "exec"), namespace)
            ran.append("python")
            continue
        if NOT_RUN.match(code):
            continue
        argv = shlex.split(code[2:])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(argv[1:])
        assert rc == 0, f"{code}\n{out.getvalue()[-2000:]}\n{err.getvalue()[-2000:]}"
        assert out.getvalue().strip(), f"{code}: printed nothing"
        ran.append(argv[1])
    # what the page says the commands write, and that every kind of snippet ran
    assert (tmp_path / "values.csv").is_file()
    assert {"python", "whatif", "value", "compare", "demo", "check", "figures"} <= set(ran)
    from modelpred_theory import cli as _cli
    assert set(_cli.COMMANDS) <= set(ran), "a subcommand of modelpred is not on the page"
