"""Data sets: scikit-learn's bundled real data, synthetic data with a known truth, and your own.

* ``load(name)`` for the bundled files (``available()``; nothing is ever downloaded), or
  ``load("my.csv", target="label")`` / ``load("file.npz")`` for a user's file;
* ``from_arrays(X, y)``, ``from_dataframe(df, target=...)``, ``from_csv(path, target=...)``,
  ``from_npz(path)``: the same :class:`Dataset`, prepared the same way (deterministic split,
  standardisation, unit-ball scaling recorded in ``ds.feature_transform`` for new rows);
* ``make_regression``, ``make_logistic``, ``make_multiclass_logistic``: synthetic data whose
  generating parameters are in ``Dataset.theta_true``.

Parameter layout (the library-wide convention, see docs/design.md): a learner minimises the SUM
objective ``F_S(theta) = sum_{i in S} w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2``
with ``theta = [w (d numbers), b]`` (rows ``[w_k, b_k]`` flattened for multiclass).
"""

from __future__ import annotations

import os
from pathlib import Path

from ._dataset import Dataset, FeatureTransform
from ._labels import MAX_INFERRED_CLASSES
from .bundled import available, load_bundled
from .own import from_arrays, from_csv, from_dataframe, from_file, from_npz
from .synthetic import make_logistic, make_multiclass_logistic, make_regression

__all__ = [
    "MAX_INFERRED_CLASSES",
    "Dataset",
    "FeatureTransform",
    "available",
    "from_arrays",
    "from_csv",
    "from_dataframe",
    "from_file",
    "from_npz",
    "load",
    "make_logistic",
    "make_multiclass_logistic",
    "make_regression",
]

_FILE_SUFFIXES = (".csv", ".npz")


def load(name, seed: int = 0, test_size: float = 0.25, scale: bool = True,
         n_train: int | None = None, *, target: str | None = None, task: str | None = None,
         standardize: bool = True, **csv_options) -> Dataset:
    """A bundled data set by name, or a user's .csv/.npz file, as a deterministic split.

    Parameters
    ----------
    name : str or path
        One of :func:`available` (see :func:`.bundled.load_bundled`), or a path ending in
        ``.csv`` (needs ``target``) or ``.npz`` (arrays ``X`` and ``y``; see
        :func:`.own.from_npz`).
    seed, test_size, n_train
        The split: ``random_state``, held-out fraction in (0, 1), optional stratified
        subsample of the training pool.
    scale : bool, default=True
        Unit-ball scaling by the largest training-row norm.
    target : str, optional
        Files only: the target column (CSV) or array key (.npz, default ``"y"``).
    task : str, optional
        Files only: ``"regression"``, ``"classification"``, ``"binary"``, ``"multiclass"``;
        None infers it (see :func:`.own.from_arrays`).
    standardize : bool, default=True
        Files only (the bundled data are always standardised).
    **csv_options
        CSV files only: ``features``, ``drop``, ``delimiter``, ``decimal``, ``encoding`` of
        :func:`.own.from_csv`.

    Returns
    -------
    Dataset
        Models fitted on it follow the sum convention F_S(theta) = sum_{i in S} w_i
        loss_i(theta) + lam/2 ||P theta||^2.
    """
    if isinstance(name, (str, os.PathLike)) and str(name) in available():
        if target is not None or task is not None or standardize is not True or csv_options:
            raise ValueError(f"target=, task=, standardize= and the CSV options are for files, "
                             f"not for the "
                             f"bundled data set {str(name)!r}")
        return load_bundled(str(name), seed=seed, test_size=test_size, scale=scale,
                            n_train=n_train)
    if isinstance(name, (str, os.PathLike)) and Path(str(name)).suffix.lower() in _FILE_SUFFIXES:
        if not isinstance(scale, bool):
            raise TypeError(f"scale must be True or False, got {scale!r}")
        allowed = {"features", "drop", "delimiter", "decimal", "encoding"}
        unknown = sorted(set(csv_options) - allowed)
        if unknown:
            raise TypeError(f"load() got unexpected keyword arguments {unknown}")
        csv_options = {k: v for k, v in csv_options.items() if v is not None}
        if csv_options and Path(str(name)).suffix.lower() != ".csv":
            raise ValueError(f"{sorted(csv_options)} are for CSV files, not {str(name)!r}")
        return from_file(name, target, seed=seed, test_size=test_size,
                         scale="unit_ball" if scale else None, n_train=n_train, task=task,
                         standardize=standardize, **csv_options)
    raise ValueError(f"name must be one of {available()} or a path to a .csv or .npz file, "
                     f"got {name!r}")
