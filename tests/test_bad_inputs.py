"""A catalogue of bad and extreme inputs over the learners, subsets and baselines.

For every case one of two things must hold:
- refused: a ValueError / TypeError raised by this package (the innermost frame is ours, never
  numpy's or torch's), whose message names the argument, before any solver iteration starts
  (``ConvexLearner.solve`` is replaced by a tripwire while the call runs);
- accepted: the result equals an independent computation (scikit-learn, numpy, a closed form),
  and a converged flag is never True with a non-finite residual.

Tolerances (float64):
- 1e-6 relative against scikit-learn: its solvers stop at tol ~1e-10 on another criterion.
- 1e-8 between two of our exact solves of the same problem (each stops at relative residual
  1e-10; parameter errors are residual / mu_S with mu_S >= lam).
"""

from __future__ import annotations

import os
import traceback
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import Ridge as SkRidge
from sklearn.svm import LinearSVC

import modelpred_theory as mpt
from modelpred_theory import baselines as B
from modelpred_theory import subsets as S
from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM
from modelpred_theory.learners.base import ConvexLearner

SK_RTOL = 1e-6
SELF_RTOL = 1e-8

_RNG = np.random.default_rng(0)
N, D = 40, 3
X0 = _RNG.normal(size=(N, D)) / np.sqrt(D)
Y_BIN = (X0 @ np.array([1.0, -1.0, 0.5]) + 0.4 * _RNG.normal(size=N) > 0).astype(int)
Y_BIN[:2] = [0, 1]
Y_MULTI = np.arange(N) % 3
Y_REG = X0 @ np.array([1.0, 2.0, -1.0]) + 0.3 + 0.1 * _RNG.normal(size=N)
LR, RIDGE, SVM = LogisticRegression(1.0), Ridge(0.5), SquaredHingeSVM(1.0)
MULTI = LogisticRegression(1.0, n_classes=3)
ONES = np.ones((2, N), dtype=bool)


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b)


def _with(A, i, j, v):
    A = np.array(A, dtype=np.float64)
    A[i, j] = v
    return A


Y_STR = np.where(Y_BIN == 1, "dog", "cat")


def _offset(c, j=1):
    """X0 with column j shifted by c (its spread stays ~0.6)."""
    X = np.array(X0)
    X[:, j] += c
    return X


def _uint64_column():
    """A uint64 identifier column near 2**63 beside X0's other columns."""
    ids = np.uint64(2**63) - np.arange(N, dtype=np.uint64) * np.uint64(1000)
    return np.c_[ids.astype(np.float64), X0[:, 1:]]


def _nullable_df(na=False, text=False):
    """X0 as a pandas DataFrame of nullable columns: a Int64, b Float64, c boolean (with pd.NA
    at b[3] and c[5] when ``na``; with a string column 'name' when ``text``)."""
    import pandas as pd

    df = pd.DataFrame({"a": pd.array(np.round(3 * X0[:, 0]).astype(np.int64), dtype="Int64"),
                       "b": pd.array(X0[:, 1], dtype="Float64"),
                       "c": pd.array(X0[:, 2] > 0, dtype="boolean")})
    if na:
        df.loc[3, "b"] = pd.NA
        df.loc[5, "c"] = pd.NA
    if text:
        df["name"] = [f"row{i}" for i in range(N)]
    return df


def _nullable_series(values, dtype, na_at=None):
    import pandas as pd

    s = pd.Series(pd.array(values, dtype=dtype))
    if na_at is not None:
        s[na_at] = pd.NA
    return s


X_NULLABLE = np.c_[np.round(3 * X0[:, 0]), X0[:, 1], X0[:, 2] > 0].astype(np.float64)


def _miss_class():
    m = np.ones((2, N), dtype=bool)
    m[1, Y_BIN == 0] = False
    return m


