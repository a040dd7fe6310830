"""Rigorous a-posteriori error certificates for predicted parameters.

Sum convention (docs/design.md): for a subset (or weight vector) w over the pool,

    F_S(theta) = sum_i w_i * loss(theta; x_i, y_i) + (lam / 2) * ||P theta||^2,

and theta(S) is its minimiser (for multinomial logistic with unpenalised intercepts: the minimiser
with centred intercepts). ``certify`` turns the optimality residual g = grad F_S(theta_hat), which
needs no retraining, into an upper bound on ||theta_hat - theta(S)||. The gradient and Hessian come
from the learner's own batched functions (``batch_grad``, ``batch_hessian``); nothing is
re-derived here. THEORY.md, statement 3, proves every bound used below.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..learners.base import ConvexLearner
from ..learners.tensors import as_tensor as _as_tensor
from ..learners.tensors import augment, host, packed_outer_or_none, resolve_device
from ..learners.validation import check_theta, check_weight_matrix
from ._verified import _EPS, _MARGIN, _quadratic_bound, _solve_increasing, certified_lambda_min

__all__ = ["certificate_summary", "certified_lambda_min", "certify", "gsc_constant",
           "infinite_reason"]

# Memory budget (bytes) per chunk of predictions.
_CHUNK_BYTES = 128 * 2**20


def gsc_constant(learner: ConvexLearner, K: int) -> float | None:
    """Generalised self-concordance factor c with M = c * R (R = max_i ||[x_i, 1]|| over S).

    Returns 1 for binary logistic, sqrt(2) for multinomial logistic (THEORY.md, Lemma 3.2), 0
    for ridge (third derivative zero) and None for losses that are not self-concordant (the
    squared hinge, whose curvature jumps).
    """
    from ..learners.logistic import LogisticRegression

    if learner.quadratic:
        return 0.0
    if isinstance(learner, LogisticRegression):
        return 1.0 if K == 1 else math.sqrt(2.0)
    return None


def _curvature_cap(learner: ConvexLearner, K: int) -> float:
    """An upper bound on ||d^2 loss / dz^2|| over all margins (for the rounding margins only)."""
    from ..learners.logistic import LogisticRegression
    from ..learners.svm import SquaredHingeSVM

    if learner.quadratic:
        return 1.0
    if isinstance(learner, LogisticRegression):
        return 0.25 if K == 1 else 1.0
    if isinstance(learner, SquaredHingeSVM):
        return 2.0
    return 4.0  # unknown learner: generous (only enters the rounding margins)


def _active_set_refine(learner, Tc, Xt, yt, Xa, Wn, K, row_norm, g_safe, cap, lam, n, p,
                       n_rounds: int = 4):
    """Strong-convexity bound ||g|| / lam, tightened by points that stay active on the segment.

    Only for the squared-hinge SVM with every coordinate penalised (THEORY.md, Prop. 3.4): if
    r <= r_j, every point with margin slack m_i(theta_hat) > ||x~_i|| r_j is active on the
    whole segment [theta_hat, theta(S)], so r <= ||g|| / lambda_min(2 sum_{A} w_i x~_i x~_i^T
    + lam I) =: r_{j+1}. Returns (bounds (m,), certified curvature (m,)).
    """
    r = g_safe / lam
    mu_best = np.full(r.shape, lam)
    if learner.name != "svm":
        return r, mu_best
    Z = host(learner.margins(Tc, Xa, K)[..., 0])  # shape: (m, n)
    y = host(yt)
    slack = 1.0 - y[None] * Z  # shape: (m, n), > 0 on active points
    tn = host(Tc.norm(dim=1))
    zerr = _MARGIN * (Xa.shape[1] + 20) * _EPS * (1.0 + row_norm[None] * tn[:, None] + 1.0)
    eps_h = _MARGIN * (n + p + 20) * _EPS * (cap * (Wn @ row_norm**2) + lam)
    for _ in range(n_rounds):
        act = slack - zerr > row_norm[None] * r[:, None]  # surely active on the segment
        Wa = np.where(act, Wn, 0.0)
        if not act.any():
            break
        # = 2 sum_A w x x^T + lam I
        H = learner.batch_hessian(Tc, Xt, yt, _as_tensor(Wa, device=Tc.device), K)
        mu = np.maximum(certified_lambda_min(H, eps_h), lam)  # H >= lam I holds analytically
        r_new = np.minimum(r, g_safe / mu)
        mu_best = np.maximum(mu_best, np.where(r_new < r, mu, mu_best))
        if np.allclose(r_new, r, rtol=1e-3, atol=0):
            r = r_new
            break
        r = r_new
    return r, mu_best


def _check_finite(values: np.ndarray, scale, start: int) -> None:
    """ValueError naming the predictions whose gradient / Hessian overflow float64."""
    bad = ~np.isfinite(values)
    if scale is not None:
        bad |= ~np.isfinite(scale)
    if bad.any():
        rows = (np.flatnonzero(bad)[:10] + start).tolist()
        raise ValueError(
            f"thetas_hat rows {rows}: the gradient or Hessian of F_S overflows float64 there "
            "(predictions or rows of X far too large); scale X (e.g. X / max_i ||x_i||) and "
            "check the predictions")


def _residual(ctx, Tc, Wn, start: int):
    """(||g||, its rounding margin delta, R) per row of a chunk (THEORY.md 3.6 (a))."""
    lrn, Wc = ctx.learner, _as_tensor(Wn, device=ctx.dev)
    G = lrn.batch_grad(Tc, ctx.Xt, ctx.yt, Wc, ctx.K)  # shape: (m, p)
    gn = host(G.norm(dim=1))
    obj = lrn.objective(ctx.K)
    _, dZ = obj.loss.derivatives(obj.margins(Tc, ctx.Xa), ctx.yt, "grad")  # shape: (m, n, K)
    dzn = host(dZ.norm(dim=2))  # shape: (m, n)
    tn = host(Tc.norm(dim=1))  # shape: (m,)
    rn = ctx.row_norm
    with np.errstate(over="ignore", invalid="ignore"):
        mag = (Wn * rn[None]) @ np.ones(ctx.n)  # sum_i w_i ||x~_i||
        scale_g = (Wn * dzn) @ rn + ctx.cap * tn * (Wn @ rn**2) + mag + ctx.lam * tn
    _check_finite(gn, scale_g, start)
    delta = _MARGIN * (ctx.n + ctx.p + 20) * _EPS * scale_g
    R = np.where(Wn > 0, rn[None], 0.0).max(axis=1) * (1.0 + 1e-12)
    return G, gn, delta, R


def _certify_chunk(ctx, T, W, start: int) -> dict:
    """Bounds and details for one chunk of predictions T (m, p) with weights W (m, n)."""
    Tc = _as_tensor(np.ascontiguousarray(T), device=ctx.dev)  # shape: (m, p)
    Wn = np.ascontiguousarray(W)
    out = {"gauge": np.zeros(len(Wn)), "mu": np.full(len(Wn), np.nan)}
    if ctx.u is not None:
        a = Tc @ ctx.u  # shape: (m,)
        # |u.T - fl(u.T)| <= (gamma_K + 2 eps) ||T||: K nonzero products, u rounded (THEORY 3.6(d))
        out["gauge"] = host(a.abs()) + _MARGIN * (ctx.K + 3) * _EPS * host(Tc.norm(dim=1))
        Tc = Tc - a[:, None] * ctx.u[None, :]
    G, gn, delta, R = _residual(ctx, Tc, Wn, start)
    g_safe = gn + delta
    out.update(residual=gn, residual_margin=delta, R=R)
    lam, n, p = ctx.lam, ctx.n, ctx.p
    if ctx.method == "strong-convexity":
        out["bounds"], out["mu"] = _active_set_refine(
            ctx.learner, Tc, ctx.Xt, ctx.yt, ctx.Xa, Wn, ctx.K, ctx.row_norm, g_safe, ctx.cap,
            lam, n, p)
        return out
    if ctx.method == "none":
        out["bounds"] = np.full(len(Wn), np.inf)
        return out
    H = ctx.learner.batch_hessian(Tc, ctx.Xt, ctx.yt, _as_tensor(Wn, device=ctx.dev), ctx.K,
                                  outer=ctx.outer)  # shape: (m, p, p)
    _check_finite(host(H.flatten(1).sum(1)), None, start)
    eps_h = _MARGIN * (n + p + 20) * _EPS * (ctx.cap * (Wn @ ctx.row_norm**2) + lam + 1e-300)
    if ctx.u is not None:
        # F_S is flat along u (H^true u = 0): lambda_min(H + c u u^T) = lambda_min of H on
        # the complement of u when c >= that value; c = trace(H) >= lambda_max.
        c_u = H.diagonal(dim1=1, dim2=2).sum(1)  # shape: (m,)
        H = H + c_u[:, None, None] * (ctx.u[:, None] * ctx.u[None, :])[None]
        eps_h = eps_h + 8.0 * p * _EPS * host(c_u)
    mu = certified_lambda_min(H, eps_h)
    if ctx.method == "exact-quadratic":
        b = _quadratic_bound(H, G, mu, delta, eps_h)
        if ctx.all_pen and lam > 0:  # ||g|| / lam is also valid (Prop. 3.1)
            b = np.minimum(b, g_safe / lam)
    else:
        c0 = lam if ctx.all_pen else 0.0
        b = _solve_increasing(np.maximum(mu - c0, 0.0), c0, ctx.c_gsc * R, g_safe)
        if c0 > 0:
            b = np.minimum(b, g_safe / c0)
    out["mu"], out["bounds"] = mu, b
    return out


def certify(learner, X, y, masks, thetas_hat, return_details: bool = False, *,
            chunk_size: int | None = None, progress: bool = False, device="cpu"):
    """Rigorous upper bounds on ||theta_hat_k - theta(S_k)|| from the optimality residual.

    Sum convention: F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2, theta(S)
    its minimiser (centred intercepts for multinomial logistic). No refit is done: each bound
    uses g_k = grad F_{S_k}(theta_hat_k) (``learner.batch_grad``), and where needed the Hessian
    H_k = grad^2 F_{S_k}(theta_hat_k) (``learner.batch_hessian``), all in float64.

    Parameters
    ----------
    learner : ConvexLearner
        Ridge, LogisticRegression (binary or multinomial) or SquaredHingeSVM.
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    masks : ndarray of shape (k, n) or (n,)
        Boolean masks or non-negative weights over the pool; a single row is broadcast.
    thetas_hat : ndarray of shape (k, p) or (p,)
        Predicted parameters (any finite values); a single row is broadcast.
    return_details : bool, default=False
        Also return a dict of per-prediction arrays (see Returns).
    chunk_size : int, optional
        Predictions per batch (default: sized to a ~128 MB budget).
    progress : bool, default=False
        Show a tqdm progress bar in subsets (total k, advanced chunk by chunk).
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the gradients, Hessians and certified factorisations run (float64 on any
        device; the rounding analysis assumes the standard model there too).

    Returns
    -------
    bounds : ndarray of shape (k,)
        bounds[k] >= ||thetas_hat[k] - theta(S_k)||; ``inf`` where no certificate is available.
    details : dict, only if ``return_details``
        ``residual`` (k,) ||g_k||; ``residual_margin`` (k,) rounding margin added to it;
        ``mu`` (k,) certified lower bound on lambda_min(H_k) (on the complement of the gauge
        direction for multinomial logistic; nan where not used); ``R`` (k,)
        max_{i in S} ||[x_i, 1]||; ``gauge`` (k,) the component of theta_hat along the
        multinomial gauge direction (0 otherwise); ``method`` str: "exact-quadratic",
        "self-concordant", "strong-convexity" or "none".

    Notes
    -----
    Let r = ||theta_hat - theta(S)|| and g = grad F_S(theta_hat) (THEORY.md, statement 3).

    * Every coordinate penalised (``penalize_intercept=True``): F_S is lam-strongly convex, so
      r <= ||g|| / lam.
    * Ridge (quadratic loss, either intercept setting, lam >= 0): theta_hat - theta(S) =
      H_S^{-1} g exactly, so the bound is ||x_c|| + (||H x_c - g|| + rounding) / mu for the
      computed solution x_c of H x = g (no accuracy of x_c assumed); ``inf`` if no positive
      mu can be certified (H_S numerically singular).
    * Logistic regression (either intercept setting): the loss is generalised self-concordant,
      |D^3 F[v, v, v]| <= M ||v|| D^2 F[v, v] with M = R (binary) or sqrt(2) R (multinomial),
      R = max_{i in S} ||[x_i, 1]|| (Bach 2010, Lemma 1; multinomial constant derived in
      THEORY.md, Lemma 3.2). Integrating along the segment from theta_hat to theta(S) gives
      ||g|| >= mu_L (1 - exp(-M r)) / M + c0 r, with mu_L = lambda_min(H(theta_hat)) - c0 and
      c0 = lam when every coordinate is penalised, else 0. The bound is the largest r that
      satisfies it (closed form -log(1 - M ||g|| / mu_L) / M when c0 = 0, finite only if
      M ||g|| < mu_L; bisection otherwise, always <= ||g|| / lam). This monotone-gradient form
      is never looser than the function-value form of Bach's Prop. 1, (e^{-Mr} + Mr - 1) /
      (M^2 r) <= ||g|| / mu, because e^s >= 1 + s. For multinomial logistic with unpenalised
      intercepts F_S is flat along the gauge direction u (all intercepts shifted together):
      the bound is applied on the complement of u and the gauge component of theta_hat is
      added in quadrature (theta(S) has centred intercepts, u . theta(S) = 0).
    * Squared-hinge SVM: ||g|| / lam with a penalised intercept, tightened by the points that
      stay active along the whole segment (their margin slack exceeds ||x~_i|| times the
      current bound; a few rounds of r <- ||g|| / lambda_min(2 sum_A w_i x~ x~^T + lam I));
      with an unpenalised intercept no certificate is available (the generalised Hessian can
      lose rank in the intercept direction and the loss is not self-concordant): ``inf``.

    Rounding: ||g|| is inflated by a margin derived from standard float64 error bounds on the
    sums that form it, and every lambda_min is **proved** by a shifted Cholesky factorisation
    (``certified_lambda_min``: if Cholesky of fl(H - s I) succeeds, lambda_min(H) >= s minus
    its backward error), never taken from an eigensolver. What stays assumed (THEORY.md 3.6):
    the few-ulp accuracy of exp / log1p / sigmoid / softmax and that torch's kernels follow the
    standard model; the bounds are not interval arithmetic.

    Raises
    ------
    ValueError
        On NaN / inf in X, y, masks or thetas_hat, on mismatched shapes, and when the gradient
        or Hessian overflows float64 (rows of X or predictions far too large), before or
        instead of any raw linear-algebra error.

    References
    ----------
    F. Bach, "Self-concordant analysis for logistic regression", Electron. J. Statist. 4 (2010),
    384-414, Lemma 1 and Prop. 1.
    T. Sun, Q. Tran-Dinh, "Generalized self-concordant functions: a recipe for Newton-type
    methods", Math. Program. 178 (2019), 145-213.
    """
    if not isinstance(learner, ConvexLearner):
        raise ValueError(f"learner must be a ConvexLearner, got {type(learner).__name__}")
    if not isinstance(return_details, bool | np.bool_):
        raise ValueError("return_details must be a bool")
    dev = resolve_device(device)  # a bad device fails before any work
    X, y_enc, K = learner.prepare(X, y)
    n, d = X.shape
    q = d + 1
    p = K * q
    W = check_weight_matrix(masks, n, name="masks")
    T = check_theta(thetas_hat, p, name="thetas_hat")
    if W.shape[0] != T.shape[0]:
        if W.shape[0] == 1:
            W = np.broadcast_to(W, (T.shape[0], n))
        elif T.shape[0] == 1:
            T = np.broadcast_to(T, (W.shape[0], p))
        else:
            raise ValueError(f"masks has {W.shape[0]} rows but thetas_hat has {T.shape[0]}")
    k = T.shape[0]
    if chunk_size is None:
        per = 8 * (5 * p * p + 4 * n * K * K + 4 * n * K + 4 * p + n)
        chunk_size = int(max(1, min(4096, _CHUNK_BYTES // per)))
    if not (isinstance(chunk_size, int | np.integer) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")

    lam = learner.lam
    all_pen = learner.penalize_intercept
    c_gsc = gsc_constant(learner, K)
    if learner.quadratic:
        method = "exact-quadratic"
    elif c_gsc is not None:
        method = "self-concordant"
    elif all_pen and lam > 0:
        method = "strong-convexity"
    else:
        method = "none"

    Xt, yt = learner.tensors(X, y_enc, device=dev)
    Xa = augment(Xt)  # shape: (n, q)
    row_norm = host(Xa.norm(dim=1))  # shape: (n,)
    if not np.all(np.isfinite(row_norm**4)):
        raise ValueError("X has rows so large that their outer products overflow float64; "
                         "scale X (e.g. X / max_i ||x_i||) before certifying")
    ctx = SimpleNamespace(
        learner=learner, Xt=Xt, yt=yt, Xa=Xa, row_norm=row_norm, K=K, n=n, p=p, lam=lam,
        all_pen=all_pen, c_gsc=c_gsc, method=method, cap=_curvature_cap(learner, K),
        u=None if (u := learner.gauge_direction(d, K)) is None else u.to(dev), dev=dev,
        # the packed table where it fits (None at large d: Hessians from X directly)
        outer=(packed_outer_or_none(Xt) if method in ("exact-quadratic", "self-concordant")
               else None))
    out = {key: np.empty(k) for key in ("bounds", "residual", "residual_margin", "R")}
    out["mu"] = np.full(k, np.nan)
    out["gauge"] = np.zeros(k)
    bar = None
    if progress:  # counted in subsets (total k), advanced by each chunk's size
        from tqdm.auto import tqdm

        bar = tqdm(total=k, desc="certify", unit="subset")
    try:
        for s in range(0, k, chunk_size):
            e = min(k, s + chunk_size)
            for key, val in _certify_chunk(ctx, T[s:e], W[s:e], s).items():
                out[key][s:e] = val
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    bounds = out.pop("bounds")
    if ctx.u is not None:
        bounds = np.sqrt(bounds**2 + out["gauge"] ** 2) + 40 * _EPS * np.linalg.norm(T, axis=1)
    reason = infinite_reason(bounds, out["R"], method)
    if reason is not None:  # never an unexplained inf
        import warnings

        warnings.warn(f"certify: {reason}", UserWarning, stacklevel=2)
    if return_details:
        return bounds, {**out, "method": method}
    return bounds


# R above this makes the self-concordance constant M = c R the likely cause of infinite bounds
_FAR_R = 3.0


def infinite_reason(bounds, R=None, method: str | None = None) -> str | None:
    """Why some certificates are infinite (None when every bound is finite).

    Parameters
    ----------
    bounds : ndarray of shape (k,)
    R : ndarray of shape (k,), optional
        max_{i in S} ||[x_i, 1]|| of each subset (``certify`` details).
    method : str, optional
        ``certify``'s method.
    """
    fin = np.isfinite(bounds)
    if fin.all():
        return None
    n_inf = int((~fin).sum())
    what = f"{n_inf} of {fin.size} bounds are infinite"
    if method == "none":
        return (f"{what}: this learner setting has no certificate (squared hinge with an "
                "unpenalised intercept); use penalize_intercept=True")
    if method == "exact-quadratic":
        return (f"{what}: the Hessian H_S is numerically singular there (no positive smallest "
                "eigenvalue can be certified); increase lam or penalise the intercept")
    if R is not None and np.median(R[~fin]) > _FAR_R:
        return (f"{what} and their subsets have rows far outside the unit ball (median R = "
                f"max ||[x_i, 1]|| = {np.median(R[~fin]):.3g}): the self-concordance constant "
                "grows with R; scale X so that every row has norm <= 1 "
                "(datasets.load(scale=True), or X / max_i ||x_i||), or penalise the intercept")
    return (f"{what}: the optimality residual is too large for the local curvature "
            "(M ||g|| >= mu_L, THEORY.md 3.4): those predictions are too far from theta(S) to "
            "certify")


def certificate_summary(bounds, true_errors, *, R=None, method: str | None = None) -> dict:
    """How well certificates cover and how tight they are, with infinite bounds kept apart.

    Parameters
    ----------
    bounds : array_like of shape (k,)
        ``certify`` output (``inf`` = no certificate).
    true_errors : array_like of shape (k,)
        ||theta_hat - theta(S)|| against exact refits (sum convention, as in ``certify``).
    R : array_like of shape (k,), optional
        ``details["R"]`` from ``certify(..., return_details=True)``: max_{i in S} ||[x_i, 1]||.
    method : str, optional
        ``details["method"]`` from the same call.

    Returns
    -------
    dict
        ``n``; ``coverage`` fraction with bound >= true error (an infinite bound counts as
        covering); ``finite_fraction`` fraction of finite bounds; ``finite_coverage`` fraction
        with a finite bound >= true error; ``violations`` count of bound < true error;
        ``median_ratio``, ``q10_ratio``, ``q90_ratio`` of bound / true error over finite
        bounds with true error > 0 (None if there are none); ``reason`` None when every bound
        is finite, else a sentence on why bounds are infinite (rows far outside the unit ball
        -> scale X; no certificate for the learner; residual too large for the curvature).
    """
    b = np.asarray(bounds, dtype=float).ravel()
    t = np.asarray(true_errors, dtype=float).ravel()
    if b.shape != t.shape or b.size == 0:
        raise ValueError(f"bounds and true_errors must be non-empty with equal lengths, got "
                         f"{b.shape} and {t.shape}")
    if np.isnan(b).any() or not np.all(np.isfinite(t)) or (t < 0).any():
        raise ValueError("bounds must not be NaN, true_errors must be finite and >= 0")
    if R is not None:
        R = np.asarray(R, dtype=float).ravel()
        if R.shape != b.shape:
            raise ValueError(f"R must have shape {b.shape}, got {R.shape}")
    fin = np.isfinite(b)
    ok = fin & (t > 0)
    ratio = b[ok] / t[ok]
    q = (lambda a: None) if ratio.size == 0 else (lambda a: float(np.quantile(ratio, a)))
    reason = infinite_reason(b, R, method)
    return {
        "n": int(b.size),
        "coverage": float(np.mean(b >= t)),
        "finite_fraction": float(fin.mean()),
        "finite_coverage": float(np.mean(fin & (b >= t))),
        "violations": int(np.sum(b < t)),
        "median_ratio": q(0.5),
        "q10_ratio": q(0.1),
        "q90_ratio": q(0.9),
        "reason": reason,
    }
