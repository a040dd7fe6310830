"""README's numbers against their sources.

The generated rows of README's results table must equal their rendering from the committed JSON
under ``bench/reference/`` (``bench/results_table.py``); every source must exist; every other
row must say that it was recorded by hand and has no committed source yet. The remaining tests
show that the checker itself catches a changed number, a changed source, a missing source and
a quick-mode file, and that ``--write`` puts the rows back.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import readme_results  # noqa: E402
import results_table as rt  # noqa: E402

README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
ROW_IDS = [r.id for r in rt.ROWS]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def _load(row: rt.Row) -> dict:
    return json.loads((rt.REFERENCE / row.source).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the README itself
def test_generated_rows_agree_with_their_sources():
    problems = rt.check(README_TEXT)
    assert not problems, ("README's generated rows differ from bench/reference/ (run "
                          "`python bench/results_table.py --write`):\n" + "\n".join(problems))


@pytest.mark.parametrize("row_id", ROW_IDS)
def test_every_source_is_committed_and_renders(row_id):
    (row,) = [r for r in rt.ROWS if r.id == row_id]
    path = rt.REFERENCE / row.source
    assert path.is_file(), f"{row_id}: source {path} is missing"
    line = row.render(_load(row))
    assert line.endswith(f"<!-- row:{row_id} --> |") and len(_cells(line)) == 3
    assert sum(f"<!-- row:{row_id} -->" in ln for ln in rt.table_rows(README_TEXT)) == 1


def test_sources_name_no_absolute_path():
    """A committed source is written with relative paths (``--out bench/results``), so it
    names nothing of the machine that ran it."""
    for row in rt.ROWS:
        text = (rt.REFERENCE / row.source).read_text(encoding="utf-8")
        assert not re.search(r'"(/[\w.-]+/|[A-Za-z]:\\\\)', text), row.source


def test_every_other_row_is_labelled_as_recorded_by_hand():
    unlabelled = []
    for line in rt.table_rows(README_TEXT):
        what = _cells(line)[0]
        if rt.MARKER.search(line):
            assert rt.HAND_LABEL not in what, f"a generated row carries the hand label: {what}"
        elif not what.endswith(rt.HAND_LABEL):
            unlabelled.append(what[:80])
    assert not unlabelled, (f"rows with no committed source must end their first cell with "
                            f"{rt.HAND_LABEL!r}: {unlabelled}")


def test_the_label_is_explained_above_the_table():
    a, b = rt.table_span(README_TEXT)
    body = README_TEXT[a:b]
    intro = body[:body.index("| what |")]
    assert rt.HAND_LABEL in intro and "bench/results_table.py --write" in intro


def test_the_docs_copy_shows_the_rows_without_markers():
    body = readme_results.extract_results(README_TEXT)
    assert "<!-- row:" not in body
    for row in rt.ROWS:
        rendered = row.render(_load(row))
        assert rt.MARKER.sub("", rendered).replace("  |", " |") in body.replace("  |", " |")


# ----------------------------------------------------------------------------- the checker
def test_check_catches_a_number_typed_over_the_generated_one():
    line = next(ln for ln in rt.table_rows(README_TEXT) if "<!-- row:proof-checks -->" in ln)
    tampered = line.replace(" claims pass", "0 claims pass", 1)
    assert tampered != line
    problems = rt.check(README_TEXT.replace(line, tampered))
    assert len(problems) == 1 and problems[0].startswith("proof-checks:")


def test_check_catches_a_changed_source(tmp_path):
    ref = tmp_path / "reference"
    shutil.copytree(rt.REFERENCE, ref)
    doc = json.loads((ref / "attribution_per_fit.json").read_text())
    doc["per_fit"]["ratio_median"] *= 1.5
    (ref / "attribution_per_fit.json").write_text(json.dumps(doc))
    problems = rt.check(README_TEXT, ref)
    assert [p.split(":")[0] for p in problems] == ["attribution-per-fit"]


def test_check_and_write_report_a_missing_source(tmp_path):
    ref = tmp_path / "reference"
    shutil.copytree(rt.REFERENCE, ref)
    (ref / "proof_checks.json").unlink()
    problems = rt.check(README_TEXT, ref)
    assert len(problems) == 1 and "proof-checks" in problems[0] and "missing" in problems[0]
    text, errors = rt.write(README_TEXT, ref)
    assert text == README_TEXT and len(errors) == 1 and "missing" in errors[0]


def test_check_reports_a_row_missing_from_the_table():
    line = next(ln for ln in rt.table_rows(README_TEXT) if "<!-- row:attribution-problems" in ln)
    problems = rt.check(README_TEXT.replace(line + "\n", ""))
    assert len(problems) == 1 and "attribution-problems" in problems[0]


def test_write_restores_emptied_and_deleted_rows():
    lines = {r.id: next(ln for ln in rt.table_rows(README_TEXT) if f"<!-- row:{r.id} -->" in ln)
             for r in rt.ROWS}
    emptied = README_TEXT.replace(lines["proof-checks"], "| <!-- row:proof-checks --> |")
    text, errors = rt.write(emptied)
    assert not errors and text == README_TEXT
    deleted = README_TEXT.replace(lines["attribution-per-fit"] + "\n", "")
    text, errors = rt.write(deleted)
    assert not errors and not rt.check(text)
    assert rt.table_rows(text)[-1] == lines["attribution-per-fit"]  # appended at the end


def test_cli_check_exit_status(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README_TEXT)
    assert rt.main(["--check", "--readme", str(readme)]) == 0
    line = next(ln for ln in rt.table_rows(README_TEXT) if "<!-- row:proof-checks -->" in ln)
    readme.write_text(README_TEXT.replace(line, line.replace("PASS", "pass", 1)))
    assert rt.main(["--check", "--readme", str(readme)]) == 1
    assert "proof-checks" in capsys.readouterr().err
    assert rt.main(["--write", "--readme", str(readme)]) == 0
    assert readme.read_text() == README_TEXT


# ----------------------------------------------------------------------------- the renderings
@pytest.mark.parametrize("row_id", ["attribution-per-fit", "attribution-problems"])
def test_a_quick_file_never_reads_as_the_full_protocol(row_id):
    (row,) = [r for r in rt.ROWS if r.id == row_id]
    doc = _load(row)
    quick, full = copy.deepcopy(doc), copy.deepcopy(doc)
    quick["settings"]["quick"], full["settings"]["quick"] = True, False
    full["settings"].update(n=5000, threads=2)
    q, f = _cells(row.render(quick)), _cells(row.render(full))
    assert q[0].startswith("QUICK SMOKE RUN") and "--quick" in q[2]
    assert "QUICK" not in f[0] and "--quick" not in f[2]
    assert "--n 5000" in f[2] and "--threads 2" in f[2] and "2 threads" in f[0]


def test_a_failed_method_is_shown():
    (row,) = [r for r in rt.ROWS if r.id == "attribution-problems"]
    doc = _load(row)
    doc["problems"]["digits"]["methods"]["trak"] = {"error": "MemoryError: too big"}
    result = _cells(row.render(doc))[1]
    assert "failed: TRAK (MemoryError)" in result and "TRAK 0." not in result.split("synthetic")[0]


def test_settings_that_matter_come_from_the_file():
    (row,) = [r for r in rt.ROWS if r.id == "attribution-problems"]
    doc = _load(row)
    digits = doc["problems"]["digits"]
    what = _cells(row.render(doc))[0]
    assert f"n = {rt.count(digits['n'])}" in what
    assert f"p = {rt.count(10 * (digits['d'] + 1))}" in what
    assert f"{rt.count(digits['truth']['n_subsets'])} exact held-out halves" in what
    doc["problems"]["digits"]["truth"]["n_subsets"] = 987_654
    assert "987,654 exact held-out halves" in _cells(row.render(doc))[0]


@pytest.mark.parametrize(("x", "text"), [(3.44, "3.4"), (0.99996, "1.0"), (8.34e-6, "8.3e-6"),
                                         (0.0811, "0.081"), (1234.5, "1200"), (0.0, "0"),
                                         (2.5e5, "2.5e5")])
def test_significant_digits(x, text):
    assert rt.sig(x) == text


def test_ranges():
    assert rt.span([0.52, 2.8e-8]) == "2.8e-8 to 0.52" and rt.span([3.44, 3.9]) == "3.4-3.9"
    assert rt.span([1.0, 1.01]) == "1.0" and rt.span([5, 8], str) == "5-8"


def test_a_cell_with_a_pipe_is_refused():
    row = rt.Row(id="x", source="x.json", what="a | b", result=lambda d: "1",
                 command="c")
    with pytest.raises(ValueError, match="row x"):
        row.render({})


def test_attribution_figure_draws_the_committed_run(tmp_path):
    """figures/attribution_lds.py draws README's attribution source: every rated method of
    the JSON appears with its LDS, and the ceiling is the JSON's."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "figures" / "attribution_lds.py"
    spec = importlib.util.spec_from_file_location("_fig_attribution_lds", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "attribution_lds.png").stat().st_size > 10_000
    src = json.loads(mod.DEFAULT_SOURCE.read_text())
    for pname, prob in src["problems"].items():
        rated = {k: v["lds"] for k, v in prob["methods"].items() if "lds" in v}
        drawn = {r["method"]: r["lds"] for r in out["results"][pname]["methods"]}
        assert drawn == rated
        assert out["results"][pname]["ceiling"] == prob["ceiling"]["lds"]
