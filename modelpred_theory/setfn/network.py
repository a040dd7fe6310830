"""The DeepSets set function f(S) = rho(pool_{(x, y) in S} phi([x; e(y)])).

The network maps a set of labelled points to a parameter vector theta(S) of a convex learner
(sum convention of docs/design.md: F_S(theta) = sum_{i in S} w_i loss_i(theta) +
lam/2 ||P theta||^2; the network only predicts theta, it never evaluates F_S itself).

Two evaluation paths give the same numbers (up to float rounding):

* masks over a fixed pool (training and prediction on masks): phi runs once on the n pool rows,
  and the sum pooling of all k subsets is ONE GEMM ``masks @ phi(pool)`` of shape (k, width),
  followed by rho on the k pooled vectors;
* ragged sets of new points: the sets are zero-padded to a common length m and a (k, m) mask
  says which rows are real; ``phi`` has no biases and ELU(0) = 0, so a zero row maps to 0, and
  the pooled sum also multiplies by the mask, so padding rows never change the output.

References
----------
M. Zaheer et al., "Deep Sets", NeurIPS 2017.
Y. Zeng et al., "ModelPred: A Framework for Predicting Trained Model from Training Data",
IEEE SaTML 2023 (phi: 3 bias-free layers of width 128 with ELU; rho: 128-128-64-p).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["DeepSets", "encode_points", "pad_sets"]

POOLINGS = ("sum", "mean", "sum_size", "centred")
_ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def encode_points(X: np.ndarray, y_enc: np.ndarray, label_dim: int) -> np.ndarray:
    """Rows [x_i ; e(y_i)] fed to phi.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    y_enc : ndarray of shape (n,)
        Labels as the learner encodes them (``learner.encode_y``).
    label_dim : int
        1: the scalar label (regression); L >= 2: one-hot over L classes, where the labels are
        mapped to classes by rank of their value (binary {0, 1} and {-1, +1} both give 2 columns).

    Returns
    -------
    ndarray of shape (n, d + label_dim), float64
    """
    X = np.asarray(X, dtype=np.float64)
    y_enc = np.asarray(y_enc)
    if label_dim == 1:
        return np.concatenate([X, y_enc.astype(np.float64)[:, None]], axis=1)
    if y_enc.dtype.kind == "f":  # binary labels encoded as floats (0/1 or -1/+1)
        codes = (y_enc > 0).astype(np.int64)
    else:
        codes = y_enc.astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= label_dim):
        raise ValueError(f"y has labels outside the {label_dim} classes the network was built for")
    onehot = np.zeros((X.shape[0], label_dim))
    onehot[np.arange(X.shape[0]), codes] = 1.0
    return np.concatenate([X, onehot], axis=1)


def pad_sets(sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad ragged sets of encoded rows to one array.

    Parameters
    ----------
    sets : sequence of k arrays of shape (m_i, c)

    Returns
    -------
    Z : ndarray of shape (k, max_i m_i, c), zeros beyond row m_i of set i
    mask : ndarray of shape (k, max_i m_i), float64, 1 on real rows
    """
    k = len(sets)
    m = max(s.shape[0] for s in sets)
    c = sets[0].shape[1]
    Z = np.zeros((k, m, c))
    mask = np.zeros((k, m))
    for i, s in enumerate(sets):
        Z[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1.0
    return Z, mask


class DeepSets(nn.Module):
    """DeepSets regressor from sets of labelled points to parameter vectors.

    f(S) = shift + scale * rho(pool(S)), pool(S) = pool_scale * sum_{i in S} phi(z_i)
    ("sum"), the mean of phi over S ("mean"), the scaled sum with pool_scale * |S| appended
    ("sum_size"), or the centred sum ("centred"):
    pool(S) = [sqrt(pool_scale) * sum_{i in S} (phi(z_i) - c), pool_scale * |S|],
    a fixed affine map of (sum phi, |S|), with c the mean of phi over the training pool (a
    buffer, frozen after training). Centring removes the large common component
    |S| * mean(phi) that otherwise drowns the membership signal (which differs between two
    subsets of equal size by O(sqrt(n)) against O(n)); with pool_scale = 1/n both parts of the
    pooled vector are O(1). ``shift`` and ``scale`` (buffers) undo the standardisation of the
    targets, so the module outputs parameters theta in the learner's layout (sum convention of
    docs/design.md).

    Parameters
    ----------
    in_dim : int
        Width of an encoded point [x; e(y)] (d + label_dim).
    out_dim : int
        p, the number of parameters.
    width : int, default=128
        Width of phi (and of rho's first hidden layers).
    phi_depth : int, default=3
        Number of bias-free linear layers in phi (ELU between them, none after the last).
    rho_hidden : sequence of int, default=(128, 128, 64)
        Hidden widths of rho; the output layer (to p) has a bias.
    pooling : {"sum", "mean", "sum_size", "centred"}, default="sum"
    activation : {"elu", "relu", "tanh", "gelu"}, default="elu"
        Must map 0 to 0 (all four do) so that zero padding is inert in phi.
    rho_bias : bool, default=True
        Biases in rho's hidden layers (they do not affect padding).
    seed : int or torch.Generator, default=0
        Initialisation: every weight is drawn from a LOCAL torch.Generator (Kaiming-uniform, as
        torch.nn.Linear), so building a network never touches torch's global RNG.

    Notes
    -----
    Permutation invariance is exact by construction (a sum); padding invariance holds because
    the pooled sum multiplies phi by the 0/1 mask (and phi(0) = 0 in any case).
    """

    def __init__(self, in_dim: int, out_dim: int, *, width: int = 128, phi_depth: int = 3,
                 rho_hidden: Sequence[int] = (128, 128, 64), pooling: str = "sum",
                 activation: str = "elu", rho_bias: bool = True,
                 seed: int | torch.Generator = 0):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width),
                        ("phi_depth", phi_depth)):
            if not (isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        rho_hidden = tuple(int(h) for h in rho_hidden)
        if any(h < 1 for h in rho_hidden):
            raise ValueError(f"rho_hidden must hold positive integers, got {rho_hidden!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        self.config = {"in_dim": int(in_dim), "out_dim": int(out_dim), "width": int(width),
                       "phi_depth": int(phi_depth), "rho_hidden": list(rho_hidden),
                       "pooling": pooling, "activation": activation, "rho_bias": bool(rho_bias)}
        self.pooling = pooling
        act = _ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        d_in = in_dim
        for j in range(phi_depth):
            layers.append(nn.Linear(d_in, width, bias=False, device="meta"))
            if j < phi_depth - 1:
                layers.append(act())
            d_in = width
        self.phi = nn.Sequential(*layers)
        rho: list[nn.Module] = []
        d_in = width + (1 if pooling in ("sum_size", "centred") else 0)
        for h in rho_hidden:
            rho += [nn.Linear(d_in, h, bias=rho_bias, device="meta"), act()]
            d_in = h
        rho.append(nn.Linear(d_in, out_dim, bias=True, device="meta"))
        self.rho = nn.Sequential(*rho)
        # Layers are built on the meta device (torch's default init would draw from the GLOBAL
        # generator), then materialised and initialised from a local generator.
        self.phi.to_empty(device="cpu")
        self.rho.to_empty(device="cpu")
        self.register_buffer("shift", torch.zeros(out_dim))
        self.register_buffer("scale", torch.ones(out_dim))
        self.register_buffer("pool_scale", torch.ones(()))
        self.register_buffer("center", torch.zeros(width))
        self.output_folded = False  # fold_output_scaling: rho outputs theta units directly
        self.reset_parameters(seed)

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def reset_parameters(self, seed: int | torch.Generator = 0) -> None:
        """Kaiming-uniform init (torch.nn.Linear's rule) from a local generator; output layer 0."""
        g = torch_generator(seed)
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        for m in linears:
            bound = 1.0 / math.sqrt(m.in_features)
            # kaiming_uniform_(a=sqrt(5)) has bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in)
            w = torch.empty(m.weight.shape).uniform_(-bound, bound, generator=g)
            m.weight.copy_(w)
            if m.bias is not None:
                m.bias.copy_(torch.empty(m.bias.shape).uniform_(-bound, bound, generator=g))
        # Start at the mean of the (standardised) targets: the last layer outputs 0.
        last = linears[-1]
        last.weight.mul_(0.1)
        last.bias.zero_()

    def set_output_scaling(self, shift, scale) -> None:
        """Set theta = shift + scale * rho(...): (p,) each; scale > 0."""
        set_output_scaling(self, shift, scale)

    @torch.no_grad()
    def fold_output_scaling(self) -> DeepSets:
        """Fold shift + scale * (h A^T + b) into rho's last layer (scale A, shift + scale b); the
        buffers become 0 and 1. Same function up to rounding, one pass fewer per prediction."""
        return fold_output_scaling(self)

    def set_pool_scale(self, value: float) -> None:
        """Constant multiplying the pooled sum (e.g. 1 / pool size) to keep rho's input O(1)."""
        set_pool_scale(self, value)

    # ------------------------------------------------------------------ forward paths
    def embed(self, Z: torch.Tensor) -> torch.Tensor:
        """phi on encoded points: (..., in_dim) -> (..., width)."""
        return self.phi(Z)

    @torch.no_grad()
    def set_center(self, center: torch.Tensor) -> None:
        """Fix the reference vector c of centred pooling (e.g. the mean of phi over a pool)."""
        self.center.copy_(center.detach().to(self.center.dtype))

    def _pool(self, summed: torch.Tensor, sizes: torch.Tensor,
              center: torch.Tensor | None = None) -> torch.Tensor:
        if self.pooling == "mean":
            return summed / sizes[:, None]
        if self.pooling == "centred":
            c = self.center if center is None else center
            dev = (summed - sizes[:, None] * c) * self.pool_scale.sqrt()  # shape: (k, width)
            return torch.cat([dev, (sizes * self.pool_scale)[:, None]], dim=1)
        pooled = summed * self.pool_scale  # shape: (k, width)
        if self.pooling == "sum_size":
            pooled = torch.cat([pooled, (sizes * self.pool_scale)[:, None]], dim=1)
        return pooled

    def head(self, pooled: torch.Tensor, standardized: bool = False) -> torch.Tensor:
        """rho on pooled vectors (k, width[+1]) -> (k, p), in theta units unless standardized."""
        out = self.rho(pooled)  # shape: (k, p)
        if self.output_folded:
            if standardized:
                raise ValueError("this network's output scaling is folded into rho: it has no "
                                 "standardized output")
            return out
        return out if standardized else self.shift + self.scale * out

    def forward_masks(self, W: torch.Tensor, H: torch.Tensor, standardized: bool = False,
                      center: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions for k subsets of one pool.

        Parameters
        ----------
        W : Tensor of shape (k, n)
            0/1 masks (or non-negative weights: a weighted sum pooling).
        H : Tensor of shape (n, width)
            ``self.embed(Z_pool)``, computed once per pool.
        standardized : bool
            Return rho's raw output z instead of theta = shift + scale * z.
        center : Tensor of shape (width,), optional
            Override of the centred-pooling reference (training passes the live pool mean).

        Returns
        -------
        Tensor of shape (k, p)
        """
        summed = W @ H  # shape: (k, width), the one GEMM for all k subsets
        return self.head(self._pool(summed, W.sum(1), center), standardized)

    def forward_padded(self, Z: torch.Tensor, mask: torch.Tensor,
                       standardized: bool = False) -> torch.Tensor:
        """Predictions for k ragged sets, zero-padded: Z (k, m, in_dim), mask (k, m) -> (k, p)."""
        H = self.embed(Z) * mask[..., None]  # shape: (k, m, width)
        return self.head(self._pool(H.sum(1), mask.sum(1)), standardized)

    def forward(self, Z: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """Masks over a pool: Z (n, in_dim), W (k, n) -> theta (k, p)."""
        return self.forward_masks(W, self.embed(Z))


# ---------------------------------------------------------------------- shared by both networks
# DeepSets and SetTransformer both end in rho with an output affine map theta = shift + scale *
# rho(...) held in buffers ``shift``, ``scale`` and a ``pool_scale`` buffer; these functions are
# the one implementation of setting and folding them.
def torch_generator(seed: int | torch.Generator) -> torch.Generator:
    """A local torch generator from a non-negative int seed (or the generator itself)."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        return torch.Generator().manual_seed(int(seed))
    raise ValueError(f"seed must be a non-negative int or a torch.Generator, got {seed!r}")


@torch.no_grad()
def set_output_scaling(net: nn.Module, shift, scale) -> None:
    """Set net's theta = shift + scale * rho(...): (p,) each; scale > 0."""
    shift = torch.as_tensor(np.asarray(shift), dtype=net.shift.dtype)
    scale = torch.as_tensor(np.asarray(scale), dtype=net.scale.dtype)
    if shift.shape != net.shift.shape or scale.shape != net.scale.shape:
        raise ValueError(f"shift and scale must have shape {tuple(net.shift.shape)}")
    if not bool(torch.all(scale > 0)):
        raise ValueError("scale must be positive")
    net.shift.copy_(shift)
    net.scale.copy_(scale)


@torch.no_grad()
def fold_output_scaling(net: nn.Module):
    """Fold shift + scale * (h A^T + b) into net.rho's last layer (scale A, shift + scale b);
    the buffers become 0 and 1. Same function up to rounding, one pass fewer per prediction."""
    last = net.rho[-1]
    last.weight.mul_(net.scale[:, None])
    last.bias.mul_(net.scale).add_(net.shift)
    net.shift.zero_()
    net.scale.fill_(1.0)
    net.output_folded = True
    return net


@torch.no_grad()
def set_pool_scale(net: nn.Module, value: float) -> None:
    """Set net's positive, finite pool_scale buffer."""
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"pool_scale must be positive and finite, got {value!r}")
    net.pool_scale.fill_(float(value))
