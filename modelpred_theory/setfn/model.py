"""ModelPred: a DeepSets network trained on exact pairs (S, theta(S)) to predict theta(S).

Everything here concerns parameters of a convex learner under the SUM convention of DESIGN.md:

    theta(S) = argmin_theta F_S(theta),
    F_S(theta) = sum_{i in S} w_i loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2,   C = 1 / lam,

with theta = [w, b] (or the (K, d+1) matrix of rows [w_k, b_k] flattened row by row).

Training loss (every term configurable; ``regularize=False`` is the paper's "PARA" ablation,
plain MSE):

    L = MSE_z + kappa * R_opt + utility * R_util + weight_l1 * ||W||_1 + weight_l2 * ||W||_2^2

* MSE_z: mean squared error of the STANDARDISED parameters z = (theta - shift) / scale, with
  shift and scale the per-coordinate mean and standard deviation of the training labels.
* R_opt (optimality residual): g = grad F_S(theta_hat) from the learner's own
  ``batch_grad`` (zero exactly at theta(S); needs no label). It is turned into parameter units
  by a fixed Newton-type preconditioner, r = (|S| C + lam I)^{-1} g with C the average loss
  curvature of the full pool at theta(pool) (so r ~ theta_hat - theta(S) to first order), and
  R_opt = mean((r / scale)^2): on the same scale as MSE_z, so kappa = 1 weighs both alike.
  Because it needs no label, R_opt is also evaluated on ``n_unlabelled`` extra subsets (one
  minibatch per step): that is where it pays off (see Notes of :class:`ModelPred`).
* R_util (utility consistency): the training-objective gap F_S(theta_hat) - F_S(theta(S)) >= 0
  from the learner's own ``batch_objective``, divided by sum_j H_jj scale_j^2 / 2 with
  H_jj ~ |S| C_jj + lam P_jj (again ~ MSE_z to second order). Off by default.

Both regularisers run in float64 on the learner's functions; the network trains in float32 and
predicts in float64.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from .. import subsets as _subsets
from ..learners import base as _lbase
from ..learners._validation import check_weight_matrix, check_X
from .network import DeepSets, encode_points, pad_sets
from .pairs import data_fingerprint, generate_pairs, label_masks, learner_spec, sample_masks

__all__ = ["PAPER_SETTINGS", "ModelPred", "relative_error"]

# The published method's training settings (PAPER.md): sum pooling, Adam with lr 1e-4, batch 32,
# 15 epochs, L = MSE + R_opt + R_util + 0.01 (L1 + L2 of the weights). Use them as
# ModelPred(learner, **PAPER_SETTINGS); the library's defaults (centred pooling, lr 5e-3,
# batch 128, cosine schedule, more epochs) are what `modelpred demo` compares them against.
PAPER_SETTINGS = {"pooling": "sum", "lr": 1e-4, "batch_size": 32, "epochs": 15, "kappa": 1.0,
                  "utility": 1.0, "weight_l1": 0.01, "weight_l2": 0.01}

_FORMAT = "modelpred-theory/ModelPred"
_FORMAT_VERSION = 1
# Floor of the per-coordinate label scale, relative to the largest one. Reason: coordinates
# that never move (e.g. weights of an all-zero feature) must not blow up the standardisation.
_SCALE_FLOOR = 1e-3
# Floor of the preconditioner's curvature eigenvalues, relative to the largest. Reason: lam = 0
# (ridge) or flat directions must not make (|S| C + lam I) singular.
_CURV_FLOOR = 1e-6
# Largest number of subsets pushed through rho at once in predict (memory bound only).
_PREDICT_CHUNK = 8192


def relative_error(thetas_hat, thetas) -> np.ndarray:
    """||theta_hat - theta||_2 / ||theta||_2 per row: (k, p), (k, p) -> (k,)."""
    a = np.asarray(thetas_hat, dtype=np.float64)
    b = np.asarray(thetas, dtype=np.float64)
    return np.linalg.norm(a - b, axis=-1) / np.maximum(np.linalg.norm(b, axis=-1), 1e-300)


def _check_pos(name, v, *, allow_zero=False, integer=False):
    ok_type = (isinstance(v, int | np.integer) if integer
               else isinstance(v, int | float | np.number))
    if isinstance(v, bool) or not ok_type or not math.isfinite(float(v)):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {v!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return int(v) if integer else float(v)


def _learner_class(name: str):
    from .. import learners

    cls = getattr(learners, name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, _lbase.ConvexLearner):
        raise ValueError(f"unknown learner class {name!r} in the saved config")
    return cls


def _is_regression(learner) -> bool:
    from ..learners import Ridge

    return isinstance(learner, Ridge)


class ModelPred:
    """Learned set function S -> theta(S) for a convex learner (Zeng et al., SaTML 2023).

    Parameters follow the SUM convention: F_S(theta) = sum_{i in S} loss_i(theta) +
    lam/2 ||P theta||^2 (C = 1/lam), theta = [w, b] or (K, d+1) flattened row-wise.

    Parameters
    ----------
    learner : ConvexLearner
        The learner whose trained parameters are predicted (its exact solver labels the pairs,
        its gradient and objective drive the regularisers).
    seed : int, default=0
        Seeds the pair sampler (numpy) and a LOCAL torch.Generator (initialisation, minibatch
        order). No global RNG is touched; CPU training is deterministic given the seed unless
        ``max_time`` cuts it short.
    width, phi_depth, rho_hidden, pooling, activation
        DeepSets architecture (see :class:`DeepSets`); paper defaults 128, 3, (128, 128, 64),
        "sum", "elu".
    regularize : bool, default=True
        False gives the "PARA" ablation: plain MSE (kappa, utility and weight penalties ignored).
    kappa : float, default=1.0
        Weight of the preconditioned optimality residual R_opt.
    utility : float, default=0.0
        Weight of the utility-consistency term R_util (the paper's second regulariser). Off by
        default: on breast_cancer (lam = 1, 2,080 labelled pairs, 150 epochs) adding it with
        weight 1 raised the held-out median error from 1.6% to 1.9%; with exact labels it is,
        to second order, the same quadratic form as the MSE.
    weight_l1, weight_l2 : float, default=0.0
        Penalties on the network's weight matrices (sum of |w| and of w^2).
    n_unlabelled : int, default=0
        Extra random subsets (no exact solve, no label) on which R_opt is also evaluated, one
        minibatch of them per step: the semi-supervised use of the optimality condition.
    lr : float, default=5e-3
        Adam learning rate, decayed to 0 by a cosine schedule over the run. (On CPU, lr of a
        few 1e-3 with batches of 128 trains far better than the paper's 1e-4 / 32.)
    batch_size : int, default=128
    epochs : int, default=100
    patience : int or None, default=None
        Early stopping: stop after this many evaluations without a better validation error.
        The best validation state is restored at the end in every case.
    eval_every : int, default=1
        Evaluate the validation error every this many epochs.
    max_time : float or None
        Wall-clock budget in seconds for the training loop; the cosine schedule then follows
        max(step fraction, time fraction).
    val_fraction : float, default=0.1
        Fraction of the groups (whole permutations) held out for validation.
    sampler, n_permutations, n_subsets, min_size, max_size, step
        Pair generation used by ``fit(X, y)`` without given pairs (see ``generate_pairs``).
    cache_dir : path or None
        Disk cache for the generated labels (resumable); None keeps everything in memory.
    progress : bool, default=True
        tqdm bars for labelling and training.

    Notes
    -----
    Measured on breast_cancer (L2 logistic, lam = 1; held-out permutation prefixes retaining
    50-100% of the pool; ``modelpred demo``): with exact labels R_opt and R_util are, to
    second order, the same quadratic form as the MSE, so on LABELLED subsets they add little
    (equal epochs: equal error within noise). R_opt on UNLABELLED subsets does help: with 2,080
    labelled pairs, 150 epochs and 20,000 unlabelled subsets, the median relative error fell
    from 2.4% (plain MSE) to 1.6-1.9%. Each regularised step costs ~2-3x a plain one (float64
    gradients over the pool), so at equal wall-clock time plain MSE with more epochs can match
    it; the demo reports both.

    Attributes
    ----------
    net_ : DeepSets
        The trained network (float32).
    history_ : list of dict
        Per evaluation: epoch, time, lr, training loss terms, validation relative error.
    pairs_ : TrainingPairs or None
        The pairs generated by ``fit`` (None when pairs were given).
    """

    def __init__(self, learner, seed: int = 0, *, width: int = 128, phi_depth: int = 3,
                 rho_hidden=(128, 128, 64), pooling: str = "centred", activation: str = "elu",
                 regularize: bool = True, kappa: float = 1.0, utility: float = 0.0,
                 weight_l1: float = 0.0, weight_l2: float = 0.0, n_unlabelled: int = 0,
                 lr: float = 5e-3, batch_size: int = 128, epochs: int = 100,
                 patience: int | None = None, eval_every: int = 1,
                 max_time: float | None = None, val_fraction: float = 0.1,
                 sampler: str = "permutation", n_permutations: int = 40, n_subsets: int = 10000,
                 min_size: int | None = None, max_size: int | None = None, step: int = 1,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True):
        if not isinstance(learner, _lbase.ConvexLearner):
            raise ValueError(f"learner must be a ConvexLearner, got {type(learner).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(regularize, bool):
            raise ValueError(f"regularize must be a bool, got {regularize!r}")
        if patience is not None:
            patience = _check_pos("patience", patience, integer=True)
        if max_time is not None:
            max_time = _check_pos("max_time", max_time)
        if not (isinstance(val_fraction, int | float) and 0 <= val_fraction < 1):
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
        if sampler not in ("permutation", "random"):
            raise ValueError(f"sampler must be 'permutation' or 'random', got {sampler!r}")
        self.learner = learner
        self.seed = int(seed)
        self.arch = {"width": _check_pos("width", width, integer=True),
                     "phi_depth": _check_pos("phi_depth", phi_depth, integer=True),
                     "rho_hidden": [int(h) for h in rho_hidden], "pooling": pooling,
                     "activation": activation}
        # Build a throwaway network now so that bad architecture arguments fail early.
        DeepSets(2, 1, **self.arch)
        self.train_params = {
            "regularize": regularize, "kappa": _check_pos("kappa", kappa, allow_zero=True),
            "utility": _check_pos("utility", utility, allow_zero=True),
            "weight_l1": _check_pos("weight_l1", weight_l1, allow_zero=True),
            "weight_l2": _check_pos("weight_l2", weight_l2, allow_zero=True),
            "n_unlabelled": _check_pos("n_unlabelled", n_unlabelled, allow_zero=True,
                                       integer=True),
            "lr": _check_pos("lr", lr), "batch_size": _check_pos("batch_size", batch_size,
                                                                 integer=True),
            "epochs": _check_pos("epochs", epochs, integer=True), "patience": patience,
            "eval_every": _check_pos("eval_every", eval_every, integer=True),
            "max_time": max_time, "val_fraction": float(val_fraction)}
        self.sampler_params = {
            "sampler": sampler, "n_permutations": _check_pos("n_permutations", n_permutations,
                                                             integer=True),
            "n_subsets": _check_pos("n_subsets", n_subsets, integer=True),
            "min_size": min_size, "max_size": max_size,
            "step": _check_pos("step", step, integer=True)}
        self.cache_dir = cache_dir
        self.progress = bool(progress)
        self.net_: DeepSets | None = None
        self._net64: DeepSets | None = None
        self.history_: list[dict] = []
        self.pairs_ = None
        self.meta_: dict = {}

    # ------------------------------------------------------------------ helpers
    def __repr__(self) -> str:
        state = "fitted" if self.net_ is not None else "unfitted"
        return (f"ModelPred({self.learner!r}, seed={self.seed}, "
                f"regularize={self.train_params['regularize']}, {state})")

    def _check_fitted(self):
        if self.net_ is None:
            raise RuntimeError("this ModelPred is not fitted yet: call fit(X, y) or load(path)")

    def _label_dim(self, y_enc: np.ndarray, K: int) -> int:
        if _is_regression(self.learner):
            return 1
        return K if K > 1 else 2

    def _encode(self, X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Validated (X, y_enc, Z = [x; e(y)], K); X float64 (n, d), Z (n, d + label_dim)."""
        X, y_enc, K = self.learner._prepare(X, y)
        if self.net_ is not None:
            if X.shape[1] != self.meta_["d"]:
                raise ValueError(f"X has {X.shape[1]} features but the model was trained with "
                                 f"d={self.meta_['d']}")
            if K != self.meta_["K"]:
                raise ValueError(f"y gives K={K} outputs but the model was trained with "
                                 f"K={self.meta_['K']} (pass n_classes to the learner)")
            label_dim = self.meta_["label_dim"]
        else:
            label_dim = self._label_dim(y_enc, K)
        return X, y_enc, encode_points(X, y_enc, label_dim), K

    def _net_eval(self) -> DeepSets:
        if self._net64 is None:
            self._net64 = copy.deepcopy(self.net_).to(torch.float64).eval()
        return self._net64

    # ------------------------------------------------------------------ training
    def fit(self, X, y, masks=None, thetas=None, groups=None, unlabelled=None):
        """Train on exact pairs (S, theta(S)) over the pool (X, y).

        Sum convention: the labels are theta(S) = argmin sum_{i in S} loss_i + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n), optional
            Training subsets. None: generate them with the sampler settings (and label them
            exactly, cached in ``cache_dir`` when given).
        thetas : ndarray of shape (k, p), optional
            Exact labels of ``masks``; None with masks given: label them here.
        groups : ndarray of shape (k,), optional
            Group of each row (e.g. permutation id); validation holds out whole groups.
            None with masks given: every row is its own group.
        unlabelled : ndarray of shape (k_u, n), optional
            Extra subsets WITHOUT labels, used only by the optimality residual R_opt (which
            needs none). None: draw ``n_unlabelled`` random subsets with the sizes of the
            training pairs (none by default).

        Returns
        -------
        self
        """
        self.net_, self._net64, self.meta_ = None, None, {}  # refitting starts afresh
        X, y_enc, Z, K = self._encode(X, y)
        n, d = X.shape
        p = K * (d + 1)
        if masks is None:
            if thetas is not None or groups is not None:
                raise ValueError("thetas/groups were given without masks")
            sp = self.sampler_params
            pairs = generate_pairs(self.learner, X, y, rng=self.seed, cache_dir=self.cache_dir,
                                   progress=self.progress, **sp)
            self.pairs_ = pairs
            M, T, G = pairs.masks, pairs.thetas, pairs.groups
        else:
            M = _subsets.check_masks(masks, n)
            k = M.shape[0]
            if thetas is None:
                T, _, _ = label_masks(self.learner, X, y, M, cache_dir=self.cache_dir,
                                      progress=self.progress)
            else:
                T = np.asarray(thetas, dtype=np.float64)
                if T.shape != (k, p):
                    raise ValueError(f"thetas must have shape ({k}, {p}) to match masks, "
                                     f"got {T.shape}")
                if not np.all(np.isfinite(T)):
                    raise ValueError("thetas contains NaN or inf")
            if groups is None:
                G = np.arange(k)
            else:
                G = np.asarray(groups)
                if G.shape != (k,):
                    raise ValueError(f"groups must have shape ({k},), got {G.shape}")
            self.pairs_ = None
        U = None
        if unlabelled is not None:
            U = _subsets.check_masks(unlabelled, n)
            self.learner._check_existence(U.astype(np.float64), y_enc, K, "unlabelled")
        elif self.train_params["n_unlabelled"] > 0:
            sizes = M.sum(1)
            U, _ = sample_masks(n, y_enc, sampler="random",
                                n_subsets=self.train_params["n_unlabelled"],
                                min_size=int(sizes.min()), max_size=int(sizes.max()),
                                require_all_classes=bool(self.learner._needs_all_classes()),
                                rng=self.seed + 1)
        self._train(X, y_enc, Z, K, M, T, G, U)
        self.meta_["pool_fingerprint"] = data_fingerprint(X, y)
        return self

    def _train(self, X, y_enc, Z, K, M, T, G, U):
        tp = self.train_params
        n, d = X.shape
        p = K * (d + 1)
        vf = tp["val_fraction"]
        if vf > 0 and np.unique(G).size >= 2:
            tr, va, _ = _subsets.split_by_group(G, (1.0 - vf, vf, 0.0), rng=self.seed)
        else:
            tr, va = np.arange(M.shape[0]), np.arange(0)
        gen = torch.Generator().manual_seed(self.seed)
        net = DeepSets(Z.shape[1], p, seed=gen, **self.arch)
        shift = T[tr].mean(0)
        std = T[tr].std(0)
        scale = np.maximum(std, _SCALE_FLOOR * max(std.max(), 1e-12))
        net.set_output_scaling(shift, scale)
        net.set_pool_scale(1.0 / n)
        self.meta_ = {"d": int(d), "K": int(K), "p": int(p), "label_dim": int(Z.shape[1] - d),
                      "n_pool": int(n), "n_train_pairs": int(tr.size), "n_val_pairs": int(va.size)}

        f32 = torch.float32
        Zt = torch.as_tensor(Z, dtype=f32)
        Wtr = torch.as_tensor(M[tr], dtype=f32)
        Ztr = torch.as_tensor((T[tr] - shift) / scale, dtype=f32)  # shape: (k_tr, p)
        Wva = torch.as_tensor(M[va], dtype=f32)
        Tva = T[va]
        use_reg = tp["regularize"]
        kappa = tp["kappa"] if use_reg else 0.0
        util = tp["utility"] if use_reg else 0.0
        wl1 = tp["weight_l1"] if use_reg else 0.0
        wl2 = tp["weight_l2"] if use_reg else 0.0
        lam = self.learner.lam

        Xt, yt = self.learner._tensors(X, y_enc)
        scale64 = torch.as_tensor(scale)
        sizes_tr = torch.as_tensor(M[tr].sum(1), dtype=torch.float64)
        if kappa > 0 or util > 0:
            # Average curvature C of the full pool at theta(pool) (penalty removed), used as a
            # fixed preconditioner (|S| C + lam I)^{-1} and to scale the utility gap.
            theta_full = self.learner.fit(X, y_enc).theta
            Hf = self.learner.hessian(theta_full, X, y_enc)
            pen = self.learner.penalty_vector(d, K).numpy()
            C = (Hf - lam * np.diag(pen)) / n
            C = 0.5 * (C + C.T)
            c, Q = np.linalg.eigh(C)
            c = np.maximum(c, _CURV_FLOOR * max(c.max(), 1e-300))
            Qt = torch.as_tensor(Q)
            ct = torch.as_tensor(c)
            # E[2 (F_S(theta + scale * z) - F_S(theta))] ~ sum_j H_jj scale_j^2 E[z_j^2] with
            # H_jj ~ |S| C_jj + lam P_j: the per-subset normaliser of the utility gap.
            u_a = float(np.sum(np.diag(C) * scale**2))
            u_b = float(lam * np.sum(pen * scale**2))
            W64 = torch.as_tensor(M[tr], dtype=torch.float64)
            with torch.no_grad():
                F_star = torch.cat([
                    self.learner.batch_objective(torch.as_tensor(T[tr][s:s + 2048]), Xt, yt,
                                                 W64[s:s + 2048], K)
                    for s in range(0, tr.size, 2048)])
        centred = net.pooling == "centred"
        if centred:
            with torch.no_grad():
                net.set_center(net.embed(Zt).mean(0))
        Wun, u_perm, u_ptr = None, None, 0
        if kappa > 0 and U is not None:
            Wun = torch.as_tensor(U, dtype=f32)
            u_perm = torch.randperm(Wun.shape[0], generator=gen)
        opt = torch.optim.Adam(net.parameters(), lr=tp["lr"])
        weights = [m.weight for m in net.modules() if isinstance(m, torch.nn.Linear)]
        bs = min(tp["batch_size"], tr.size)
        steps_per_epoch = math.ceil(tr.size / bs)
        total = tp["epochs"] * steps_per_epoch
        best = (math.inf, None, -1)
        self.history_ = []
        t0 = time.perf_counter()
        step = 0
        bad_evals = 0
        epochs = range(tp["epochs"])
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=tp["epochs"], desc="train ModelPred", unit="epoch")
        for epoch in epochs:
            net.train()
            perm = torch.randperm(tr.size, generator=gen)
            sums = {"loss": 0.0, "mse": 0.0, "r_opt": 0.0, "r_util": 0.0}
            frac = 0.0
            for b in range(steps_per_epoch):
                idx = perm[b * bs:(b + 1) * bs]
                frac = step / total
                if tp["max_time"] is not None:
                    frac = max(frac, (time.perf_counter() - t0) / tp["max_time"])
                lr = tp["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))
                for gparam in opt.param_groups:
                    gparam["lr"] = lr
                Wb = Wtr[idx]
                H = net.embed(Zt)  # shape: (n, width), phi once per pool
                center = H.mean(0) if centred else None  # shape: (width,)
                zhat = net.forward_masks(Wb, H, standardized=True, center=center)  # (b, p)
                mse = ((zhat - Ztr[idx]) ** 2).mean()
                loss = mse
                if kappa > 0 or util > 0:
                    th = (net.shift + net.scale * zhat).double()  # shape: (b, p)
                    W64b = Wb.double()
                    sz = sizes_tr[idx]
                    if kappa > 0:
                        th_o, W_o = th, W64b
                        if Wun is not None:  # R_opt needs no labels: add unlabelled subsets
                            if u_ptr + bs > Wun.shape[0]:
                                u_perm, u_ptr = torch.randperm(Wun.shape[0], generator=gen), 0
                            Wu = Wun[u_perm[u_ptr:u_ptr + bs]]
                            u_ptr += bs
                            zu = net.forward_masks(Wu, H, standardized=True, center=center)
                            th_o = torch.cat([th, (net.shift + net.scale * zu).double()])
                            W_o = torch.cat([W64b, Wu.double()])
                        sz_o = W_o.sum(1)
                        g = self.learner.batch_grad(th_o, Xt, yt, W_o, K)  # shape: (b', p)
                        r = ((g @ Qt) / (sz_o[:, None] * ct + lam)) @ Qt.T  # ~ theta_hat - theta
                        r_opt = ((r / scale64) ** 2).mean()
                        loss = loss + kappa * r_opt.to(loss.dtype)
                        sums["r_opt"] += r_opt.item()
                    if util > 0:
                        F_hat = self.learner.batch_objective(th, Xt, yt, W64b, K)
                        r_util = (2.0 * (F_hat - F_star[idx]) / (sz * u_a + u_b)).mean()
                        loss = loss + util * r_util.to(loss.dtype)
                        sums["r_util"] += r_util.item()
                if wl1 > 0:
                    loss = loss + wl1 * sum(w.abs().sum() for w in weights)
                if wl2 > 0:
                    loss = loss + wl2 * sum((w**2).sum() for w in weights)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if centred:  # the reference follows phi (one step behind; exact at evaluation)
                    net.set_center(center)
                step += 1
                sums["loss"] += loss.item()
                sums["mse"] += mse.item()
                if tp["max_time"] is not None and time.perf_counter() - t0 >= tp["max_time"]:
                    break
            out_of_time = (tp["max_time"] is not None
                           and time.perf_counter() - t0 >= tp["max_time"])
            last = epoch == tp["epochs"] - 1 or out_of_time
            if (epoch + 1) % tp["eval_every"] == 0 or last:
                rec = {"epoch": epoch + 1, "time": time.perf_counter() - t0, "lr": lr,
                       **{k: v / steps_per_epoch for k, v in sums.items()}}
                if centred:
                    with torch.no_grad():
                        net.set_center(net.embed(Zt).mean(0))
                if va.size:
                    net.eval()
                    with torch.no_grad():
                        pred = net.forward_masks(Wva, net.embed(Zt)).double().numpy()
                    err = relative_error(pred, Tva)
                    rec["val_rel_err_mean"] = float(err.mean())
                    rec["val_rel_err_median"] = float(np.median(err))
                    score = rec["val_rel_err_mean"]
                else:
                    score = rec["loss"]
                self.history_.append(rec)
                if score < best[0]:
                    best = (score, copy.deepcopy(net.state_dict()), epoch + 1)
                    bad_evals = 0
                else:
                    bad_evals += 1
                if bar is not None:
                    bar.set_postfix(val=f"{score:.4f}")
            if bar is not None:
                bar.update(1)
            if out_of_time or (tp["patience"] is not None and bad_evals >= tp["patience"]):
                break
        if bar is not None:
            bar.close()
        if best[1] is not None:
            net.load_state_dict(best[1])
        net.eval()
        self.net_ = net
        self._net64 = None
        self.meta_.update({"best_epoch": int(best[2]), "best_val_score": float(best[0]),
                           "train_time_s": time.perf_counter() - t0, "steps": int(step)})

    # ------------------------------------------------------------------ prediction
    def predict(self, X, y, masks, *, correct: bool = False, newton_steps: int | None = None,
                tol: float = 1e-13, return_info: bool = False):
        """Predicted theta(S) for subsets of the pool (X, y), optionally corrected to exact.

        Sum convention: theta(S) = argmin sum_{i in S} w_i loss_i + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            The pool (any pool with the training feature dimension d).
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Boolean masks (or non-negative weights: weighted sum pooling).
        correct : bool, default=False
            Predict-then-correct: use the prediction as the warm start of exact Newton steps
            (``learner.fit_subsets(X, y, masks, theta0=prediction)``).
        newton_steps : int, optional
            At most this many Newton steps (default: the learner's max_iter, i.e. to
            convergence).
        tol : float, default=1e-13
            Relative gradient tolerance of the correction (the learner's stopping rule:
            ||grad F_S|| <= tol * max(1, ||grad F_S(0)||)).
        return_info : bool
            Also return a dict (time, and with ``correct``: grad_norms, n_iter, converged).

        Returns
        -------
        thetas : ndarray of shape (k, p), float64
        info : dict, only with ``return_info``
        """
        self._check_fitted()
        if newton_steps is not None:
            newton_steps = _check_pos("newton_steps", newton_steps, integer=True)
        if not (isinstance(tol, float) and 0 < tol < 1):
            raise ValueError(f"tol must be a float in (0, 1), got {tol!r}")
        X, y_enc, Z, K = self._encode(X, y)
        W = check_weight_matrix(masks, X.shape[0])
        if correct:
            self.learner._check_existence(W, y_enc, K, "masks")
        t0 = time.perf_counter()
        net = self._net_eval()
        with torch.no_grad():
            H = net.embed(torch.as_tensor(Z))  # shape: (n, width)
            out = np.concatenate([
                net.forward_masks(torch.as_tensor(W[s:s + _PREDICT_CHUNK]), H).numpy()
                for s in range(0, W.shape[0], _PREDICT_CHUNK)])
            out = self.learner._fix_gauge(torch.as_tensor(out), X.shape[1], K).numpy()
        info = {"predict_time_s": time.perf_counter() - t0}
        if correct:
            params = {**self.learner.get_params(), "tol": tol}
            if newton_steps is not None:
                params["max_iter"] = newton_steps
            solver = type(self.learner)(**params)
            t1 = time.perf_counter()
            res = solver.fit_subsets(X, y, W, theta0=out, return_info=True)
            info.update({"correct_time_s": time.perf_counter() - t1,
                         "grad_norms": res.grad_norms, "n_iter": res.n_iter,
                         "converged": res.converged})
            out = res.thetas
        return (out, info) if return_info else out

    def predict_sets(self, sets) -> np.ndarray:
        """Predicted theta(S) for sets of NEW points, [(X_1, y_1), ..., (X_k, y_k)].

        Sum convention as in :meth:`predict`. Ragged sets are zero-padded with a mask (the
        output does not depend on the padding).

        Parameters
        ----------
        sets : sequence of k pairs (X_i of shape (m_i, d), y_i of shape (m_i,)), m_i >= 1

        Returns
        -------
        ndarray of shape (k, p), float64
        """
        self._check_fitted()
        if isinstance(sets, tuple) and len(sets) == 2 and np.ndim(sets[0]) == 2:
            raise ValueError("sets must be a list of (X_i, y_i) pairs; wrap a single set in a list")
        if not isinstance(sets, list | tuple) or len(sets) == 0:
            raise ValueError("sets must be a non-empty list of (X_i, y_i) pairs")
        enc = []
        for i, item in enumerate(sets):
            if not (isinstance(item, list | tuple) and len(item) == 2):
                raise ValueError(f"sets[{i}] must be a pair (X_i, y_i)")
            try:
                _, _, Zi, _ = self._encode(check_X(item[0], name=f"sets[{i}] X"), item[1])
            except ValueError as exc:
                raise ValueError(f"sets[{i}]: {exc}") from exc
            enc.append(Zi)
        Zp, mask = pad_sets(enc)
        net = self._net_eval()
        with torch.no_grad():
            out = net.forward_padded(torch.as_tensor(Zp), torch.as_tensor(mask))
            d, K = self.meta_["d"], self.meta_["K"]
            out = self.learner._fix_gauge(out, d, K)
        return out.numpy()

    # ------------------------------------------------------------------ persistence
    def get_config(self) -> dict:
        """JSON-able configuration: learner, architecture, training and sampler settings."""
        return {"format": _FORMAT, "version": _FORMAT_VERSION,
                "learner": learner_spec(self.learner), "lam": self.learner.lam,
                "seed": self.seed, "arch": self.arch, "train_params": self.train_params,
                "sampler_params": self.sampler_params, "meta": self.meta_,
                "history": self.history_}

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/config.json`` and ``path/weights.pt`` (a folder; created if needed)."""
        self._check_fitted()
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"path must be a folder (it is a file): {path}")
        path.mkdir(parents=True, exist_ok=True)
        cfg = self.get_config()
        cfg["network"] = self.net_.config
        (path / "config.json").write_text(json.dumps(cfg, indent=1, default=float))
        torch.save(self.net_.state_dict(), path / "weights.pt")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelPred:
        """Rebuild a saved ModelPred (learner included) from ``path``; predictions are identical."""
        path = Path(path)
        cfg_file, w_file = path / "config.json", path / "weights.pt"
        if not (cfg_file.is_file() and w_file.is_file()):
            raise ValueError(f"path {path} holds no saved ModelPred (config.json + weights.pt)")
        cfg = json.loads(cfg_file.read_text())
        if cfg.get("format") != _FORMAT:
            raise ValueError(f"{cfg_file} is not a ModelPred config")
        learner = _learner_class(cfg["learner"]["class"])(**cfg["learner"]["params"])
        tp = dict(cfg["train_params"])
        model = cls(learner, seed=cfg["seed"], **cfg["arch"], **tp, **cfg["sampler_params"],
                    progress=False)
        net_cfg = dict(cfg["network"])
        net = DeepSets(net_cfg.pop("in_dim"), net_cfg.pop("out_dim"), **net_cfg)
        net.load_state_dict(torch.load(w_file, weights_only=True))
        net.eval()
        model.net_ = net
        model.meta_ = cfg["meta"]
        model.history_ = cfg["history"]
        return model
