"""Results and resumable state of the Monte-Carlo valuation estimators.

Every estimator in :mod:`.semivalues` and :mod:`.oob` accumulates, per point and per group of
samples, the count, mean and sum of squared deviations of its i.i.d. sampling units (Chan et al.'s
pairwise merge, one merge per round). That state is all a run needs to continue, so a run that was
stopped (by its stopping rule, a wall-clock budget or Ctrl-C) and resumed with the same round size
gives the values of the uninterrupted run bit for bit.

The values estimate semivalues of a utility U(S) of theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ValuationResult", "ValuationState", "compare_values", "deprecated_return_info"]

_STATE_FORMAT = "modelpred-theory/ValuationState"
_STATE_VERSION = 1


@dataclass
class ValuationState:
    """Everything a Monte-Carlo valuation needs to be continued exactly.

    Attributes
    ----------
    method : str
        ``"semivalue"``, ``"msr"`` or ``"oob"``.
    sampler : str
    n : int
        Pool size.
    config : dict
        What must match on resume (weights, truncation, data fingerprint, oracle name...).
    round_size : int
        Sampling units per round (one oracle call per round).
    seed_entropy : int
        Root entropy of the per-round generators: round r draws from
        ``SeedSequence(seed_entropy, spawn_key=(*seed_key, r))``.
    seed_key : tuple of int
    rounds : int
    round_units : list of int
        Units drawn in each round.
    count, mean, m2 : ndarray of shape (g, n)
        Per group g and point: number of samples, their mean, sum of squared deviations.
    n_evaluations : int
        Utility evaluations so far (the two end sets included).
    utility_seconds, elapsed_seconds : float
        Time inside the utility, and total time of all sessions.
    u_empty, u_full : float
        U(empty) and U(N) (NaN before the first round).
    truncated : int
        Prefix evaluations skipped by truncation.
    memory : dict
        State of the stopping rules (e.g. the last values for rank stability).
    """

    method: str
    sampler: str
    n: int
    config: dict
    round_size: int
    seed_entropy: int
    seed_key: tuple
    n_groups: int = 1
    rounds: int = 0
    round_units: list = field(default_factory=list)
    count: np.ndarray | None = None
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    n_evaluations: int = 0
    utility_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    u_empty: float = float("nan")
    u_full: float = float("nan")
    truncated: int = 0
    memory: dict = field(default_factory=dict)

    def __post_init__(self):
        shape = (self.n_groups, self.n)
        if self.count is None:
            self.count = np.zeros(shape, dtype=np.int64)
            self.mean = np.zeros(shape)
            self.m2 = np.zeros(shape)

    @property
    def units(self) -> int:
        """Sampling units drawn so far (permutations, pairs, cycles, subsets, bootstraps)."""
        return int(sum(self.round_units))

    def round_rng(self, r: int) -> np.random.Generator:
        """The generator of round ``r``: independent of every other round and of the stopping."""
        ss = np.random.SeedSequence(self.seed_entropy, spawn_key=(*self.seed_key, int(r)))
        return np.random.default_rng(ss)

    def merge(self, samples: np.ndarray, valid: np.ndarray | None = None, group: int = 0):
        """Merge one round of samples (k, n) (only where ``valid`` (k, n) is True) into a group.

        Chan, Golub & LeVeque's pairwise update of (count, mean, M2); deterministic given the
        order of rounds, exact (no update) for a constant sample.
        """
        S = np.asarray(samples, dtype=np.float64)
        V = np.ones(S.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        nb = V.sum(axis=0)  # shape: (n,)
        safe = np.maximum(nb, 1)
        mb = np.where(V, S, 0.0).sum(axis=0) / safe  # shape: (n,)
        m2b = np.where(V, (S - mb) ** 2, 0.0).sum(axis=0)
        na = self.count[group]
        tot = na + nb
        delta = mb - self.mean[group]
        frac = np.where(tot > 0, nb / np.maximum(tot, 1), 0.0)
        self.mean[group] = self.mean[group] + delta * frac
        self.m2[group] = self.m2[group] + m2b + delta**2 * na * frac
        self.count[group] = tot

    def group_stats(self, group: int = 0):
        """(mean, variance of the mean) of a group: two ndarrays of shape (n,) (inf below 2)."""
        c = self.count[group].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(c > 1, self.m2[group] / (c - 1) / np.maximum(c, 1), np.inf)
        mean = np.where(c > 0, self.mean[group], np.nan)
        return mean, var

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the state to ``path`` (.npz, no pickle; written atomically)."""
        path = Path(path)
        meta = {"format": _STATE_FORMAT, "version": _STATE_VERSION, "method": self.method,
                "sampler": self.sampler, "n": self.n, "config": self.config,
                "round_size": self.round_size, "seed_entropy": str(self.seed_entropy),
                "seed_key": list(self.seed_key), "n_groups": self.n_groups,
                "rounds": self.rounds, "round_units": list(self.round_units),
                "n_evaluations": self.n_evaluations, "utility_seconds": self.utility_seconds,
                "elapsed_seconds": self.elapsed_seconds, "u_empty": repr(self.u_empty),
                "u_full": repr(self.u_full), "truncated": self.truncated}
        arrays = {f"memory__{k}": np.asarray(v) for k, v in self.memory.items()}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), count=self.count, mean=self.mean,
                 m2=self.m2, **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ValuationState:
        """Read a state written by :meth:`save`; a damaged file raises ValueError naming it."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable valuation state ({exc})") from exc
        if meta.get("format") != _STATE_FORMAT or meta.get("version") != _STATE_VERSION:
            raise ValueError(f"{path}: not a valuation state of this version")
        memory = {k[len("memory__"):]: (v.item() if v.ndim == 0 else v)
                  for k, v in arrays.items() if k.startswith("memory__")}
        return cls(method=meta["method"], sampler=meta["sampler"], n=int(meta["n"]),
                   config=meta["config"], round_size=int(meta["round_size"]),
                   seed_entropy=int(meta["seed_entropy"]), seed_key=tuple(meta["seed_key"]),
                   n_groups=int(meta["n_groups"]), rounds=int(meta["rounds"]),
                   round_units=[int(u) for u in meta["round_units"]], count=arrays["count"],
                   mean=arrays["mean"], m2=arrays["m2"],
                   n_evaluations=int(meta["n_evaluations"]),
                   utility_seconds=float(meta["utility_seconds"]),
                   elapsed_seconds=float(meta["elapsed_seconds"]),
                   u_empty=float(meta["u_empty"]), u_full=float(meta["u_full"]),
                   truncated=int(meta["truncated"]), memory=memory)

    def copy(self) -> ValuationState:
        """A deep copy (arrays and memory duplicated)."""
        return ValuationState(**{**self.__dict__, "count": self.count.copy(),
                                 "mean": self.mean.copy(), "m2": self.m2.copy(),
                                 "round_units": list(self.round_units),
                                 "memory": {k: np.copy(v) if isinstance(v, np.ndarray) else v
                                            for k, v in self.memory.items()}})


@dataclass
class ValuationResult:
    """Data values, their standard errors, what they cost and what stopped the run.

    Every valuation function returns one (``data_shapley``, ``beta_shapley``, ``banzhaf``,
    ``loo_values``, ``knn_shapley``, ``data_oob``, ``shapley_from_utility``, ...): read
    ``.values``, ``.stderr`` and ``.stopped_by`` whatever the estimator. ``np.asarray(result)``
    gives the values too.

    Attributes
    ----------
    values : ndarray of shape (n,)
    stderr : ndarray of shape (n,)
        Monte-Carlo standard error of each value (0 for closed forms and exact enumeration; NaN
        for LOO; inf while a point has fewer than 2 samples).
    n_utility_calls : int
        Subsets whose utility was evaluated (each prefix or set counts once).
    utility_seconds : float
        Wall time inside the utility (oracle + metric).
    setup_seconds : float
        Wall time building the oracle (e.g. training ModelPred or UtilityPred); 0 otherwise.
    total_seconds : float
        Wall time of the whole call including setup (this session only).
    oracle : str
    permutations : ndarray of shape (n_permutations, n) or None
        The permutations valued (permutation and antithetic samplers; None otherwise).
    truncated_fraction : float
        Fraction of prefix evaluations skipped by truncation.
    stopped_by : str
        The rule that ended the run (e.g. ``"FixedBudget(samples=100)"``, ``"interrupted"``,
        ``"exact"`` for closed forms).
    n_samples : int
        Sampling units drawn (permutations, antithetic pairs, stratified cycles, MSR subsets,
        bootstrap models).
    sampler, method : str
    state : ValuationState or None
        Pass as ``resume=`` to continue the run.
    """

    values: np.ndarray
    stderr: np.ndarray
    n_utility_calls: int
    utility_seconds: float
    setup_seconds: float = 0.0
    total_seconds: float = 0.0
    oracle: str = ""
    permutations: np.ndarray | None = field(default=None, repr=False)
    truncated_fraction: float = 0.0
    stopped_by: str = ""
    n_samples: int = 0
    sampler: str = ""
    method: str = ""
    state: ValuationState | None = field(default=None, repr=False)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(result)`` is ``result.values`` (the values as an ndarray of shape (n,))."""
        v = self.values if dtype is None else self.values.astype(dtype)
        return v.copy() if copy else v

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C ended the run (the values are then from the finished rounds only)."""
        return self.stopped_by == "interrupted"

    @property
    def seconds_per_call(self) -> float:
        """Utility time per evaluated subset."""
        return self.utility_seconds / max(1, self.n_utility_calls)

    @property
    def max_stderr(self) -> float:
        """The largest standard error over the points."""
        return float(np.max(self.stderr)) if self.stderr.size else float("nan")


def deprecated_return_info(return_info, name: str) -> None:
    """Warn (DeprecationWarning) when ``return_info`` is passed: results are always returned.

    ``return_info`` used to switch ``data_shapley`` / ``loo_values`` / ``shapley_from_utility``
    between an array and a :class:`ValuationResult`; every valuation function now returns the
    result (its ``.values`` is the array).
    """
    if return_info is None:
        return
    import warnings

    warnings.warn(f"{name}: return_info is deprecated and has no effect: {name} returns a "
                  f"ValuationResult (.values, .stderr, .stopped_by) like every valuation "
                  f"function; use .values for the array", DeprecationWarning, stacklevel=3)


def compare_values(values, reference) -> dict:
    """Agreement of estimated values with reference values (e.g. exact-retraining Shapley).

    Returns a dict with ``pearson``, ``spearman``, ``nrmse`` (RMSE / std of the reference),
    ``rel_l2`` (||v - r|| / ||r||) and ``max_abs`` (largest absolute difference).
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if v.shape != r.shape or v.ndim != 1:
        raise ValueError(f"values and reference must be 1-D of equal shape, got {v.shape}, "
                         f"{r.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(r))):
        raise ValueError("values and reference must be finite")
    rmse = float(np.sqrt(np.mean((v - r) ** 2)))
    sd = float(r.std())
    nr = float(np.linalg.norm(r))
    both = v.std() > 0 and sd > 0
    return {
        "pearson": float(stats.pearsonr(v, r)[0]) if both else float("nan"),
        "spearman": float(stats.spearmanr(v, r)[0]) if both else float("nan"),
        "nrmse": rmse / sd if sd > 0 else float("nan"),
        "rel_l2": float(np.linalg.norm(v - r)) / nr if nr > 0 else float("nan"),
        "max_abs": float(np.max(np.abs(v - r))),
    }
