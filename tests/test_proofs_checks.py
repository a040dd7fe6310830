"""Smoke-run every proof check of THEORY.md in quick mode and require PASS on every claim."""

from __future__ import annotations

import json
import math

import pytest

from modelpred_theory import checks, cli

NAMES = sorted(checks.find_checks())
KINDS = {"tight", "loose", "identity", "rate", "empirical", "regression"}


def test_every_statement_has_a_check():
    expected = {"check_ridge_decomposition", "check_stability", "check_certificate",
                "check_influence_rates", "check_regularisation", "check_latent_dimension",
                "check_newton_influence", "check_rank_floor", "check_size_floor",
                "check_jacobian_rank", "check_moved_points", "check_approximation_rates",
                "check_value_floor", "check_subset_learning", "check_classical_rates"}
    assert expected <= set(NAMES)
    assert len(NAMES) >= 15


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_check_passes_in_quick_mode(name, tmp_path, capsys):
    (res,) = checks.run_checks([name], out=str(tmp_path))
    assert capsys.readouterr().out == ""  # run_checks never writes to stdout
    assert res.get("error") is None, res.get("error")
    failed = [c for c in res["claims"] if not c["passed"]]
    assert res["passed"], failed
    assert res["n_claims"] >= 1
    assert res["figure"] is not None and (tmp_path / f"{name}.png").exists()
    for c in res["claims"]:
        assert c["kind"] in KINDS
        for key in ("measured", "bound", "ratio"):
            assert c[key] is None or (isinstance(c[key], float) and math.isfinite(c[key]))
        # one meaning of the ratio (checks.RATIO_MEANING): the share of the allowance used
        m, b, rel = c["measured"], c["bound"], c["relation"]
        if m is not None and b is not None:
            if rel in ("<=", "<") and b > 0:
                assert c["ratio"] == pytest.approx(m / b)
            elif rel in (">=", ">") and m > 0:
                assert c["ratio"] == pytest.approx(b / m)
        if c["ratio"] is not None:  # a PASS never reports more than its allowance
            assert c["ratio"] <= 1.0 + 1e-9, c
    # every loose (constant-form) bound stands beside a tight one in the same check, and every
    # statement has a claim that is not a regression test (one an error could break)
    kinds = [c["kind"] for c in res["claims"]]
    assert any(k != "regression" for k in kinds)
    if "loose" in kinds:
        assert "tight" in kinds
    json.dumps(res, allow_nan=False)  # valid JSON (no inf / nan)


def test_run_checks_writes_under_cwd_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (res,) = checks.run_checks(["jacobian_rank"], quiet=False)
    captured = capsys.readouterr()
    assert captured.out == ""  # claims go to stderr when asked
    assert "jacobian_rank" in captured.err and "ratio" in captured.err
    assert res["passed"]
    assert (tmp_path / checks.DEFAULT_OUT_NAME / "check_jacobian_rank.png").exists()
    table = checks.format_table([res])
    assert "ratio" in table and "check_jacobian_rank" in table
    with pytest.raises(ValueError, match="seed"):
        checks.run_checks(["jacobian_rank"], seed=-1)
    with pytest.raises(ValueError, match="unknown"):
        checks.run_checks(["no_such_check"])


def test_runner_cli(tmp_path, capsys):
    assert cli.main(["check", "--list"]) == 0
    assert "check_stability" in capsys.readouterr().out
    assert cli.main(["check", "stability", "--no-plot", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "check_stability" in out and "PASS" in out
    assert cli.main(["check", "no_such_check"]) == 2


def test_runner_json_is_valid_json_only(tmp_path, capsys):
    assert cli.main(["check", "jacobian_rank", "--json", "--no-plot", "--out",
                     str(tmp_path)]) == 0
    payload = json.loads(capsys.readouterr().out)  # stdout holds nothing but the JSON
    (res,) = payload["checks"]
    assert payload["passed"] and res["check"] == "check_jacobian_rank"
    assert all({"measured", "bound", "ratio"} <= set(c) for c in res["claims"])


def test_runner_reports_failures(monkeypatch, tmp_path):
    def boom(*a, **k):
        raise RuntimeError("boom")

    real = checks._load

    def fake_load(name, path):
        mod = real(name, path)
        monkeypatch.setattr(mod, "main", boom)
        return mod

    monkeypatch.setattr(checks, "_load", fake_load)
    assert cli.main(["check", "stability", "--no-plot", "--out", str(tmp_path)]) == 1


def test_check_command_defaults_to_quick():
    """`modelpred check` with no mode flag runs the quick checks (a store_false --quick once made
    full the default); --quick and --full select explicitly."""
    from modelpred_theory.cli import check as check_cli

    ap = check_cli.build_parser()
    assert ap.parse_args([]).full is False
    assert ap.parse_args(["--quick"]).full is False
    assert ap.parse_args(["--full"]).full is True


def test_ratio_has_one_meaning():
    """The ratio is the share of the allowance used for every relation (<= 1 iff satisfied)."""
    from proofs_checks._common import ratio

    assert ratio(0.5, 2.0, "<=") == 0.25 and ratio(3.0, 2.0, "<=") == 1.5
    assert ratio(4.0, 2.0, ">=") == 0.5 and ratio(1.0, 2.0, ">=") == 2.0
    assert ratio(-0.95, -1.0, "~", 0.1) == pytest.approx(0.5)
    assert ratio(149, 149, "==") == 0.0 and ratio(120, 149, "==") == 58.0
    with pytest.raises(ValueError, match="tol"):
        ratio(1.0, 1.0, "~")


def test_table_states_the_ratio_meaning(tmp_path):
    (res,) = checks.run_checks(["jacobian_rank"], out=str(tmp_path), plot=False)
    assert checks.format_table([res]).splitlines()[0] == checks.RATIO_MEANING


@pytest.mark.slow
def test_approximation_map_figure_quick(tmp_path):
    """figures/approximation_map.py (statement 15's map) in quick mode: the laws' constants are
    fitted, every measured certificate covers its error, and both files are written."""
    from modelpred_theory._scripts import load_script, script_dir

    mod = load_script(script_dir("figures") / "approximation_map.py")
    res = mod.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "approximation_map.png").stat().st_size > 1000
    assert json.loads((tmp_path / "approximation_map.json").read_text()) == res
    for p in res["points"]:
        for method in ("influence", "newton"):
            assert p[method]["coverage"] == 1.0
        # the Newton step is the more accurate of the two (Theorem 7.1, statement 15)
        assert p["newton"]["rel_error"] < p["influence"]["rel_error"]
    assert 0 < res["constants"]["a_newton"] and 0 < res["constants"]["a_influence"]
