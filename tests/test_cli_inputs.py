"""Bad input to the ``modelpred`` command and to the own-data loaders: a clear message naming the
flag / argument / column, exit status 2 (or a ValueError/TypeError) before any work, never a
traceback. Every case here fails fast: none reaches a solver."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from modelpred_theory import cli
from modelpred_theory import datasets as D


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)

    def write(name, header, rows):
        with open(d / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        return str(d / name)

    X = rng.normal(size=(40, 3))
    lab = np.array(["no", "yes"])[rng.integers(0, 2, 40)]
    good = write("good.csv", ["a", "b", "c", "label"],
                 [[*map(repr, r), s] for r, s in zip(X.tolist(), lab, strict=True)])
    one = write("one.csv", ["a", "label"], [[(7 * i) % 10, "x"] for i in range(10)])
    (d / "empty.csv").write_text("")
    (d / "notes.txt").write_text("a,b\n1,2\n")
    (d / "bad.npz").write_bytes(b"this is not a zip file")
    return {"csv": good, "one": one, "empty": str(d / "empty.csv"),
            "txt": str(d / "notes.txt"), "npz": str(d / "bad.npz"),
            "missing": str(d / "nope.csv"), "dir": str(d)}


def _iris2_class0_rows() -> str:
    ds = D.load("iris2")
    return ",".join(map(str, np.flatnonzero(ds.y_train == 0).tolist()))


CLI_CASES = [
    # (argv, text the message must contain)
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["compare", "--n-masks", "-3"], "--n-masks: must be an integer >= 1"),
    (["compare", "--n-masks", "0"], "--n-masks"),
    (["compare", "--n-masks", "two"], "--n-masks"),
    (["compare", "--n-masks", "2.5"], "--n-masks"),
    (["compare", "--fractions", "0,1.5"], "--fractions"),
    (["compare", "--fractions", "abc"], "--fractions"),
    (["compare", "--fractions", ","], "--fractions"),
    (["compare", "--methods", "magic"], "--methods"),
    (["compare", "--n-datamodel", "5"], "--n-datamodel: must be an integer >= 10"),
    (["compare", "--lam", "0"], "--lam"),
    (["compare", "--lam", "-1"], "--lam"),
    (["compare", "--lam", "nan"], "--lam"),
    (["compare", "--lam", "inf"], "--lam"),
    (["compare", "--seed", "-1"], "--seed"),
    (["compare", "--dataset", "mnist"], "unknown data set 'mnist'"),
    (["compare", "--dataset", "my.csv"], "use --data my.csv --target"),
    (["compare", "--data", "{missing}"], "does not exist"),
    (["compare", "--data", "{dir}"], ".csv or .npz"),
    (["compare", "--data", "{txt}"], ".csv or .npz"),
    (["compare", "--data", "{csv}"], "needs --target"),
    (["compare", "--target", "label"], "--target is for --data"),
    (["compare", "--task", "binary"], "--task is for --data"),
    (["compare", "--dataset", "iris2", "--data", "{csv}"], "not allowed with"),
    (["compare", "--test-size", "0"], "--test-size"),
    (["compare", "--test-size", "1"], "--test-size"),
    (["compare", "--n-train", "0"], "--n-train"),
    (["compare", "--learner", "tree"], "--learner"),
    (["compare", "--task", "ranking", "--data", "{csv}"], "--task"),
    (["compare", "--out", "/dev/null/x.json"], "--out"),
    (["compare", "--out", "{dir}/x.txt"], "must end in .json"),
    (["compare", "--out", "{dir}"], "must end in .json"),
    (["compare", "--data", "{csv}", "--target", "nolabel"], "target column 'nolabel' not found"),
    (["compare", "--data", "{empty}", "--target", "y"], "is empty"),
    (["compare", "--data", "{npz}"], "not a readable .npz"),
    (["compare", "--data", "{one}", "--target", "label"], "single class"),
    (["compare", "--data", "{csv}", "--target", "label", "--task", "regression"],
     "numeric target"),
    (["compare", "--data", "{csv}", "--target", "label", "--task", "multiclass"],
     "at least 3 classes"),
    (["compare", "--data", "{csv}", "--target", "a"], "feature column 'label' is not numeric"),
    (["compare", "--data", "{csv}", "--target", "label", "--n-train", "1000"], "n_train"),
    (["compare", "--dataset", "diabetes", "--learner", "logistic"], "regression"),
    (["compare", "--dataset", "wine", "--learner", "svm"], "binary"),
    (["compare", "--dataset", "iris2", "--learner", "ridge"], "regression target"),
    (["demo", "--out", "/dev/null/x"], "--out"),
    (["demo", "--cache-dir", "/dev/null/c"], "--cache-dir"),
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--threads", "0"], "--threads"),
    (["demo", "--learner", "tree"], "--learner"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--lam", "0"], "--lam"),
    (["check", "--seed", "-2"], "--seed"),
    (["check", "no_such_check"], "no_such_check"),
    (["check", "stability", "--out", "/dev/null/x"], "--out"),
    (["check", "--quick", "--full"], "not allowed with"),
    (["figures", "--only", "zzz_nothing"], "matches no figure"),
    (["figures", "--only", "influence", "--out", "/dev/null/x"], "--out"),
    (["value", "--method", "magic"], "--method"),
    (["value", "--budget", "0"], "--budget"),
    (["value", "--method", "loo", "--budget", "5"], "--budget is for Monte-Carlo"),
    (["value", "--method", "loo", "--oracle", "influence"], "--oracle is for"),
    (["value", "--oracle", "modelpred"], "--oracle"),
    (["value", "--metric", "r2"], "--metric"),
    (["value", "--out", "/dev/null/v.csv"], "--out"),
    (["value", "--out", "{dir}/v.txt"], "must end in .csv or .json"),
    (["value", "--dataset", "diabetes", "--metric", "accuracy"], "--metric accuracy"),
    (["value", "--data", "{csv}", "--target", "label", "--learner", "ridge"],
     "--learner ridge needs a regression target"),
    (["whatif"], "nothing to do"),
    (["whatif", "--remove", "x"], "--remove"),
    (["whatif", "--remove", "3,3"], "repeat"),
    (["whatif", "--remove", "-1"], "--remove"),
    (["whatif", "--remove", "5-2"], "bad row number or range"),
    (["whatif", "--remove", ","], "no row numbers"),
    (["whatif", "--remove", "100000"], "--remove: row 100000 does not exist"),
    (["whatif", "--add-from-test", "100000"], "--add-from-test: row 100000 does not exist"),
    (["whatif", "--remove", "1", "--verify"], "--verify"),
    (["whatif", "--remove", "1", "--method", "magic"], "--method"),
    (["whatif", "--remove", "1", "--out", "/dev/null/x.json"], "--out"),
    (["whatif", "--dataset", "iris2", "--remove", "0-74"], "leaves nothing"),
    (["whatif", "--dataset", "iris2", "--remove", "{iris2_class0}"], "no training row of class"),
    (["whatif", "--data", "{csv}", "--target", "label", "--remove", "40"], "does not exist"),
]


@pytest.mark.parametrize("argv,needle", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_bad_cli_input_is_refused_clearly(argv, needle, files, capsys):
    subs = dict(files)
    if any("{iris2_class0}" in a for a in argv):
        subs["iris2_class0"] = _iris2_class0_rows()
    argv = [a.format(**subs) for a in argv]
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    assert needle in err, err
    assert "Traceback" not in err
    assert out == ""  # nothing half-done on stdout


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "usage: modelpred" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the loaders
def _csv(tmp_path, text, name="x.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(12))
X12 = np.arange(24.0).reshape(12, 2)
Y12 = np.array([0, 1] * 6)

LOADER_CASES = [
    # (call(tmp_path), exception type, text the message must contain)
    (lambda t: D.from_csv(_csv(t, GOOD), target="nolabel"), ValueError, "'nolabel' not found"),
    (lambda t: D.from_csv(_csv(t, GOOD), target=3), TypeError, "target"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,red,y")), target="label"),
     ValueError, "column 'b' is not numeric: line 5 (data row 3) holds 'red'"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,nan,y")), target="label"),
     ValueError, "column 'b' has a missing value ('nan') at line 5"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,NA,y")), target="label"),
     ValueError, "column 'b' has a missing value"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,,y")), target="label"),
     ValueError, "column 'b' has a missing value"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,inf,y")), target="label"),
     ValueError, "non-finite value 'inf' at line 5"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,0,")), target="label"),
     ValueError, "target column 'label' has a missing value at line 5"),
    (lambda t: D.from_csv(_csv(t, GOOD.replace("3,0,y", "3,0")), target="label"),
     ValueError, "line 5 has 2 fields but the header has 3"),
    (lambda t: D.from_csv(_csv(t, ""), target="label"), ValueError, "is empty"),
    (lambda t: D.from_csv(_csv(t, "\n  \n"), target="label"), ValueError, "is empty"),
    (lambda t: D.from_csv(_csv(t, "a,label\n"), target="label"), ValueError, "no data rows"),
    (lambda t: D.from_csv(_csv(t, "a,a,label\n1,2,x\n"), target="label"), ValueError,
     "repeats column names ['a']"),
    (lambda t: D.from_csv(_csv(t, "a,,label\n1,2,x\n"), target="label"), ValueError,
     "empty column name at position 1"),
    (lambda t: D.from_csv(t / "nope.csv", target="label"), ValueError, "does not exist"),
    (lambda t: D.from_csv(t, target="label"), ValueError, "is not a file"),
    (lambda t: D.from_csv(_csv(t, GOOD, "x.txt"), target="label"), ValueError, "end in .csv"),
    (lambda t: (t / "bin.csv").write_bytes(b"\xff\xfe\x00\x81") and
     D.from_csv(t / "bin.csv", target="label"), ValueError, "not a UTF-8 text file"),
    (lambda t: D.from_csv(_csv(t, GOOD), target="label", delimiter=";;"), ValueError,
     "delimiter"),
    (lambda t: D.from_csv(_csv(t, GOOD), target="label", features=["zz"]), ValueError,
     "features ['zz'] not found"),
    (lambda t: D.from_csv(_csv(t, GOOD), target="label", features=["a", "label"]),
     ValueError, "contains the target"),
    (lambda t: D.from_csv(_csv(t, GOOD), target="label", features="a"), TypeError, "features"),
    (lambda t: D.from_csv(_csv(t, GOOD), target="b", features=["a"], task="binary"),
     ValueError, "exactly 2 classes"),
    (lambda t: D.load(_csv(t, GOOD)), ValueError, "needs target=COLUMN"),
    (lambda t: D.load(str(_csv(t, GOOD)), target="label", scale="yes"), TypeError, "scale"),
    (lambda t: D.load("iris2", target="label"), ValueError, "are for files"),
    (lambda t: D.load("mnist"), ValueError, "or a path to a .csv or .npz file"),
    (lambda t: D.load(t / "x.parquet"), ValueError, "or a path to a .csv or .npz file"),
    (lambda t: np.savez(t / "k.npz", A=X12) or D.from_npz(t / "k.npz"), ValueError,
     "has no array 'X'"),
    (lambda t: np.savez(t / "o.npz", X=X12, y=np.array([None] * 12, dtype=object))
     or D.from_npz(t / "o.npz"), ValueError, "object (pickled) arrays, which are never loaded"),
    (lambda t: (t / "z.npz").write_bytes(b"PK\x03\x04junk") and D.from_npz(t / "z.npz"),
     ValueError, "not a readable .npz"),
    (lambda t: D.from_arrays(X12, np.zeros(12)), ValueError, "single class"),
    (lambda t: D.from_arrays(X12[:3], Y12[:3]), ValueError, "at least 4"),
    (lambda t: D.from_arrays(X12, np.r_[np.zeros(11), 1]), ValueError,
     "class 1.0 has only 1 row"),
    (lambda t: D.from_arrays(X12[:, 0], Y12), ValueError, "X must be 2-D"),
    (lambda t: D.from_arrays(X12, Y12[:5]), ValueError, "y must have shape (12,)"),
    (lambda t: D.from_arrays(np.where(X12 == 7, np.nan, X12), Y12), ValueError,
     "feature column 1 has a missing or non-finite value (nan) at row 3"),
    (lambda t: D.from_arrays(np.where(X12 == 7, np.nan, X12), Y12, feature_names=["u", "v"]),
     ValueError, "feature column 'v'"),
    (lambda t: D.from_arrays(np.c_[X12, np.array(["r"] * 12)], Y12), ValueError,
     "feature column 2 is not numeric: row 0 holds 'r'"),
    (lambda t: D.from_arrays(X12, np.r_[Y12[:11], np.nan]), ValueError,
     "non-finite value (nan) at row 11"),
    (lambda t: D.from_arrays(X12, np.array([0, 1, None] * 4, dtype=object)), ValueError,
     "missing value at row 2"),
    (lambda t: D.from_arrays(X12, np.array([0, "a"] * 6, dtype=object)), ValueError,
     "mixes value types"),
    (lambda t: D.from_arrays(X12, np.array([" "] * 6 + ["a"] * 6)), ValueError,
     "empty label at row 0"),
    (lambda t: D.from_arrays(X12, Y12, task="ranking"), ValueError, "task must be one of"),
    (lambda t: D.from_arrays(X12, np.arange(12) % 3, task="binary"), ValueError,
     "exactly 2 classes"),
    (lambda t: D.from_arrays(X12, Y12, task="multiclass"), ValueError, "at least 3 classes"),
    (lambda t: D.from_arrays(X12, np.array(["a", "b"] * 6), task="regression"), ValueError,
     "numeric target"),
    (lambda t: D.from_arrays(X12, Y12, test_size=0.0), ValueError, "test_size"),
    (lambda t: D.from_arrays(X12, Y12, test_size=1.5), ValueError, "test_size"),
    (lambda t: D.from_arrays(X12, Y12, test_size="half"), TypeError, "test_size"),
    (lambda t: D.from_arrays(X12, Y12, seed=-1), ValueError, "seed"),
    (lambda t: D.from_arrays(X12, Y12, scale="max"), ValueError, "scale must be"),
    (lambda t: D.from_arrays(X12, Y12, standardize="yes"), TypeError, "standardize"),
    (lambda t: D.from_arrays(X12, Y12, n_train=100), ValueError, "n_train=100 exceeds"),
    (lambda t: D.from_arrays(X12, Y12, feature_names=["a"]), ValueError, "feature_names"),
    (lambda t: D.from_arrays(X12, Y12, feature_names="ab"), TypeError, "feature_names"),
    (lambda t: D.from_arrays(np.c_[X12, [1e300, -1e300] * 6], Y12), ValueError,
     "too large for float64"),
    (lambda t: D.from_arrays(np.c_[X12, [1e300, -1e300] * 6], Y12, standardize=False),
     ValueError, "overflow"),
    (lambda t: D.from_arrays(np.empty((12, 0)), Y12), ValueError, "no feature columns"),
    (lambda t: D.from_arrays(X12, 1e300 * np.arange(12.0) + 0.5), ValueError,
     "target's statistics overflow"),
    (lambda t: D.from_dataframe(X12, target="label"), TypeError, "DataFrame"),
    (lambda t: D.from_arrays(X12, Y12).transform(np.ones((2, 3))), ValueError,
     "X has 3 columns, expected 2"),
    (lambda t: D.from_arrays(X12, Y12).transform(np.full((2, 2), np.nan)), ValueError,
     "X contains NaN"),
    (lambda t: D.from_arrays(X12, Y12).encode_labels([0, 7]), ValueError,
     "label 7 that is not in classes_"),
    (lambda t: D.from_arrays(X12, Y12).decode_labels([0, 2]), ValueError, "codes"),
    (lambda t: D.from_arrays(X12, Y12).transform_target([1.0]), ValueError, "regression"),
]


@pytest.mark.parametrize("call,exc,needle", LOADER_CASES, ids=[str(i) for i in
                                                              range(len(LOADER_CASES))])
def test_bad_loader_input_is_refused_clearly(call, exc, needle, tmp_path):
    with pytest.raises(exc) as info:
        call(tmp_path)
    assert needle in str(info.value)


@pytest.mark.parametrize("case", ["missing", "object", "nan"])
def test_bad_dataframe_columns_are_named(case):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": np.arange(8.0), "b": np.arange(8.0), "label": [0, 1] * 4})
    if case == "missing":
        with pytest.raises(ValueError, match="target column 'y' not found"):
            D.from_dataframe(df, target="y")
    elif case == "object":
        df["b"] = ["1", "2", "x", "4", "5", "6", "7", "8"]
        with pytest.raises(ValueError, match="'b' is not numeric: row 2 holds 'x'"):
            D.from_dataframe(df, target="label")
    else:
        df.loc[5, "a"] = np.nan
        with pytest.raises(ValueError, match="'a' has a missing value at row 5"):
            D.from_dataframe(df, target="label")


# ---------------------------------------------------------------- real files (issue: own CSVs)
@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    """The same 40 x 3 data written as real exports are: ';' with decimal commas, with an id
    column, a row-number column, a date column, latin-1 text."""
    d = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(1)
    X = np.round(rng.normal(size=(40, 3)), 4)
    lab = np.array(["no", "yes"])[(X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)]
    rows = list(zip(X.tolist(), lab, strict=True))

    def write(name, header, body, sep=",", encoding="utf-8"):
        with open(d / name, "w", newline="", encoding=encoding) as f:
            w = csv.writer(f, delimiter=sep)
            w.writerow(header)
            w.writerows(body)
        return str(d / name)

    out = {
        "plain": write("plain.csv", ["a", "b", "c", "label"], [[*r, s] for r, s in rows]),
        "semi": write("semi.csv", ["a", "b", "c", "label"],
                      [[str(v).replace(".", ",") for v in r] + [s] for r, s in rows], sep=";"),
        "semi_dot": write("semi_dot.csv", ["a", "b", "c", "label"], [[*r, s] for r, s in rows],
                          sep=";"),
        "ids": write("ids.csv", ["id", "a", "b", "c", "label", "customer_id"],
                     [[100 + i, *r, s, 7 * i + 3] for i, (r, s) in enumerate(rows)]),
        "rownum": write("rownum.csv", ["a", "n", "b", "c", "label"],
                        [[r[0], 2 * i + 5, r[1], r[2], s] for i, (r, s) in enumerate(rows)]),
        "dates": write("dates.csv", ["a", "b", "c", "when", "label"],
                       [[*r, f"2024-01-{1 + i % 28:02d}", s] for i, (r, s) in enumerate(rows)]),
        "latin": write("latin.csv", ["a", "b", "c", "étiquette"], [[*r, s + "é"] for r, s in rows],
                       encoding="latin-1"),
        "comma_dec": write("comma_dec.csv", ["a", "b", "c", "label"],
                           [[str(v).replace(".", ",") for v in r] + [s] for r, s in rows],
                           sep="\t"),
    }
    return out


REAL_FILE_CASES = [
    # (argv, text the message must contain)
    (["compare", "--data", "{semi}", "--target", "label"], "pass delimiter=';' (--sep ';')"),
    (["compare", "--data", "{semi_dot}", "--target", "label"], "--sep ';'"),
    (["compare", "--data", "{semi}", "--target", "label", "--sep", ";"],
     "pass decimal=',' (--decimal ,)"),
    (["compare", "--data", "{comma_dec}", "--target", "label", "--sep", "\\t"],
     "pass decimal=','"),
    (["compare", "--data", "{dates}", "--target", "label"],
     "feature column 'when' holds dates/times (line 2: '2024-01-01')"),
    (["compare", "--data", "{latin}", "--target", "label"], "--encoding latin-1"),
    (["compare", "--data", "{plain}", "--target", "label", "--features", "a,zz"],
     "features ['zz'] not found"),
    (["compare", "--data", "{plain}", "--target", "label", "--drop", "zz"],
     "drop: columns ['zz'] not found"),
    (["compare", "--data", "{plain}", "--target", "label", "--drop", "label"],
     "drop contains the target"),
    (["compare", "--data", "{plain}", "--target", "label", "--features", "a", "--drop", "b"],
     "not allowed with"),
    (["compare", "--dataset", "iris2", "--sep", ";"], "--sep is for --data FILE.csv"),
    (["compare", "--data", "{plain}", "--target", "label", "--decimal", ","],
     "--decimal , needs another field delimiter"),
    (["compare", "--data", "{plain}", "--target", "label", "--sep", ";;"], "--sep"),
    (["compare", "--data", "{plain}", "--target", "label", "--encoding", "klingon"],
     "'klingon' is not a known text encoding"),
    (["value", "--seed", "1099511627776"], "argument --seed: must be an integer in [0, 2**32"),
    (["whatif", "--remove", "1", "--seed", "4294967296"], "--seed"),
]


@pytest.mark.parametrize("argv,needle", REAL_FILE_CASES,
                         ids=[" ".join(a) for a, _ in REAL_FILE_CASES])
def test_real_file_problems_are_named_with_the_flag_to_fix_them(argv, needle, real_files,
                                                                 capsys):
    rc = cli.main([a.format(**real_files) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    assert needle in err, err
    assert "Traceback" not in err and out == ""


def _same_data(a, b):
    for attr in ("X_train", "X_test", "y_train", "y_test"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr), err_msg=attr)


def test_sep_decimal_and_encoding_read_the_same_data(real_files):
    """A ';' / decimal-comma export and a latin-1 file give the plain CSV's Dataset exactly."""
    plain = D.load(real_files["plain"], target="label")
    _same_data(D.load(real_files["semi"], target="label", delimiter=";", decimal=","), plain)
    _same_data(D.load(real_files["semi_dot"], target="label", delimiter=";"), plain)
    latin = D.load(real_files["latin"], target="étiquette", encoding="latin-1")
    np.testing.assert_array_equal(latin.X_train, plain.X_train)
    assert set(latin.classes_) == {"noé", "yesé"}