# ---------------------------------------------------------------- refused inputs
# (id, call, exception type, regex that the message must match: it names the argument)
REFUSED = [
    # X
    ("X-nan", lambda: LR.fit(_with(X0, 0, 0, np.nan), Y_BIN), ValueError, "X contains NaN"),
    ("X-inf", lambda: LR.fit(_with(X0, 1, 2, np.inf), Y_BIN), ValueError, "X contains NaN or inf"),
    ("X-neginf", lambda: RIDGE.fit(_with(X0, 1, 2, -np.inf), Y_REG), ValueError, "X contains"),
    ("X-1d", lambda: LR.fit(X0[:, 0], Y_BIN), ValueError, "X must be 2-D"),
    ("X-3d", lambda: LR.fit(X0[None], Y_BIN), ValueError, "X must be 2-D"),
    ("X-no-rows", lambda: LR.fit(np.zeros((0, 3)), Y_BIN[:0]), ValueError, "X must be non-empty"),
    ("X-no-cols", lambda: LR.fit(np.zeros((N, 0)), Y_BIN), ValueError, "X must be non-empty"),
    ("X-strings", lambda: LR.fit(X0.astype(str), Y_BIN), ValueError, "X must be a numeric"),
    ("X-object", lambda: LR.fit(X0.astype(object), Y_BIN), ValueError, "X must be a numeric"),
    ("X-ragged", lambda: LR.fit([[1.0, 2.0], [3.0]], [0, 1]), ValueError, "X must be a 2-D"),
    ("X-complex", lambda: LR.fit(X0 + 1j, Y_BIN), ValueError, "X must be real"),
    ("X-1e300", lambda: LR.fit(_with(X0, 0, 2, 1e300), Y_BIN), ValueError, r"X\[0, 2\] = 1e\+300"),
    ("X-1e200", lambda: SVM.fit(_with(X0, 0, 1, 1e200), Y_BIN), ValueError, r"X\[0, 1\]"),
    ("X-1e160", lambda: RIDGE.fit(_with(X0, 3, 0, -1e160), Y_REG), ValueError, r"X\[3, 0\]"),
    ("X-times-1e150", lambda: LR.fit(X0 * 1e150, Y_BIN), ValueError, "X has entries as large"),
    ("X-1e300-subsets", lambda: LR.fit_subsets(_with(X0, 0, 2, 1e300), Y_BIN, ONES), ValueError,
     "X has entries"),
    ("X-1e300-multi", lambda: MULTI.fit(_with(X0, 5, 2, 1e300), Y_MULTI), ValueError,
     "X\\[5, 2\\]"),
    ("X-rows-vs-y", lambda: LR.fit(X0[:-1], Y_BIN), ValueError, "y has 40 entries but X has 39"),
    ("X-decision-d", lambda: LR.decision_function(np.zeros(4), X0[:, :2]), ValueError,
     "theta has 4 entries"),
    ("X-sparse-huge", lambda: LR.fit(sp.csr_matrix((300_000, 1_000)), np.zeros(300_000)),
     ValueError, "X is a sparse matrix .* GiB"),
    # y
    ("y-nan-ridge", lambda: RIDGE.fit(X0, _with(Y_REG[None], 0, 3, np.nan)[0]), ValueError,
     "y contains NaN"),
    ("y-nan-logistic", lambda: LR.fit(X0, np.r_[np.nan, Y_BIN[1:]]), ValueError, "y contains"),
    ("y-inf", lambda: RIDGE.fit(X0, np.r_[np.inf, Y_REG[1:]]), ValueError, "y contains NaN or inf"),
    ("y-2d-column", lambda: LR.fit(X0, Y_BIN[:, None]), ValueError, r"y must be 1-D.*ravel"),
    ("y-2d", lambda: LR.fit(X0, np.c_[Y_BIN, Y_BIN]), ValueError, "y must be 1-D"),
    ("y-short", lambda: RIDGE.fit(X0, Y_REG[:-3]), ValueError, "y has 37 entries"),
    ("y-strings-ridge", lambda: RIDGE.fit(X0, Y_BIN.astype(str)), ValueError, "y must be numeric"),
    ("y-complex", lambda: RIDGE.fit(X0, Y_REG + 1j), ValueError, "y must be real"),
    ("y-none-label", lambda: LR.fit(X0, np.array([None] + ["a", "b"] * 19 + ["a"], dtype=object)),
     ValueError, "y contains missing labels"),
    ("y-mixed-types", lambda: LR.fit(X0, np.array([1, "a"] * 20, dtype=object)), ValueError,
     "y mixes labels"),
    ("y-continuous", lambda: LR.fit(X0, Y_BIN + 0.25), ValueError, "y holds the non-integer"),
    ("y-continuous-svm", lambda: SVM.fit(X0, Y_REG), ValueError, "y holds the non-integer"),
    ("y-3-labels-svm", lambda: SVM.fit(X0, Y_MULTI), ValueError, "3 distinct labels.*binary"),
    ("y-single-string", lambda: LR.fit(X0, np.full(N, "a")), ValueError,
     "single label 'a'.*classes="),
    ("y-single-label-7", lambda: SVM.fit(X0, np.full(N, 7)), ValueError, "single label 7"),
    ("y-n_classes-2-vs-3", lambda: LogisticRegression(1.0, n_classes=2).fit(X0, Y_MULTI + 5),
     ValueError, r"3 distinct labels \[5, 6, 7\].*n_classes=2"),
    ("y-n_classes-4-vs-3", lambda: LogisticRegression(1.0, n_classes=4).fit(X0, Y_MULTI + 5),
     ValueError, "n_classes=4"),
    ("y-absent-class", lambda: LogisticRegression(1.0, n_classes=4).fit(X0, Y_MULTI), ValueError,
     r"y has no point of class \[3\]"),
    ("y-absent-class-w", lambda: LogisticRegression(1.0, n_classes=4).fit(X0, Y_MULTI, np.ones(N)),
     ValueError, r"^y has no point of class"),
    ("y-not-in-classes", lambda: LogisticRegression(1.0, classes=["a", "b"]).fit(
        X0, np.where(Y_BIN, "a", "c")), ValueError, r"y holds labels \['c'\]"),
    ("y-kind-vs-classes", lambda: LogisticRegression(1.0, classes=["a", "b"]).fit(X0, Y_BIN),
     ValueError, "another kind"),
    ("y-ridge-1e300", lambda: RIDGE.fit(X0, Y_REG * 1e300), ValueError, "y has values as large"),
    ("y-ridge-1e100", lambda: RIDGE.fit_subsets(X0, Y_REG * 1e100, ONES), ValueError, "y\\[.*\\]"),
    ("y-theta-K", lambda: MULTI.loss(np.zeros(4), X0, Y_MULTI), ValueError, "K = 3"),
    # sample_weight
    ("w-negative", lambda: LR.fit(X0, Y_BIN, -np.ones(N)), ValueError, "sample_weight must be non"),
    ("w-nan", lambda: LR.fit(X0, Y_BIN, np.r_[np.nan, np.ones(N - 1)]), ValueError,
     "sample_weight contains NaN"),
    ("w-inf", lambda: RIDGE.fit(X0, Y_REG, np.r_[np.inf, np.ones(N - 1)]), ValueError,
     "sample_weight contains"),
    ("w-zero", lambda: RIDGE.fit(X0, Y_REG, np.zeros(N)), ValueError, "sample_weight is zero"),
    ("w-shape", lambda: LR.fit(X0, Y_BIN, np.ones(N - 1)), ValueError, "sample_weight must have"),
    ("w-2d", lambda: LR.fit(X0, Y_BIN, np.ones((1, N))), ValueError, "sample_weight must have"),
    ("w-strings", lambda: LR.fit(X0, Y_BIN, np.full(N, "1")), ValueError, "sample_weight must be"),
    ("w-complex", lambda: LR.fit(X0, Y_BIN, np.ones(N) + 0j), ValueError, "sample_weight must be"),
    ("w-1e200", lambda: LR.fit(X0, Y_BIN, np.full(N, 1e200)), ValueError, "sample_weight sums"),
    ("w-drops-class", lambda: LR.fit(X0, Y_BIN, (Y_BIN == 1).astype(float)), ValueError,
     "sample_weight: subsets \\[0\\] miss a class"),
    # theta0
    ("theta0-shape", lambda: LR.fit(X0, Y_BIN, theta0=np.zeros(3)), ValueError, "theta0"),
    ("theta0-nan", lambda: LR.fit(X0, Y_BIN, theta0=np.full(4, np.nan)), ValueError,
     "theta0 contains NaN"),
    ("theta0-1e200", lambda: LR.fit(X0, Y_BIN, theta0=np.full(4, 1e200)), ValueError,
     "theta0 has entries as large"),
    ("theta0-1e200-ridge", lambda: RIDGE.fit_subsets(X0, Y_REG, ONES, theta0=np.full(4, 1e200)),
     ValueError, "theta0"),
    ("theta0-k", lambda: LR.fit_subsets(X0, Y_BIN, ONES, theta0=np.zeros((3, 4))), ValueError,
     r"theta0 must have shape \(4,\) or \(2, 4\)"),
    ("theta0-strings", lambda: LR.fit(X0, Y_BIN, theta0=np.array(["0"] * 4)), ValueError,
     "theta0 must be a real"),
    # masks (fit_subsets)
    ("masks-length", lambda: LR.fit_subsets(X0, Y_BIN, np.ones((2, N - 1))), ValueError,
     "masks has rows of length 39, expected n=40"),
    ("masks-3d", lambda: LR.fit_subsets(X0, Y_BIN, np.ones((2, 2, N))), ValueError,
     "masks must be 1-D"),
    ("masks-k0", lambda: LR.fit_subsets(X0, Y_BIN, np.ones((0, N))), ValueError, "masks has no"),
    ("masks-empty-row", lambda: RIDGE.fit_subsets(X0, Y_REG, np.eye(2, N) * 0), ValueError,
     "masks has empty rows"),
    ("masks-negative", lambda: RIDGE.fit_subsets(X0, Y_REG, -ONES.astype(float)), ValueError,
     "masks must be boolean masks or non-negative"),
    ("masks-nan", lambda: RIDGE.fit_subsets(X0, Y_REG, np.full((1, N), np.nan)), ValueError,
     "masks contains NaN"),
    ("masks-strings", lambda: RIDGE.fit_subsets(X0, Y_REG, np.full((1, N), "1")), ValueError,
     "masks must be boolean or numeric"),
    ("masks-miss-class", lambda: LR.fit_subsets(X0, Y_BIN, _miss_class()), ValueError,
     r"masks: subsets \[1\] miss a class \(subset 1 has no point of class \[0\]\)"),
    ("masks-miss-class-svm", lambda: SVM.fit_subsets(X0, Y_BIN, _miss_class()), ValueError,
     r"has no point of class \[0\]"),
    ("masks-huge-weights", lambda: RIDGE.fit_subsets(X0, Y_REG, np.full((1, N), 1e160)),
     ValueError, "masks sums to"),
    # learner settings
    ("lam-negative", lambda: LogisticRegression(-1.0), ValueError, "lam must be >= 0"),
    ("lam-zero-logistic", lambda: LogisticRegression(0.0), ValueError, "lam must be > 0"),
    ("lam-zero-svm", lambda: SquaredHingeSVM(0), ValueError, "lam must be > 0"),
    ("lam-nan", lambda: Ridge(float("nan")), ValueError, "lam must be finite"),
    ("lam-inf", lambda: Ridge(float("inf")), ValueError, "lam must be finite"),
    ("lam-string", lambda: Ridge("1"), ValueError, "lam must be a real number"),
    ("lam-bool", lambda: Ridge(True), ValueError, "lam must be a real number"),
    ("lam-complex", lambda: Ridge(1j), ValueError, "lam must be a real number"),
    ("tol-zero", lambda: Ridge(1.0, tol=0.0), ValueError, "tol must be in"),
    ("tol-one", lambda: Ridge(1.0, tol=1.0), ValueError, "tol must be in"),
    ("tol-string", lambda: Ridge(1.0, tol="1e-8"), ValueError, "tol must be in"),
    ("max_iter-zero", lambda: Ridge(1.0, max_iter=0), ValueError, "max_iter must be"),
    ("max_iter-float", lambda: Ridge(1.0, max_iter=2.5), ValueError, "max_iter must be"),
    ("max_iter-bool", lambda: Ridge(1.0, max_iter=True), ValueError, "max_iter must be"),
    ("penalize-string", lambda: Ridge(1.0, penalize_intercept="yes"), ValueError,
     "penalize_intercept must be a bool"),
    ("n_classes-1", lambda: LogisticRegression(1.0, n_classes=1), ValueError, "n_classes must be"),
    ("n_classes-float", lambda: LogisticRegression(1.0, n_classes=2.5), ValueError, "n_classes"),
    ("n_classes-bool", lambda: LogisticRegression(1.0, n_classes=True), ValueError, "n_classes"),
    ("classes-single", lambda: LogisticRegression(1.0, classes=["a"]), ValueError,
     "classes must hold at least 2"),
    ("classes-repeated", lambda: LogisticRegression(1.0, classes=["a", "a"]), ValueError,
     "classes holds repeated"),
    ("classes-2d", lambda: LogisticRegression(1.0, classes=[[0, 1]]), ValueError,
     "classes must be a 1-D"),
    ("classes-vs-n_classes", lambda: LogisticRegression(1.0, n_classes=3, classes=[0, 1]),
     ValueError, "classes lists 2 labels but n_classes=3"),
    ("classes-svm-3", lambda: SquaredHingeSVM(1.0, classes=[0, 1, 2]), ValueError,
     "classes must list 2 labels"),
    # fit_subsets options
    ("chunk-zero", lambda: LR.fit_subsets(X0, Y_BIN, ONES, chunk_size=0), ValueError,
     "chunk_size must be"),
    ("chunk-float", lambda: LR.fit_subsets(X0, Y_BIN, ONES, chunk_size=1.5), ValueError,
     "chunk_size"),
    ("chunk-bool", lambda: LR.fit_subsets(X0, Y_BIN, ONES, chunk_size=True), ValueError,
     "chunk_size"),
    ("device-name", lambda: LR.fit_subsets(X0, Y_BIN, ONES, device="tpu"), ValueError,
     "device must be one of"),
    ("device-int", lambda: LR.fit(X0, Y_BIN, device=0), ValueError, "device must be"),
    ("device-gpu-word", lambda: LR.fit(X0, Y_BIN, device="gpu"), ValueError, "device"),
    ("device-mps", lambda: LR.fit(X0, Y_BIN, device="meta"), ValueError, "device"),
    ("n_jobs-zero", lambda: LR.fit_subsets(X0, Y_BIN, ONES, n_jobs=0), ValueError,
     "n_jobs must be"),
    ("n_jobs-string", lambda: LR.fit_subsets(X0, Y_BIN, ONES, n_jobs="2"), ValueError, "n_jobs"),
    ("n_jobs-float", lambda: LR.fit_subsets(X0, Y_BIN, ONES, n_jobs=1.5), ValueError, "n_jobs"),
    # front end
    ("grad-theta-shape", lambda: LR.grad(np.zeros(5), X0, Y_BIN), ValueError, "theta must have"),
    ("hvp-v-shape", lambda: LR.hvp(np.zeros(4), np.zeros(3), X0, Y_BIN), ValueError, "v must"),
    ("hvp-rows", lambda: LR.hvp(np.zeros((2, 4)), np.zeros((3, 4)), X0, Y_BIN), ValueError,
     "theta has 2 rows but v has 3"),
    ("psg-k", lambda: LR.per_sample_grads(np.zeros((2, 4)), X0, Y_BIN), ValueError,
     "single theta"),
    ("residual-masks", lambda: mpt.learners.optimality_residual(LR, np.zeros((2, 4)), X0, Y_BIN,
                                                                np.ones((3, N))), ValueError,
     "masks has 3 rows but thetas has 2"),
    ("theta-ragged", lambda: LR.grad([[0.0, 1.0], [2.0]], X0, Y_BIN), ValueError,
     "theta must be a real array"),
    ("theta-scalar-decision", lambda: LR.decision_function(1.0, X0), ValueError,
     r"theta must have shape \(p,\) or \(k, p\)"),
    ("predict-classes", lambda: LR.predict(np.zeros(4), X0, classes=["a", "b", "c"]), ValueError,
     "classes lists 3 labels"),
    # subsets
    ("check_masks-2", lambda: S.check_masks([[1, 2, 0]], 3), ValueError, "masks must be boolean"),
    ("check_masks-half", lambda: S.check_masks([[1, 0.5, 0]], 3), ValueError, "weights=True"),
    ("check_masks-n", lambda: S.check_masks(np.ones((1, 3)), 0), ValueError, "n must be >= 1"),
    ("check_masks-name", lambda: S.check_masks(np.ones((1, 2)), 3, name="unlabelled"),
     ValueError, "unlabelled has rows of length 2"),
    ("prefixes-n", lambda: S.permutation_prefixes(0, 2), ValueError, "n must be >= 1"),
    ("prefixes-P", lambda: S.permutation_prefixes(5, 0), ValueError, "n_permutations must"),
    ("prefixes-step", lambda: S.permutation_prefixes(5, 1, step=0), ValueError, "step must"),
    ("prefixes-sizes", lambda: S.permutation_prefixes(5, 1, min_size=4, max_size=2), ValueError,
     "min_size=4 must be <= max_size=2"),
    ("prefixes-y", lambda: S.permutation_prefixes(5, 1, require_all_classes=True), ValueError,
     "y is required"),
    ("random-k", lambda: S.random_subsets(5, -1), ValueError, "k must be >= 1"),
    ("random-rng", lambda: S.random_subsets(5, 2, rng=-3), ValueError, "rng must be"),
    ("random-rng-type", lambda: S.random_subsets(5, 2, rng="seed"), TypeError, "rng must be"),
    ("random-max", lambda: S.random_subsets(5, 2, max_size=9), ValueError, "max_size must be"),
    ("random-y-shape", lambda: S.random_subsets(5, 2, y=[0, 1]), ValueError, r"y must have"),
    ("random-y-nan", lambda: S.random_subsets(3, 2, y=[0.0, np.nan, 1.0]), ValueError,
     "y contains NaN"),
    ("fixed-size", lambda: S.fixed_size_subsets(5, 2, 6), ValueError, "size must be <= n"),
    ("removal-fraction", lambda: S.removal_masks(5, 1.0, 2), ValueError, "fraction must lie"),
    ("removal-nan", lambda: S.removal_masks(5, float("nan"), 2), ValueError, "fraction must"),
    ("removal-type", lambda: S.removal_masks(5, "0.1", 2), TypeError, "fraction must be"),
    ("loo-n", lambda: S.loo_masks(1), ValueError, "n must be >= 2"),
    ("split-fractions", lambda: S.split_by_group([0, 1, 2], (0.5, 0.5, 0.5)), ValueError,
     "fractions must sum to 1"),
    ("split-groups", lambda: S.split_by_group([], (0.5, 0.1, 0.4)), ValueError, "groups must be"),
    ("covers-y-2d", lambda: S.covers_all_classes(np.ones((1, 3)), np.ones((3, 1))), ValueError,
     "y must be 1-D"),
    # baselines
    ("loo-n1", lambda: B.loo_exact(LR, X0[:1], Y_BIN[:1]), ValueError, "at least 2 rows"),
    ("loo-theta_full-shape", lambda: B.loo_exact(LR, X0, Y_BIN, theta_full=np.zeros(3)),
     ValueError, "theta_full must have shape"),
    ("loo-theta_full-wrong", lambda: B.loo_exact(LR, X0, Y_BIN, theta_full=np.ones(4)),
     ValueError, r"theta_full is not the minimiser.*grad F_base\(theta_full\)"),
    ("loo-theta_full-nan", lambda: B.loo_exact(RIDGE, X0, Y_REG, theta_full=np.full(4, np.nan)),
     ValueError, "theta_full contains NaN"),
    ("loo_ridge-theta_full", lambda: B.loo_ridge(RIDGE, X0, Y_REG, theta_full=np.ones(4)),
     ValueError, "theta_full is not the minimiser"),
    ("loo-singleton-class", lambda: B.loo_exact(LR, X0, np.r_[1, np.zeros(N - 1, int)]),
     ValueError, "leave-one-out subsets"),
    ("loo_ridge-learner", lambda: B.loo_ridge(LR, X0, Y_BIN), ValueError, "must be a Ridge"),
    ("loo-learner", lambda: B.loo_exact("ridge", X0, Y_REG), ValueError, "learner must be"),
    ("loo-X-1e300", lambda: B.loo_exact(RIDGE, _with(X0, 0, 0, 1e300), Y_REG), ValueError,
     "X has entries"),
    ("influence-miss-class", lambda: B.influence(LR, X0, Y_BIN, _miss_class()), ValueError,
     r"masks: subsets \[1\] miss a class"),
    ("influence-order", lambda: B.influence(LR, X0, Y_BIN, ONES, order=3), ValueError,
     "order must be 1 or 2"),
    ("influence-solver", lambda: B.influence(LR, X0, Y_BIN, ONES, solver="lu"), ValueError,
     "solver must be one of"),
    ("influence-base_mask", lambda: B.influence(LR, X0, Y_BIN, ONES, base_mask=np.ones(3)),
     ValueError, "base_mask must have shape"),
    ("influence-base-class", lambda: B.influence(LR, X0, Y_BIN, ONES,
                                                 base_mask=(Y_BIN == 1)), ValueError,
     "base_mask: subsets"),
    ("influence-theta_base", lambda: B.influence(LR, X0, Y_BIN, ONES, theta_base=np.ones(4)),
     ValueError, "theta_base is not the minimiser"),
    ("influence-masks-length", lambda: B.influence(LR, X0, Y_BIN, np.ones((1, 3))), ValueError,
     "masks has rows of length 3"),
    ("influence-y-1e300", lambda: B.influence(RIDGE, X0, Y_REG * 1e300, ONES), ValueError,
     "y has values"),
    ("newton-miss-class", lambda: B.newton_step(LR, X0, Y_BIN, _miss_class()), ValueError,
     r"masks: subsets \[1\] miss a class"),
    ("newton-miss-class-multi", lambda: B.newton_step(MULTI, X0, Y_MULTI,
                                                      (Y_MULTI != 2)[None]), ValueError,
     r"no point of class \[2\]"),
    ("newton-chunk", lambda: B.newton_step(LR, X0, Y_BIN, ONES, chunk_size=0), ValueError,
     "chunk_size"),
    ("newton-X-1e160", lambda: B.newton_step(LR, _with(X0, 2, 2, 1e160), Y_BIN, ONES),
     ValueError, r"X\[2, 2\]"),
    ("newton_loo-theta_full", lambda: B.newton_step_loo(LR, X0, Y_BIN, theta_full=np.ones(4)),
     ValueError, "theta_full"),
    ("ihvp-V", lambda: B.ihvp_cg(LR, np.zeros(4), X0, Y_BIN, np.zeros(3)), ValueError, "V"),
    ("ihvp-tol", lambda: B.ihvp_cg(LR, np.zeros(4), X0, Y_BIN, np.zeros(4), tol=-1.0),
     ValueError, "tol"),
    ("datamodel-alpha", lambda: B.Datamodel(alpha=-1.0), ValueError, "alpha"),
    ("datamodel-method", lambda: B.Datamodel(method="ols"), ValueError, "method"),
    ("datamodel-masks", lambda: B.Datamodel().fit(np.ones((3, 4, 2)), np.ones(3)), ValueError,
     "masks must be 2-D"),
    ("datamodel-masks-neg", lambda: B.Datamodel().fit(-np.ones((3, 4)), np.ones(3)), ValueError,
     "masks must be boolean masks or non-negative"),
    # issue 21.4: an index array is not a mask (it would weight point i by i)
    ("masks-indices", lambda: RIDGE.fit_subsets(X0, Y_REG, np.arange(N)[None]), ValueError,
     "masks holds the integer 2 .* not indices"),
    ("masks-int-counts", lambda: LR.fit_subsets(X0, Y_BIN, np.full((2, N), 3)), ValueError,
     r"masks are boolean \(or 0/1\) or real-valued weights"),
    ("newton-masks-indices", lambda: B.newton_step(LR, X0, Y_BIN, np.arange(N)[None]),
     ValueError, "not indices"),
    # issue 21.2: a column offset beyond float64's reach is refused by name
    ("X-offset-1e10-ridge", lambda: RIDGE.fit(_offset(1e10), Y_REG), ValueError,
     r"X\[:, 1\] has values 1e\+10"),
    ("X-offset-1e12-logistic", lambda: LR.fit(_offset(1e12), Y_BIN), ValueError,
     r"X\[:, 1\] has values"),
    ("X-offset-1e8-subsets", lambda: LR.fit_subsets(_offset(1e8), Y_BIN, ONES), ValueError,
     r"X\[:, 1\] .* centre it"),
    ("X-uint64-near-2**63", lambda: RIDGE.fit(_uint64_column(), Y_REG), ValueError,
     r"X\[:, 0\] has values 9\.22337e\+18"),
    # issue 21.3: weights whose gradient underflows are refused (tiny ones are solved)
    ("masks-1e-300-logistic", lambda: LR.fit_subsets(X0, Y_BIN, np.full((2, N), 1e-300)),
     ValueError, "masks sums to 4e-299 on subset 0"),
    ("sample_weight-1e-300", lambda: RIDGE.fit(X0, Y_REG, sample_weight=np.full(N, 1e-300)),
     ValueError, "sample_weight sums to 4e-299"),
    # issue 21: pandas nullable columns with missing values are refused naming the columns
    ("X-nullable-NA", lambda: LR.fit(_nullable_df(na=True), Y_BIN), ValueError,
     r"X has missing values \(NaN / pd.NA\) in column\(s\) 'b' \(Float64\) at rows \[3\]; "
     r"'c' \(boolean\) at rows \[5\]"),
    ("X-nullable-NA-subsets", lambda: LR.fit_subsets(_nullable_df(na=True), Y_BIN, ONES),
     ValueError, r"X has missing values .* 'b' \(Float64\)"),
    ("X-nullable-NA-test", lambda: mpt.applications.loo_values(
        LR, X0, Y_BIN, _nullable_df(na=True), Y_BIN), ValueError,
     r"X_test has missing values .* 'b' \(Float64\) at rows \[3\]"),
    ("X-text-column", lambda: LR.fit(_nullable_df(text=True), Y_BIN), ValueError,
     r"X must be numeric: column\(s\) 'name' \(.*\) are not"),
    ("y-Int64-NA", lambda: LR.fit(X0, _nullable_series(Y_BIN, "Int64", na_at=7)), ValueError,
     r"y has missing values .* at positions \[7\] \(dtype Int64\)"),
    ("y-Float64-NA-ridge", lambda: RIDGE.fit(X0, _nullable_series(Y_REG, "Float64", na_at=2)),
     ValueError, r"y has missing values .* \[2\]"),
    ("sample_weight-Float64-NA", lambda: RIDGE.fit(
        X0, Y_REG, sample_weight=_nullable_series(np.ones(N), "Float64", na_at=0)), ValueError,
     r"sample_weight has missing values"),
    # issue 21.1: test labels are checked against the training classes
    ("y_test-unseen-labels", lambda: mpt.applications.loo_values(
        LR, X0, Y_STR, X0[:6], np.array(["x", "y"] * 3)), ValueError,
     r"y_test holds labels \['x', 'y'\] that are not among the classes \['cat', 'dog'\]"),
    ("y_test-other-kind", lambda: mpt.applications.loo_values(
        LR, X0, Y_STR, X0[:6], np.array([0, 1] * 3)), ValueError,
     "y_test holds labels .* of another kind"),
    ("y_test-label-2-binary", lambda: mpt.applications.loo_values(
        LR, X0, Y_BIN, X0[:6], np.array([0, 1, 2] * 2)), ValueError,
     r"y_test holds labels \[2\] that are not among the classes \[0, 1\]"),
]


