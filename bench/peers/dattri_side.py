"""dattri's side of the attribution comparison; runs in its own environment (.venv-dattri).

Reads the problems exported by ``dattri_ours.py export`` (numpy only: X, y, the fitted theta in the
(K, d+1) row layout [w_k, b_k], lam, the held-out subsets and their exact outputs) and runs
dattri 0.3.0 as a client on the SAME fitted model:

* ``IFAttributorExplicit`` with the settings under which its explicit influence is the exact
  influence of our sum objective F(theta) = sum_i CE_i(theta) + lam/2 ||P theta||^2: the
  Hessian cached from ONE batch holding the whole pool (with several batches it would add the
  inverses of each batch's Hessian), float64 as torch's default dtype (else its scores are
  float32), the penalty put inside the loss as (lam/2) ||P (theta - theta_hat)||^2 (its
  gradient vanishes at the fit, its Hessian is lam P, the intercept stays unpenalised) and
  ``regularization=0`` (dattri's regularization adds r I to every parameter, the bias included);
* ``TRAKAttributor`` with TRAK's output f = log(p / (1 - p)) as the train function, our test
  output as the target, ``regularization = lam / p`` (so that its kernel, built from gradients
  divided by sqrt(p), carries the damping lam in our scale) and every projector key passed
  (it updates its module's default dict in place); once with the identity projector and once
  with a seeded normal projection, whose matrix is read back by projecting the identity, so our
  TRAK can be run with the very same projection;
* ``dattri.metric.lds`` on our exact ground truth, for its scores and for ours.

Writes DIR/dattri.npz (score matrices, the projection, dattri's LDS per test point) and
DIR/dattri.json (timings, versions). ``make bench-dattri`` runs the three steps.

    .venv-dattri/bin/python bench/peers/dattri_side.py --data DIR
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.set_default_dtype(torch.float64)
os.environ.setdefault("TQDM_DISABLE", "1")  # dattri's progress bars would swamp the JSON


class Linear(nn.Module):
    """z = [x, 1] theta^T with theta (K, d+1): the parameter layout of the exported fit."""

    def __init__(self, theta: np.ndarray):
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).clone())

    def forward(self, x):
        x = x.reshape(-1, self.theta.shape[1] - 1)
        xa = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
        return xa @ self.theta.T  # shape: (b, K)


def _functions(model, theta_hat, lam, pen_mask, binary):
    """Loss (sum over the batch, penalty inside), TRAK's f, the test margin, p(correct)."""
    theta_hat = torch.as_tensor(theta_hat)
    pen = torch.as_tensor(pen_mask)

    def logits(params, x):
        return torch.func.functional_call(model, params, (x,))

    def ce(z, y):  # per example cross-entropy, shape (b,)
        y = y.reshape(-1)
        if binary:
            return nn.functional.softplus(z[:, 0]) - y * z[:, 0]
        return nn.functional.cross_entropy(z, y.long(), reduction="none")

    def loss(params, data):
        x, y = data
        d = params["theta"] - theta_hat
        return ce(logits(params, x), y).sum() + 0.5 * lam * (pen * d * d).sum()

    def trak_output(params, data):  # log(p / (1 - p)), p = probability of the right label
        x, y = data
        logp = -ce(logits(params, x), y).sum()
        return logp - torch.log1p(-torch.exp(logp))

    def margin(params, data):  # the exported test output (attribution.outputs "margin")
        x, y = data
        z = logits(params, x)
        y = y.reshape(-1).long()
        if binary:
            return (z[:, 0] * (2.0 * y - 1.0)).sum()
        true = z.gather(1, y[:, None])[:, 0]
        is_true = torch.arange(z.shape[1])[None, :] == y[:, None]  # no one_hot under vmap
        other = z.masked_fill(is_true, -torch.inf)
        return (true - other.max(dim=1).values).sum()

    def p_correct(params, data):
        x, y = data
        return torch.exp(-ce(logits(params, x), y).sum())

    return loss, trak_output, margin, p_correct


