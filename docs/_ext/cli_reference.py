"""Write the reference of the ``modelpred`` command from its own parsers (one source).

Run at configuration time (``docs/conf.py``): for every subcommand in
``modelpred_theory.cli.COMMANDS`` it writes its one-line summary and its complete ``--help``
text into ``gen_modules/cli_reference.md``, which ``docs/cli.md`` includes. A subcommand added
to the CLI appears on the site without editing a page; ``tests/test_docs.py`` checks that
every subcommand is there.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

WIDTH = 92  # argparse wraps its help at $COLUMNS - 2


def help_text(command: str | None = None) -> str:
    """``modelpred [command] --help`` as argparse formats it (``WIDTH`` columns)."""
    cli = importlib.import_module("modelpred_theory.cli")
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        if command is None:
            return cli.build_parser().format_help()
        module = importlib.import_module(f"modelpred_theory.cli.{command}")
        return module.build_parser().format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def reference_markdown() -> str:
    """The Markdown of the command reference (every subcommand, summary and ``--help``)."""
    cli = importlib.import_module("modelpred_theory.cli")
    out = ["```text", help_text().rstrip(), "```", ""]
    for name, summary in cli.COMMANDS.items():
        out += [f"## `modelpred {name}`", "", summary, "", "```text",
                help_text(name).rstrip(), "```", ""]
    return "\n".join(out)


def write_reference(out: str | Path) -> Path:
    """Write the reference to ``out`` (only when it changed); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = reference_markdown()
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out
