"""Shared hypothesis strategies (house style rule 9: conditioning built in, no NaN/inf/subnormals).

Import from test modules as ``from strategies import well_conditioned_design, ...`` (pytest puts
``tests/`` on ``sys.path`` because it has no ``__init__.py``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

__all__ = [
    "STRESS_CONDITION",
    "STRESS_LAM",
    "binary_labels",
    "finite_floats",
    "multiclass_labels",
    "nonempty_masks",
    "regression_targets",
    "stress_design",
    "stress_lams",
    "stress_weights",
    "well_conditioned_design",
]

# Stress ranges (house style rule 9 still holds: conditioning is built in, only wider).
STRESS_CONDITION = (1.0, 1e2, 1e4, 1e6, 1e8)  # cond(X) of the generated designs
STRESS_LAM = (-6.0, 4.0)  # log10 range of lam

# Entries below this magnitude are flushed to zero. Reason: keep subnormals out of generated data.
_FLUSH = 1e-300


def finite_floats(min_value: float = -1.0, max_value: float = 1.0) -> st.SearchStrategy[float]:
    """Bounded float64 values with no NaN, no inf and no subnormals."""
    return st.floats(
        min_value=min_value,
        max_value=max_value,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=64,
    )


def _resolve(draw, value):
    return draw(value) if isinstance(value, st.SearchStrategy) else value


@st.composite
def well_conditioned_design(draw, n, d, cond_max: float = 10.0) -> np.ndarray:
    """A design matrix ``X`` of shape (n, d) with ``cond(X) <= cond_max``.

    Built by SVD: a bounded matrix ``A`` is drawn element by element (``fill=nothing()``) and its
    orthonormal factors ``U`` (n, d) and ``V`` (d, d) are kept (they are orthonormal for every
    ``A``, including degenerate ones such as the zero matrix); singular values ``s`` are drawn in
    ``[1, cond_max]`` and ``X = sqrt(n) * U diag(s / max(s)) V^T``. Hence the singular values of
    ``X / sqrt(n)`` lie in ``[1 / cond_max, 1]``, ``cond(X) = max(s) / min(s) <= cond_max`` and
    ``cond(X^T X) <= cond_max**2``.

    Parameters
    ----------
    n, d : int or strategy of int
        Shape; requires ``n >= d >= 1``.
    cond_max : float, default=10.0
        Bound on the condition number of ``X`` (ratio of its extreme singular values), >= 1.

    Returns
    -------
    ndarray of shape (n, d), float64, finite, no subnormals.
    """
    n = _resolve(draw, n)
    d = _resolve(draw, d)
    if not (n >= d >= 1):
        raise ValueError(f"well_conditioned_design needs n >= d >= 1, got n={n}, d={d}")
    if cond_max < 1:
        raise ValueError(f"cond_max must be >= 1, got {cond_max}")
    A = draw(arrays(np.float64, (n, d), elements=finite_floats(-1.0, 1.0), fill=st.nothing()))
    B = draw(arrays(np.float64, (d, d), elements=finite_floats(-1.0, 1.0), fill=st.nothing()))
    s = draw(arrays(np.float64, (d,), elements=finite_floats(1.0, cond_max), fill=st.nothing()))
    U, _, _ = np.linalg.svd(A, full_matrices=False)  # shape: (n, d), orthonormal columns
    _, _, Vt = np.linalg.svd(B)  # shape: (d, d), orthogonal
    X = np.sqrt(n) * (U * (s / s.max())) @ Vt  # shape: (n, d)
    X[np.abs(X) < _FLUSH] = 0.0
    return X


@st.composite
def multiclass_labels(draw, n, n_classes, min_per_class: int = 1) -> np.ndarray:
    """Integer labels of shape (n,) in ``{0, ..., n_classes - 1}``, every class present.

    The first ``n_classes * min_per_class`` positions are forced to cover each class
    ``min_per_class`` times, the rest are free, and a drawn permutation shuffles them, so every
    class appears at least ``min_per_class`` times without filtering.
    """
    n = _resolve(draw, n)
    n_classes = _resolve(draw, n_classes)
    forced = np.repeat(np.arange(n_classes), min_per_class)
    if forced.size > n:
        raise ValueError(f"n={n} is too small for {n_classes} classes x {min_per_class}")
    free = draw(
        arrays(
            np.int64,
            (n - forced.size,),
            elements=st.integers(0, n_classes - 1),
            fill=st.nothing(),
        )
    )
    labels = np.concatenate([forced, free])
    order = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    return labels[order].astype(np.int64)


def binary_labels(n, min_per_class: int = 1) -> st.SearchStrategy[np.ndarray]:
    """Labels of shape (n,) in ``{0, 1}`` with both classes present (int64)."""
    return multiclass_labels(n, 2, min_per_class=min_per_class)


def regression_targets(n, bound: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    """Finite float64 targets of shape (n,) in ``[-bound, bound]``, no subnormals."""
    return arrays(np.float64, (n,), elements=finite_floats(-bound, bound), fill=st.nothing())


@st.composite
def nonempty_masks(draw, n, k) -> np.ndarray:
    """Boolean masks of shape (k, n) with at least one True per row."""
    n = _resolve(draw, n)
    k = _resolve(draw, k)
    masks = draw(arrays(np.bool_, (k, n), elements=st.booleans(), fill=st.nothing()))
    anchor = draw(arrays(np.int64, (k,), elements=st.integers(0, n - 1), fill=st.nothing()))
    masks[np.arange(k), anchor] = True
    return masks


def stress_lams() -> st.SearchStrategy[float]:
    """lam = 10**u with u in [-6, 4] (STRESS_LAM)."""
    return finite_floats(*STRESS_LAM).map(lambda u: float(10.0**u))


@st.composite
def stress_design(draw, max_n: int = 200, max_d: int = 4, n_dup_max: int = 5):
    """(X, dup): a design with cond(X) up to 1e8, n up to ``max_n`` rows, some rows duplicated.

    ``X`` has shape (n, d) and is built as in ``well_conditioned_design`` with a condition number
    drawn from ``STRESS_CONDITION``, then scaled into the unit ball (the library's convention for
    inputs); its last ``len(dup)`` rows are exact copies of rows ``dup`` (int array). Sizes are
    drawn small-first (hypothesis shrinks towards them), so most examples stay fast.
    """
    d = draw(st.integers(1, max_d))
    n0 = draw(st.sampled_from([d + 2, 12, 40, max_n - n_dup_max]))
    cond = draw(st.sampled_from(STRESS_CONDITION))
    X = draw(well_conditioned_design(n0, d, cond_max=max(cond, 1.0 + 1e-9)))
    X = X / max(float(np.linalg.norm(X, axis=1).max()), 1e-300)
    k = draw(st.integers(0, n_dup_max))
    dup = np.array(draw(st.lists(st.integers(0, n0 - 1), min_size=k, max_size=k)), dtype=np.int64)
    X = np.concatenate([X, X[dup]], axis=0)
    X[np.abs(X) < _FLUSH] = 0.0
    return X, dup


@st.composite
def stress_weights(draw, n) -> np.ndarray:
    """Fractional weights of shape (n,) in [0, 3] (some exactly 0, at least one > 0)."""
    n = _resolve(draw, n)
    w = draw(arrays(np.float64, (n,), elements=st.one_of(st.just(0.0), finite_floats(0.05, 3.0)),
                    fill=st.nothing()))
    w[draw(st.integers(0, n - 1))] = 1.0
    return w
