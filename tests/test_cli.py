"""The `modelpred` command's dispatch (each subcommand is smoke-tested with its module)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelpred_theory import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2


def test_unknown_command_names_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "modelpred_theory.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "modelpred" in proc.stdout


def test_figures_list_finds_scripts_and_skips_helpers(capsys):
    assert cli.main(["figures", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "influence_vs_removed.py" in listed
    assert "app_valuation.py" in listed
    assert "app_common.py" not in listed  # a helper module without main()