def run_problem(z: dict, name: str) -> dict:
    from dattri.algorithm.influence_function import IFAttributorExplicit
    from dattri.algorithm.trak import TRAKAttributor
    from dattri.func.projection import random_project
    from dattri.metric import lds
    from dattri.task import AttributionTask

    X, y = torch.as_tensor(z[f"{name}_X"]), torch.as_tensor(z[f"{name}_y"])
    Xt, yt = torch.as_tensor(z[f"{name}_X_test"]), torch.as_tensor(z[f"{name}_y_test"])
    theta = z[f"{name}_theta"]
    lam, binary = float(z[f"{name}_lam"]), bool(z[f"{name}_binary"])
    proj_dim = int(z[f"{name}_proj_dim"])
    model = Linear(theta)
    p = theta.size
    loss, trak_out, margin, p_correct = _functions(model, theta, lam, z[f"{name}_pen_mask"],
                                                   binary)
    n, m = X.shape[0], Xt.shape[0]
    train = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=False)
    full = DataLoader(TensorDataset(X, y), batch_size=n, shuffle=False)  # ONE Hessian batch
    test = DataLoader(TensorDataset(Xt, yt), batch_size=m, shuffle=False)
    out, info = {}, {}

    task = AttributionTask(loss_func=loss, model=model, checkpoints=model.state_dict(),
                           target_func=margin)
    t0 = time.perf_counter()
    att = IFAttributorExplicit(task=task, regularization=0.0)
    att.cache(full)
    out["if_explicit"] = att.attribute(train, test).detach().numpy()
    info["if_explicit_seconds"] = time.perf_counter() - t0

    trak_task = AttributionTask(loss_func=trak_out, model=model,
                                checkpoints=model.state_dict(), target_func=margin)
    for proj_type, k in (("identity", p), ("normal", proj_dim)):
        kwargs = {"proj_dim": k, "proj_max_batch_size": 32, "proj_seed": 0, "device": "cpu",
                  "proj_type": proj_type}
        t0 = time.perf_counter()
        att = TRAKAttributor(task=trak_task, correct_probability_func=p_correct,
                             projector_kwargs=dict(kwargs), device="cpu",
                             regularization=lam / p)
        att.cache(train)
        out[f"trak_{proj_type}"] = att.attribute(test).detach().numpy()
        info[f"trak_{proj_type}_seconds"] = time.perf_counter() - t0
        if proj_type == "normal":  # the matrix TRAK applied (1/sqrt(k) included)
            eye = torch.eye(p)
            proj = random_project(eye, p, **kwargs)(eye, ensemble_id=0)
            out["projection"] = proj.detach().numpy()

    masks = z[f"{name}_masks"]
    idx = torch.as_tensor(np.stack([np.flatnonzero(r) for r in masks]))
    gt = (torch.as_tensor(z[f"{name}_truth_outputs"]), idx)
    for key, S in (("if_explicit", -out["if_explicit"]), ("trak_identity", out["trak_identity"]),
                   ("trak_normal", out["trak_normal"]),
                   ("ours_influence", z[f"{name}_ours_influence"]),
                   ("ours_trak", z[f"{name}_ours_trak"])):
        out[f"lds_{key}"] = lds(torch.as_tensor(S), gt)[0].numpy()
    return {f"{name}_{k}": v for k, v in out.items()}, {f"{name}_{k}": v for k, v in info.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder written by export")
    args = ap.parse_args(argv)
    from importlib.metadata import version

    torch.set_num_threads(1)
    z = dict(np.load(args.data / "problem.npz"))
    arrays, info = {}, {"dattri": version("dattri"), "torch": torch.__version__}
    for name in [str(s) for s in z["problems"]]:
        a, i = run_problem(z, name)
        arrays.update(a)
        info.update(i)
    np.savez(args.data / "dattri.npz", **arrays)
    (args.data / "dattri.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info))
    return info


if __name__ == "__main__":
    main()
