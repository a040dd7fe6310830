"""Smoke runs of figure scripts that live outside the application suites."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelpred_theory._scripts import load_script, script_dir


def _load(name):
    return load_script(script_dir("figures") / f"{name}.py")


@pytest.mark.torch
def test_paper_experiments_quick(tmp_path):
    mod = _load("paper_experiments")
    summary = mod.main(["--quick", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert [(r["dataset"], r["learner"]) for r in summary["runs"]] == list(mod.QUICK_RUNS)
    on_disk = json.loads((tmp_path / "paper_experiments.json").read_text())
    assert on_disk["quick"] is True
    assert (tmp_path / "paper_experiments.png").stat().st_size > 1000
    for run in on_disk["runs"]:
        for exp in ("deletion", "addition"):
            methods = run["experiments"][exp]
            assert set(methods) == set(mod.METHODS)
            # rigorous certificates cover every method's error on every held-out subset
            assert all(m["certificate_coverage"] == 1.0 for m in methods.values())
        assert (tmp_path / "paper_experiments" / f"{run['dataset']}_{run['learner']}"
                / "modelpred_demo.png").is_file()


def test_paper_experiments_rejects_negative_seed():
    with pytest.raises(SystemExit):
        _load("paper_experiments").main(["--seed", "-1"])


def _load_bench(name):
    return load_script(script_dir("bench") / f"{name}.py")


@pytest.mark.slow
def test_exact_solver_bench_quick(tmp_path, capsys):
    out = tmp_path / "exact.json"
    res = _load_bench("bench_exact_solvers").main(["--quick", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    for w in res["workloads"]:
        assert w["all_converged"] and w["all_residuals_below_tol"]
        assert w["max_rel_diff_vs_sklearn"] < 1e-5  # independent reference, same objective


@pytest.mark.slow
@pytest.mark.torch
def test_digits_bench_quick_and_rank_floor(tmp_path, capsys):
    mod = _load_bench("modelpred_digits_speed")
    assert mod.main(["--quick", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c"),
                     "--rho-hidden", "32,8", "--bases", "none,influence"]) == 0
    res = json.loads((tmp_path / "modelpred_digits_speed_quick.json").read_text())
    raw, hyb = res["models"]
    assert res["p"] == 650 and raw["output_rank"] == 8 and raw["base"] is None
    assert raw["correct_max_residual"] <= 1e-10 and hyb["correct_max_residual"] <= 1e-10
    # no predictor confined to an 8-dim affine subspace can beat the best such subspace by much
    assert raw["median_rel_err"] >= 0.9 * raw["rank_floor_median_rel_err"]
    # the hybrid is not confined: base + gated correction is never worse than its base
    assert hyb["median_rel_err"] <= hyb["base_own"]["median_rel_err"] * (1 + 1e-6)
    with pytest.raises(SystemExit):
        mod.main(["--quick", "--rho-hidden", "a,b"])


@pytest.mark.torch
def test_cost_crossover_quick(tmp_path):
    mod = _load_bench("cost_crossover")
    assert mod.main(["--quick", "--problem", "synthetic", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "cost_crossover_synthetic.json").read_text())
    rows = {r["method"]: r for r in res["methods"]}
    assert rows["exact retraining"]["crossover_Q"] is None  # never cheaper than itself
    for name in ("influence (1st order)", "Newton step"):
        assert rows[name]["max_diff_vs_public_baseline"] <= 1e-9
    for r in res["methods"]:  # the totals are fixed + Q x per-query, Q* where they cross
        if r["crossover_Q"] is not None:
            ex = rows["exact retraining"]["per_query_s"]
            assert np.isclose(r["fixed_s"] + r["crossover_Q"] * r["per_query_s"],
                              r["crossover_Q"] * ex)
    assert (tmp_path / "cost_crossover_synthetic.png").stat().st_size > 1000
