"""Classical bases for ModelPred: theta(S) ~ base(S) + gate(S) * g(S), g a learned DeepSets.

Sum convention (docs/design.md): theta(S) = argmin_theta F_S(theta),
F_S(theta) = sum_{i in S} w_i loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2, C = 1 / lam.

Every base starts from the fit on the whole pool, theta_0 = theta(pool), and is a function of
the set S alone (given theta_0), so it serves subsets of the pool and sets of new points alike:

* ``"influence"`` (first-order group influence):
  base(S) = theta_0 - H_0^{-1} grad F_S(theta_0), H_0 = hess F_pool(theta_0).
  On pool masks w, grad F_S(theta_0) = sum_i w_i g_i + lam P theta_0 with g_i the per-point
  gradients, so base(W) = theta_0 - lam H_0^{-1} P theta_0 - W @ A with the (n, p) per-point
  influence matrix A = G H_0^{-1} computed once: ONE GEMM for k masks. (At the optimum
  sum_i g_i = -lam P theta_0, so this is theta_0 + H_0^{-1} sum_{i not in S} g_i, the
  removal form of ``baselines.influence``.)
* ``"newton"`` (one exact Newton step): base(S) = theta_0 - H_S(theta_0)^{-1} grad F_S(theta_0),
  batched (``baselines.newton_step``: one Hessian GEMM per chunk and batched Cholesky solves);
  exact for ridge.
* ``None``: base(S) = 0 and no gate: the paper's method, theta(S) predicted directly.

The gate (see :class:`ResidualGate`) makes the learned correction vanish on the pool itself,
where both bases are exact, and falls back to the base in any size range where the correction
did not help on held-out pairs.
"""

from __future__ import annotations

import numpy as np
import torch

from ..baselines.newton import HessianSolver, newton_step_from, step_chunk_size

__all__ = ["BASES", "ClassicalBase", "ResidualGate", "make_base"]

BASES = (None, "influence", "newton")
# Shrink factors tried per size bin by the validation fallback (0 = the base alone).
_ALPHAS = np.linspace(0.0, 1.0, 11)
# Width of the size bins (in removed fraction t = 1 - |S| / n) of the validation fallback.
_BIN_WIDTH = 0.1
# Power of t = 1 - |S|/n in the gate (ResidualGate Notes: the residual of random subsets is
# O(t/n + t^2)). Measured on the demo, Newton base: 0.026% / 0.031% / 0.10% / 0.036% median
# relative error for powers 1 / 1.5 / 2 / 0 (0: no gate, and worse than the base near the pool).
_GATE_ORDER = 1
# Fewest held-out pairs a bin needs before its correction is trusted (else: base alone).
_MIN_BIN = 5


def _check_name(base):
    if base not in BASES:
        raise ValueError(f"base must be one of {BASES}, got {base!r}")
    return base