@pytest.fixture
def tripwire(monkeypatch):
    """Fail if a solver iteration starts (refusals must come before any work)."""
    def _boom(*args, **kwargs):
        raise AssertionError("the solver started before the input was refused")

    monkeypatch.setattr(ConvexLearner, "solve", _boom)


@pytest.mark.parametrize("case,call,exc,pattern", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_before_any_work(case, call, exc, pattern, tripwire):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mpt.ConvergenceWarning)
        with pytest.raises(exc, match=pattern) as info:
            call()
    assert type(info.value) in (ValueError, TypeError)
    # raised by this package, not deep inside numpy / torch
    frames = traceback.extract_tb(info.value.__traceback__)
    assert f"{os.sep}modelpred_theory{os.sep}" in frames[-1].filename, frames[-1].filename


# ---------------------------------------------------------------- accepted extreme inputs
def _sk_logistic(X, y, C=1.0, sample_weight=None):
    sk = SkLogistic(C=C, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=sample_weight)
    return np.r_[sk.coef_.ravel(), sk.intercept_], sk


def _numpy_logistic_grad(theta, X, y, lam, w=None):
    """grad F_S by plain numpy (independent of the torch math)."""
    w = np.ones(len(y)) if w is None else w
    Xa = np.c_[X, np.ones(len(y))]
    z = Xa @ theta
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return Xa.T @ (w * (s - y)) + lam * np.r_[theta[:-1], 0.0]


