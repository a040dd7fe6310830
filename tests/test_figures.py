"""Smoke runs of figure scripts that live outside the application suites."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_fig_{name}", ROOT / "figures" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
