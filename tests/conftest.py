"""Shared pytest configuration: hypothesis profiles and torch threading.

Profiles
--------
ci  : 25 examples, no deadline, derandomised (reproducible runs), ``too_slow`` suppressed.
dev : 100 examples, no deadline.

The profile is chosen by the ``HYPOTHESIS_PROFILE`` environment variable (default "ci").
Shared strategies live in ``tests/strategies.py`` (import them as ``from strategies import ...``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """One torch thread: the test problems are small, and spinning threads only contend."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency, but stay tolerant
        return
    torch.set_num_threads(1)
