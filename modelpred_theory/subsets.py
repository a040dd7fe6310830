"""Subsets of a fixed pool as boolean masks, and the samplers that draw them.

A subset ``S`` of a pool of ``n`` points is a boolean mask of shape (n,); a batch of ``k`` subsets
is a bool ndarray of shape (k, n). Equivalently ``S`` is a weight vector in ``{0, 1}^n`` for the
learners' SUM objective ``F_S(theta) = sum_i w_i * loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2``
(docs/design.md), so ``masks.astype(float)`` can be passed wherever sample weights are accepted.

Samplers (all take ``rng: numpy.random.Generator | int`` and are deterministic given it):

- :func:`permutation_prefixes`: every prefix ``pi[:s]`` of random permutations (the paper's
  default training pairs), with the permutation id of each row for :func:`split_by_group`.
- :func:`random_subsets`: size uniform in ``[min_size, max_size]``, members uniform.
- :func:`fixed_size_subsets`, :func:`removal_masks`, :func:`loo_masks`.

:func:`check_masks` is the single validator every consumer of masks calls.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from ._utils import as_generator as _as_generator
from ._utils import check_int as _check_int
from ._utils import check_masks

__all__ = [
    "check_masks",
    "covers_all_classes",
    "fixed_size_subsets",
    "loo_masks",
    "permutation_prefixes",
    "random_subsets",
    "removal_masks",
    "split_by_group",
]

# Rejection rounds for samplers asked to cover every class before giving up.
_MAX_REJECTION_ROUNDS = 1000

# Tolerance on sum(fractions) == 1 in split_by_group. Reason: decimal fractions such as
# (0.5, 0.1, 0.4) do not sum to exactly 1 in binary floating point.
_FRACTION_SUM_ATOL = 1e-9


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _size_range(n: int, min_size: int, max_size: int | None) -> tuple[int, int]:
    min_size = _check_int(min_size, "min_size", minimum=1)
    max_size = n if max_size is None else _check_int(max_size, "max_size", minimum=1)
    if max_size > n:
        raise ValueError(f"max_size must be <= n={n}, got {max_size}")
    if min_size > max_size:
        raise ValueError(f"min_size={min_size} must be <= max_size={max_size}")
    return min_size, max_size


def _check_labels(y: object, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y must have shape ({n},), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("y contains NaN or inf")
    return arr


def _class_needs(y: object, n: int, require_all_classes: bool) -> np.ndarray | None:
    """Labels to cover (shape (n,)) when require_all_classes, else None."""
    if not require_all_classes:
        if y is not None:
            _check_labels(y, n)
        return None
    if y is None:
        raise ValueError("y is required when require_all_classes=True")
    return _check_labels(y, n)


def _first_ranks(keys: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Masks of the ``sizes[j]`` smallest keys in each row; keys (k, n), sizes (k,) -> (k, n)."""
    # argsort of i.i.d. uniforms is a uniform random permutation sigma; {i : sigma(i) < s} is
    # then a uniform random s-subset (sigma^{-1} is uniform too).
    ranks = np.argsort(keys, axis=1)  # shape: (k, n)
    return ranks < sizes[:, None]  # shape: (k, n)


