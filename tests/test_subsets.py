"""Tests for modelpred_theory.subsets: mask samplers, group splits and mask validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import binary_labels, multiclass_labels, nonempty_masks

from modelpred_theory import subsets as S


# ---------------------------------------------------------------------------------------------
# permutation prefixes
# ---------------------------------------------------------------------------------------------
def test_prefixes_shapes_sizes_and_nesting():
    n, P = 12, 4
    masks, perm_id, sizes, perms = S.permutation_prefixes(n, P, rng=0, return_permutations=True)
    assert masks.shape == (P * n, n) and masks.dtype == bool
    assert perm_id.shape == sizes.shape == (P * n,)
    assert perms.shape == (P, n)
    np.testing.assert_array_equal(perm_id, np.repeat(np.arange(P), n))
    np.testing.assert_array_equal(sizes, np.tile(np.arange(1, n + 1), P))
    np.testing.assert_array_equal(masks.sum(axis=1), sizes)
    for p in range(P):
        assert sorted(perms[p]) == list(range(n))
        rows = masks[perm_id == p]
        # nested: each prefix contains the previous one, and adds exactly perms[p][s-1]
        assert np.all(rows[1:] >= rows[:-1])
        for r, s in zip(rows, sizes[perm_id == p], strict=True):
            expected = np.zeros(n, dtype=bool)
            expected[perms[p][:s]] = True
            np.testing.assert_array_equal(r, expected)
    assert not np.array_equal(perms[0], perms[1])


def test_prefixes_min_max_step():
    masks, perm_id, sizes = S.permutation_prefixes(20, 3, rng=1, min_size=5, max_size=17, step=4)
    np.testing.assert_array_equal(sizes, np.tile([5, 9, 13, 17], 3))
    np.testing.assert_array_equal(masks.sum(axis=1), sizes)
    assert masks.shape == (12, 20)
    np.testing.assert_array_equal(np.bincount(perm_id), [4, 4, 4])


def test_prefixes_deterministic_and_seed_dependent():
    a = S.permutation_prefixes(15, 5, rng=7)
    b = S.permutation_prefixes(15, 5, rng=np.random.default_rng(7))
    c = S.permutation_prefixes(15, 5, rng=8)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_prefixes_are_uniform_permutations():
    # Position of point 0 in the permutation is uniform on {0..n-1}: its first-prefix size.
    n, P = 5, 4000
    _, _, _, perms = S.permutation_prefixes(n, P, rng=3, return_permutations=True)
    counts = np.bincount(np.argmax(perms == 0, axis=1), minlength=n)
    # Each count ~ Binomial(4000, 0.2): mean 800, sd ~ 25; 5 sd is a safe bound.
    assert np.all(np.abs(counts - P / n) < 5 * np.sqrt(P * 0.2 * 0.8))


def test_prefixes_require_all_classes():
    y = np.array([0, 0, 0, 1, 1, 2, 0, 1, 2, 0])
    masks, perm_id, sizes, perms = S.permutation_prefixes(
        10, 30, rng=2, y=y, require_all_classes=True, return_permutations=True
    )
    assert S.covers_all_classes(masks, y).all()
    assert np.all(sizes >= 3)
    # Exactly the covering prefixes survive: from the first size where every class has appeared.
    for p in range(30):
        seen = np.array([len(set(y[perms[p][:s]])) == 3 for s in range(1, 11)])
        np.testing.assert_array_equal(sizes[perm_id == p], np.arange(1, 11)[seen])
    full = S.permutation_prefixes(10, 30, rng=2)
    assert masks.shape[0] < full[0].shape[0]


def test_prefixes_require_all_classes_needs_y():
    with pytest.raises(ValueError, match="y is required"):
        S.permutation_prefixes(10, 2, require_all_classes=True)
    with pytest.raises(ValueError, match="y must have shape"):
        S.permutation_prefixes(10, 2, y=np.zeros(9), require_all_classes=True)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n": 0, "n_permutations": 1}, "n must be"),
        ({"n": 5, "n_permutations": 0}, "n_permutations"),
        ({"n": 5, "n_permutations": 1, "min_size": 0}, "min_size"),
        ({"n": 5, "n_permutations": 1, "max_size": 6}, "max_size"),
        ({"n": 5, "n_permutations": 1, "min_size": 4, "max_size": 3}, "min_size"),
        ({"n": 5, "n_permutations": 1, "step": 0}, "step"),
        ({"n": 5, "n_permutations": 1, "rng": -1}, "rng"),
    ],
)
def test_prefixes_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.permutation_prefixes(**kwargs)


@given(
    n=st.integers(1, 30),
    P=st.integers(1, 5),
    step=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_prefixes_property(n, P, step, seed):
    masks, perm_id, sizes, perms = S.permutation_prefixes(
        n, P, rng=seed, step=step, return_permutations=True
    )
    n_sizes = len(range(1, n + 1, step))
    assert masks.shape == (P * n_sizes, n)
    np.testing.assert_array_equal(masks.sum(axis=1), sizes)
    rows = np.arange(masks.shape[0])
    # The prefix of length s selects exactly perms[perm_id][:s].
    first = perms[perm_id, 0]
    assert masks[rows, first].all()
    for p in range(P):
        block = masks[perm_id == p]
        assert np.all(block[1:] >= block[:-1])


# ---------------------------------------------------------------------------------------------
# random, fixed-size, removal and LOO masks
# ---------------------------------------------------------------------------------------------
def test_random_subsets_sizes_uniform_and_members_uniform():
    n, k = 10, 20000
    masks = S.random_subsets(n, k, rng=0, min_size=3, max_size=7)
    assert masks.shape == (k, n) and masks.dtype == bool
    sizes = masks.sum(axis=1)
    assert sizes.min() == 3 and sizes.max() == 7
    size_counts = np.bincount(sizes, minlength=8)[3:]
    # Each size count ~ Binomial(20000, 1/5): sd ~ 57.
    assert np.all(np.abs(size_counts - k / 5) < 5 * 57)
    # Membership is exchangeable: each point appears with probability E[size]/n = 0.5.
    freq = masks.mean(axis=0)
    assert np.all(np.abs(freq - 0.5) < 0.02)


def test_random_subsets_deterministic():
    a = S.random_subsets(30, 50, rng=5)
    b = S.random_subsets(30, 50, rng=5)
    c = S.random_subsets(30, 50, rng=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.any(axis=1).all()


def test_random_subsets_require_all_classes():
    y = np.array([0] * 18 + [1, 2])
    masks = S.random_subsets(20, 300, rng=1, min_size=1, max_size=6, y=y, require_all_classes=True)
    assert masks.shape == (300, 20)
    assert S.covers_all_classes(masks, y).all()
    assert masks[:, 18].all() and masks[:, 19].all()
    with pytest.raises(ValueError, match="max_size"):
        S.random_subsets(20, 5, max_size=2, y=y, require_all_classes=True)


def test_fixed_size_subsets():
    masks = S.fixed_size_subsets(15, 40, 6, rng=2)
    assert masks.shape == (40, 15)
    assert np.all(masks.sum(axis=1) == 6)
    assert len({m.tobytes() for m in masks}) > 30  # not one subset repeated
    with pytest.raises(ValueError, match="size"):
        S.fixed_size_subsets(15, 4, 16)
    with pytest.raises(ValueError, match="size"):
        S.fixed_size_subsets(15, 4, 0)


@pytest.mark.parametrize(
    "n,fraction,kept", [(100, 0.2, 80), (10, 0.0, 10), (7, 0.5, 3), (9, 0.3, 6)]
)
def test_removal_masks(n, fraction, kept):
    masks = S.removal_masks(n, fraction, 25, rng=4)
    assert masks.shape == (25, n)
    assert np.all(masks.sum(axis=1) == kept)
    np.testing.assert_array_equal(masks, S.removal_masks(n, fraction, 25, rng=4))


def test_removal_masks_reject_bad_fraction():
    for bad in (-0.1, 1.0, 1.2):
        with pytest.raises(ValueError, match="fraction"):
            S.removal_masks(10, bad, 3)
    with pytest.raises(ValueError, match="fraction"):
        S.removal_masks(2, 0.9, 3)  # removes both points


def test_loo_masks():
    m = S.loo_masks(5)
    assert m.shape == (5, 5) and m.dtype == bool
    np.testing.assert_array_equal(m, ~np.eye(5, dtype=bool))
    assert np.all(m.sum(axis=1) == 4)
    with pytest.raises(ValueError, match="n"):
        S.loo_masks(1)


# ---------------------------------------------------------------------------------------------
# group split
# ---------------------------------------------------------------------------------------------
def test_split_by_group_keeps_permutations_whole():
    _, perm_id, _ = S.permutation_prefixes(10, 20, rng=0)
    tr, va, te = S.split_by_group(perm_id, rng=0)
    assert np.array_equal(np.sort(np.r_[tr, va, te]), np.arange(perm_id.size))
    g_tr, g_va, g_te = set(perm_id[tr]), set(perm_id[va]), set(perm_id[te])
    assert not (g_tr & g_va) and not (g_tr & g_te) and not (g_va & g_te)
    assert (len(g_tr), len(g_va), len(g_te)) == (10, 2, 8)
    for idx in (tr, va, te):
        assert np.all(np.diff(idx) > 0)


def test_split_by_group_deterministic_and_seeded():
    groups = np.repeat(np.arange(50), 3)
    a = S.split_by_group(groups, rng=1)
    b = S.split_by_group(groups, rng=1)
    c = S.split_by_group(groups, rng=2)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[2], c[2])


def test_split_by_group_small_and_bad():
    tr, va, te = S.split_by_group([7, 7, 8, 9], rng=0)  # 3 groups, one per split
    assert {len(set(np.array([7, 7, 8, 9])[i])) for i in (tr, va, te)} == {1}
    tr, va, te = S.split_by_group(np.arange(6), fractions=(0.5, 0.0, 0.5))
    assert va.size == 0 and tr.size == 3 and te.size == 3
    with pytest.raises(ValueError, match="groups"):
        S.split_by_group([1, 2])
    with pytest.raises(ValueError, match="fractions"):
        S.split_by_group(np.arange(10), fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="fractions"):
        S.split_by_group(np.arange(10), fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="fractions"):
        S.split_by_group(np.arange(10), fractions=(1.2, -0.1, -0.1))


@given(
    n_groups=st.integers(3, 60),
    reps=st.integers(1, 4),
    f_train=st.floats(0.1, 0.8),
    f_val=st.floats(0.05, 0.15),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_by_group_property(n_groups, reps, f_train, f_val, seed):
    fractions = (f_train, f_val, 1.0 - f_train - f_val)
    groups = np.random.default_rng(seed).permutation(np.repeat(np.arange(n_groups), reps))
    parts = S.split_by_group(groups, fractions=fractions, rng=seed)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(groups.size))
    group_sets = [set(groups[p]) for p in parts]
    assert all(len(gs) >= 1 for gs in group_sets)
    assert sum(len(gs) for gs in group_sets) == n_groups
    for j, gs in enumerate(group_sets):
        # largest-remainder rounding, possibly bumped to 1: within 2 groups of the target share
        assert abs(len(gs) - fractions[j] * n_groups) < 2


# ---------------------------------------------------------------------------------------------
# check_masks and covers_all_classes
# ---------------------------------------------------------------------------------------------
def test_check_masks_accepts_and_converts():
    m = np.array([[True, False, True], [False, True, False]])
    out = S.check_masks(m, 3)
    np.testing.assert_array_equal(out, m)
    assert out is not m and out.dtype == bool
    np.testing.assert_array_equal(S.check_masks(m.astype(np.int64), 3), m)
    np.testing.assert_array_equal(S.check_masks(m.astype(np.uint8), 3), m)
    np.testing.assert_array_equal(S.check_masks(m.astype(float), 3), m)
    np.testing.assert_array_equal(S.check_masks([[1, 0, 1], [0, 1, 0]], 3), m)
    one = S.check_masks(np.array([0, 1, 1]), 3)
    assert one.shape == (1, 3)
    np.testing.assert_array_equal(one, [[False, True, True]])
    assert S.check_masks(np.zeros((1, 3), dtype=bool), 3, allow_empty=True).shape == (1, 3)


@pytest.mark.parametrize(
    "masks,match",
    [
        (np.ones((2, 4), dtype=bool), r"masks.*expected n=3"),
        (np.ones((2, 2, 3), dtype=bool), r"masks must be 1-D .* or 2-D"),
        (np.array(True), r"masks must be 1-D"),
        (np.array([[1, 2, 0]]), r"masks .*0/1.*2"),
        (np.array([[1.0, 0.5, 0.0]]), r"masks .*0/1.*0\.5"),
        (np.array([[1.0, np.nan, 0.0]]), r"masks contains NaN"),
        (np.array([[-1, 1, 1]]), r"masks .*0/1"),
        (np.array([["a", "b", "c"]]), r"masks must be boolean"),
        (np.zeros((0, 3), dtype=bool), r"masks has no rows"),
        (np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]]), r"masks has empty rows.*1, 3"),
    ],
)
def test_check_masks_errors(masks, match):
    with pytest.raises(ValueError, match=match):
        S.check_masks(masks, 3)


def test_check_masks_many_empty_rows_are_summarised():
    m = np.zeros((25, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 \(and 15 more\)"):
        S.check_masks(m, 3)


@given(masks=nonempty_masks(st.integers(1, 12), st.integers(1, 6)))
def test_check_masks_roundtrip_property(masks):
    n = masks.shape[1]
    for form in (masks, masks.astype(np.int8), masks.astype(np.float64)):
        np.testing.assert_array_equal(S.check_masks(form, n), masks)


def test_covers_all_classes():
    y = np.array([0, 1, 1, 2, 0])
    masks = np.array(
        [
            [1, 1, 0, 1, 0],  # 0, 1, 2
            [1, 1, 1, 0, 1],  # no class 2
            [0, 0, 0, 0, 0],  # empty
            [0, 0, 1, 1, 1],  # 1, 2, 0
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(S.covers_all_classes(masks, y), [True, False, False, True])
    # String labels and a single 1-D mask work too.
    np.testing.assert_array_equal(
        S.covers_all_classes([1, 1, 0], np.array(["a", "b", "a"])), [True]
    )


@given(
    y=multiclass_labels(st.integers(4, 20), st.integers(2, 4)),
    seed=st.integers(0, 2**32 - 1),
)
def test_covers_all_classes_matches_set_logic(y, seed):
    n = y.size
    masks = S.random_subsets(n, 20, rng=seed)
    got = S.covers_all_classes(masks, y)
    expected = [set(y[m]) == set(y) for m in masks]
    np.testing.assert_array_equal(got, expected)


@given(y=binary_labels(st.integers(2, 25)), seed=st.integers(0, 2**32 - 1))
def test_require_all_classes_property(y, seed):
    n = y.size
    masks = S.random_subsets(n, 10, rng=seed, y=y, require_all_classes=True)
    assert S.covers_all_classes(masks, y).all()
    pre, _, sizes = S.permutation_prefixes(n, 3, rng=seed, y=y, require_all_classes=True)
    assert S.covers_all_classes(pre, y).all()
    assert pre.shape[0] >= 3  # the full set of every permutation always survives
    assert np.all(sizes >= 2)


def test_check_masks_weights_mode_is_the_learners_validator():
    """Issue 9 point 8: one validator. weights=True admits fractional and integer weights (the
    sum objective's w_i), and fit_subsets takes exactly what it takes."""
    from modelpred_theory.learners import Ridge

    W = np.array([[1.0, 0.5, 0.0], [2.0, 0.0, 3.0]])
    out = S.check_masks(W, 3, weights=True)
    assert out.dtype == np.float64 and out is not W
    np.testing.assert_array_equal(out, W)
    with pytest.raises(ValueError, match=r"masks must be boolean or hold only 0/1 values "
                                         r"\(subset weights: weights=True\), got 0.5"):
        S.check_masks(W, 3)
    X = np.array([[0.0], [1.0], [2.0]])
    y = np.array([0.0, 1.0, 3.0])
    thetas = Ridge(1.0).fit_subsets(X, y, W)
    for j in range(2):  # weights are exactly sample weights
        np.testing.assert_allclose(thetas[j], Ridge(1.0).fit(X, y, sample_weight=W[j]).theta,
                                   rtol=1e-12)
    for bad in (np.array([[1.0, -0.5, 1.0]]), np.zeros((1, 3)), np.ones((1, 2))):
        msgs = []
        for f in (lambda b=bad: S.check_masks(b, 3, weights=True),
                  lambda b=bad: Ridge(1.0).fit_subsets(X, y, b)):
            with pytest.raises(ValueError) as info:
                f()
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]


def test_check_masks_accepts_sparse_masks():
    import scipy.sparse as sp

    m = np.array([[True, False, True], [False, True, True]])
    np.testing.assert_array_equal(S.check_masks(sp.csr_matrix(m.astype(float)), 3), m)
