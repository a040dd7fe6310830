"""Write tests/data/learner_reference.npz: exact fits and derivatives from the learners.

Regression reference (an identity kept as a regression test, see tests/test_learner_reference.py):
the arrays were written by the learners before they were reorganised by composition (a loss, one
batched objective, solver functions); the refactored code must reproduce every array bit for bit.

Cases: ridge, binary logistic, multinomial logistic and the squared-hinge SVM, each with and
without ``penalize_intercept``, on the direct Newton path (small p) and, for the non-quadratic
learners, on the truncated Newton-CG path (p >= 256); ``fit`` with and without fractional
sample weights, ``fit_subsets`` on boolean masks and on fractional weights (several chunks, serial
and over 2 joblib workers, cold and ``theta0="pool"``), the numpy derivatives at a fixed theta,
and the baselines that call the solver's pieces (``newton_step``, ``influence``).

Usage
-----
    python tests/data/make_learner_reference.py          # rewrites the .npz (run only on purpose)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("learner_reference.npz")
N_JOBS_CASES = ("logistic-bin-direct-pen0", "logistic-multi-cg-pen0")


def problem(kind: str, path: str, seed: int = 0):
    """(X, y) for a learner kind on the direct (small p) or CG (p >= 256) path."""
    rng = np.random.default_rng(seed)
    if path == "direct":
        n, d = 40, 5
    elif kind == "logistic-multi":
        n, d = 60, 70  # K = 4: p = 284
    else:
        n, d = 50, 260  # p = 261
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    z = X @ w + 0.3 * rng.standard_normal(n)
    if kind == "ridge":
        y = z + 0.5
    elif kind == "logistic-multi":
        y = np.digitize(z, np.quantile(z, [0.25, 0.5, 0.75]))  # 4 classes, every one present
    else:
        y = (z > 0).astype(np.int64)
    return X, y


def learner(kind: str, pen: bool):
    from modelpred_theory.learners import LogisticRegression, Ridge, SquaredHingeSVM

    if kind == "ridge":
        return Ridge(0.7, penalize_intercept=pen)
    if kind == "svm":
        return SquaredHingeSVM(0.7, penalize_intercept=pen)
    return LogisticRegression(0.7, penalize_intercept=pen)


def cases():
    for kind in ("ridge", "logistic-bin", "logistic-multi", "svm"):
        for path in ("direct", "cg"):
            if kind == "ridge" and path == "cg":
                continue  # quadratic: always the direct solve
            for pen in (False, True):
                yield f"{kind}-{path}-pen{int(pen)}", kind, path, pen


def masks_for(y, n: int, seed: int):
    """Boolean half-subsets holding every class, and fractional weights."""
    rng = np.random.default_rng(seed)
    M = rng.random((11, n)) < 0.6
    for c in np.unique(y):  # every subset keeps one point of every class
        M[:, np.flatnonzero(y == c)[0]] = True
    Wf = rng.uniform(0.05, 2.0, (5, n))
    Wf[:, rng.choice(n, 3, replace=False)] = 0.0
    return M, Wf


def compute(name: str, kind: str, path: str, pen: bool, n_jobs: bool) -> dict:
    from modelpred_theory import baselines as B

    X, y = problem(kind, path)
    n = X.shape[0]
    lrn = learner(kind, pen)
    M, Wf = masks_for(y, n, 1)
    sw = np.random.default_rng(2).uniform(0.1, 3.0, n)
    out = {}
    full = lrn.fit(X, y)
    out["fit"] = full.theta
    out["fit_w"] = lrn.fit(X, y, sample_weight=sw).theta
    info = lrn.fit_subsets(X, y, M, chunk_size=4, return_info=True)
    out["subsets"], out["subsets_gn"], out["subsets_it"] = info.thetas, info.grad_norms, info.n_iter
    out["weights"] = lrn.fit_subsets(X, y, Wf, chunk_size=2)
    out["pool"] = lrn.fit_subsets(X, y, M[:5], theta0="pool")
    if n_jobs:
        out["subsets_jobs"] = lrn.fit_subsets(X, y, M, chunk_size=4, n_jobs=2)
    theta = 0.3 * np.random.default_rng(3).standard_normal(full.theta.shape)
    v = np.random.default_rng(4).standard_normal(full.theta.shape)
    out["loss"] = np.array(lrn.loss(theta, X, y, sw))
    out["grad"] = lrn.grad(theta, X, y, sw)
    out["per_sample_grads"] = lrn.per_sample_grads(theta, X, y)
    out["hvp"] = lrn.hvp(theta, v, X, y, sw)
    out["residual"] = np.array(lrn.optimality_residual(theta, X, y, sw))
    if path == "direct":
        out["hessian"] = lrn.hessian(theta, X, y, sw)
    out["newton_step"] = B.newton_step(lrn, X, y, M[:4])
    if path == "direct":
        out["influence"] = B.influence(lrn, X, y, M[:4])
    return {f"{name}/{k}": np.asarray(a) for k, a in out.items()}


def main() -> dict:
    import torch

    torch.set_num_threads(1)  # the test suite's setting (tests/conftest.py)
    arrays = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every reference fit converged
        for name, kind, path, pen in cases():
            arrays.update(compute(name, kind, path, pen, name in N_JOBS_CASES))
    np.savez_compressed(OUT, **arrays)
    return arrays


if __name__ == "__main__":
    a = main()
    print(f"{len(a)} arrays, {OUT.stat().st_size / 1e3:.0f} kB -> {OUT.name}")
