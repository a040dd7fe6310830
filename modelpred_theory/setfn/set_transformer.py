"""The Set Transformer set function f(S) = rho([PMA(ISAB^B(enc(S))), |S| / n]).

The attention counterpart of ``network.DeepSets``, with the same interface (``embed``,
``forward_masks``, ``forward_padded``, output scaling and its folding, ``pool_scale``), so every
part of ModelPred (bases, gate, regularisers, persistence, ``predict_sets``) runs on either. The
network only predicts theta(S) of a convex learner (sum convention of docs/design.md:
F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2); it never evaluates F_S.

Every attention over the set is a **weighted masked softmax**: a query q attends to the points
of S with weights

    a_i(q) = w_i exp(<q, k_i>) / sum_{j} w_j exp(<q, k_j>),

w the (k, n) mask or non-negative weights of the subsets (w_i = 0: the point is absent, its
logit is -inf, its weight exactly 0). Integer weights act as repeated points, as in the weighted
sum pooling of DeepSets. Padding rows of ``forward_padded`` get w = 0 and therefore never
change the output, whatever they hold.

References
----------
J. Lee, Y. Lee, J. Kim, A. Kosiorek, S. Choi and Y. W. Teh, "Set Transformer: A Framework for
Attention-based Permutation-Invariant Neural Networks", ICML 2019 (MAB, ISAB, PMA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .network import fold_output_scaling, set_output_scaling, set_pool_scale, torch_generator

__all__ = ["SetTransformer", "masked_attention"]

_ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
# Largest number of (subset, point, feature) entries of one chunk of ``forward_masks``
# (memory bound only: the per-point features of every subset are a (k, n, width) tensor).
_CHUNK_ENTRIES = 1 << 22


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     w: torch.Tensor | None, heads: int) -> torch.Tensor:
    """Multi-head weighted softmax attention of queries over the points of each subset.

    Parameters
    ----------
    q : Tensor of shape (b_q, n_q, D)
        Queries (b_q = 1 broadcasts over the subsets).
    k, v : Tensor of shape (b_k, n_k, D)
        Keys and values of the points (b_k = 1: one pool shared by all subsets).
    w : Tensor of shape (b, n_k) or None
        Non-negative weights of the points in each subset (0 = absent); None: all points, weight 1.
    heads : int
        D is split into ``heads`` blocks of D / heads, each with its own softmax.

    Returns
    -------
    Tensor of shape (b, n_q, D), b the broadcast batch size

    Notes
    -----
    Per head, out_j = sum_i w_i exp(<q_j, k_i> / sqrt(D / heads)) v_i / sum_i w_i exp(...):
    the logits get log w_i added (log 0 = -inf), which is exact for 0/1 masks (log 1 = 0).
    """
    D = q.shape[-1]
    dh = D // heads

    def split(t):  # (b, n, D) -> (b, heads, n, dh)
        return t.reshape(t.shape[0], t.shape[1], heads, dh).transpose(1, 2)

    logits = split(q) @ split(k).transpose(-1, -2) / math.sqrt(dh)  # shape: (b, h, n_q, n_k)
    if w is not None:
        logits = logits + torch.log(w)[:, None, None, :]
    att = torch.softmax(logits, dim=-1)
    out = att @ split(v)  # shape: (b, h, n_q, dh)
    return out.transpose(1, 2).reshape(out.shape[0], q.shape[1], D)


class _MAB(nn.Module):
    """Multihead attention block MAB(X, Y) = H + rFF(H), H = X W_q + Multihead(X, Y, Y).

    As in the authors' reference implementation (without layer norm): the residual is the
    projected query; rFF(h) = W_2 act(W_1 h + b_1) + b_2 row by row.
    """

    def __init__(self, width: int, heads: int, act):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width, device="meta")
        self.k = nn.Linear(width, width, device="meta")
        self.v = nn.Linear(width, width, device="meta")
        self.ff = nn.Sequential(nn.Linear(width, width, device="meta"), act(),
                                nn.Linear(width, width, device="meta"))

    def forward(self, X, Y, w=None):
        Q = self.q(X)  # shape: (b_q, n_q, width)
        H = Q + masked_attention(Q, self.k(Y), self.v(Y), w, self.heads)
        return H + self.ff(H)


class SetTransformer(nn.Module):
    """Set Transformer regressor from sets of labelled points to parameter vectors.

    f(S) = shift + scale * rho([PMA(ISAB_B(... ISAB_1(enc(Z_S)))), pool_scale * |S|]):

    * enc: a row-wise MLP of ``phi_depth`` layers, [x; e(y)] -> R^width (``embed``);
    * ISAB_b(X) = MAB(X, MAB(I_b, X)): ``inducing`` learned points I_b attend to the set, then
      every point attends to those m summaries (cost O(|S| m width) per block, not O(|S|^2));
    * PMA(X) = MAB(s, X): one learned seed attends to the set (attention pooling);
    * rho: an MLP on the pooled vector with the scaled set size pool_scale * sum_i w_i appended
      (softmax attention is a weighted MEAN and cannot count; theta(S) depends on |S|).

    ``shift`` and ``scale`` undo the target standardisation as in :class:`DeepSets`.

    Parameters
    ----------
    in_dim : int
        Width of an encoded point [x; e(y)] (d + label_dim).
    out_dim : int
        p, the number of parameters.
    width : int, default=64
        Model width D (divisible by ``heads``).
    heads : int, default=4
    inducing : int, default=16
        Inducing points m of each ISAB.
    blocks : int, default=2
        Number of ISAB blocks (attention rounds before the pooling).
    phi_depth : int, default=1
        Layers of the row-wise encoder.
    rho_hidden : sequence of int, default=(64, 64)
        Hidden widths of rho; its output layer (to p) has a bias.
    activation : {"elu", "relu", "tanh", "gelu"}, default="elu"
    seed : int or torch.Generator, default=0
        Every weight is drawn from a LOCAL generator (torch's global RNG is not touched).

    Notes
    -----
    Permutation invariance: the ISABs are permutation equivariant and PMA invariant, exactly
    (up to float rounding of the sums). Padding/masking: a point with weight 0 has attention
    weight exactly 0 in every softmax that reads the set (logit -inf), and the per-point
    features of absent points are only ever read through such softmaxes, so they cannot change
    the output.
    """

    pooling = "pma"  # read by the training loop (no centred-pooling reference to keep)

    def __init__(self, in_dim: int, out_dim: int, *, width: int = 64, heads: int = 4,
                 inducing: int = 16, blocks: int = 2, phi_depth: int = 1,
                 rho_hidden: Sequence[int] = (64, 64), activation: str = "elu",
                 seed: int | torch.Generator = 0):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width),
                        ("heads", heads), ("inducing", inducing), ("blocks", blocks),
                        ("phi_depth", phi_depth)):
            if not (isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if width % heads:
            raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
        rho_hidden = tuple(int(h) for h in rho_hidden)
        if any(h < 1 for h in rho_hidden):
            raise ValueError(f"rho_hidden must hold positive integers, got {rho_hidden!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        self.config = {"arch": "set_transformer", "in_dim": int(in_dim), "out_dim": int(out_dim),
                       "width": int(width), "heads": int(heads), "inducing": int(inducing),
                       "blocks": int(blocks), "phi_depth": int(phi_depth),
                       "rho_hidden": list(rho_hidden), "activation": activation}
        act = _ACTIVATIONS[activation]
        enc: list[nn.Module] = []
        d_in = in_dim
        for j in range(phi_depth):
            enc.append(nn.Linear(d_in, width, device="meta"))
            if j < phi_depth - 1:
                enc.append(act())
            d_in = width
        self.enc = nn.Sequential(*enc)
        self.inducing_points = nn.ParameterList(
            [nn.Parameter(torch.empty(1, inducing, width, device="meta")) for _ in range(blocks)])
        self.isab_in = nn.ModuleList([_MAB(width, heads, act) for _ in range(blocks)])
        self.isab_out = nn.ModuleList([_MAB(width, heads, act) for _ in range(blocks)])
        self.seed_point = nn.Parameter(torch.empty(1, 1, width, device="meta"))
        self.pma = _MAB(width, heads, act)
        rho: list[nn.Module] = []
        d_in = width + 1
        for h in rho_hidden:
            rho += [nn.Linear(d_in, h, device="meta"), act()]
            d_in = h
        rho.append(nn.Linear(d_in, out_dim, device="meta"))
        self.rho = nn.Sequential(*rho)
        self.to_empty(device="cpu")
        self.heads = int(heads)
        self.register_buffer("shift", torch.zeros(out_dim))
        self.register_buffer("scale", torch.ones(out_dim))
        self.register_buffer("pool_scale", torch.ones(()))
        self.output_folded = False
        self.reset_parameters(seed)

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def reset_parameters(self, seed: int | torch.Generator = 0) -> None:
        """Linear layers: torch.nn.Linear's uniform rule; inducing points and seed: uniform
        (+-1/sqrt(width)); all from a local generator; the output layer starts near 0."""
        g = torch_generator(seed)
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        for m in linears:
            bound = 1.0 / math.sqrt(m.in_features)
            m.weight.copy_(torch.empty(m.weight.shape).uniform_(-bound, bound, generator=g))
            m.bias.copy_(torch.empty(m.bias.shape).uniform_(-bound, bound, generator=g))
        bound = 1.0 / math.sqrt(self.config["width"])
        for prm in [*self.inducing_points, self.seed_point]:
            prm.copy_(torch.empty(prm.shape).uniform_(-bound, bound, generator=g))
        last = self.rho[-1]
        last.weight.mul_(0.1)
        last.bias.zero_()

    def set_output_scaling(self, shift, scale) -> None:
        """Set theta = shift + scale * rho(...): (p,) each; scale > 0."""
        set_output_scaling(self, shift, scale)

    @torch.no_grad()
    def fold_output_scaling(self) -> SetTransformer:
        """Fold shift + scale * (h A^T + b) into rho's last layer; the buffers become 0 and 1."""
        return fold_output_scaling(self)

    def set_pool_scale(self, value: float) -> None:
        """Constant multiplying the set size appended to the pooled vector (e.g. 1 / n_pool)."""
        set_pool_scale(self, value)

    def n_parameters(self) -> int:
        """Number of trainable numbers."""
        return sum(prm.numel() for prm in self.parameters() if prm.requires_grad)

    # ------------------------------------------------------------------ forward paths
    def embed(self, Z: torch.Tensor) -> torch.Tensor:
        """The row-wise encoder: (..., in_dim) -> (..., width)."""
        return self.enc(Z)

    def head(self, pooled: torch.Tensor, standardized: bool = False) -> torch.Tensor:
        """rho on pooled vectors (k, width + 1) -> (k, p), in theta units unless standardized."""
        out = self.rho(pooled)  # shape: (k, p)
        if self.output_folded:
            if standardized:
                raise ValueError("this network's output scaling is folded into rho: it has no "
                                 "standardized output")
            return out
        return out if standardized else self.shift + self.scale * out

    def _pooled(self, H: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """[PMA(ISABs(H)), pool_scale * sum w]: H (1 or k, n, width), W (k, n) -> (k, width+1)."""
        X = H
        for ind, mab_in, mab_out in zip(self.inducing_points, self.isab_in, self.isab_out,
                                        strict=True):
            summary = mab_in(ind, X, W)  # shape: (k, inducing, width)
            X = mab_out(X, summary)  # shape: (k, n, width), every point reads the summary
        pooled = self.pma(self.seed_point, X, W)[:, 0]  # shape: (k, width)
        return torch.cat([pooled, (W.sum(1) * self.pool_scale)[:, None]], dim=1)

    def forward_masks(self, W: torch.Tensor, H: torch.Tensor, standardized: bool = False,
                      center: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions for k subsets of one pool.

        Parameters
        ----------
        W : Tensor of shape (k, n)
            0/1 masks or non-negative weights (weighted attention: weight w_i acts as w_i
            copies of point i). Every row needs a positive entry.
        H : Tensor of shape (n, width)
            ``self.embed(Z_pool)``, computed once per pool.
        standardized : bool
            Return rho's raw output z instead of theta = shift + scale * z.
        center : None
            Accepted for interface parity with :class:`DeepSets` (centred pooling); must be None.

        Returns
        -------
        Tensor of shape (k, p)
        """
        if center is not None:
            raise ValueError("the set transformer has no centred pooling: center must be None")
        n, width = H.shape
        chunk = max(1, _CHUNK_ENTRIES // max(1, n * width))
        outs = [self.head(self._pooled(H[None], W[s:s + chunk]), standardized)
                for s in range(0, W.shape[0], chunk)]
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def forward_padded(self, Z: torch.Tensor, mask: torch.Tensor,
                       standardized: bool = False) -> torch.Tensor:
        """Predictions for k ragged sets, zero-padded: Z (k, m, in_dim), mask (k, m) -> (k, p)."""
        return self.head(self._pooled(self.embed(Z), mask), standardized)

    def forward(self, Z: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """Masks over a pool: Z (n, in_dim), W (k, n) -> theta (k, p)."""
        return self.forward_masks(W, self.embed(Z))
