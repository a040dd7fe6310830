"""The round loop shared by every Monte-Carlo valuation estimator: sample, evaluate, merge, stop.

A run is a sequence of rounds. Round r draws its sampling units from its own generator
(``ValuationState.round_rng(r)``), evaluates all their subsets in one batched utility call
(several only with truncation or ``batch_size``), merges the per-unit estimates into the running
moments, saves a checkpoint if asked, and asks the stopping rule. Because nothing in a round
depends on how the run was split into sessions, ``resume=`` continues a stopped run to the same
values, bit for bit, as an uninterrupted one with the same round size. Ctrl-C returns the finished
rounds with ``stopped_by="interrupted"``; Ctrl-C before the first round finished re-raises
KeyboardInterrupt (there are no values to return, and NaN is never returned as a value).
The progress bar counts sampling units (permutations, pairs, cycles, subsets, bootstrap models)
against the budget of the stopping rule when it has one, so it shows a total and an ETA.

The utilities are of theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .._utils import as_generator as _as_generator
from ._common import _check_positive_int
from .results import ValuationResult, ValuationState
from .samplers import default_round_size, units_cost
from .stopping import Progress, parse_stopping

__all__ = ["call_utility", "new_state", "resume_state", "run"]

# Largest permutation table (entries) a result keeps in ``permutations``.
_MAX_PERMUTATION_ENTRIES = 10_000_000


def call_utility(utility_fn, masks: np.ndarray) -> np.ndarray:
    """utility_fn(masks) checked: finite, shape (k,)."""
    out = np.asarray(utility_fn(masks), dtype=np.float64).reshape(-1)
    if out.shape != (masks.shape[0],):
        raise ValueError(f"utility_fn returned shape {out.shape} for {masks.shape[0]} masks; "
                         f"expected ({masks.shape[0]},)")
    if not np.all(np.isfinite(out)):
        raise ValueError("utility_fn returned NaN or inf")
    return out


def _root_seed(rng) -> tuple[int, tuple]:
    """(entropy, spawn_key) of the per-round generators from an int seed or a Generator."""
    if isinstance(rng, np.random.SeedSequence):
        return int(rng.entropy), tuple(rng.spawn_key)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative int or a Generator, got {rng!r}")
        return int(rng), ()
    gen = _as_generator(rng)
    return int(gen.integers(2**63)), ()


def new_state(method, sampler, n, config, rng, round_size) -> ValuationState:
    entropy, key = _root_seed(rng)
    size = (default_round_size(sampler, n) if round_size is None
            else _check_positive_int(round_size, "round_size"))
    return ValuationState(method=method, sampler=sampler, n=n,
                          config=json.loads(json.dumps(config)), round_size=size,
                          seed_entropy=entropy, seed_key=key,
                          n_groups=2 if method == "msr" else 1)


def resume_state(resume, method, sampler, n, config, round_size) -> ValuationState:
    """A copy of the state to continue from (a result, a state or a saved file), checked."""
    if isinstance(resume, ValuationResult):
        if resume.state is None:
            raise ValueError("resume: this result carries no state (closed form or exact)")
        state = resume.state.copy()
    elif isinstance(resume, ValuationState):
        state = resume.copy()
    elif isinstance(resume, str | os.PathLike):
        state = ValuationState.load(Path(resume))
    else:
        raise ValueError(f"resume must be a ValuationResult, a ValuationState or a path, got "
                         f"{type(resume).__name__}")
    want = {"method": method, "sampler": sampler, "n": n,
            "config": json.loads(json.dumps(config))}
    for key, value in want.items():
        if getattr(state, key) != value:
            raise ValueError(f"resume: the saved run has {key}={getattr(state, key)!r}, this "
                             f"call has {value!r}; resume with the same arguments")
    if round_size is not None and _check_positive_int(round_size, "round_size") != \
            state.round_size:
        raise ValueError(f"resume: round_size={round_size} differs from the saved run's "
                         f"{state.round_size}")
    return state


def estimates(state: ValuationState):
    """(values, stderr) from the accumulated moments."""
    m0, v0 = state.group_stats(0)
    if state.method == "msr":
        m1, v1 = state.group_stats(1)
        return m0 - m1, np.sqrt(v0 + v1)
    return m0, np.sqrt(v0)


def regenerate_permutations(state: ValuationState):
    """The permutations a permutation/antithetic run valued, from its round generators."""
    if state.sampler not in ("permutation", "antithetic") or state.method != "semivalue":
        return None
    per_unit = 2 if state.sampler == "antithetic" else 1
    if state.units * per_unit * state.n > _MAX_PERMUTATION_ENTRIES:
        return None
    out = []
    for r, k in enumerate(state.round_units):
        base = np.argsort(state.round_rng(r).random((k, state.n)), axis=1)
        out.append(base if per_unit == 1 else np.vstack([base, base[:, ::-1]]))
    return np.vstack(out) if out else np.empty((0, state.n), dtype=np.int64)


def run(utility_fn, state: ValuationState, round_fn, ctx: dict, stopping, *,
        progress: bool = False, checkpoint=None, merge_fn=None) -> ValuationResult:
    """Run rounds until ``stopping`` fires (or Ctrl-C); return the result with its state.

    ``round_fn(gen, k, n, evaluate, ctx) -> (samples, skipped)``; ``merge_fn(state, out)``
    merges a round's output (default: one group, all samples valid).
    """
    rule = parse_stopping(stopping)
    n = state.n
    t_start = time.perf_counter()
    clock = {"evals": 0, "seconds": 0.0}

    def evaluate(masks):
        t0 = time.perf_counter()
        out = utility_fn(masks) if ctx.get("raw") else call_utility(utility_fn, masks)
        clock["seconds"] += time.perf_counter() - t0
        clock["evals"] += masks.shape[0]
        return out

    def commit():
        state.n_evaluations += clock["evals"]
        state.utility_seconds += clock["seconds"]
        clock["evals"], clock["seconds"] = 0, 0.0

    stopped_by = ""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        cost0 = units_cost(state.sampler, n)
        bar = tqdm(desc=f"{state.method}/{state.sampler}", unit=UNIT_NAMES.get(state.sampler,
                                                                               "unit"),
                   total=units_total(rule, state.units, state.n_evaluations, cost0),
                   initial=state.units)
    try:
        if ctx.get("ends", True) and not np.isfinite(state.u_full):
            ends = evaluate(np.stack([np.zeros(n, bool), np.ones(n, bool)]))
            state.u_empty, state.u_full = float(ends[0]), float(ends[1])
            commit()
        ctx = {**ctx, "u_empty": state.u_empty, "u_full": state.u_full}
        cost = units_cost(state.sampler, n)
        while True:
            values, stderr = estimates(state)
            snap = Progress(units=state.units, evaluations=state.n_evaluations,
                            rounds=state.rounds, seconds=time.perf_counter() - t_start,
                            values=values, stderr=stderr)
            if state.units > 0:
                hit = rule.fired(snap, state.memory)
                if hit is not None:
                    stopped_by = repr(hit)
                    break
            cap = rule.units_cap(state.units, state.n_evaluations, cost)
            k = state.round_size if cap is None else min(state.round_size, cap)
            out, skipped = round_fn(state.round_rng(state.rounds), k, n, evaluate, ctx)
            (merge_fn or _merge_plain)(state, out)
            state.rounds += 1
            state.round_units.append(int(k))
            state.truncated += int(skipped)
            commit()
            if checkpoint is not None:
                state.save(checkpoint)
            if bar is not None:
                bar.update(int(k))
                bar.set_postfix(round=state.rounds, max_se=f"{np.max(estimates(state)[1]):.2e}")
    except KeyboardInterrupt:
        clock["evals"], clock["seconds"] = 0, 0.0  # the unfinished round is dropped
        if state.units == 0:  # nothing finished: no values to return (never NaN as values)
            raise
        stopped_by = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t_start
    state.elapsed_seconds += seconds
    values, stderr = estimates(state)
    total_prefixes = state.units * cost if state.sampler != "stratified" else 1
    return ValuationResult(
        values=values, stderr=stderr, n_utility_calls=state.n_evaluations,
        utility_seconds=state.utility_seconds, total_seconds=seconds,
        permutations=regenerate_permutations(state),
        truncated_fraction=state.truncated / max(1, total_prefixes), stopped_by=stopped_by,
        n_samples=state.units, sampler=state.sampler, method=state.method, state=state)


# What one sampling unit of each sampler is called (progress bars, messages).
UNIT_NAMES = {"permutation": "permutation", "antithetic": "antithetic pair",
              "stratified": "cycle", "msr": "subset", "bootstrap": "bootstrap model"}


def units_total(rule, units_done: int, evaluations_done: int, cost: float) -> int | None:
    """The number of sampling units the run will have drawn when it stops, if a budget fixes it.

    ``None`` when only data-dependent rules (standard error, rank stability, wall clock) can
    stop the run.
    """
    cap = rule.units_cap(units_done, evaluations_done, cost)
    return None if cap is None else int(units_done + cap)


def _merge_plain(state: ValuationState, samples) -> None:
    state.merge(samples)