@pytest.mark.parametrize("labels,positive", [
    (Y_BIN + 1, 2), (2 * Y_BIN, 2), (2 * Y_BIN - 1, 1), (np.where(Y_BIN, "yes", "no"), "yes"),
    (Y_BIN.astype(bool), True), (Y_BIN.astype(np.float32) * 10 - 5, 5.0),
    (np.where(Y_BIN, "b", "a").astype(object), "b"),
])
def test_any_sortable_binary_labels_as_sklearn(labels, positive):
    ref, sk = _sk_logistic(X0, labels)
    res = LR.fit(X0, labels)
    assert res.converged and res.classes_[1] == positive == sk.classes_[1]
    assert _rel(res.theta, ref) < SK_RTOL
    np.testing.assert_array_equal(LR.predict(res.theta, X0, res.classes_), sk.predict(X0))
    assert LR.accuracy(res.theta, X0, labels) == pytest.approx(sk.score(X0, labels))


def test_multinomial_labels_as_sklearn():
    labels = np.array(["c", "a", "b"])[Y_MULTI]
    _, sk = _sk_logistic(X0, labels)
    res = LogisticRegression(1.0).fit(X0, labels)
    M = res.theta.reshape(3, D + 1)
    R = np.c_[sk.coef_, sk.intercept_ - sk.intercept_.mean()]  # our gauge: centred intercepts
    assert list(res.classes_) == ["a", "b", "c"]
    assert _rel(M, R) < SK_RTOL


