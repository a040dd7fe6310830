"""The ``modelpred`` command, run in-process (``cli.main`` with capsys) except for the console
entry point and the broken pipe, which need a real process.

Results are checked against independent computations: whatif's exact refit against a fit on the
hand-built changed training set, its certificate against the true error, value's LOO against
refits without each row.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_classification

from modelpred_theory import cli
from modelpred_theory import datasets as D
from modelpred_theory.cli import _common


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory):
    """A user's CSV from make_classification with string labels (60 rows, 4 features)."""
    X, y = make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)
    path = tmp_path_factory.mktemp("own") / "mine.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f0", "f1", "f2", "f3", "label"])
        for row, lab in zip(X.tolist(), y, strict=True):
            w.writerow([*map(repr, row), ["neg", "pos"][lab]])
    return str(path)


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is one JSON document


# ---------------------------------------------------------------------------- dispatch
def test_help_lists_every_command_and_each_command_has_help(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "compare", "check", "figures", "value", "whatif"):
        assert name in out
        assert cli.main([name, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"usage: modelpred {name}" in text and "--json" in text and "--quiet" in text
        if name not in ("check", "figures"):
            assert "--data FILE" in text and "--target COL" in text


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "modelpred_theory.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "usage: modelpred" in proc.stdout


def test_broken_pipe_ends_quietly():
    # the reader closes its end before the command writes (start-up takes far longer than this)
    proc = subprocess.Popen([sys.executable, "-m", "modelpred_theory.cli", "figures", "--list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_figures_list_finds_scripts_and_skips_helpers(capsys):
    assert cli.main(["figures", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert "influence_vs_removed.py" in listed and "app_valuation.py" in listed
    assert "app_common.py" not in listed  # a helper module without main()


# ---------------------------------------------------------------------------- common flags
class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


@pytest.mark.parametrize("flags,tty,expected", [
    ([], False, False), ([], True, True), (["--progress"], False, True),
    (["--no-progress"], True, False), (["--quiet"], True, False),
    (["--quiet", "--progress"], False, True)])
def test_progress_bars_default_to_the_terminal(flags, tty, expected):
    from modelpred_theory.cli import compare

    args = compare.build_parser().parse_args(flags)
    assert _common.make_context("x", args, io.StringIO(), _Stream(tty)).progress is expected


def test_explicit_flags_win_over_quick(capsys):
    assert cli.main(["compare", "--quick", "--n-masks", "2", "--methods", "influence",
                     "--json", "--quiet"]) == 0
    res = _json(capsys)
    assert res["k"] == 2 * 2  # --quick's two fractions, the explicit 2 masks each (not 3)
    assert res["n"] == 80  # --quick's pool where no flag overrides it
    assert capsys.readouterr().err == ""  # --quiet: no status


def test_json_is_the_only_thing_on_stdout(capsys):
    assert cli.main(["check", "stability", "--no-plot", "--json"]) == 0
    out, err = capsys.readouterr()
    res = json.loads(out)
    assert res["passed"] is True and res["checks"][0]["check"] == "check_stability"


def test_check_writes_under_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "stability", "--quiet"]) == 0
    assert (tmp_path / "figures" / "output" / "check_stability.png").is_file()
    assert "PASS" in capsys.readouterr().out


def test_figures_pass_the_current_folder_to_each_script(tmp_path, monkeypatch, capsys):
    script = tmp_path / "fake_figure.py"
    script.write_text(textwrap.dedent("""
        from pathlib import Path
        def main(argv=None):
            out = Path(argv[argv.index("--out") + 1])
            (out / "fake.txt").write_text(" ".join(argv))
    """))
    from modelpred_theory import figures_runner

    monkeypatch.setattr(figures_runner, "find_figures", lambda only=None: [script])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["figures", "--quick", "--json"]) == 0
    res = _json(capsys)
    written = tmp_path / "figures" / "output" / "fake.txt"
    assert res["passed"] and res["out"] == str(tmp_path / "figures" / "output")
    assert written.read_text().startswith("--quick --out ")


def test_output_path_is_checked_before_any_work(monkeypatch, capsys):
    from modelpred_theory.setfn import demo

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("run_demo started before the output path was checked")

    monkeypatch.setattr(demo, "run_demo", boom)
    assert cli.main(["demo", "--quick", "--out", "/dev/null/x"]) == 2
    assert "--out /dev/null/x" in capsys.readouterr().err


# ---------------------------------------------------------------------------- own data
def test_compare_on_own_csv(user_csv, capsys):
    assert cli.main(["compare", "--data", user_csv, "--target", "label", "--fractions", "0.2",
                     "--n-masks", "2", "--methods", "influence,newton_step", "--certify",
                     "--json"]) == 0
    res = _json(capsys)
    assert res["data"] == {"name": "mine.csv", "n_train": 45, "n_test": 15, "task": "binary"}
    rows = {r["method"]: r for r in res["summary"]}
    # a 20% removal: both approximations are close but not exact on logistic regression
    assert 0 < rows["newton_step"]["median_rel_param_error"] < 0.2
    for name in ("influence", "newton_step"):  # the certificates hold (bound >= true error)
        assert rows[name]["certificate_coverage"] == 1.0
        assert rows[name]["certified_fraction"] > 0


def test_value_loo_on_own_csv_matches_refits(user_csv, tmp_path, capsys):
    out = tmp_path / "vals.csv"
    assert cli.main(["value", "--data", user_csv, "--target", "label", "--method", "loo",
                     "--out", str(out), "--quiet"]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    ds = D.from_csv(user_csv, target="label")
    assert len(rows) == ds.n_train
    assert [r["y"] for r in rows] == ds.y_train.tolist()  # the labels as in the file
    assert [int(r["source_row"]) for r in rows] == ds.train_rows.tolist()
    from modelpred_theory.learners import LogisticRegression

    lr = LogisticRegression(lam=1.0)
    y, yt = ds.encode_labels(ds.y_train), ds.encode_labels(ds.y_test)

    def utility(keep):
        theta = lr.fit(ds.X_train[keep], y[keep]).theta
        return -lr.mean_loss(theta, ds.X_test, yt)

    full = utility(np.ones(ds.n_train, bool))
    for i in (0, 7, 30):
        keep = np.ones(ds.n_train, bool)
        keep[i] = False
        # both sides solve to the learner's tolerance (1e-10 relative gradient)
        assert float(rows[i]["value"]) == pytest.approx(full - utility(keep), abs=1e-8)


def test_value_shapley_json_on_own_csv(user_csv, capsys):
    assert cli.main(["value", "--data", user_csv, "--target", "label", "--method", "shapley",
                     "--oracle", "influence", "--budget", "3", "--json"]) == 0
    res = _json(capsys)
    assert res["method"] == "shapley" and res["budget"] == 3 and res["oracle"] == "influence"
    vals = np.array([r["value"] for r in res["values"]])
    assert vals.shape == (45,) and np.all(np.isfinite(vals))
    assert all(r["stderr"] is not None and r["stderr"] >= 0 for r in res["values"])


@pytest.mark.parametrize("method", ["exact", "influence", "newton"])
def test_whatif_on_own_csv_against_a_hand_built_refit(user_csv, method, capsys):
    argv = ["whatif", "--data", user_csv, "--target", "label", "--remove", "3,17,40",
            "--add-from-test", "0,5", "--method", method, "--json"]
    assert cli.main(argv + ([] if method == "exact" else ["--verify"])) == 0
    res = _json(capsys)
    ds = D.from_csv(user_csv, target="label")
    from modelpred_theory.learners import LogisticRegression

    keep = np.setdiff1d(np.arange(ds.n_train), [3, 17, 40])
    X = np.vstack([ds.X_train[keep], ds.X_test[[0, 5]]])
    y = ds.encode_labels(np.r_[ds.y_train[keep], ds.y_test[[0, 5]]])
    exact = LogisticRegression(lam=1.0).fit(X, y).theta
    theta = np.array(res["after"]["theta"])
    err = np.linalg.norm(theta - exact)
    assert res["n_train_after"] == ds.n_train - 3 + 2 and res["n_eval"] == ds.n_test - 2
    assert err <= res["certified_error_bound"]  # the certificate covers the true error
    if method == "exact":
        assert err < 1e-8  # both at the solver's tolerance
    else:
        assert res["true_error"] == pytest.approx(err, rel=1e-6, abs=1e-9)
        assert 0 < err < 0.1 * np.linalg.norm(exact)


def test_whatif_regression_reports_r2(capsys):
    assert cli.main(["whatif", "--dataset", "diabetes", "--remove", "0-9", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "r2" in out and "certified bound" in out


def test_demo_quick_on_own_csv(user_csv, tmp_path, capsys):
    rc = cli.main(["demo", "--quick", "--data", user_csv, "--target", "label", "--epochs", "1",
                   "--no-cache", "--no-figure", "--out", str(tmp_path), "--json", "--quiet"])
    assert rc == 0
    res = _json(capsys)
    assert res["config"]["n"] == 45 and res["config"]["dataset"] == "mine.csv"
    assert (tmp_path / "modelpred_demo.json").is_file()


def test_value_rows_trace_back_to_the_source(capsys):
    from sklearn.datasets import load_diabetes

    assert cli.main(["value", "--dataset", "diabetes", "--method", "influence", "--quick",
                     "--json", "--quiet"]) == 0
    rows = _json(capsys)["values"]
    target = load_diabetes(scaled=False).target
    assert len(rows) == 60 and [r["index"] for r in rows] == list(range(60))
    # y is the raw target of the source row (standardised and back: a few ulps)
    np.testing.assert_allclose([r["y"] for r in rows],
                               target[[r["source_row"] for r in rows]], rtol=1e-13)


def test_whatif_svm_certificate_needs_a_penalised_intercept(capsys):
    argv = ["whatif", "--dataset", "iris2", "--learner", "svm", "--remove", "0-9",
            "--method", "influence", "--verify", "--json", "--quiet"]
    assert cli.main(argv) == 0
    assert _json(capsys)["certified_error_bound"] is None  # inf, written as null
    assert cli.main(argv + ["--penalize-intercept"]) == 0
    res = _json(capsys)
    assert res["true_error"] <= res["certified_error_bound"] < np.inf


def test_value_banzhaf_and_the_newton_oracle(capsys):
    assert cli.main(["value", "--method", "banzhaf", "--quick", "--json", "--quiet"]) == 0
    res = _json(capsys)
    assert res["method"] == "banzhaf" and res["stopped_by"].startswith("FixedBudget")
    vals = np.array([r["value"] for r in res["values"]])
    assert vals.shape == (60,) and np.all(np.isfinite(vals)) and np.ptp(vals) > 0
    assert cli.main(["value", "--method", "shapley", "--oracle", "newton", "--budget", "2",
                     "--quick", "--json", "--quiet"]) == 0
    res = _json(capsys)
    assert res["oracle"] == "newton" and len(res["values"]) == 60
