"""A user's own data: from_arrays / from_dataframe / from_csv / from_npz / load(path).

References: the bundled loader (a CSV written from scikit-learn's own breast_cancer arrays must
give bit-for-bit the same Dataset as ``load("breast_cancer")``), direct numpy recomputation of
the recorded transform, and scikit-learn's stratified splitter.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from sklearn import datasets as skd
from sklearn.datasets import make_classification

from modelpred_theory import datasets as D


def write_csv(path, X, y, names=None, target="label"):
    names = names or [f"f{j}" for j in range(X.shape[1])]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, target])
        for row, lab in zip(X, y, strict=True):
            w.writerow([repr(float(v)) for v in row] + [lab])
    return path


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    return X, np.array(["no", "yes"])[y]


# ------------------------------------------------------------------ same pipeline as bundled
def test_csv_of_breast_cancer_equals_the_bundled_loader(tmp_path):
    bunch = skd.load_breast_cancer()
    path = write_csv(tmp_path / "bc.csv", bunch.data, bunch.target.tolist(),
                     names=[n.replace(" ", "_") for n in bunch.feature_names])
    for kw in ({}, {"seed": 3, "n_train": 100}, {"test_size": 0.4}):
        mine = D.from_csv(path, target="label", **kw)
        ref = D.load("breast_cancer", **kw)
        for attr in ("X_train", "X_test", "y_train", "y_test", "feature_mean", "feature_std",
                     "train_rows", "test_rows"):
            np.testing.assert_array_equal(getattr(mine, attr), getattr(ref, attr), err_msg=attr)
        assert mine.scale_factor == ref.scale_factor
        assert mine.task == "binary" and mine.classes_.tolist() == [0, 1]
    # load(path) is the same route
    again = D.load(str(path), target="label", seed=3, n_train=100)
    np.testing.assert_array_equal(again.X_train, D.load("breast_cancer", seed=3,
                                                         n_train=100).X_train)


def test_arrays_dataframe_csv_and_npz_agree(tmp_path, clf_data):
    pd = pytest.importorskip("pandas")
    X, y = clf_data
    a = D.from_arrays(X, y, seed=1)
    c = D.from_csv(write_csv(tmp_path / "d.csv", X, y), target="label", seed=1)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)]).assign(label=y)
    f = D.from_dataframe(df, target="label", seed=1)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    z = D.load(tmp_path / "d.npz", seed=1)
    for other in (c, f, z):
        np.testing.assert_array_equal(other.X_train, a.X_train)
        np.testing.assert_array_equal(other.y_test, a.y_test)
    assert c.feature_names == f.feature_names == [f"f{j}" for j in range(5)]
    assert c.target_name == "label" and c.name == "d.csv"


def test_split_is_deterministic_stratified_and_traceable(clf_data):
    X, y = clf_data
    a, b, c = (D.from_arrays(X, y, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.train_rows, b.train_rows)
    assert not np.array_equal(a.train_rows, c.train_rows)
    # the rows are a partition of the input, and each row is its transformed source row
    assert sorted(np.r_[a.train_rows, a.test_rows].tolist()) == list(range(120))
    np.testing.assert_array_equal(a.y_train, y[a.train_rows])
    np.testing.assert_allclose(a.transform(X[a.test_rows]), a.X_test, rtol=0, atol=0)
    # stratified: each class's test share is within one row of test_size
    for lab in ("no", "yes"):
        share = (a.y_test == lab).sum() / (y == lab).sum()
        assert abs(share - 0.25) <= 1.0 / (y == lab).sum() + 1e-12


def test_transform_is_the_recorded_standardise_then_scale(clf_data):
    X, y = clf_data
    ds = D.from_arrays(X, y)
    Xtr = X[ds.train_rows]
    mean, std = Xtr.mean(0), Xtr.std(0)
    Z = (Xtr - mean) / std
    s = np.linalg.norm(Z, axis=1).max()
    # float64 rounding of (x - m) / s / r vs the recorded pipeline: a few ulps of O(1) values
    np.testing.assert_allclose(ds.X_train, Z / s, rtol=0, atol=1e-14)
    assert abs(np.linalg.norm(ds.X_train, axis=1).max() - 1.0) <= 1e-14
    X_new = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_allclose(ds.transform(X_new), (X_new - mean) / std / s, atol=1e-13)
    np.testing.assert_allclose(ds.inverse_transform(ds.transform(X_new)), X_new, atol=1e-12)
    assert isinstance(ds.feature_transform, D.FeatureTransform)


def test_labels_are_kept_and_encoded_in_sorted_order():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    for labels, classes in ((["b", "a", "c"], ["a", "b", "c"]), ([-1, 1], [-1, 1]),
                            ([2, 1], [1, 2]), ([True, False], [False, True])):
        y = np.array(labels)[rng.integers(0, len(labels), 60)]
        ds = D.from_arrays(X, y)
        assert ds.classes_.tolist() == classes
        assert ds.n_classes == len(classes)
        assert ds.task == ("binary" if len(classes) == 2 else "multiclass")
        assert set(ds.y_train.tolist()) <= set(classes)
        codes = ds.encode_labels(ds.y_train)
        np.testing.assert_array_equal(np.asarray(classes)[codes], ds.y_train)
        np.testing.assert_array_equal(ds.decode_labels(codes), ds.y_train)


def test_task_inference_and_override():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    assert D.from_arrays(X, rng.normal(size=80)).task == "regression"
    assert D.from_arrays(X, rng.integers(0, 3, 80)).task == "multiclass"
    assert D.from_arrays(X, rng.integers(0, 2, 80).astype(float)).task == "binary"
    many = np.arange(80) % (D.MAX_INFERRED_CLASSES + 1)  # 21 integer values: a count target
    assert D.from_arrays(X, many).task == "regression"
    assert D.from_arrays(X, many, task="classification", test_size=0.3).n_classes == 21
    assert D.from_arrays(X, rng.integers(0, 2, 80), task="regression").task == "regression"


def test_regression_target_is_standardised_and_invertible():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    y = 1000 + 50 * rng.normal(size=50)
    ds = D.from_arrays(X, y)
    assert abs(ds.y_train.mean()) < 1e-12 and abs(ds.y_train.std() - 1) < 1e-12
    np.testing.assert_allclose(ds.inverse_transform_target(ds.y_test), y[ds.test_rows],
                               rtol=1e-13)
    raw = D.from_arrays(X, y, standardize=False)
    np.testing.assert_array_equal(raw.y_train, y[raw.train_rows])


def test_unscaled_rows_outside_the_unit_ball_warn(clf_data):
    X, y = clf_data
    with pytest.warns(UserWarning, match="certificates .* infinite"):
        D.from_arrays(X * 10, y, scale=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D.from_arrays(X, y)  # scaled: no warning
        inside = X / (2 * np.linalg.norm(X, axis=1).max())
        ds = D.from_arrays(inside, y, scale=None, standardize=False)
        np.testing.assert_array_equal(ds.X_train, inside[ds.train_rows])


def test_sparse_input_and_constant_columns():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 4))
    X[:, 2] = 5.0  # a constant column keeps std 1
    y = rng.integers(0, 2, 40)
    dense = D.from_arrays(X, y)
    sparse = D.from_arrays(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.X_train, sparse.X_train)
    assert dense.feature_std[2] == 1.0 and np.all(dense.X_train[:, 2] == 0.0)


def test_csv_reader_details(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("\ufeffa, b ,label\n1,2,x\n\n3,4,y\r\n5,6,x\n7,8,y\n")  # BOM, blanks, CRLF
    ds = D.from_csv(p, target="label", test_size=0.5)
    assert ds.feature_names == ["a", "b"] and ds.classes_.tolist() == ["x", "y"]
    ds2 = D.from_csv(p, target="label", features=["b"], test_size=0.5)
    assert ds2.n_features == 1
    q = tmp_path / "semi.csv"
    q.write_text("a;label\n1;0\n2;1\n3;0\n4;1\n")
    assert D.from_csv(q, target="label", delimiter=";", test_size=0.5).n_train == 2