@pytest.mark.parametrize("labels", [2 * Y_BIN - 1, Y_BIN + 3, np.where(Y_BIN, "p", "n")])
def test_svm_labels_as_linear_svc(labels):
    sk = LinearSVC(C=1.0, tol=1e-12, max_iter=200_000).fit(X0, labels)
    svm = SquaredHingeSVM(1.0, penalize_intercept=True)
    res = svm.fit(X0, labels)
    assert res.classes_[1] == sk.classes_[1]
    assert _rel(res.theta, np.r_[sk.coef_[0], sk.intercept_]) < 1e-5
    np.testing.assert_array_equal(svm.predict(res.theta, X0, res.classes_), sk.predict(X0))


@pytest.mark.parametrize("make", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array,
                                  lambda A: A.tolist(), lambda A: A.astype(np.float32),
                                  lambda A: np.asfortranarray(A)])
def test_array_likes_equal_dense(make):
    dense = LR.fit(X0, Y_BIN).theta
    X = make(X0)
    assert _rel(LR.fit(X, Y_BIN).theta, dense) < (1e-6 if np.asarray(X).dtype == np.float32
                                                  else 1e-12)
    thetas = LR.fit_subsets(X, Y_BIN, sp.csr_matrix(ONES.astype(float)))
    assert _rel(thetas[0], dense) < 1e-6


def test_pandas_and_bool_and_int_inputs():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X0, columns=list("abc"))
    ys = pd.Series(np.where(Y_BIN, "yes", "no"))
    ref, _ = _sk_logistic(X0, ys.to_numpy())
    assert _rel(LR.fit(df, ys).theta, ref) < SK_RTOL
    Xb = X0 > 0
    ref_b, _ = _sk_logistic(Xb.astype(float), Y_BIN)
    assert _rel(LR.fit(Xb, Y_BIN).theta, ref_b) < SK_RTOL
    Xi = np.round(3 * X0).astype(np.int64)
    ref_i, _ = _sk_logistic(Xi.astype(float), Y_BIN)
    assert _rel(LR.fit(Xi, Y_BIN).theta, ref_i) < SK_RTOL


def test_pandas_nullable_columns_fit_as_float64():
    """Issue 21: a DataFrame of nullable Int64 / Float64 / boolean columns without missing
    values (an object array to numpy, refused as "dtype object" before) fits exactly as the
    float64 array of its values (the same solve: bit-equal) and as scikit-learn; nullable
    labels, targets and weights act as their numpy dtypes."""
    df = _nullable_df()
    ref, _ = _sk_logistic(X_NULLABLE, Y_BIN)
    got = LR.fit(df, Y_BIN).theta
    assert _rel(got, ref) < SK_RTOL
    np.testing.assert_array_equal(got, LR.fit(X_NULLABLE, Y_BIN).theta)
    masks = np.ones((3, N), dtype=bool)
    masks[np.arange(3), [2, 10, 20]] = False
    np.testing.assert_array_equal(LR.fit_subsets(df, Y_BIN, masks),
                                  LR.fit_subsets(X_NULLABLE, Y_BIN, masks))
    # Int64 labels are int labels (codes 0..2, int classes_), boolean labels bool labels
    res = LogisticRegression(1.0).fit(df, _nullable_series(Y_MULTI, "Int64"))
    assert res.classes_.dtype.kind == "i" and res.classes_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(res.theta, LogisticRegression(1.0).fit(X_NULLABLE,
                                                                         Y_MULTI).theta)
    res = LR.fit(df, _nullable_series(Y_BIN.astype(bool), "boolean"))
    assert res.classes_.tolist() == [False, True]
    np.testing.assert_array_equal(res.theta, got)
    # Float64 ridge targets and weights
    w = np.linspace(0.5, 2.0, N)
    th = RIDGE.fit(df, _nullable_series(Y_REG, "Float64"),
                   sample_weight=_nullable_series(w, "Float64")).theta
    sk = SkRidge(alpha=RIDGE.lam).fit(X_NULLABLE, Y_REG, sample_weight=w)
    assert _rel(th, np.r_[sk.coef_, sk.intercept_]) < SK_RTOL


def test_fractional_weights_match_sklearn_sample_weight():
    w = np.linspace(0.05, 2.5, N)
    ref, _ = _sk_logistic(X0, Y_BIN, sample_weight=w)
    assert _rel(LR.fit(X0, Y_BIN, sample_weight=w).theta, ref) < SK_RTOL
    thetas = LR.fit_subsets(X0, Y_BIN, np.stack([w, 2 * w]))
    assert _rel(thetas[0], ref) < SK_RTOL
    ref2, _ = _sk_logistic(X0, Y_BIN, sample_weight=2 * w)
    assert _rel(thetas[1], ref2) < SK_RTOL


def test_weight_two_equals_duplicated_row():
    w = np.ones(N)
    w[5] = 2.0
    dup = RIDGE.fit(np.r_[X0, X0[5:6]], np.r_[Y_REG, Y_REG[5]]).theta
    assert _rel(RIDGE.fit_subsets(X0, Y_REG, w[None])[0], dup) < 1e-10


def test_ridge_lam_zero_is_least_squares_and_huge_lam_is_the_mean():
    Xa = np.c_[X0, np.ones(N)]
    lstsq = np.linalg.lstsq(Xa, Y_REG, rcond=None)[0]
    assert _rel(Ridge(0.0).fit(X0, Y_REG).theta, lstsq) < 1e-10
    th = Ridge(1e12).fit(X0, Y_REG).theta
    assert np.abs(th[:-1]).max() < 1e-9 and th[-1] == pytest.approx(Y_REG.mean(), rel=1e-9)
    sk = SkRidge(alpha=1e12).fit(X0, Y_REG)
    assert th[-1] == pytest.approx(sk.intercept_, rel=1e-9)