def test_identifier_columns_are_dropped_with_a_warning_unless_listed(real_files):
    plain = D.load(real_files["plain"], target="label")
    with pytest.warns(UserWarning, match=r"dropped identifier-like column\(s\) 'id' \(named "
                                         r"like an identifier\), 'customer_id'"):
        ids = D.load(real_files["ids"], target="label")
    _same_data(ids, plain)
    with pytest.warns(UserWarning, match=r"'n' \(strictly increasing integers"):
        rownum = D.load(real_files["rownum"], target="label")
    _same_data(rownum, plain)
    kept = D.load(real_files["ids"], target="label", features=["id", "a", "b", "c"])
    assert kept.feature_names == ["id", "a", "b", "c"]
    dropped = D.load(real_files["ids"], target="label", drop=["id", "customer_id"])
    _same_data(dropped, plain)


def test_cli_features_and_drop_reach_the_loader(real_files, capsys):
    assert cli.main(["whatif", "--data", real_files["ids"], "--target", "label", "--remove",
                     "1", "--features", "a,b,c", "--json", "--quiet"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert len(doc["after"]["theta"]) == 4  # 3 features and the intercept
    assert cli.main(["whatif", "--data", real_files["ids"], "--target", "label", "--remove",
                     "1", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "warning:" in err and "dropped identifier-like column(s) 'id'" in err
    assert len(json.loads(out)["after"]["theta"]) == 4  # id and customer_id dropped
    assert cli.main(["whatif", "--data", real_files["ids"], "--target", "label", "--remove",
                     "1", "--features", "id,a,b,c", "--json", "--quiet"]) == 0
    assert len(json.loads(capsys.readouterr().out)["after"]["theta"]) == 5  # id listed: kept


def test_datetime_and_nullable_dataframe_columns():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=30), "b": pd.array(np.arange(30) % 4, dtype="Int64"),
                       "y": pd.array([0, 1, 1] * 10, dtype="Int64")})
    ds = D.from_dataframe(df, "y")  # nullable integers without missing values are accepted
    ref = D.from_arrays(np.c_[df["a"].to_numpy(), np.arange(30) % 4], np.array([0, 1, 1] * 10))
    _same_data(ds, ref)
    df["t"] = pd.date_range("2020-01-01", periods=30)
    with pytest.raises(ValueError, match="feature column 't' holds dates/times"):
        D.from_dataframe(df, "y")
    with pytest.raises(ValueError, match="X holds dates/times"):
        D.from_arrays(np.array(df["t"].to_numpy())[:, None], np.arange(30) % 2)
