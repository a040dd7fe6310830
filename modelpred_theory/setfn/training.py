"""The training loop of ModelPred: a DeepSets fitted to (gated) residuals over a classical base.

Sum convention (docs/design.md): labels are theta(S) = argmin sum_{i in S} w_i loss_i(theta) +
lam/2 ||P theta||^2 (C = 1/lam). The network g predicts, per subset, the standardised target

    z(S) = (r(S) / s(S) - shift) / scale,   r(S) = theta(S) - base(S),

with s(S) the gate's order factor (t with a base, 1 for the raw model; see
``bases.ResidualGate``), so the prediction is theta_hat(S) = base(S) + s(S) (shift + scale z).

Loss (``regularize=False``: plain MSE, the paper's "PARA" ablation):

    L = MSE_z + kappa * R_opt + utility * R_util + weight_l1 * ||W||_1 + weight_l2 * ||W||_2^2

* R_opt: the learner's gradient g = grad F_S(theta_hat) at the FINAL prediction (zero exactly at
  theta(S); needs no label), turned into parameter units by the fixed preconditioner
  (|S| C + lam I)^{-1}, C the average pool curvature at theta(pool): r ~ theta_hat - theta(S),
  R_opt = mean((r / (s scale))^2), on the scale of MSE_z. Also evaluated on unlabelled subsets.
* R_util: the objective gap F_S(theta_hat) - F_S(theta(S)) >= 0, normalised likewise.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from .. import subsets as _subsets
from .architectures import make_network

__all__ = ["relative_error", "train_network"]

# Floor of the per-coordinate target scale, relative to the largest one. Reason: coordinates
# that never move (e.g. weights of an all-zero feature) must not blow up the standardisation.
SCALE_FLOOR = 1e-3
# Floor of the preconditioner's curvature eigenvalues, relative to the largest. Reason: lam = 0
# (ridge) or flat directions must not make (|S| C + lam I) singular.
CURV_FLOOR = 1e-6
# Chunk of subsets per objective evaluation (memory bound only).
_CHUNK = 2048


def relative_error(thetas_hat, thetas) -> np.ndarray:
    """||theta_hat - theta||_2 / ||theta||_2 per row: (k, p), (k, p) -> (k,)."""
    a = np.asarray(thetas_hat, dtype=np.float64)
    b = np.asarray(thetas, dtype=np.float64)
    return np.linalg.norm(a - b, axis=-1) / np.maximum(np.linalg.norm(b, axis=-1), 1e-300)


class _Regularisers:
    """R_opt and R_util of a batch, from the learner's own gradient and objective (float64)."""

    def __init__(self, learner, X, y_enc, K, scale, M_tr, T_tr, dev):
        n, d = X.shape
        lam = learner.lam
        self.learner, self.K, self.lam = learner, K, lam
        self.Xt, self.yt = learner.tensors(X, y_enc, device=dev)
        theta_full = learner.fit(X, y_enc).theta
        Hf = learner.hessian(theta_full, X, y_enc)
        pen = learner.penalty_vector(d, K).numpy()
        C = (Hf - lam * np.diag(pen)) / n
        C = 0.5 * (C + C.T)
        c, Q = np.linalg.eigh(C)
        c = np.maximum(c, CURV_FLOOR * max(c.max(), 1e-300))
        self.Q, self.c = torch.as_tensor(Q, device=dev), torch.as_tensor(c, device=dev)
        self.scale = torch.as_tensor(scale, device=dev)  # shape: (p,)
        # E[2 (F_S(theta + scale z) - F_S(theta))] ~ sum_j H_jj scale_j^2 E[z_j^2] with
        # H_jj ~ |S| C_jj + lam P_j: the per-subset normaliser of the utility gap.
        self.u_a = float(np.sum(np.diag(C) * scale**2))
        self.u_b = float(lam * np.sum(pen * scale**2))
        W64 = torch.as_tensor(M_tr, dtype=torch.float64, device=dev)
        with torch.no_grad():
            self.F_star = torch.cat([
                learner.batch_objective(torch.as_tensor(T_tr[s:s + _CHUNK], device=dev), self.Xt,
                                        self.yt, W64[s:s + _CHUNK], K)
                for s in range(0, len(T_tr), _CHUNK)]) if len(T_tr) else torch.zeros(0)

    def r_opt(self, th, W, s):
        """mean(((|S| C + lam)^{-1} grad F_S(th) / (s scale))^2) for th (b, p), W (b, n)."""
        g = self.learner.batch_grad(th, self.Xt, self.yt, W, self.K)  # shape: (b, p)
        sz = W.sum(1)
        r = ((g @ self.Q) / (sz[:, None] * self.c + self.lam)) @ self.Q.T  # ~ th - theta(S)
        return ((r / (s[:, None] * self.scale)) ** 2).mean()

    def r_util(self, th, W, s, idx):
        F_hat = self.learner.batch_objective(th, self.Xt, self.yt, W, self.K)
        norm = (W.sum(1) * self.u_a + self.u_b) * s**2
        return (2.0 * (F_hat - self.F_star[idx]) / norm).mean()