class ClassicalBase:
    """A classical approximation of theta(S) from the pool fit, shared by training and prediction.

    Parameters
    ----------
    name : {None, "influence", "newton"}
    learner : ConvexLearner

    Attributes
    ----------
    theta0 : ndarray of shape (p,)
        theta(pool), the exact fit on the whole pool (sum convention); set by :meth:`fit`.
    H0 : ndarray of shape (p, p)
        hess F_pool(theta0), penalty included (influence base only).
    A : ndarray of shape (n, p)
        Per-point influence matrix G H0^{-1} (influence base only).
    c : ndarray of shape (p,)
        theta0 - lam H0^{-1} P theta0 (influence base only).
    """

    def __init__(self, name, learner):
        self.name = _check_name(name)
        self.learner = learner
        self.theta0 = None
        self.H0 = None
        self.A = None
        self.c = None
        self.fingerprint = None

    @property
    def fitted(self) -> bool:
        return self.name is None or self.theta0 is not None

    # ------------------------------------------------------------------ set-up
    def fit(self, X, y_enc, K: int, fingerprint: str | None = None) -> ClassicalBase:
        """Precompute from the pool (X (n, d), encoded labels y_enc (n,), K outputs)."""
        if self.name is None:
            return self
        lrn = self.learner
        res = lrn.fit(X, y_enc)
        if not res.converged:
            raise ValueError("the pool fit theta(pool) did not converge; no base can be built")
        self.theta0 = res.theta
        self.fingerprint = fingerprint
        if self.name == "influence":
            d = X.shape[1]
            H = lrn.hessian(self.theta0, X, y_enc)  # shape: (p, p)
            solver = HessianSolver(H, lrn.gauge_direction(d, K))
            G = lrn.per_sample_grads(self.theta0, X, y_enc)  # shape: (n, p)
            self.H0 = np.asarray(H)
            self.A = solver.solve(G).numpy()  # shape: (n, p); H0 symmetric so (H0^-1 G^T)^T
            pen = lrn.penalty_vector(d, K).numpy() * lrn.lam * self.theta0  # lam P theta0
            self.c = self.theta0 - solver.solve(pen[None, :]).numpy()[0]
        return self

    def state(self) -> dict:
        """Arrays to save (float64), empty for the raw model."""
        if self.name is None:
            return {}
        out = {"theta0": self.theta0}
        if self.name == "influence":
            out.update({"H0": self.H0, "A": self.A, "c": self.c})
        return out

    def set_state(self, arrays: dict, fingerprint: str | None) -> None:
        """Restore :meth:`state` (checked for shapes by the caller)."""
        if self.name is None:
            return
        self.theta0 = np.asarray(arrays["theta0"], dtype=np.float64)
        if self.name == "influence":
            self.H0 = np.asarray(arrays["H0"], dtype=np.float64)
            self.A = np.asarray(arrays["A"], dtype=np.float64)
            self.c = np.asarray(arrays["c"], dtype=np.float64)
        self.fingerprint = fingerprint

    # ------------------------------------------------------------------ evaluation
    def predict(self, X, y_enc, K: int, W: np.ndarray) -> np.ndarray:
        """base(S) for k weight rows W (k, n) over the pool (X, y_enc) the base was fitted on.

        Returns
        -------
        ndarray of shape (k, p), float64 (zeros for the raw model)
        """
        k = W.shape[0]
        p = K * (X.shape[1] + 1)
        if self.name is None:
            return np.zeros((k, p))
        if self.name == "influence":
            out = W @ self.A  # shape: (k, p), the one GEMM
            return np.subtract(self.c[None, :], out, out=out)
        return _newton_from(self.learner, self.theta0, X, y_enc, K, W)

    def predict_new(self, X, y_enc, K: int, W: np.ndarray) -> np.ndarray:
        """base(S) for sets of NEW points: X (m, d) their rows stacked, W (k, m) block masks.

        Both bases are functions of S alone given theta0 (and H0): the influence base solves with
        the pool's H0, the Newton base with each set's own Hessian at theta0.
        """
        k = W.shape[0]
        p = K * (X.shape[1] + 1)
        if self.name is None:
            return np.zeros((k, p))
        lrn = self.learner
        d = X.shape[1]
        if self.name == "newton":
            return _newton_from(lrn, self.theta0, X, y_enc, K, W)
        Theta = torch.as_tensor(np.broadcast_to(self.theta0, (k, p)).copy())
        Xt, yt = lrn.tensors(X, y_enc)
        with torch.no_grad():
            grad = lrn.batch_grad(Theta, Xt, yt, torch.as_tensor(W), K)  # shape: (k, p)
        solver = HessianSolver(self.H0, lrn.gauge_direction(d, K))
        out = self.theta0[None, :] - solver.solve(grad).numpy()  # shape: (k, p)
        return lrn.fix_gauge(torch.as_tensor(out), d, K).numpy()


