"""Small argument checks shared across the package (random generators, integers, masks)."""

from __future__ import annotations

import numbers

import numpy as np


def as_generator(rng: np.random.Generator | int, name: str = "rng") -> np.random.Generator:
    """Return a numpy Generator from a Generator or a non-negative integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"{name} must be a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an int seed, got {type(rng)!r}")


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_masks(masks: object, n: int, allow_empty: bool = False, *, weights: bool = False,
                name: str = "masks") -> np.ndarray:
    """Validate subset masks (or subset weights) over a pool of ``n`` points.

    The single validator of masks in the package: the learners (``fit_subsets``), the baselines
    and the set predictor all call it, so they accept and refuse the same inputs with the same
    messages.

    Parameters
    ----------
    masks : array_like of shape (k, n) or (n,)
        Boolean masks, or numeric arrays. A 1-D mask is treated as one subset (shape (1, n)).
        With ``weights=False`` numeric entries must be 0 or 1 (a set). With ``weights=True``
        they may be any non-negative reals: the weights w_i of the sum objective
        F_S(theta) = sum_i w_i loss_i(theta) + lam/2 ||P theta||^2 (fractional weights are
        allowed; weight 2 counts a point twice, exactly as a duplicated row would).
    n : int
        Pool size; every mask must have ``n`` entries.
    allow_empty : bool, default=False
        Accept rows with no selected point (the learners' minimiser over an empty set is not
        defined, so consumers that fit models leave this False).
    weights : bool, default=False
        Return float64 weights instead of boolean masks (see ``masks``).
    name : str, default="masks"
        The argument's name in error messages.

    Returns
    -------
    ndarray of shape (k, n)
        dtype bool (``weights=False``) or float64 (``weights=True``); a fresh C-contiguous copy.

    Raises
    ------
    ValueError
        Naming ``masks``: wrong number of dimensions, no rows, wrong length (the message states
        the expected ``n``), NaN/inf, negative values, values other than 0/1 when
        ``weights=False`` (such as 2 or 0.5), non-numeric dtype, or empty rows (the message
        lists their indices).
    """
    n = check_int(n, "n", minimum=1)
    try:
        import scipy.sparse as _sp

        if _sp.issparse(masks):
            masks = masks.toarray()
        arr = np.asarray(masks)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a boolean or numeric array: {exc}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (n,) or 2-D (k, n), got shape {arr.shape}")
    if arr.shape[1] != n:
        raise ValueError(f"{name} has rows of length {arr.shape[1]}, expected n={n}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows (k=0)")
    kind = arr.dtype.kind
    if kind == "b":
        out = np.array(arr, dtype=np.float64 if weights else bool, order="C")
    elif kind in "iuf":
        if kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
        bad = (arr < 0) if weights else ((arr != 0) & (arr != 1))
        if weights and kind in "iu" and not np.any(bad) and np.any(arr > 1):
            # an integer array other than 0/1 reads like point indices (np.arange(n)[None]),
            # which as weights would silently weight point i by i
            rows, cols = np.nonzero(arr > 1)
            raise ValueError(
                f"{name} holds the integer {arr[rows[0], cols[0]].item()!r} at row {rows[0]}, "
                f"column {cols[0]}: masks are boolean (or 0/1) or real-valued weights over the "
                f"pool, not indices of points; for index lists build a boolean mask "
                f"(m = np.zeros(n, bool); m[idx] = True), for integer counts pass them as "
                f"floats ({name}.astype(float))")
        if np.any(bad):
            rows, cols = np.nonzero(bad)
            what = ("boolean masks or non-negative weights" if weights else
                    "boolean or hold only 0/1 values (subset weights: weights=True)")
            value = arr[rows[0], cols[0]].item()
            raise ValueError(f"{name} must be {what}, got {value!r} at row {rows[0]}, column "
                             f"{cols[0]}")
        out = (np.array(arr, dtype=np.float64, order="C") if weights
               else np.array(arr == 1, dtype=bool, order="C"))
    else:
        raise ValueError(f"{name} must be boolean or numeric (0/1 or weights), got dtype "
                         f"{arr.dtype}")
    if not allow_empty:
        empty = np.flatnonzero(~(out > 0).any(axis=1))
        if empty.size:
            shown = ", ".join(str(i) for i in empty[:10])
            more = f" (and {empty.size - 10} more)" if empty.size > 10 else ""
            raise ValueError(f"{name} has empty rows (no point selected; theta(S) needs at "
                             f"least one point, so empty subsets are refused) at rows "
                             f"{shown}{more}")
    return out