def _targets(T, B, S, tr):
    """Standardised targets z, with shift/scale from the training rows: (k_tr, p)."""
    R = (T[tr] - B[tr]) / S[tr, None]  # shape: (k_tr, p)
    shift = R.mean(0)
    std = R.std(0)
    scale = np.maximum(std, SCALE_FLOOR * max(std.max(), 1e-300))
    return (R - shift) / scale, shift, scale


def _lr_at(tp, step, total, t0):
    frac = step / total
    if tp["max_time"] is not None:
        frac = max(frac, (time.perf_counter() - t0) / tp["max_time"])
    return tp["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))


class _Batches:
    """Labelled minibatches and a cycling stream of unlabelled subsets (for R_opt)."""

    def __init__(self, Wtr, Ztr, Btr, Str, U, BU, SU, bs, gen):
        self.Wtr, self.Ztr, self.Btr, self.Str = Wtr, Ztr, Btr, Str
        self.U, self.BU, self.SU = U, BU, SU
        self.bs, self.gen = bs, gen
        self.u_perm = torch.randperm(U.shape[0], generator=gen) if U is not None else None
        self.u_ptr = 0

    def unlabelled(self):
        if self.u_ptr + self.bs > self.U.shape[0]:
            self.u_perm, self.u_ptr = torch.randperm(self.U.shape[0], generator=self.gen), 0
        idx = self.u_perm[self.u_ptr:self.u_ptr + self.bs]
        self.u_ptr += self.bs
        return self.U[idx], self.BU[idx], self.SU[idx]


def _step_loss(net, H, center, batch, idx, reg, w):
    """Loss of one minibatch and its terms (dict of floats)."""
    Wb = batch.Wtr[idx]
    zhat = net.forward_masks(Wb, H, standardized=True, center=center)  # shape: (b, p)
    mse = ((zhat - batch.Ztr[idx]) ** 2).mean()
    loss, terms = mse, {"mse": mse.item()}
    if w["kappa"] > 0 or w["util"] > 0:
        s = batch.Str[idx]
        th = batch.Btr[idx] + s[:, None] * (net.shift + net.scale * zhat).double()  # (b, p)
        W64 = Wb.double()
        if w["kappa"] > 0:
            th_o, W_o, s_o = th, W64, s
            if batch.U is not None:  # R_opt needs no labels: add unlabelled subsets
                Wu, Bu, su = batch.unlabelled()
                zu = net.forward_masks(Wu, H, standardized=True, center=center)
                thu = Bu + su[:, None] * (net.shift + net.scale * zu).double()
                th_o, W_o, s_o = (torch.cat([th, thu]), torch.cat([W64, Wu.double()]),
                                  torch.cat([s, su]))
            r_opt = reg.r_opt(th_o, W_o, s_o)
            loss = loss + w["kappa"] * r_opt.to(loss.dtype)
            terms["r_opt"] = r_opt.item()
        if w["util"] > 0:
            r_util = reg.r_util(th, W64, s, idx)
            loss = loss + w["util"] * r_util.to(loss.dtype)
            terms["r_util"] = r_util.item()
    if w["l1"] > 0:
        loss = loss + w["l1"] * sum(m.weight.abs().sum() for m in w["linears"])
    if w["l2"] > 0:
        loss = loss + w["l2"] * sum((m.weight**2).sum() for m in w["linears"])
    terms["loss"] = loss.item()
    return loss, terms


def _evaluate(net, Zt, Wva, Bva, Sva, Tva):
    net.eval()
    with torch.no_grad():
        out = net.forward_masks(Wva, net.embed(Zt)).double().cpu().numpy()
    err = relative_error(Bva + Sva[:, None] * out, Tva)
    return float(err.mean()), float(np.median(err))


def _weights(tp, net):
    on = tp["regularize"]
    return {"kappa": tp["kappa"] if on else 0.0, "util": tp["utility"] if on else 0.0,
            "l1": tp["weight_l1"] if on else 0.0, "l2": tp["weight_l2"] if on else 0.0,
            "linears": [m for m in net.modules() if isinstance(m, torch.nn.Linear)]}


def split_pairs(G, val_fraction: float, seed: int):
    """Train / validation rows, by whole groups (permutations)."""
    if val_fraction > 0 and np.unique(G).size >= 2:
        tr, va, _ = _subsets.split_by_group(G, (1.0 - val_fraction, val_fraction, 0.0), rng=seed)
        return tr, va
    return np.arange(len(G)), np.arange(0)


def train_network(model, X, y_enc, Z, K, M, T, B, S, tr, va, U=None, BU=None, SU=None):
    """Fit the network of ``model`` (a ModelPred; DeepSets or SetTransformer) to the gated
    residual targets.

    Parameters
    ----------
    X : ndarray of shape (n, d); y_enc : ndarray of shape (n,); Z : ndarray (n, d + label_dim)
    M : ndarray of shape (k, n)  masks; T : ndarray (k, p) exact labels theta(S)
    B : ndarray of shape (k, p)  base(S); S : ndarray (k,) the gate's order factor s(S) > 0
    tr, va : int arrays, training and validation rows
    U, BU, SU : unlabelled masks (k_u, n), their base (k_u, p) and factors (k_u,), or None

    Returns
    -------
    net : DeepSets or SetTransformer (float32, on the CPU, eval mode, best validation state
        restored)
    history : list of dict
    info : dict (best_epoch, best_val_score, train_time_s, steps)
    """
    tp = model.train_params
    dev = model._device
    gen = torch.Generator().manual_seed(model.seed)  # CPU generator: same draws on any device
    p = T.shape[1]
    net = make_network(Z.shape[1], p, seed=gen, **model.arch)
    Ztr_np, shift, scale = _targets(T, B, S, tr)
    net.set_output_scaling(shift, scale)
    net.set_pool_scale(1.0 / X.shape[0])
    net = net.to(dev)
    w = _weights(tp, net)
    reg = None
    if w["kappa"] > 0 or w["util"] > 0:
        reg = _Regularisers(model.learner, X, y_enc, K, scale, M[tr], T[tr], dev)
    f32 = torch.float32

    def on(a, dtype=None):
        return None if a is None else torch.as_tensor(a, dtype=dtype, device=dev)

    Zt = on(Z, f32)
    use_u = w["kappa"] > 0 and U is not None
    batch = _Batches(on(M[tr], f32), on(Ztr_np, f32), on(B[tr]), on(S[tr]),
                     on(U, f32) if use_u else None, on(BU) if use_u else None,
                     on(SU) if use_u else None, min(tp["batch_size"], tr.size), gen)
    centred = net.pooling == "centred"
    if centred:
        with torch.no_grad():
            net.set_center(net.embed(Zt).mean(0))
    val = (on(M[va], f32), B[va], S[va], T[va])
    net, history, info = _loop(model, net, Zt, batch, reg, w, val, centred)
    return net.to("cpu"), history, info


def _loop(model, net, Zt, batch, reg, w, val, centred):
    tp = model.train_params
    opt = torch.optim.Adam(net.parameters(), lr=tp["lr"], fused=True)
    k_tr = batch.Wtr.shape[0]
    steps_per_epoch = math.ceil(k_tr / batch.bs)
    total = tp["epochs"] * steps_per_epoch
    best, history, bad, step, lr = (math.inf, None, -1), [], 0, 0, tp["lr"]
    t0 = time.perf_counter()
    bar = None
    if model.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=tp["epochs"], desc="train ModelPred", unit="epoch")
    for epoch in range(tp["epochs"]):
        net.train()
        perm = torch.randperm(k_tr, generator=batch.gen)
        sums = {"loss": 0.0, "mse": 0.0, "r_opt": 0.0, "r_util": 0.0}
        for b in range(steps_per_epoch):
            lr = _lr_at(tp, step, total, t0)
            for group in opt.param_groups:
                group["lr"] = lr
            H = net.embed(Zt)  # shape: (n, width), phi once per pool
            center = H.mean(0) if centred else None  # shape: (width,)
            loss, terms = _step_loss(net, H, center, batch, perm[b * batch.bs:(b + 1) * batch.bs],
                                     reg, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if centred:  # the reference follows phi (one step behind; exact at evaluation)
                net.set_center(center)
            step += 1
            for key, v in terms.items():
                sums[key] += v
            if tp["max_time"] is not None and time.perf_counter() - t0 >= tp["max_time"]:
                break
        out_of_time = tp["max_time"] is not None and time.perf_counter() - t0 >= tp["max_time"]
        if (epoch + 1) % tp["eval_every"] == 0 or epoch == tp["epochs"] - 1 or out_of_time:
            rec = {"epoch": epoch + 1, "time": time.perf_counter() - t0, "lr": lr,
                   **{key: v / steps_per_epoch for key, v in sums.items()}}
            if centred:
                with torch.no_grad():
                    net.set_center(net.embed(Zt).mean(0))
            if val[0].shape[0]:
                rec["val_rel_err_mean"], rec["val_rel_err_median"] = _evaluate(net, Zt, *val)
                score = rec["val_rel_err_mean"]
            else:
                score = rec["loss"]
            history.append(rec)
            if score < best[0]:
                best, bad = (score, copy.deepcopy(net.state_dict()), epoch + 1), 0
            else:
                bad += 1
            if bar is not None:
                bar.set_postfix(val=f"{score:.4f}")
        if bar is not None:
            bar.update(1)
        if out_of_time or (tp["patience"] is not None and bad >= tp["patience"]):
            break
    if bar is not None:
        bar.close()
    if best[1] is not None:
        net.load_state_dict(best[1])
    net.eval()
    info = {"best_epoch": int(best[2]), "best_val_score": float(best[0]),
            "train_time_s": time.perf_counter() - t0, "steps": int(step)}
    return net, history, info