def test_huge_lam_logistic_is_the_intercept_only_model():
    th = LogisticRegression(1e200).fit(X0, Y_BIN).theta
    p = Y_BIN.mean()
    assert np.abs(th[:-1]).max() < 1e-190
    assert th[-1] == pytest.approx(np.log(p / (1 - p)), rel=1e-10)


@pytest.mark.parametrize("value", [1e10, -1e8, 1e30])
def test_one_huge_entry_converges_or_warns(value):
    """Issue 9 point 2: one entry X[0, 2] = 1e10 either converges to the true optimum (checked
    with an independent numpy gradient) or warns; it never reports a false convergence."""
    X = _with(X0, 0, 2, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mpt.ConvergenceWarning)
        res = LR.fit(X, Y_BIN)
    conv_warned = any(issubclass(w.category, mpt.ConvergenceWarning) for w in caught)
    g = _numpy_logistic_grad(res.theta, X, Y_BIN, LR.lam)
    if res.converged:
        assert not conv_warned
        assert np.isfinite(res.grad_norm)
        scaled = g / np.r_[np.maximum(1, np.abs(X).max(0)), 1.0]
        assert np.linalg.norm(scaled) < 1e-8  # the gradient in units of each column's scale
    else:
        assert conv_warned


def test_unconverged_fits_warn_with_count_and_worst_residual():
    """Issue 9 point 2: non-convergence is never silent (fit, fit_subsets, LOO)."""
    slow = LogisticRegression(1.0, max_iter=1)
    with pytest.warns(mpt.ConvergenceWarning, match=r"LogisticRegression.fit did not converge "
                                                      r"\(worst residual"):
        res = slow.fit(X0, Y_BIN, theta0=np.full(4, 0.5))
    assert not res.converged and res.grad_norm > slow.tol
    with pytest.warns(mpt.ConvergenceWarning, match=r"2 of 2 subsets .* did not converge"):
        info = slow.fit_subsets(X0, Y_BIN, ONES, return_info=True)
    assert not info.converged.any()
    # leave-one-out: the chord iterations finish most points; those they hand to the batched
    # Newton solver (here the high-leverage row 0) run under max_iter=1 and warn
    Xl = X0.copy()
    Xl[0] *= 30.0
    with pytest.warns(mpt.ConvergenceWarning, match=r"leave-one-out refits: \d+ of \d+ subsets"):
        B.loo_exact(LogisticRegression(1.0, max_iter=1), Xl, Y_BIN,
                    theta_full=LR.fit(Xl, Y_BIN).theta + 0.0)
    assert issubclass(mpt.ConvergenceWarning, __import__("sklearn").exceptions.ConvergenceWarning)
    assert mpt.learners.ConvergenceWarning is mpt.ConvergenceWarning


def test_converged_runs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", mpt.ConvergenceWarning)
        # issue 9: theta0 = 1e3 used to stop unconverged without a word; a warm start worse
        # than zero is now dropped, and the fit reaches the same minimiser as from zero
        far = LR.fit(X0, Y_BIN, theta0=np.full(4, 1e3))
        near = LR.fit(X0, Y_BIN)
        assert far.converged and _rel(far.theta, near.theta) < SELF_RTOL
        B.loo_exact(LR, X0, Y_BIN)


def test_never_converged_with_nonfinite_residual():
    # the solver's own guard, beneath the input checks: a gradient that overflows mid-solve
    X = _with(X0, 0, 0, 1e100)
    Xt, yt = LR.tensors(X, LR.encode_y(Y_BIN))
    import torch

    W = torch.ones(1, N, dtype=torch.float64)
    T, g, it, conv = LR.solve(Xt, yt, W, torch.full((1, 4), 1e200, dtype=torch.float64), 1)
    assert not bool(conv[0]) or bool(torch.isfinite(g[0]))
    assert not (bool(conv[0]) and not np.isfinite(float(g[0])))


# ---------------------------------------------------------------- hypothesis
@given(scale=st.floats(1e-3, 1e60), seed=st.integers(0, 2**16))
def test_scaled_design_is_refused_or_solved(scale, seed):
    """X * scale: refused (naming X) when products overflow, otherwise the exact minimiser."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 2)) * scale
    y = Ridge(1.0).decision_function(np.r_[1.0 / scale, -1.0 / scale, 0.2], X) \
        + 0.1 * rng.normal(size=20)
    learner = Ridge(1e-6 * scale**2 if scale > 1 else 1.0)
    res = learner.fit(X, y)
    Xa = np.c_[X, np.ones(20)]
    P = np.diag([1.0, 1.0, 0.0])
    ref = np.linalg.solve(Xa.T @ Xa + learner.lam * P, Xa.T @ y)
    assert res.converged
    assert _rel(res.theta, ref) < 1e-6


@given(exponent=st.integers(0, 320), sign=st.sampled_from([-1.0, 1.0]),
       where=st.tuples(st.integers(0, N - 1), st.integers(0, D - 1)))
def test_one_extreme_entry_is_refused_by_name_or_solved(exponent, sign, where):
    value = sign * (float(f"1e{exponent}") if exponent <= 308 else np.finfo(np.float64).max)
    X = _with(X0, where[0], where[1], value)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", mpt.ConvergenceWarning)
            res = RIDGE.fit(X, Y_REG)
    except ValueError as exc:
        assert f"X[{where[0]}, {where[1]}]" in str(exc)
        assert exponent >= 70
        return
    assert exponent < 80
    Xa = np.c_[X, np.ones(N)]
    g = Xa.T @ (Xa @ res.theta - Y_REG) + RIDGE.lam * np.r_[res.theta[:-1], 0.0]
    col = np.r_[np.maximum(1.0, np.abs(X).max(0)), 1.0]
    if res.converged:
        assert np.linalg.norm(g / col) <= 1e-8 * max(1.0, np.linalg.norm((Xa.T @ Y_REG) / col))
    else:
        assert any(issubclass(w.category, mpt.ConvergenceWarning) for w in caught)


@given(M=arrays(np.float64, (3, 6), elements=st.sampled_from([0.0, 1.0, 0.5, 2.0, -1.0, np.nan,
                                                             np.inf])))
def test_one_mask_validator(M):
    """Issue 9 point 8: fit_subsets and subsets.check_masks(weights=True) accept and refuse the
    same masks with the same messages; check_masks (sets) accepts the 0/1 subset of them."""
    X, y = X0[:6], Y_REG[:6]

    def outcome(f):
        try:
            f()
            return "ok"
        except ValueError as exc:
            return str(exc)

    a = outcome(lambda: S.check_masks(M, 6, weights=True))
    b = outcome(lambda: RIDGE.fit_subsets(X, y, M))
    assert a == b
    sets = outcome(lambda: S.check_masks(M, 6))
    if sets == "ok":
        assert a == "ok" and set(np.unique(M)) <= {0.0, 1.0}
    if a == "ok":
        np.testing.assert_allclose(RIDGE.fit_subsets(X, y, M)[0],
                                   RIDGE.fit(X, y, sample_weight=M[0]).theta, rtol=1e-10)


@given(codes=arrays(np.int64, (12,), elements=st.integers(0, 3)),
       kind=st.sampled_from(["int", "shifted", "str", "neg"]))
def test_label_encoding_is_sklearns_label_encoder(codes, kind):
    """Classes and codes equal sklearn.preprocessing.LabelEncoder's for any sortable labels."""
    from sklearn.preprocessing import LabelEncoder

    labels = {"int": codes, "shifted": 10 * codes + 7, "neg": -codes,
              "str": np.array(["d", "b", "c", "a"])[codes]}[kind]
    n_distinct = np.unique(labels).size
    learner = LogisticRegression(1.0)
    if n_distinct < 2:
        if kind == "int" and labels[0] in (0, 1):  # already codes: kept as they are
            assert learner.classes(labels).tolist() == [0, 1]
        else:
            with pytest.raises(ValueError, match="single label"):
                learner.classes(labels)
        return
    enc = LabelEncoder().fit(labels)
    np.testing.assert_array_equal(learner.classes(labels), enc.classes_)
    np.testing.assert_array_equal(np.asarray(learner.encode_y(labels)), enc.transform(labels))


