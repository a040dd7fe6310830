"""Smoke run of bench/valuation_budget.py --quick: JSON, figure, and the reported quantities.

(Utilities of theta(S), the minimiser of sum_{i in S} loss_i(theta) + lam/2 ||P theta||^2.)
"""

from __future__ import annotations

import json

import pytest

from modelpred_theory._scripts import load_script, script_dir


@pytest.mark.slow
@pytest.mark.torch
def test_valuation_budget_bench_quick(tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        mod = load_script(script_dir("bench") / "valuation_budget.py")
        res = mod.main(["--quick", "--out", str(tmp_path), "--figure",
                        str(tmp_path / "valuation_budget.png")])
    finally:
        torch.set_num_threads(before)
    printed = json.loads(capsys.readouterr().out)
    assert (tmp_path / "valuation_budget.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "valuation_budget_quick.json").read_text())
    pool = saved["pools"][0]
    methods = pool["methods"]
    assert {"exact/permutation", "exact/stratified", "influence/antithetic"} <= set(methods)
    learned = [k for k in methods if k.startswith("modelpred")]
    assert len(learned) >= 3  # every ModelPred base x every sampler
    for m in methods.values():
        secs = [p["seconds"] for p in m["points"]]
        assert secs == sorted(secs) and secs[0] >= m["setup_seconds"]  # training is counted
        evals = [p["evaluations"] for p in m["points"]]
        assert evals == sorted(evals) and evals[0] < evals[-1]  # resumed, growing budgets
    assert all(methods[k]["setup_seconds"] > 0 for k in learned)  # training counted
    assert pool["reference"]["stopped_by"].startswith("WallClock")
    assert set(printed["seconds_to_spearman_0.9"]["iris2"]) == set(methods)
    assert res["quick"] is True