class ResidualGate:
    """Gate of the learned correction: gate(S) = alpha(t) * t, t = 1 - |S| / n.

    Parameters
    ----------
    n_pool : int
        Size n of the pool the base was fitted on.
    active : bool
        False for the raw model (gate = 1 everywhere, no base).

    Notes
    -----
    Both bases are exact at S = pool and their error is second order in the change of weights
    (the Taylor remainder of theta(t) along the path from theta_0: ``baselines.influence``
    Notes): r(S) = theta(S) - base(S) is quadratic in the removed gradient sum g_D =
    sum_{i in D} g_i, D = pool minus S, |D| = t n. For a random D, E ||g_D||^2 =
    |D| sigma^2 + |D|^2 ||g_bar||^2: the diagonal terms make r = O(t / n + t^2), linear in t
    near the pool, not quadratic. So the network learns r(S) / t = O(1 / n + t), bounded and
    still vanishing on the pool (r / t^2 = O(1 / (t n) + 1) would blow up there); multiplying
    back by t makes the correction exactly zero on the pool and small near it, so it cannot
    add a floor of its own where the base is already exact. Measured with ``modelpred demo``
    (Newton base): the factor t gives the lower median relative error (THEORY.md, Remark 7.5).
    alpha(t) in [0, 1] is a per-bin shrink (bins of width 0.1 in t) chosen on
    held-out pairs to minimise the median relative error of base + alpha * correction;
    alpha = 0 (the base alone) in bins with fewer than 5 held-out pairs, i.e. outside the
    sizes seen in training.
    """

    def __init__(self, n_pool: int, active: bool):
        self.n_pool = int(n_pool)
        self.active = bool(active)
        n_bins = int(round(1.0 / _BIN_WIDTH))
        self.alpha = np.ones(n_bins) if active else np.ones(1)

    def t(self, sizes) -> np.ndarray:
        """Removed fraction t = clip(1 - |S| / n, 0, 1) of each set, (k,)."""
        return np.clip(1.0 - np.asarray(sizes, dtype=np.float64) / self.n_pool, 0.0, 1.0)

    def _bins(self, t: np.ndarray) -> np.ndarray:
        return np.minimum((t / _BIN_WIDTH).astype(np.int64), self.alpha.size - 1)

    def scale(self, sizes) -> np.ndarray:
        """t**_GATE_ORDER, the factor the targets are divided by, without the shrink: (k,)."""
        if not self.active:
            return np.ones(np.shape(sizes))
        return self.t(sizes) ** _GATE_ORDER

    def __call__(self, sizes) -> np.ndarray:
        """The full gate alpha(t) t**_GATE_ORDER per set, (k,)."""
        if not self.active:
            return np.ones(np.shape(sizes))
        t = self.t(sizes)
        return self.alpha[self._bins(t)] * t**_GATE_ORDER

    def calibrate(self, sizes, base, correction, truth) -> dict:
        """Choose alpha per bin on held-out pairs; returns per-bin counts and chosen alphas.

        Parameters
        ----------
        sizes : ndarray of shape (k,)
        base, correction, truth : ndarray of shape (k, p)
            base(S), the correction t g(S) before the shrink, and theta(S).
        """
        if not self.active:
            return {}
        t = self.t(sizes)
        bins = self._bins(t)
        norms = np.maximum(np.linalg.norm(truth, axis=1), 1e-300)
        counts = np.bincount(bins, minlength=self.alpha.size)
        alpha = np.zeros(self.alpha.size)
        for b in np.flatnonzero(counts >= _MIN_BIN):
            sel = bins == b
            errs = [np.median(np.linalg.norm(base[sel] + a * correction[sel] - truth[sel],
                                             axis=1) / norms[sel]) for a in _ALPHAS]
            # The smallest alpha among the best (ties go to the base): never worse than it.
            alpha[b] = _ALPHAS[int(np.argmin(np.round(errs, 15)))]
        self.alpha = alpha
        return {"counts": counts.tolist(), "alpha": alpha.tolist()}


def _newton_from(learner, theta0, X, y_enc, K: int, W: np.ndarray) -> np.ndarray:
    """theta0 - H_S(theta0)^{-1} grad F_S(theta0) for k weight rows W (k, m) over rows X (m, d).

    The batched step of ``baselines.newton_step`` without its base fit (one Hessian GEMM per
    chunk, batched Cholesky solves, the gauge fixed as in the exact solver): (k, p).
    """
    Xt, yt = learner.tensors(X, y_enc)
    p = K * (X.shape[1] + 1)
    chunk = max(1, min(512, step_chunk_size(learner, X.shape[0], p, K)))
    return newton_step_from(learner, np.asarray(theta0, dtype=np.float64), Xt, yt,
                            np.asarray(W, dtype=np.float64), K, chunk_size=chunk)


def make_base(name, learner) -> ClassicalBase:
    """Validated :class:`ClassicalBase` (raises ValueError for an unknown name)."""
    return ClassicalBase(name, learner)
