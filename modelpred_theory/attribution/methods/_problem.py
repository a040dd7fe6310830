"""The shared linear algebra of every attribution method: one fit, its gradients, its Hessian.

Sum convention (docs/design.md): F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2,
so removing training point i moves the full fit theta^ by about H^{-1} g_i (H the Hessian of F at
theta^, g_i = grad loss_i(theta^)), with no 1/n factors. Every method of this package reads the
fit, the per-sample gradients G (n, p), the test-output gradients Gt (m, p), the Hessian and its
solves from a :class:`Problem`, and all of them come from the learner's public methods (``fit``,
``per_sample_grads``, ``hessian``, ``hvp``, ``penalty_vector``) and from ``attribution.outputs``;
nothing here re-derives an objective.

Gauge: the multinomial model with unpenalised intercepts is invariant to adding one constant to
every class intercept, so H is singular along the unit vector u of that shift. Every per-sample
gradient and every test-output gradient is orthogonal to u (the class derivatives of a softmax
loss, and the +e_y - e_c of a margin, sum to zero), and the solves run in u^perp, where H is
positive definite (the pseudo-inverse of H; the same convention as ``baselines.influence``).
"""

from __future__ import annotations

import numbers
import warnings
from functools import cached_property

import numpy as np
import torch

from ...baselines.ihvp import batched_cg
from ..outputs import check_output, output_grads, outputs

__all__ = ["Problem", "check_int", "check_positive", "check_seed", "make_problem"]


def check_int(value, name: str, *, low: int = 1, high: int | None = None,
              what: str = "") -> int:
    """An integer in [low, high] or a ValueError naming ``name`` (raised before any work)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}{what}, got {value}")
    return int(value)


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """A finite float > 0 (>= 0 with ``allow_zero``) or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {sign}, got {value!r}")
    return float(value)


def check_seed(seed) -> int:
    """A non-negative integer seed (every random method is reproducible bit for bit from it)."""
    return check_int(seed, "seed", low=0)


def check_data(learner, X, y, X_test, y_test):
    """Validate the pool and the test set; returns (X, y, X_test, y_test, dims) before any work.

    dims holds n, d, K (margins per point), p = K (d + 1), m and the gauge flag.
    """
    from ...learners import ConvexLearner

    if not isinstance(learner, ConvexLearner):
        raise ValueError("learner must be a modelpred_theory.learners learner (Ridge, "
                         f"LogisticRegression, SquaredHingeSVM), got {type(learner).__name__}")
    p = learner.param_dim(X, y)  # validates X (finite, 2-D) and y (shape, labels)
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    n, d = X.shape
    K = p // (d + 1)
    Xt = np.asarray(X_test.toarray() if hasattr(X_test, "toarray") else X_test)
    if Xt.ndim != 2 or Xt.shape[1] != d or Xt.shape[0] == 0:
        raise ValueError(f"X_test must be 2-D with d={d} columns (as X) and at least one row, "
                         f"got shape {Xt.shape}")
    try:
        Xt = Xt.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"X_test must be numeric, got dtype {Xt.dtype}") from None
    if not np.all(np.isfinite(Xt)):
        raise ValueError("X_test contains NaN or inf")
    yt = np.asarray(y_test)
    if yt.shape != (Xt.shape[0],):
        raise ValueError(f"y_test must have shape ({Xt.shape[0]},) (one label per row of "
                         f"X_test), got {yt.shape}")
    if learner.param_dim(Xt, yt) != p:
        raise ValueError(f"y_test gives {learner.param_dim(Xt, yt) // (d + 1)} outputs per "
                         f"point but y gives K={K}; pass n_classes / classes to the learner")
    pen = learner.penalty_vector(d, K).numpy()
    gauge = K > 1 and pen[d] == 0.0
    dims = {"n": n, "d": d, "K": K, "p": p, "m": Xt.shape[0], "gauge": gauge,
            "p_eff": p - int(gauge), "lam": learner.lam, "learner": learner,
            "classifier": hasattr(learner, "accuracy"),
            "classifier_ce": hasattr(learner, "predict_proba")}
    return X, y, Xt, yt, dims


