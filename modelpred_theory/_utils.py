"""Small argument checks shared across the package (random generators, integers)."""

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