# ---------------------------------------------------------------- issue 21, accepted inputs
@pytest.mark.parametrize("oracle", ["exact", "influence"])
def test_a_test_set_missing_a_class_uses_the_training_classes(oracle):
    """Issue 21.1: a test set without some training class is accepted and valued with the
    training codes: the values equal those of a learner told the classes explicitly, and the
    utility of the full fit equals scikit-learn's log-loss of the same parameters."""
    from sklearn.metrics import log_loss

    y_str = np.array(["a", "b", "c"])[Y_MULTI]
    keep = y_str[:12] != "b"  # the test set has classes a and c only
    Xt, yt = X0[:12][keep], y_str[:12][keep]
    got = mpt.applications.loo_values(LogisticRegression(1.0), X0, y_str, Xt, yt, oracle).values
    ref = mpt.applications.loo_values(LogisticRegression(1.0, classes=["a", "b", "c"]), X0,
                                      y_str, Xt, yt, oracle).values
    assert got.shape == (N,) and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
    theta = LogisticRegression(1.0).fit(X0, y_str).theta
    est = LogisticRegression(1.0).to_sklearn(theta, classes=["a", "b", "c"])
    ours = LogisticRegression(1.0).mean_loss(theta, Xt, LogisticRegression(1.0).encode_like(
        yt, LogisticRegression(1.0).encode_y(y_str)))
    assert abs(ours - log_loss(yt, est.predict_proba(Xt), labels=["a", "b", "c"])) < 1e-12


def test_binary_test_set_of_one_class_is_accepted():
    """Issue 21.1: a binary test set holding only the positive class (no 'single label' error,
    no 'theta must have shape' error); its LOO values equal the ones computed from exact refits
    and scikit-learn's log-loss (independent of our label encoding)."""
    from sklearn.metrics import log_loss

    Xt, yt = X0[Y_STR == "dog"][:5], Y_STR[Y_STR == "dog"][:5]
    vals = mpt.applications.loo_values(LR, X0, Y_STR, Xt, yt).values
    full = LR.fit(X0, Y_STR).theta
    for i in (0, 7, 19):
        keep = np.arange(N) != i
        th = LR.fit(X0[keep], Y_STR[keep]).theta
        u = [-log_loss(yt, LR.to_sklearn(t, classes=["cat", "dog"]).predict_proba(Xt),
                       labels=["cat", "dog"]) for t in (full, th)]
        assert abs(vals[i] - (u[0] - u[1])) < 1e-8


@pytest.mark.parametrize("offset", [1e3, 1e5])
def test_a_moderate_column_offset_is_solved(offset):
    """Issue 21.2: offsets float64 can carry are solved (against scikit-learn); beyond
    (1e8 and up) they are refused by name (REFUSED above), never converged and wrong."""
    X = _offset(offset)
    res = RIDGE.fit(X, Y_REG)
    sk = SkRidge(alpha=RIDGE.lam).fit(X, Y_REG)
    assert res.converged
    assert _rel(res.theta, np.r_[sk.coef_, sk.intercept_]) < 1e-6
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mpt.ConvergenceWarning)
        lr = LR.fit(X, Y_BIN)
    ref = LR.fit(X0, Y_BIN).theta  # the same model in centred coordinates
    shifted = np.r_[ref[:-1], ref[-1] - offset * ref[1]]
    if lr.converged:
        assert _rel(lr.theta[:-1], shifted[:-1]) < 1e-6
    else:
        assert any(issubclass(w.category, mpt.ConvergenceWarning) for w in caught)


@pytest.mark.parametrize("scale", [1e-6, 1e-14, 1e-60])
def test_tiny_weights_give_the_minimiser_not_zero(scale):
    """Issue 21.3: weights s everywhere: F_S = s (sum_i loss_i + (lam / s) / 2 ||w||^2), whose
    minimiser has b = mean(y) for ridge as s -> 0 (closed form below) and b = logit(mean(y)) for
    logistic; theta = 0 with converged=True was returned before."""
    res = RIDGE.fit(X0, Y_REG, sample_weight=np.full(N, scale))
    Xa = np.c_[X0, np.ones(N)]
    ref = np.linalg.solve(Xa.T @ Xa + (RIDGE.lam / scale) * np.diag([1.0, 1.0, 1.0, 0.0]),
                          Xa.T @ Y_REG)
    assert res.converged and _rel(res.theta, ref) < 1e-8
    sub = RIDGE.fit_subsets(X0, Y_REG, np.full((2, N), scale), return_info=True)
    assert sub.converged.all() and _rel(sub.thetas[0], ref) < 1e-8
    lr = LR.fit(X0, Y_BIN, sample_weight=np.full(N, scale))
    ybar = Y_BIN.mean()
    assert lr.converged and abs(lr.theta[-1] - np.log(ybar / (1 - ybar))) < 1e-4
    np.testing.assert_allclose(lr.theta, LogisticRegression(LR.lam / scale).fit(X0, Y_BIN).theta,
                               rtol=1e-8, atol=1e-8 * scale)  # w is O(scale)



# ---------------------------------------------------------------- saved ModelPred folders
# Each case edits a saved folder as a user or a script might (and re-signs its manifest, as a
# deliberate edit would); loading must refuse it with the file and the field named, before the
# network is built (DeepSets is a tripwire while ModelPred.load runs).
def _resign(folder):
    """Recompute the manifest of an edited folder (the hashes a careful editor would write)."""
    import hashlib
    import json

    from modelpred_theory.setfn import persistence as P

    files = {k: hashlib.sha256((folder / k).read_bytes()).hexdigest() for k in P._FILES}
    man = json.loads((folder / P.MANIFEST).read_text())
    man["files"], man["signature"] = files, P._signature(files)
    (folder / P.MANIFEST).write_text(json.dumps(man))


