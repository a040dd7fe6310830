"""Smoke-run every proof check of THEORY.md in quick mode and require PASS on every claim."""

from __future__ import annotations

import pytest

from modelpred_theory import checks, cli

NAMES = sorted(checks.find_checks())


def test_every_statement_has_a_check():
    expected = {"check_ridge_decomposition", "check_stability", "check_certificate",
                "check_influence_rates", "check_regularisation", "check_latent_dimension"}
    assert expected <= set(NAMES)


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_check_passes_in_quick_mode(name, tmp_path):
    (res,) = checks.run_checks([name], out=str(tmp_path), progress=False)
    assert res.get("error") is None, res.get("error")
    failed = [c for c in res["claims"] if not c["passed"]]
    assert res["passed"], failed
    assert res["n_claims"] >= 1
    assert res["figure"] is not None and (tmp_path / f"{name}.png").exists()


def test_runner_cli(tmp_path, capsys):
    assert cli.main(["check", "--list"]) == 0
    assert "check_stability" in capsys.readouterr().out
    assert cli.main(["check", "stability", "--no-plot", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "check_stability" in out and "PASS" in out
    assert cli.main(["check", "no_such_check"]) == 2


def test_runner_reports_failures(monkeypatch, tmp_path):
    def boom(*a, **k):
        raise RuntimeError("boom")

    real = checks._load

    def fake_load(name, path):
        mod = real(name, path)
        monkeypatch.setattr(mod, "main", boom)
        return mod

    monkeypatch.setattr(checks, "_load", fake_load)
    assert cli.main(["check", "stability", "--no-plot"]) == 1
