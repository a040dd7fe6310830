"""The paper's UtilityPred baseline: a DeepSets network regressing the utility U(S) directly.

U(S) is a scalar behaviour (e.g. minus the test loss) of theta(S), the minimiser of the SUM
objective F_S(theta) = sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2 (docs/design.md);
UtilityPred never sees parameters, only (S, U(S)) pairs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..subsets import check_masks
from ._common import _check_positive_int

__all__ = ["UtilityPred"]


# ----------------------------------------------------------------------------------------------
class _SetRegressor(torch.nn.Module):
    """DeepSets f(S) = rho(sum_{i in S} phi(z_i) / n_pool) with scalar output.

    phi has no biases and ELU(0) = 0, so a zero row contributes nothing (padding = masking);
    the division by the constant pool size keeps the pooled sum O(1) and is still a sum.
    """

    def __init__(self, d_in: int, hidden: int, generator: torch.Generator):
        super().__init__()
        act = torch.nn.ELU
        self.phi = torch.nn.Sequential(
            torch.nn.Linear(d_in, hidden, bias=False), act(),
            torch.nn.Linear(hidden, hidden, bias=False), act(),
            torch.nn.Linear(hidden, hidden, bias=False),
        )
        self.rho = torch.nn.Sequential(
            torch.nn.Linear(hidden, hidden), act(),
            torch.nn.Linear(hidden, 64), act(),
            torch.nn.Linear(64, 1),
        )
        for mod in self.modules():
            if isinstance(mod, torch.nn.Linear):
                bound = 1.0 / math.sqrt(mod.in_features)
                with torch.no_grad():
                    mod.weight.uniform_(-bound, bound, generator=generator)
                    if mod.bias is not None:
                        mod.bias.zero_()

    def forward(self, M: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        pooled = M @ self.phi(Z) / Z.shape[0]  # shape: (k, hidden), one GEMM for all sets
        return self.rho(pooled)[:, 0]  # shape: (k,)


class UtilityPred:
    """The paper's utility-predictor baseline: a DeepSets network regressing U(S) directly.

    Elements are z_i = [x_i, onehot(y_i)] for classification (``[x_i, y_i]`` for regression);
    subsets of the fixed pool are pooled as ``masks @ phi(pool)`` (one GEMM for all sets).

    Parameters
    ----------
    hidden : int, default=128
    epochs : int, default=200
    lr : float, default=1e-3
        Adam learning rate (cosine-annealed to 0).
    batch_size : int, default=256
    seed : int, default=0
        Seeds the initialisation and the minibatch order (a private torch.Generator).
    progress : bool, default=False
        tqdm progress over epochs.
    """

    def __init__(self, *, hidden: int = 128, epochs: int = 200, lr: float = 1e-3,
                 batch_size: int = 256, seed: int = 0, progress: bool = False):
        self.hidden = _check_positive_int(hidden, "hidden")
        self.epochs = _check_positive_int(epochs, "epochs")
        if not (isinstance(lr, numbers.Real) and 0 < lr < 1):
            raise ValueError(f"lr must be in (0, 1), got {lr!r}")
        self.lr = float(lr)
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.seed = _check_positive_int(seed, "seed", minimum=0)
        self.progress = bool(progress)
        self.net_: _SetRegressor | None = None

    @staticmethod
    def _features(X, y, onehot: bool) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if not onehot:
            return np.column_stack([X, np.asarray(y, dtype=np.float64)])
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        E = np.zeros((X.shape[0], classes.size))
        E[np.arange(X.shape[0]), codes] = 1.0
        return np.column_stack([X, E])

    def fit(self, X, y, masks, utilities, *, onehot: bool | None = None) -> UtilityPred:
        """Train on (S, U(S)) pairs over the pool (X, y).

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Training subsets (boolean).
        utilities : ndarray of shape (k,)
            Their utilities (e.g. from exact retraining).
        onehot : bool, optional
            One-hot encode y; default: when y holds integers.

        Returns
        -------
        self
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or not np.all(np.isfinite(X)):
            raise ValueError("X must be a finite 2-D array (n, d)")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        M = check_masks(masks, X.shape[0], allow_empty=True)
        u = np.asarray(utilities, dtype=np.float64)
        if u.shape != (M.shape[0],) or not np.all(np.isfinite(u)):
            raise ValueError(f"utilities must be finite of shape ({M.shape[0]},), got {u.shape}")
        if onehot is None:
            onehot = bool(np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_))
        self.onehot_ = bool(onehot)
        self.n_ = X.shape[0]
        Z = torch.as_tensor(self._features(X, y, self.onehot_), dtype=torch.float32)
        self.u_mean_, self.u_std_ = float(u.mean()), float(max(u.std(), 1e-12))
        target = torch.as_tensor((u - self.u_mean_) / self.u_std_, dtype=torch.float32)
        Mt = torch.as_tensor(M, dtype=torch.float32)
        gen = torch.Generator().manual_seed(self.seed)
        net = _SetRegressor(Z.shape[1], self.hidden, gen)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        steps_per_epoch = math.ceil(M.shape[0] / self.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs * steps_per_epoch)
        epochs = range(self.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="UtilityPred", unit="epoch")
        self.train_loss_ = []
        for _ in epochs:
            order = torch.randperm(M.shape[0], generator=gen)
            total = 0.0
            for s in range(0, M.shape[0], self.batch_size):
                idx = order[s:s + self.batch_size]
                loss = torch.mean((net(Mt[idx], Z) - target[idx]) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * idx.numel()
            self.train_loss_.append(total / M.shape[0])
        self.net_ = net.eval()
        self.Z_ = Z
        return self

    def predict_utility(self, masks) -> np.ndarray:
        """Predicted U(S) for subsets of the training pool: masks (k, n) -> ndarray (k,)."""
        if self.net_ is None:
            raise ValueError("UtilityPred is not fitted; call fit first")
        M = check_masks(masks, self.n_, allow_empty=True)
        out = np.empty(M.shape[0])
        with torch.no_grad():
            for s in range(0, M.shape[0], 65536):
                Mt = torch.as_tensor(M[s:s + 65536], dtype=torch.float32)
                out[s:s + 65536] = self.net_(Mt, self.Z_).double().numpy()
        return out * self.u_std_ + self.u_mean_