class Problem:
    """One attribution problem: the pool, the test outputs and the exact full fit theta^.

    Attributes
    ----------
    learner : ConvexLearner
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    X_test : ndarray of shape (m, d)
    y_test : ndarray of shape (m,)
    output : {"margin", "neg_loss"}
        The test outputs f_j (``attribution.outputs``).
    n, d, K, p, m : int
        Pool size, features, margins per point, parameters p = K (d + 1), test points.
    theta : ndarray of shape (p,)
        The exact minimiser of F over the whole pool (warm start for every refit).
    u : ndarray of shape (p,) or None
        The unit gauge direction (multinomial, unpenalised intercepts), else None.

    Everything else is computed on first use and cached: ``G`` (n, p) per-sample loss gradients
    at theta, ``Gt`` (m, p) test-output gradients, ``H`` (p, p) the Hessian of F (penalty
    included), ``f0`` (m,) the test outputs at theta.
    """

    def __init__(self, learner, X, y, X_test, y_test, output, dims, theta=None):
        self.learner, self.X, self.y, self.dims = learner, X, y, dims
        self.X_test, self.y_test, self.output = X_test, y_test, output
        self.n, self.d, self.K = dims["n"], dims["d"], dims["K"]
        self.p, self.m, self.p_eff = dims["p"], dims["m"], dims["p_eff"]
        self._theta0 = theta
        if dims["gauge"]:
            u = np.zeros((self.K, self.d + 1))
            u[:, self.d] = 1.0 / np.sqrt(self.K)
            self.u = u.reshape(-1)
        else:
            self.u = None
        self.penalty = learner.lam * learner.penalty_vector(self.d, self.K).numpy()  # (p,)

    @cached_property
    def theta(self) -> np.ndarray:
        """The exact fit on the whole pool (p,), fitted on first use (or as given)."""
        if self._theta0 is not None:
            return np.asarray(self._theta0, dtype=np.float64)
        return np.asarray(self.learner.fit(self.X, self.y).theta, dtype=np.float64)

    # ------------------------------------------------------------------ gradients, outputs
    @cached_property
    def G(self) -> np.ndarray:
        """Per-sample loss gradients g_i = grad loss_i(theta^) (no penalty): (n, p)."""
        return np.asarray(self.learner.per_sample_grads(self.theta, self.X, self.y))

    @cached_property
    def Gt(self) -> np.ndarray:
        """Test-output gradients grad f_j(theta^): (m, p)."""
        return np.asarray(output_grads(self.learner, self.theta, self.X_test, self.y_test,
                                       self.output))

    @cached_property
    def f0(self) -> np.ndarray:
        """Test outputs f_j(theta^): (m,)."""
        return self.outputs(self.theta[None])[0]

    def outputs(self, thetas) -> np.ndarray:
        """f_j(theta_k) for parameter rows thetas (k, p): (k, m)."""
        return outputs(self.learner, thetas, self.X_test, self.y_test, self.output)

    def output_grads_at(self, theta) -> np.ndarray:
        """grad f_j at another theta (a training trajectory): (m, p)."""
        return np.asarray(output_grads(self.learner, theta, self.X_test, self.y_test,
                                       self.output))

    def grads_at(self, theta) -> np.ndarray:
        """Per-sample loss gradients at another theta: (n, p)."""
        return np.asarray(self.learner.per_sample_grads(theta, self.X, self.y))

    # ------------------------------------------------------------------ curvature
    @cached_property
    def H(self) -> np.ndarray:
        """Hessian of F at theta^ over the pool, penalty included: (p, p)."""
        return np.asarray(self.learner.hessian(self.theta, self.X, self.y))

    def project(self, V: np.ndarray) -> np.ndarray:
        """Rows of V with their gauge component removed (identity without a gauge)."""
        if self.u is None:
            return V
        return V - np.outer(V @ self.u, self.u)

    @cached_property
    def Xa(self) -> np.ndarray:
        """The augmented pool x~_i = [x_i, 1]: (n, d + 1)."""
        return np.hstack([self.X, np.ones((self.n, 1))])

    @cached_property
    def A(self) -> np.ndarray:
        """The margin curvature A_i at theta^ (``margin_curvature``): (n, K, K)."""
        return self.margin_curvature()

    def hvp(self, V: np.ndarray, sample_weight=None, theta=None) -> np.ndarray:
        """H_w v for each row v of V (k, p): the Hessian of F_w (weights w, penalty included).

        At theta^ (``theta`` None) the product is applied in factored form,
        H_w v = sum_i w_i (A_i (x) x~_i x~_i^T) v + lam P v, with the learner's own curvature
        ``A`` and penalty (O(k n K (d + 1)), one pass, no copy of theta per row); elsewhere it
        is ``learner.hvp``. The two agree to rounding (a test checks it).
        """
        V = np.atleast_2d(np.asarray(V, dtype=np.float64))
        if theta is not None:
            return np.atleast_2d(self.learner.hvp(theta, V, self.X, self.y,
                                                  sample_weight=sample_weight))
        k, K, q = V.shape[0], self.K, self.d + 1
        Z = (V.reshape(k * K, q) @ self.Xa.T).reshape(k, K, self.n)  # margins of v, one GEMM
        A = self.A if sample_weight is None else \
            self.A * np.asarray(sample_weight, dtype=np.float64)[:, None, None]
        AZ = np.zeros_like(Z)  # shape: (k, K, n), A_i applied point by point
        for c in range(K):
            for e in range(K):
                AZ[:, c, :] += A[None, :, c, e] * Z[:, e, :]
        out = AZ.reshape(k * K, self.n) @ self.Xa  # shape: (k K, q), one GEMM
        return out.reshape(k, self.p) + self.penalty[None, :] * V

    @cached_property
    def _chol(self):
        """Cholesky factor of H + c u u^T (c = mean diagonal), or None if H is not PD."""
        H = torch.as_tensor(self.H)
        if self.u is not None:
            u = torch.as_tensor(self.u)
            H = H + H.diagonal().mean() * torch.outer(u, u)
        L, info = torch.linalg.cholesky_ex(H)
        if int(info) != 0:
            warnings.warn("the Hessian is not positive definite (singular design, lam = 0, or "
                          "an empty SVM active set); attributions use its pseudo-inverse",
                          RuntimeWarning, stacklevel=4)
            return None
        return L

    def solve(self, B: np.ndarray) -> np.ndarray:
        """H^{-1} b for each row b of B (k, p), in u^perp (the pseudo-inverse): (k, p)."""
        B = self.project(np.atleast_2d(np.asarray(B, dtype=np.float64)))
        L = self._chol
        if L is None:
            S = B @ np.linalg.pinv(self.H, hermitian=True)
        else:
            S = torch.cholesky_solve(torch.as_tensor(B).T, L).T.numpy()  # shape: (k, p)
        return self.project(S)

    def cg_solve(self, B: np.ndarray, tol: float, maxiter: int):
        """H^{-1} b for each row of B (k, p) by batched conjugate gradient on ``hvp``
        (``baselines.ihvp.batched_cg``: one independent CG per row, all rows advanced by one
        batched HVP per iteration; each stops when ||H s - b|| <= tol ||b||). Runs in u^perp
        under the gauge (H is positive definite there). Returns (S (k, p), the relative
        residuals (k,), iterations)."""
        Bp = torch.as_tensor(np.atleast_2d(np.asarray(B, dtype=np.float64)))

        def project(V):
            return torch.as_tensor(self.project(V.numpy()))

        def matvec(V):
            return torch.as_tensor(self.hvp(V.numpy()))

        S, rel, it = batched_cg(matvec, Bp, project, float(tol), int(maxiter))
        return S.numpy(), rel.numpy(), it

    def margin_curvature(self) -> np.ndarray:
        """A_i = d^2 loss_i / dz^2, the curvature of each point's loss in its K margins: (n, K, K).

        The Hessian of F is sum_i A_i (x) x~_i x~_i^T + lam P (class-major layout, x~ = [x, 1]).
        For logistic regression A_i = diag(p_i) - p_i p_i^T with p_i the model's class
        probabilities (``predict_proba``; p_i (1 - p_i) for the binary model). For the other
        learners A_i is read off the learner's own Hessian-vector product on point i alone: the
        intercept coordinates of H_i e_{c, b} are A_i[:, c] (x~ has a 1 there).
        """
        K = self.K
        if hasattr(self.learner, "predict_proba"):
            P = np.asarray(self.learner.predict_proba(self.theta, self.X))  # shape: (n, K|2)
            if K == 1:
                return (P[:, 1] * P[:, 0])[:, None, None]
            return np.einsum("nk,kl->nkl", P, np.eye(K)) - P[:, :, None] * P[:, None, :]
        q = self.d + 1
        E = np.zeros((K, self.p))
        E[np.arange(K), np.arange(K) * q + self.d] = 1.0  # intercept unit vectors
        A = np.empty((self.n, K, K))
        y_enc = self.learner.encode_y(self.y)
        for i in range(self.n):
            HE = self.learner.hvp(self.theta, E, self.X[i:i + 1], y_enc[i:i + 1])
            A[i] = (np.atleast_2d(HE) - E * self.penalty[None, :])[:, self.d::q][:, :K].T
        return A

    def top_eigenvalue(self, n_iter: int = 100, seed: int = 0, theta=None) -> float:
        """The largest eigenvalue of the Hessian of F (at theta^, or at ``theta``) by power
        iteration on ``hvp`` (seeded, deterministic)."""
        v = self.project(np.random.default_rng(seed).standard_normal((1, self.p)))
        lam = 0.0
        for _ in range(n_iter):
            v /= np.linalg.norm(v)
            w = self.project(self.hvp(v, theta=theta))
            lam = float((v * w).sum())
            v = w
        return lam


