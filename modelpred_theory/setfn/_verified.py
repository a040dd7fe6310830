"""Verified floating-point steps of the certificates (THEORY.md 3.6).

A lower bound on lambda_min proved by a shifted Cholesky factorisation, a rigorous bound on
||H^{-1} g|| from any computed solution, and the root of the self-concordant inequality of
Prop. 3.4. Sum convention as in ``certify``: the matrices are Hessians of F_S(theta) =
sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2.
"""

from __future__ import annotations

import numpy as np
import torch

from ..learners.tensors import host

__all__ = ["certified_lambda_min"]

_EPS = float(np.finfo(np.float64).eps)
# Rounding margins (float64, standard model |fl(a op b) - a op b| <= eps |a op b|): a sum of m
# terms errs by at most gamma_m = m eps / (1 - m eps) times the sum of their magnitudes, in any
# summation order (Higham, "Accuracy and Stability of Numerical Algorithms", 2002, sec. 3.1), and
# a Cholesky factorisation that runs to completion is exact for A + dA with |dA| <= gamma_{p+1}
# |R^T| |R| (ibid., Thm. 10.3). _MARGIN multiplies every gamma: it covers blocked BLAS/LAPACK
# kernels (same bounds, larger constants) and the few-ulp error of exp / log1p / sigmoid /
# softmax, which IEEE 754 does not bound (THEORY.md 3.6 says what this leaves heuristic).
_MARGIN = 8.0

def _gamma(m: int) -> float:
    return _MARGIN * m * _EPS / (1.0 - _MARGIN * m * _EPS)


def certified_lambda_min(H: torch.Tensor, eps_h) -> np.ndarray:
    """Provable lower bounds mu_k <= lambda_min(H_k^true) by shifted Cholesky factorisations.

    Parameters
    ----------
    H : Tensor of shape (m, p, p)
        Computed symmetric matrices (float64).
    eps_h : ndarray of shape (m,) or float
        Bounds on ||H_k - H_k^true||_2 (the rounding error made when H_k was formed).

    Returns
    -------
    mu : ndarray of shape (m,)
        lambda_min(H_k^true) >= mu_k; ``-inf`` where no factorisation succeeded (or H_k is not
        finite).

    Notes
    -----
    An eigensolver only *estimates* lambda_min (ev). With s = ev - shift, the matrix A = fl(H - s
    I) is factorised; if Cholesky runs to completion, R^T R = A + dA with |dA| <= gamma_{p+1}
    |R^T| |R| (Higham 2002, Thm. 10.3), so lambda_min(A) >= -gamma_{p+1} ||R||_F^2 (since
    || |R^T| |R| ||_2 = || |R| ||_2^2 <= ||R||_F^2). Forming A moved each diagonal entry by at
    most eps |A_ii|. Hence lambda_min(H^true) >= s - gamma_{p+1} ||R||_F^2 - eps max|A_ii| -
    eps_h (THEORY.md 3.6). Shifts grow (4, 64, 1024 times the expected backward error) until the
    factorisation succeeds.
    """
    m, p, _ = H.shape
    eps_h = np.broadcast_to(np.asarray(eps_h, dtype=float), (m,))
    finite = torch.isfinite(H).all(dim=2).all(dim=1)
    eye = torch.eye(p, dtype=H.dtype, device=H.device)
    Hs = torch.where(finite[:, None, None], H, eye)
    ev = host(torch.linalg.eigvalsh(Hs)[:, 0])  # an estimate only, shape: (m,)
    diag = host(Hs.diagonal(dim1=1, dim2=2))
    g1 = _gamma(p + 1)
    est = g1 * np.abs(diag).sum(1)  # expected size of gamma_{p+1} ||R||_F^2
    mu = np.full(m, -np.inf)
    todo = host(finite).copy()
    for mult in (4.0, 64.0, 1024.0):
        if not todo.any():
            break
        s = ev - mult * est - 1e-12 * np.abs(ev)
        A = Hs - torch.as_tensor(s, device=H.device)[:, None, None] * eye  # shape: (m, p, p)
        L, info = torch.linalg.cholesky_ex(A)
        ok = todo & (host(info) == 0)
        RF2 = host((L**2).sum(dim=(1, 2))) * (1.0 + _gamma(p * p))
        adiag = np.abs(host(A.diagonal(dim1=1, dim2=2))).max(1)
        cert = s - g1 * RF2 - 2.0 * _EPS * adiag - eps_h - 4.0 * _EPS * np.abs(s)
        mu = np.where(ok, cert, mu)
        todo &= ~ok
    return mu


def _solve_increasing(mu_l: np.ndarray, c0: float, M: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Largest r >= 0 with h(r) = mu_l (1 - exp(-M r)) / M + c0 r <= g (inf if unbounded).

    h is increasing in r, so the feasible set is an interval [0, r*]; the returned value is an
    upper end of a bisection bracket of r*, hence >= r* (rigorous direction).
    """
    k = g.shape[0]
    out = np.full(k, np.inf)
    if c0 == 0.0:
        # closed form: r* = -log(1 - M g / mu_l) / M, finite iff M g < mu_l
        ok = (mu_l > 0) & (M * g < mu_l)
        z = M[ok] * g[ok] / mu_l[ok]
        out[ok] = -np.log1p(-z) / M[ok]
        out[ok] *= 1.0 + 1e-12
        # M == 0 cannot happen (R >= 1 because of the intercept column)
        return out
    h = lambda r: mu_l * (-np.expm1(-M * r)) / M + c0 * r
    lo = g / (mu_l + c0)  # h(lo) <= (mu_l + c0) lo = g: feasible
    hi = g / c0  # h(hi) >= c0 hi = g
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        feas = h(mid) <= g
        lo = np.where(feas, mid, lo)
        hi = np.where(feas, hi, mid)
    return hi * (1.0 + 1e-12)


def _quadratic_bound(H, G, mu, delta, eps_h) -> np.ndarray:
    """Rigorous ||H_true^{-1} g_true|| for ridge from any computed solution x_c of H x = g.

    ||H_true^{-1} g_true - x_c|| <= (||H x_c - g|| + gamma_{p+1} || |H| |x_c| + |g| || +
    eps_h ||x_c|| + delta) / mu, with mu <= lambda_min(H_true) certified (THEORY.md 3.2, 3.6).
    """
    p = H.shape[1]
    xc, info = torch.linalg.solve_ex(H, G[:, :, None])  # shape: (m, p, 1)
    xc = xc[:, :, 0]
    resid = (H @ xc[:, :, None])[:, :, 0] - G  # shape: (m, p)
    absres = (H.abs() @ xc.abs()[:, :, None])[:, :, 0] + G.abs()
    xn = host(xc.norm(dim=1)) * (1.0 + _gamma(p))
    err = (host(resid.norm(dim=1)) * (1.0 + _gamma(p)) + _gamma(p + 2) *
           host(absres.norm(dim=1)) + eps_h * xn + delta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = xn + err / mu
    ok = (host(info) == 0) & (mu > 0) & np.isfinite(b)
    return np.where(ok, b, np.inf)
