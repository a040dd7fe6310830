"""Oracle specifications: parse a string or object, name it, and build the oracle.

Every oracle answers theta(S), the minimiser of the SUM objective
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md), or its
approximation; see :mod:`.oracles` for the classes.
"""

from __future__ import annotations

import time

from ..subsets import permutation_prefixes
from ._common import (
    MODELPRED_BASES,
    ORACLE_NAMES,
    STREAM_UTILITY_TRAIN,
    _check_positive_int,
    derived_rng,
)
from .oracles import (
    ExactOracle,
    InfluenceOracle,
    NewtonOracle,
    SubsetUtility,
    degenerate_mask,
)
from .utility_pred import UtilityPred

__all__ = ["oracle_label", "parse_oracle", "resolve_oracle", "with_engine"]


def parse_oracle(oracle, oracle_kwargs: dict | None = None):
    """Split a string oracle specification into (name, keyword arguments); validate both.

    ``"modelpred:<base>"`` (base in ``MODELPRED_BASES``; ``none`` means no classical base)
    is ``"modelpred"`` with ``oracle_kwargs["base"] = base`` (forwarded to
    ``ModelPred(learner, base=...)``). Raises ValueError for unknown names, bases or a base
    given twice; objects are returned unchanged with ``name=None``.

    Returns
    -------
    name : str or None
    kwargs : dict
    """
    kw = dict(oracle_kwargs or {})
    if oracle_kwargs is not None and not isinstance(oracle_kwargs, dict):
        raise ValueError(f"oracle_kwargs must be a dict, got {type(oracle_kwargs).__name__}")
    if not isinstance(oracle, str):
        if hasattr(oracle, "predict") or hasattr(oracle, "predict_utility"):
            return None, kw
        raise ValueError(f"oracle must be one of {ORACLE_NAMES} (or 'modelpred:<base>') or an "
                         f"object with predict(X, y, masks) / predict_utility(masks), got "
                         f"{type(oracle)!r}")
    name, sep, base = oracle.partition(":")
    if name not in ORACLE_NAMES or (sep and name != "modelpred"):
        raise ValueError(f"oracle must be one of {ORACLE_NAMES} (or 'modelpred:<base>') or an "
                         f"object with predict(X, y, masks) / predict_utility(masks), got "
                         f"{oracle!r}")
    if sep:
        if base not in MODELPRED_BASES:
            raise ValueError(f"oracle {oracle!r}: the ModelPred base must be one of "
                             f"{MODELPRED_BASES}, got {base!r}")
        if "base" in kw:
            raise ValueError(f"oracle {oracle!r} names a base and oracle_kwargs['base'] gives "
                             f"another; give it once")
        kw["base"] = None if base == "none" else base
    return name, kw


# The built-in oracles that take the applications' device= / n_jobs= keywords.
_ENGINE_KEYS = {"exact": ("device", "n_jobs"), "influence": ("device",), "newton": ("device",),
                "utility": ("device", "n_jobs"), "modelpred": ("device", "n_jobs")}


def with_engine(oracle, oracle_kwargs: dict | None, device=None, n_jobs=None) -> dict | None:
    """``oracle_kwargs`` with an application's ``device=`` / ``n_jobs=`` merged in (no work).

    ``device`` runs the oracle's float64 work there ("exact", "influence", "newton"; the exact
    labels of "utility"; ModelPred's labels and training); ``n_jobs`` spreads the exact solves
    over joblib workers (the label engine: local processes, or Dask / Ray under
    ``joblib.parallel_config``) for "exact", "utility" and "modelpred". Both are checked here,
    before any oracle work; an oracle object keeps its own settings, so giving either with one
    is an error, as is a key given both ways.
    """
    from ..learners.tensors import resolve_device
    from ..setfn.engine import check_n_jobs

    given = {k: v for k, v in (("device", device), ("n_jobs", n_jobs)) if v is not None}
    if not given:
        return oracle_kwargs
    name, _ = parse_oracle(oracle, oracle_kwargs)
    if name is None:
        raise ValueError(f"{' and '.join(given)} configure the built-in oracles; set them on "
                         f"the oracle object ({type(oracle).__name__}) instead")
    for key in given:
        if key not in _ENGINE_KEYS[name]:
            takers = sorted(o for o, keys in _ENGINE_KEYS.items() if key in keys)
            raise ValueError(f"oracle {oracle!r} takes no {key}=: it applies to {takers}")
        if key in (oracle_kwargs or {}):
            raise ValueError(f"{key} is given both as an argument and in oracle_kwargs; give "
                             f"it once")
    dev = resolve_device(given.get("device"))
    jobs = check_n_jobs(given.get("n_jobs"))
    if jobs is not None and dev.type != "cpu":
        raise ValueError(f"n_jobs={n_jobs} solves in CPU processes; it cannot be combined with "
                         f"device={device!r} (use one or the other)")
    return {**(oracle_kwargs or {}), **given}