# ----------------------------------------------------------------------------------------------
# validation (check_masks lives in _utils so the learners can share it without a cycle)
# ----------------------------------------------------------------------------------------------
def covers_all_classes(masks: object, y: object) -> np.ndarray:
    """Whether each subset contains at least one point of every class present in ``y``.

    Parameters
    ----------
    masks : array_like of shape (k, n) or (n,)
        Subset masks (validated by :func:`check_masks`; empty rows are allowed and give False).
    y : array_like of shape (n,)
        Class labels of the pool (any hashable numeric labels).

    Returns
    -------
    ndarray of shape (k,), dtype bool
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n,), got shape {y.shape}")
    m = check_masks(masks, y.shape[0], allow_empty=True)
    y = _check_labels(y, y.shape[0])
    _, codes = np.unique(y, return_inverse=True)
    onehot = np.zeros((y.shape[0], int(codes.max()) + 1))  # shape: (n, C)
    onehot[np.arange(y.shape[0]), codes] = 1.0
    counts = m.astype(np.float64) @ onehot  # shape: (k, C)
    return np.all(counts > 0, axis=1)


# ----------------------------------------------------------------------------------------------
# samplers
# ----------------------------------------------------------------------------------------------
def permutation_prefixes(
    n: int,
    n_permutations: int,
    rng: np.random.Generator | int = 0,
    min_size: int = 1,
    max_size: int | None = None,
    step: int = 1,
    y: object = None,
    require_all_classes: bool = False,
    return_permutations: bool = False,
) -> tuple[np.ndarray, ...]:
    """Prefixes of random permutations of the pool (the paper's default training subsets).

    For each of ``n_permutations`` uniform random permutations ``pi`` of ``range(n)``, the
    prefixes ``pi[:s]`` for ``s in range(min_size, max_size + 1, step)``. Rows are grouped by
    permutation, sizes increasing within a group, so the prefixes of one permutation are nested.

    Parameters
    ----------
    n : int
        Pool size.
    n_permutations : int
        Number of permutations, >= 1.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    min_size : int, default=1
        Smallest prefix length.
    max_size : int or None, default=None
        Largest prefix length (at most; it is included when ``step`` lands on it); None means n.
    step : int, default=1
        Step between prefix lengths.
    y : array_like of shape (n,) or None, default=None
        Class labels of the pool; required when ``require_all_classes``.
    require_all_classes : bool, default=False
        Drop prefixes missing a class present in ``y``. Needed when the intercept is
        unpenalised: for logistic regression the minimiser over a single-class subset does not
        exist (the intercept runs to infinity).
    return_permutations : bool, default=False
        Also return the permutations.

    Returns
    -------
    masks : ndarray of shape (k, n), dtype bool
        ``k = n_permutations * len(sizes)`` minus any dropped prefixes.
    perm_id : ndarray of shape (k,), dtype int64
        Index of the permutation each row comes from (the group for :func:`split_by_group`).
    sizes : ndarray of shape (k,), dtype int64
        ``masks.sum(axis=1)``.
    permutations : ndarray of shape (n_permutations, n), dtype int64
        Only when ``return_permutations``; ``masks[r]`` selects ``permutations[perm_id[r]][:s]``.
    """
    n = _check_int(n, "n", minimum=1)
    n_permutations = _check_int(n_permutations, "n_permutations", minimum=1)
    min_size, max_size = _size_range(n, min_size, max_size)
    step = _check_int(step, "step", minimum=1)
    labels = _class_needs(y, n, require_all_classes)
    gen = _as_generator(rng)

    perms = np.argsort(gen.random((n_permutations, n)), axis=1)  # shape: (P, n)
    ranks = np.empty_like(perms)  # ranks[p, perms[p, j]] = j; shape: (P, n)
    np.put_along_axis(ranks, perms, np.arange(n)[None, :].repeat(n_permutations, axis=0), axis=1)
    size_grid = np.arange(min_size, max_size + 1, step, dtype=np.int64)  # shape: (S,)
    masks = ranks[:, None, :] < size_grid[None, :, None]  # shape: (P, S, n)
    masks = masks.reshape(-1, n)  # shape: (P*S, n)
    perm_id = np.repeat(np.arange(n_permutations, dtype=np.int64), size_grid.size)
    sizes = np.tile(size_grid, n_permutations)
    if labels is not None:
        keep = covers_all_classes(masks, labels)
        masks, perm_id, sizes = masks[keep], perm_id[keep], sizes[keep]
    masks = np.ascontiguousarray(masks)
    if return_permutations:
        return masks, perm_id, sizes, perms.astype(np.int64)
    return masks, perm_id, sizes


def random_subsets(
    n: int,
    k: int,
    rng: np.random.Generator | int = 0,
    min_size: int = 1,
    max_size: int | None = None,
    y: object = None,
    require_all_classes: bool = False,
) -> np.ndarray:
    """Random subsets: size uniform on ``{min_size, ..., max_size}``, members uniform.

    Parameters
    ----------
    n : int
        Pool size.
    k : int
        Number of subsets, >= 1.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    min_size, max_size : int, default=1 and None (= n)
        Inclusive size range.
    y : array_like of shape (n,) or None
        Class labels; required when ``require_all_classes``.
    require_all_classes : bool, default=False
        Redraw (size and members) every subset that misses a class present in ``y``, so the
        returned subsets follow the distribution above conditioned on covering every class.

    Returns
    -------
    ndarray of shape (k, n), dtype bool

    Raises
    ------
    ValueError
        Bad sizes, or ``max_size`` smaller than the number of classes when
        ``require_all_classes``.
    RuntimeError
        When rejection sampling has not found covering subsets after many rounds.
    """
    n = _check_int(n, "n", minimum=1)
    k = _check_int(k, "k", minimum=1)
    min_size, max_size = _size_range(n, min_size, max_size)
    labels = _class_needs(y, n, require_all_classes)
    gen = _as_generator(rng)

    def draw(m: int) -> np.ndarray:
        sizes = gen.integers(min_size, max_size, endpoint=True, size=m)  # shape: (m,)
        return _first_ranks(gen.random((m, n)), sizes)

    masks = draw(k)
    if labels is None:
        return masks
    n_cls = np.unique(labels).size
    if max_size < n_cls:
        raise ValueError(
            f"max_size={max_size} is smaller than the number of classes ({n_cls}) in y; "
            "no subset can cover every class"
        )
    todo = np.flatnonzero(~covers_all_classes(masks, labels))
    for _ in range(_MAX_REJECTION_ROUNDS):
        if todo.size == 0:
            return masks
        masks[todo] = draw(todo.size)
        todo = todo[~covers_all_classes(masks[todo], labels)]
    if todo.size == 0:
        return masks
    raise RuntimeError(
        f"could not draw {todo.size} of {k} subsets covering every class after "
        f"{_MAX_REJECTION_ROUNDS} rounds; raise min_size"
    )


def fixed_size_subsets(
    n: int,
    k: int,
    size: int,
    rng: np.random.Generator | int = 0,
    y: object = None,
    require_all_classes: bool = False,
) -> np.ndarray:
    """``k`` uniform random subsets of exactly ``size`` points.

    Parameters
    ----------
    n, k : int
        Pool size and number of subsets.
    size : int
        Subset size, ``1 <= size <= n``.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.
    y, require_all_classes
        As in :func:`random_subsets`.

    Returns
    -------
    ndarray of shape (k, n), dtype bool
        Every row has exactly ``size`` True entries.
    """
    size = _check_int(size, "size", minimum=1)
    n = _check_int(n, "n", minimum=1)
    if size > n:
        raise ValueError(f"size must be <= n={n}, got {size}")
    return random_subsets(
        n, k, rng=rng, min_size=size, max_size=size, y=y, require_all_classes=require_all_classes
    )


def removal_masks(
    n: int, fraction: float, k: int, rng: np.random.Generator | int = 0
) -> np.ndarray:
    """Masks that remove ``round(fraction * n)`` uniformly random points from the pool.

    Parameters
    ----------
    n : int
        Pool size.
    fraction : float
        Fraction removed, in ``[0, 1)``; the retained fraction is ``1 - fraction``. The number
        removed is Python's ``round(fraction * n)`` (half to even) and must leave at least one
        point.
    k : int
        Number of masks.
    rng : numpy.random.Generator or int, default=0
        Source of randomness.

    Returns
    -------
    ndarray of shape (k, n), dtype bool
        Every row has exactly ``n - round(fraction * n)`` True entries.
    """
    n = _check_int(n, "n", minimum=1)
    k = _check_int(k, "k", minimum=1)
    if not isinstance(fraction, numbers.Real) or isinstance(fraction, bool):
        raise TypeError(f"fraction must be a float in [0, 1), got {fraction!r}")
    fraction = float(fraction)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    n_remove = round(fraction * n)
    if n_remove >= n:
        raise ValueError(
            f"fraction={fraction} removes {n_remove} of n={n} points, leaving an empty subset"
        )
    gen = _as_generator(rng)
    return _first_ranks(gen.random((k, n)), np.full(k, n - n_remove))


def loo_masks(n: int) -> np.ndarray:
    """Leave-one-out masks: row ``i`` selects every point except ``i``.

    Parameters
    ----------
    n : int
        Pool size, >= 2 (a single point would leave an empty subset).

    Returns
    -------
    ndarray of shape (n, n), dtype bool
        ``~numpy.eye(n, dtype=bool)``.
    """
    n = _check_int(n, "n", minimum=2)
    return ~np.eye(n, dtype=bool)


def split_by_group(
    groups: object,
    fractions: Sequence[float] = (0.5, 0.1, 0.4),
    rng: np.random.Generator | int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into train/validation/test by whole groups (e.g. permutation ids).

    Every group lands in exactly one split, so test subsets come from permutations never seen
    in training (the paper's 50/10/40 split).

    Parameters
    ----------
    groups : array_like of shape (k,)
        Group label of each row (``perm_id`` from :func:`permutation_prefixes`).
    fractions : sequence of 3 floats, default=(0.5, 0.1, 0.4)
        Fractions of the GROUPS (not rows) in train, validation and test; non-negative, sum 1.
        Counts are the largest-remainder rounding of ``fractions * n_groups``, with at least
        one group in every split whose fraction is positive.
    rng : numpy.random.Generator or int, default=0
        Source of randomness for the assignment of groups.

    Returns
    -------
    train_idx, val_idx, test_idx : ndarray of shape (k_train,), (k_val,), (k_test,), int64
        Sorted row indices; together a partition of ``range(k)``.

    Raises
    ------
    ValueError
        Bad ``fractions``, or fewer groups than splits with a positive fraction.
    """
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] == 0:
        raise ValueError(f"groups must be a non-empty 1-D array, got shape {g.shape}")
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions must have 3 entries (train, val, test), got {f.shape}")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError(f"fractions must be finite and non-negative, got {tuple(f)}")
    if abs(f.sum() - 1.0) > _FRACTION_SUM_ATOL:
        raise ValueError(f"fractions must sum to 1, got {f.sum()}")
    gen = _as_generator(rng)
    uniq, codes = np.unique(g, return_inverse=True)
    n_groups = uniq.size
    positive = f > 0
    if n_groups < positive.sum():
        raise ValueError(
            f"groups has {n_groups} distinct values, fewer than the {positive.sum()} splits "
            "with a positive fraction"
        )
    raw = f * n_groups
    counts = np.floor(raw).astype(np.int64)
    counts[positive & (counts == 0)] = 1
    while counts.sum() < n_groups:
        counts[np.argmax(np.where(positive, raw - counts, -np.inf))] += 1
    while counts.sum() > n_groups:
        counts[np.argmax(np.where(counts > 1, counts - raw, -np.inf))] -= 1
    order = gen.permutation(n_groups)  # shuffled group codes
    bounds = np.concatenate([[0], np.cumsum(counts)])
    split_of_group = np.empty(n_groups, dtype=np.int64)
    for j in range(3):
        split_of_group[order[bounds[j] : bounds[j + 1]]] = j
    split_of_row = split_of_group[codes.ravel()]
    return tuple(np.flatnonzero(split_of_row == j).astype(np.int64) for j in range(3))
