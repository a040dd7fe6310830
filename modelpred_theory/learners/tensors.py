"""Tensor helpers shared by the objective, the solvers and the other packages.

The dtype (float64, the ground truth), the device choice, the intercept column and the packed
per-row outer products the Hessians are built from; everything on the device the caller picks
(see docs/design.md). Public: baselines, setfn and applications import these names.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

DTYPE = torch.float64

_DEVICE_CHOICES = ("cpu", "cuda", "auto")
# Largest packed outer-product table (bytes) built per pool. Reason: it holds n q(q+1)/2 floats
# (q = d + 1), 5 GB at n = 2e4, d = 256; above this, Hessians are formed from X directly.
OUTER_BYTES = 2**30


def host(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a CPU ndarray, from any device."""
    return t.detach().cpu().numpy()


def as_tensor(a, dtype=DTYPE, device=None) -> torch.Tensor:
    """float64 tensor from an ndarray (copied when read-only) or a tensor, on ``device``."""
    if isinstance(a, torch.Tensor):
        return a.to(dtype=dtype, device=device)
    a = np.ascontiguousarray(a)
    if not a.flags.writeable:
        a = a.copy()
    t = torch.as_tensor(a, dtype=dtype)
    return t if device is None else t.to(device)


def resolve_device(device) -> torch.device:
    """Validate ``device`` ("cpu", "cuda", "cuda:N", "auto" or a torch.device) before any work.

    "auto" picks CUDA when it is available and the CPU otherwise. Raises ValueError naming
    ``device`` for an unknown name, for CUDA when torch has none, or for a CUDA index that does
    not exist.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str | torch.device):
        raise ValueError(f"device must be 'cpu', 'cuda', 'auto' or a torch.device, got "
                         f"{type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be one of {_DEVICE_CHOICES} (or 'cuda:N'), got "
                         f"{device!r}") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"device {device!r} is not supported: use one of {_DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available in this torch build or "
                         "machine; use device='cpu' or device='auto'")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} does not exist: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return dev


def augment(X: torch.Tensor) -> torch.Tensor:
    """Append the intercept column: (n, d) -> (n, d + 1)."""
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    return torch.cat([X, ones], dim=1)


def triu_indices(q: int, device=None):
    """Row and column indices of the upper triangle of a (q, q) matrix (diagonal included)."""
    idx = torch.triu_indices(q, q, device=device)
    return idx[0], idx[1]


def outer_products(X: torch.Tensor) -> torch.Tensor:
    """Packed upper triangles of [x_i, 1][x_i, 1]^T: (n, d) -> (n, q(q+1)/2), q = d + 1.

    Computed once per pool; ``Objective.hessian`` turns them into all k Hessians with one GEMM.
    """
    Xa = augment(X)
    i, j = triu_indices(Xa.shape[1], Xa.device)
    return Xa[:, i] * Xa[:, j]


def packed_outer_or_none(X: torch.Tensor) -> torch.Tensor | None:
    """``outer_products(X)`` when it fits in OUTER_BYTES, else None (direct Hessians)."""
    n, q = X.shape[0], X.shape[1] + 1
    return outer_products(X) if 8 * n * q * (q + 1) // 2 <= OUTER_BYTES else None


@functools.lru_cache(maxsize=16)
def unpack_index(q: int, device) -> torch.Tensor:
    """(q*q,) positions in the packed upper triangle of each (i, j) of a symmetric (q, q)."""
    i, j = triu_indices(q, device)
    pos = torch.empty(q, q, dtype=torch.long, device=device)
    ar = torch.arange(i.numel(), device=device)
    pos[i, j] = ar
    pos[j, i] = ar
    return pos.reshape(-1)


def regularise_gauge(H: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """H + c u u^T with c the mean diagonal of H, for H (p, p) or (k, p, p); H itself if u is None.

    The multinomial objective with unpenalised intercepts is flat along the unit gauge
    direction u. Gradients are orthogonal to u and H u = 0, so solving with H + c u u^T gives
    the solution in the centred subspace (the pseudo-inverse of H there) without harming the
    conditioning.
    """
    if u is None:
        return H
    u = u.to(H.device)
    c = torch.diagonal(H, dim1=-2, dim2=-1).mean(-1)[..., None, None]
    return H + c * torch.outer(u, u)