def _edit_config(folder, fn, resign=True):
    import json

    cfg = json.loads((folder / "config.json").read_text())
    fn(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    if resign:
        _resign(folder)


def _edit_base(folder, key, fn):
    import hashlib
    import io
    import json

    with np.load(folder / "base.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays[key] = fn(arrays[key])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (folder / "base.npz").write_bytes(buf.getvalue())
    cfg = json.loads((folder / "config.json").read_text())
    cfg["checksums"]["base.npz"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (folder / "config.json").write_text(json.dumps(cfg))
    _resign(folder)


def _set(path, value):
    def fn(cfg):
        d = cfg
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return fn


SAVED_REFUSED = [
    ("unsigned-config-edit", lambda f: _edit_config(f, _set(["gate_alpha", 0], 0.5),
                                                   resign=False),
     r"config.json does not match the manifest"),
    ("manifest-missing", lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
    ("manifest-forged", lambda f: (f / "manifest.json").write_text(
        (f / "manifest.json").read_text().replace('"signature": "', '"signature": "0')),
     "signature does not match"),
    ("gate_alpha-1e6", lambda f: _edit_config(
        f, lambda c: c.__setitem__("gate_alpha", [1e6] * len(c["gate_alpha"]))),
     r"gate_alpha must be a list of shrink factors in \[0, 1\]"),
    ("gate_alpha-nan", lambda f: _edit_config(f, _set(["gate_alpha", 0], float("nan"))),
     "gate_alpha"),
    ("learner-ridge", lambda f: _edit_config(f, lambda c: c.update(
        learner={"class": "Ridge", "module": "x", "params": {"lam": 1.0}})),
     "Ridge is a regression learner but the stored model"),
    ("width-4096", lambda f: _edit_config(f, lambda c: (c["network"].__setitem__("width", 4096),
                                                        c["arch"].__setitem__("width", 4096))),
     r"declares at least .* MiB of weights \(width 4096\)"),
    ("width-arch-vs-network", lambda f: _edit_config(f, _set(["arch", "width"], 64)),
     "arch.width=64 disagrees"),
    ("seed-negative", lambda f: _edit_config(f, _set(["seed"], -1)), "seed must be"),
    ("seed-string", lambda f: _edit_config(f, _set(["seed"], "0")), "seed must be"),
    ("base-unknown", lambda f: _edit_config(f, _set(["base"], "oracle")), "base must be"),
    ("meta-p", lambda f: _edit_config(f, _set(["meta", "p"], 7)), r"meta.p=7 is not K \(d \+ 1\)"),
    ("meta-d-float", lambda f: _edit_config(f, _set(["meta", "d"], 3.0)), "d must be an integer"),
    ("classes-3", lambda f: _edit_config(f, _set(["classes"], [0, 1, 2])),
     "classes must list 2 distinct"),
    ("lam-differs", lambda f: _edit_config(f, _set(["lam"], 2.0)), "lam=2.0 disagrees"),
    ("train-params-type", lambda f: _edit_config(f, _set(["train_params"], [])),
     "train_params must be an object"),
    ("theta0-nan", lambda f: _edit_base(f, "theta0", lambda a: np.full_like(a, np.nan)),
     "theta0.*NaN"),
    ("theta0-shape", lambda f: _edit_base(f, "theta0", lambda a: a[:-1]), "theta0.*wrong shape"),
]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    model = mpt.ModelPred(LR, seed=0, base="newton", width=16, rho_hidden=(16, 8), epochs=2,
                          n_permutations=4, min_size=20, progress=False).fit(X0, Y_BIN)
    return model, model.save(tmp_path_factory.mktemp("saved") / "m")


@pytest.mark.parametrize("case,damage,pattern", SAVED_REFUSED, ids=[c[0] for c in SAVED_REFUSED])
def test_saved_model_refused_before_building(case, damage, pattern, saved_model, tmp_path,
                                             monkeypatch):
    import shutil

    from modelpred_theory.setfn import network

    folder = tmp_path / "m"
    shutil.copytree(saved_model[1], folder)
    damage(folder)

    def _boom(*args, **kwargs):
        raise AssertionError("a network was built before the saved model was refused")

    if case not in ("theta0-nan", "theta0-shape"):  # arrays are checked after the network
        monkeypatch.setattr(network.DeepSets, "__init__", _boom)
    with pytest.raises(ValueError, match=pattern):
        mpt.ModelPred.load(folder)


def test_saved_model_nan_weight_refused(saved_model, tmp_path):
    import hashlib
    import io
    import json
    import shutil

    import torch

    folder = tmp_path / "m"
    shutil.copytree(saved_model[1], folder)
    state = torch.load(folder / "weights.pt", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key].view(-1)[0] = float("nan")
    buf = io.BytesIO()
    torch.save(state, buf)
    (folder / "weights.pt").write_bytes(buf.getvalue())
    cfg = json.loads((folder / "config.json").read_text())
    cfg["checksums"]["weights.pt"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (folder / "config.json").write_text(json.dumps(cfg))
    _resign(folder)
    with pytest.raises(ValueError, match=f"weight '{key}' holds NaN"):
        mpt.ModelPred.load(folder)


def test_saved_model_round_trip_and_path_errors(saved_model, tmp_path):
    """The signed folder loads to the same predictions; a file path, a missing folder and an
    unwritable destination get messages naming the path."""
    model, folder = saved_model
    masks = S.random_subsets(N, 4, rng=0, min_size=25, y=Y_BIN, require_all_classes=True)
    np.testing.assert_array_equal(mpt.ModelPred.load(folder).predict(X0, Y_BIN, masks),
                                  model.predict(X0, Y_BIN, masks))
    with pytest.raises(ValueError, match="pass .* instead of .*config.json"):
        mpt.ModelPred.load(folder / "config.json")
    with pytest.raises(ValueError, match="does not exist"):
        mpt.ModelPred.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"path /proc/x: cannot create the folder"):
        model.save("/proc/x")


# ---------------------------------------------------------------- certificates that are infinite
def test_infinite_certificates_say_why():
    """Unscaled rows (||x|| ~ 300) and the SVM with an unpenalised intercept: every infinite
    bound comes with a warning naming the cause; the bounds stay valid (checked against refits
    where finite)."""
    Xbig = X0 * 300.0
    theta = LR.fit(Xbig, Y_BIN).theta
    masks = np.ones((3, N), bool)
    masks[np.arange(3), np.arange(3)] = False
    hat = np.broadcast_to(theta, (3, theta.size))  # the pool fit: off by an O(1/n) shift
    with pytest.warns(UserWarning, match=r"certify: \d+ of 3 bounds are infinite and their "
                                         r"subsets have rows far outside the unit ball"):
        b = mpt.certify(LR, Xbig, Y_BIN, masks, hat)
    assert np.isinf(b).any()
    with pytest.warns(UserWarning, match="has no certificate .* penalize_intercept=True"):
        mpt.certify(SVM, X0, Y_BIN, ONES, np.zeros((2, D + 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # finite bounds: no warning
        exact = LR.fit_subsets(X0, Y_BIN, masks)
        b = mpt.certify(LR, X0, Y_BIN, masks, exact + 1e-6)
    assert np.all(np.isfinite(b)) and np.all(b >= np.linalg.norm(np.full(D + 1, 1e-6)))


# ---------------------------------------------------------------- more refusals (own data, LOO)
def _csv(tmp, text, name="f.csv"):
    p = tmp / name
    p.write_text(text)
    return p


_CSV_ROWS = "".join(f"{i % 7 / 3},{(3 * i) % 5 / 2},{i % 2}\n" for i in range(12))
MORE_REFUSED = [
    ("seed-2**40", lambda t: mpt.datasets.from_arrays(X0, Y_BIN, seed=2**40), ValueError,
     r"seed must be an integer in \[0, 2\*\*32 - 1\]"),
    ("csv-decimal", lambda t: mpt.datasets.from_csv(_csv(t, "a,b,y\n" + _CSV_ROWS), "y",
                                                    decimal=";"), ValueError,
     "decimal must be '.' or ','"),
    ("csv-decimal-eq-delimiter", lambda t: mpt.datasets.from_csv(
        _csv(t, "a,b,y\n" + _CSV_ROWS), "y", decimal=","), ValueError,
     "decimal and delimiter are both ','"),
    ("csv-features-and-drop", lambda t: mpt.datasets.from_csv(
        _csv(t, "a,b,y\n" + _CSV_ROWS), "y", features=["a"], drop=["b"]), ValueError,
     "not both"),
    ("csv-encoding", lambda t: mpt.datasets.from_csv(_csv(t, "a,b,y\n" + _CSV_ROWS), "y",
                                                     encoding="nope"), ValueError,
     "'nope' is not a known text encoding"),
    ("csv-semicolon", lambda t: mpt.datasets.from_csv(
        _csv(t, "a;b;y\n" + _CSV_ROWS.replace(",", ";")), "y"), ValueError,
     "delimited by ';'"),
    ("csv-date", lambda t: mpt.datasets.from_csv(
        _csv(t, "a,d,y\n" + "".join(f"{i},2021-03-0{1 + i % 9},{i % 2}\n" for i in range(12))),
        "y"), ValueError, "feature column 'd' holds dates/times"),
    ("loo-indices", lambda t: B.loo_exact(LR, X0, Y_BIN, indices=[0, 0]), ValueError,
     "indices repeats a row"),
    ("loo-indices-range", lambda t: B.loo_exact(LR, X0, Y_BIN, indices=[N]), ValueError,
     r"indices must be .* in \[0, 40\)"),
    ("loo-values-chunk", lambda t: mpt.applications.loo_values(
        LR, X0, Y_BIN, X0, Y_BIN, chunk_size=0), ValueError, "chunk_size"),
]


@pytest.mark.parametrize("case,call,exc,pattern", MORE_REFUSED, ids=[c[0] for c in MORE_REFUSED])
def test_more_refused_before_any_work(case, call, exc, pattern, tripwire, tmp_path):
    with pytest.raises(exc, match=pattern) as info:
        call(tmp_path)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert f"{os.sep}modelpred_theory{os.sep}" in frames[-1].filename, frames[-1].filename
