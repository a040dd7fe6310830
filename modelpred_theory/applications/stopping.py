"""Stopping rules of the Monte-Carlo valuation estimators.

A rule is asked after every round (one batched oracle call) whether to stop, and the
:class:`~.results.ValuationResult` records which rule stopped the run. Rules:

- :class:`FixedBudget` - a number of sampling units (permutations, pairs, cycles, subsets,
  bootstrap models) and/or of utility evaluations;
- :class:`TargetStderr` - every point's standard error below ``atol + rtol * std(values)``;
- :class:`RankStability` - the Spearman correlation between the values after consecutive
  rounds stays above a threshold for ``patience`` rounds;
- :class:`WallClock` - a budget of seconds for the session (resumed runs get a fresh budget);
- :class:`AnyOf` (``rule_a | rule_b``) - the first rule that fires.

Specs are accepted wherever a rule is: an int (a budget of units), a string
``"budget:200"``, ``"evaluations:1e5"``, ``"stderr:1e-3"``, ``"rank:0.99"``, ``"time:60"``, or
several joined by ``"|"``. The values estimated are semivalues of a utility of theta(S), the
minimiser of F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["AnyOf", "FixedBudget", "Progress", "RankStability", "StoppingRule", "TargetStderr",
           "WallClock", "parse_stopping"]


@dataclass
class Progress:
    """What a stopping rule sees after a round.

    Attributes
    ----------
    units, evaluations, rounds : int
        Totals over all sessions of the run.
    seconds : float
        Wall time of this session.
    values, stderr : ndarray of shape (n,)
    """

    units: int
    evaluations: int
    rounds: int
    seconds: float
    values: np.ndarray
    stderr: np.ndarray


def _positive(value, name: str, integer: bool = False):
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(
        value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


class StoppingRule(abc.ABC):
    """Base class: ``should_stop(progress, memory) -> bool``; ``memory`` persists in the state."""

    @abc.abstractmethod
    def should_stop(self, progress: Progress, memory: dict) -> bool:
        """Whether the estimator stops after the round that produced ``progress``."""

    def units_cap(self, units_done: int, evaluations_done: int, cost_per_unit: float):
        """Largest number of units the next round may draw (None: no cap)."""
        return None

    def __or__(self, other) -> AnyOf:
        return AnyOf(self, parse_stopping(other))

    def fired(self, progress: Progress, memory: dict) -> StoppingRule | None:
        """The rule (self or a member) that stops now, or None."""
        return self if self.should_stop(progress, memory) else None


class FixedBudget(StoppingRule):
    """Stop after ``samples`` sampling units and/or ``evaluations`` utility evaluations.

    The last round is shortened so the budget is met exactly in units (in evaluations it may
    be exceeded by less than one unit).
    """

    def __init__(self, samples: int | None = None, evaluations: int | None = None):
        if samples is None and evaluations is None:
            raise ValueError("FixedBudget needs samples or evaluations")
        self.samples = None if samples is None else _positive(samples, "samples", True)
        self.evaluations = (None if evaluations is None
                            else _positive(evaluations, "evaluations", False))

    def __repr__(self) -> str:
        parts = [f"samples={self.samples}"] if self.samples is not None else []
        if self.evaluations is not None:
            parts.append(f"evaluations={self.evaluations:g}")
        return f"FixedBudget({', '.join(parts)})"

    def should_stop(self, progress, memory) -> bool:
        return ((self.samples is not None and progress.units >= self.samples)
                or (self.evaluations is not None and progress.evaluations >= self.evaluations))

    def units_cap(self, units_done, evaluations_done, cost_per_unit):
        caps = []
        if self.samples is not None:
            caps.append(self.samples - units_done)
        if self.evaluations is not None:
            caps.append(math.ceil((self.evaluations - evaluations_done) / cost_per_unit))
        return max(1, min(caps))


class TargetStderr(StoppingRule):
    """Stop when every standard error is <= ``atol + rtol * std(values)``.

    ``min_samples`` units are drawn first (a standard error from a handful of samples is itself
    too noisy to trust).
    """

    def __init__(self, atol: float = 0.0, rtol: float = 0.0, *, min_samples: int = 10):
        if not (isinstance(atol, numbers.Real) and atol >= 0 and isinstance(rtol, numbers.Real)
                and rtol >= 0 and (atol > 0 or rtol > 0)):
            raise ValueError(f"TargetStderr needs atol >= 0 and rtol >= 0, not both 0; got "
                             f"atol={atol!r}, rtol={rtol!r}")
        self.atol, self.rtol = float(atol), float(rtol)
        self.min_samples = _positive(min_samples, "min_samples", True)

    def __repr__(self) -> str:
        return f"TargetStderr(atol={self.atol:g}, rtol={self.rtol:g})"

    def should_stop(self, progress, memory) -> bool:
        if progress.units < self.min_samples or not np.all(np.isfinite(progress.stderr)):
            return False
        tol = self.atol + self.rtol * float(np.std(progress.values))
        return bool(np.max(progress.stderr) <= tol)


class RankStability(StoppingRule):
    """Stop when Spearman(values after this round, after the previous one) >= ``threshold``
    for ``patience`` consecutive rounds (after at least ``min_samples`` units)."""

    def __init__(self, threshold: float = 0.99, patience: int = 3, *, min_samples: int = 10):
        if not (isinstance(threshold, numbers.Real) and 0 < threshold < 1):
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        self.threshold = float(threshold)
        self.patience = _positive(patience, "patience", True)
        self.min_samples = _positive(min_samples, "min_samples", True)

    def __repr__(self) -> str:
        return f"RankStability(threshold={self.threshold:g}, patience={self.patience})"

    def should_stop(self, progress, memory) -> bool:
        from scipy.stats import spearmanr

        key = f"rank_{self.threshold:g}_{self.patience}"  # stable across resumed sessions
        prev = memory.get(key + "_values")
        streak = int(memory.get(key + "_streak", 0))
        v = np.asarray(progress.values, dtype=np.float64)
        if prev is not None and np.all(np.isfinite(v)) and v.std() > 0 and np.std(prev) > 0:
            rho = float(spearmanr(v, prev)[0])
            streak = streak + 1 if rho >= self.threshold else 0
        memory[key + "_values"] = v.copy()
        memory[key + "_streak"] = streak
        return progress.units >= self.min_samples and streak >= self.patience


class WallClock(StoppingRule):
    """Stop once this session has run for ``seconds`` (checked after each round)."""

    def __init__(self, seconds: float):
        self.seconds = _positive(seconds, "seconds")

    def __repr__(self) -> str:
        return f"WallClock(seconds={self.seconds:g})"

    def should_stop(self, progress, memory) -> bool:
        return progress.seconds >= self.seconds


class AnyOf(StoppingRule):
    """Stop when any member rule fires; the result names the first one that did."""

    def __init__(self, *rules):
        if not rules:
            raise ValueError("AnyOf needs at least one rule")
        self.rules = tuple(parse_stopping(r) for r in rules)

    def __repr__(self) -> str:
        return " | ".join(repr(r) for r in self.rules)

    def should_stop(self, progress, memory) -> bool:
        return self.fired(progress, memory) is not None

    def fired(self, progress, memory):
        hits = [r.fired(progress, memory) for r in self.rules]  # every rule updates its memory
        return next((h for h in hits if h is not None), None)

    def units_cap(self, units_done, evaluations_done, cost_per_unit):
        caps = [c for r in self.rules
                if (c := r.units_cap(units_done, evaluations_done, cost_per_unit)) is not None]
        return min(caps) if caps else None


_SPEC_KINDS = {"budget": "samples", "samples": "samples", "evaluations": "evaluations",
               "stderr": "stderr", "rank": "rank", "time": "time"}


def parse_stopping(spec) -> StoppingRule:
    """A :class:`StoppingRule` from a rule, an int budget or a string spec (module docstring).

    Raises ValueError (naming ``stopping``) for anything else.
    """
    if isinstance(spec, StoppingRule):
        return spec
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        return FixedBudget(samples=_positive(spec, "stopping", True))
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split("|")]
        rules = [_parse_one(p, spec) for p in parts]
        return rules[0] if len(rules) == 1 else AnyOf(*rules)
    raise ValueError(f"stopping must be a StoppingRule, a positive int or a spec such as "
                     f"'budget:200', 'stderr:1e-3', 'rank:0.99', 'time:60', got {spec!r}")


def _parse_one(part: str, spec: str) -> StoppingRule:
    kind, sep, arg = part.partition(":")
    if not sep or kind not in _SPEC_KINDS:
        raise ValueError(f"stopping spec {spec!r}: unknown rule {part!r}; use budget:N, "
                         f"evaluations:N, stderr:X, rank:X or time:SECONDS")
    try:
        x = float(arg)
    except ValueError:
        raise ValueError(f"stopping spec {spec!r}: {arg!r} is not a number") from None
    kind = _SPEC_KINDS[kind]
    if kind == "samples":
        if x != int(x):
            raise ValueError(f"stopping spec {spec!r}: the budget must be an integer")
        return FixedBudget(samples=int(x))
    if kind == "evaluations":
        return FixedBudget(evaluations=x)
    if kind == "stderr":
        return TargetStderr(atol=x)
    if kind == "rank":
        return RankStability(threshold=x)
    return WallClock(x)