def oracle_label(oracle, oracle_kwargs: dict | None = None) -> str:
    """The name :func:`resolve_oracle` will report for this specification (no work done)."""
    name, kw = parse_oracle(oracle, oracle_kwargs)
    if name is None:
        return getattr(oracle, "name", type(oracle).__name__)
    if name == "modelpred" and "base" in kw:  # "modelpred" alone: ModelPred's default base
        return f"modelpred:{'none' if kw['base'] is None else kw['base']}"
    return name


def _takes_base(cls) -> bool:
    """Whether ``cls(learner, base=...)`` is accepted."""
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    return any(p.name == "base" or p.kind is p.VAR_KEYWORD for p in params)


def resolve_oracle(oracle, learner, X, y, *, seed: int = 0, X_test=None, y_test=None,
                   metric: str = "neg_loss", oracle_kwargs: dict | None = None):
    """Turn an oracle specification into an oracle object.

    Parameters
    ----------
    oracle : str or object
        ``"exact"``, ``"influence"``, ``"newton"`` (one exact Newton step from the full fit),
        ``"utility"`` (trains a :class:`UtilityPred` on exact utilities of
        ``n_train_permutations`` permutation prefixes, default 50, drawn from a stream separate
        from the valued permutations), ``"modelpred"`` or ``"modelpred:<base>"`` (trains
        ``modelpred_theory.setfn.ModelPred(learner, seed=seed, **oracle_kwargs).fit(X, y)``,
        the base forwarded as ``base=``), or an object with ``predict(X, y, masks)`` or
        ``predict_utility(masks)`` (used as is).
    learner : ConvexLearner
    X, y : the pool
    seed : int
        Seeds the training of learned oracles.
    X_test, y_test, metric
        Needed for ``"utility"`` (its regression target).
    oracle_kwargs : dict, optional
        For ``"utility"``: ``n_train_permutations`` plus :class:`UtilityPred` arguments; for
        ``"modelpred"``: ModelPred constructor arguments (e.g. ``{"base": "newton"}``); for
        ``"exact"`` / ``"influence"`` / ``"newton"``: the oracle class's arguments.

    Returns
    -------
    oracle : object
    name : str
    setup_seconds : float
        Wall time spent building/training it (including exact labels for ``"utility"``).

    Notes
    -----
    Sum convention: every oracle answers theta(S) = argmin sum_{i in S} loss_i(theta) +
    lam/2 ||P theta||^2 (or its approximation).
    """
    name, kw = parse_oracle(oracle, oracle_kwargs)
    if name is None:
        return oracle, oracle_label(oracle), 0.0
    t0 = time.perf_counter()
    if name == "exact":
        obj = ExactOracle(learner, **kw)
    elif name == "influence":
        obj = InfluenceOracle(learner, **kw)
    elif name == "newton":
        obj = NewtonOracle(learner, **kw)
    elif name == "utility":
        if X_test is None:
            raise ValueError("oracle='utility' needs X_test and y_test (its target)")
        n_perm = _check_positive_int(kw.pop("n_train_permutations", 50), "n_train_permutations")
        rng = derived_rng(seed, STREAM_UTILITY_TRAIN)
        masks, _, _ = permutation_prefixes(X.shape[0], n_perm, rng=rng)
        engine = {key: kw.pop(key) for key in ("device", "n_jobs") if key in kw}
        exact = SubsetUtility(learner, X, y, X_test, y_test, ExactOracle(learner, **engine),
                              metric=metric)
        masks = masks[~degenerate_mask(learner, y, masks)]
        u = exact(masks)
        kw.setdefault("seed", seed)
        obj = UtilityPred(**kw).fit(X, y, masks, u, onehot=hasattr(learner, "accuracy"))
    else:
        from ..setfn import ModelPred

        kw.setdefault("progress", False)
        if "base" in kw and not _takes_base(ModelPred):
            if kw["base"] is not None:
                raise ValueError(f"oracle {oracle!r}: this ModelPred has no classical base; "
                                 f"use 'modelpred' or 'modelpred:none'")
            kw.pop("base")  # no base is all this ModelPred does
        obj = ModelPred(learner, seed=seed, **kw).fit(X, y)
        name = oracle_label(oracle, oracle_kwargs)
    return obj, name, time.perf_counter() - t0