# Accepted optimality residual of a caller-supplied fit, relative to max(1, ||grad F(0)||).
# Reason: the exact solvers stop at ~1e-10; 1e-6 accepts any fit whose error is far below the
# approximation errors of the methods (the same rule as the baselines' base fits).
THETA_RTOL = 1e-6


def make_problem(learner, X, y, X_test, y_test, output, theta=None) -> Problem:
    """Validate everything (a given fit included); theta^ is fitted on first use, once."""
    X, y, Xt, yt, dims = check_data(learner, X, y, X_test, y_test)
    check_output(learner, output)
    if theta is not None:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (dims["p"],) or not np.all(np.isfinite(theta)):
            raise ValueError(f"theta must be a finite array of shape ({dims['p']},), got shape "
                             f"{theta.shape}")
        scale = max(1.0, float(np.linalg.norm(learner.grad(np.zeros(dims["p"]), X, y))))
        r = learner.optimality_residual(theta, X, y)
        if not r <= THETA_RTOL * scale:
            raise ValueError(f"theta is not the fit on the pool: ||grad F(theta)|| = {r:.3g} > "
                             f"{THETA_RTOL:g} * {scale:.3g}; pass learner.fit(X, y).theta or None")
    return Problem(learner, X, y, Xt, yt, output, dims, theta=theta)
