"""ModelPred: a DeepSets trained on exact pairs (S, theta(S)), optionally over a classical base.

Everything here concerns parameters of a convex learner under the SUM convention
(docs/design.md):

    theta(S) = argmin_theta F_S(theta),
    F_S(theta) = sum_{i in S} w_i loss(theta; x_i, y_i) + (lam / 2) ||P theta||^2,   C = 1 / lam,

with theta = [w, b] (or the (K, d+1) matrix of rows [w_k, b_k] flattened row by row).

The prediction is theta_hat(S) = base(S) + gate(S) g(S): ``base`` is a classical
approximation from the pool fit (``"newton"``: one exact Newton step, ``"influence"``: first-
order group influence, ``None``: nothing, the paper's method), g the DeepSets trained on the
standardised residual theta(S) - base(S), and gate(S) = alpha(t) t (t = 1 - |S|/n) makes the
correction vanish on the pool, where the bases are exact, and fall back to the base in any size
range where it did not help on held-out pairs (``bases.ResidualGate``). The training loss and
its regularisers are described in ``setfn.training``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from ..learners import base as _lbase
from ..learners.tensors import resolve_device
from ..learners.validation import check_weight_matrix
from ._settings import auto_rho, build_settings, check_pos, learner_from_spec
from .architectures import arch_settings, make_network
from .bases import ResidualGate, make_base
from .engine import check_n_jobs
from .evaluation import NetworkEvaluation
from .fit_inputs import labelled_pairs, unlabelled_masks
from .network import DeepSets, encode_points
from .new_sets import predict_new_sets
from .pairs import data_fingerprint, learner_spec
from .persistence import FORMAT, FORMAT_VERSION, load_model, save_model
from .set_transformer import SetTransformer
from .training import relative_error, split_pairs, train_network

__all__ = ["PAPER_SETTINGS", "ModelPred", "relative_error", "learner_from_spec"]

# The published method's training settings (Zeng et al., SaTML 2023): no base, sum pooling,
# Adam with lr 1e-4, batch 32, 15 epochs, L = MSE + R_opt + R_util + 0.01 (L1 + L2 of the
# weights), rho 128-128-64.
PAPER_SETTINGS = {"base": None, "pooling": "sum", "lr": 1e-4, "batch_size": 32, "epochs": 15,
                  "kappa": 1.0, "utility": 1.0, "weight_l1": 0.01, "weight_l2": 0.01,
                  "rho_hidden": (128, 128, 64)}

# The base counts as exact on the training pairs when max |theta - base| is below this times
# max |theta|. Reason: labels are exact to a relative gradient residual of ~1e-10 only.
_EXACT_BASE = 1e-9


def _is_regression(learner) -> bool:
    from ..learners import Ridge

    return isinstance(learner, Ridge)


class ModelPred(NetworkEvaluation):
    """Learned set function S -> theta(S) for a convex learner, over a classical base.

    Parameters follow the SUM convention: F_S(theta) = sum_{i in S} loss_i(theta) +
    lam/2 ||P theta||^2 (C = 1/lam), theta = [w, b] or (K, d+1) flattened row-wise.

    Parameters
    ----------
    learner : ConvexLearner
        Its exact solver labels the pairs, its gradient and objective drive the regularisers.
    seed : int, default=0
        Seeds the pair sampler (numpy) and a LOCAL torch.Generator; no global RNG is touched.
    base : {"newton", "influence", None}, default="newton"
        The classical approximation the network corrects (``setfn.bases``). "newton" (one exact
        Newton step from the pool fit) is the default because it is the most accurate base and
        the hybrid over it was the most accurate predictor measured (breast_cancer, ``modelpred
        demo``: below the Newton step, the influence hybrid and no base; the figures are in the
        demo's JSON and README's results). Its batched Hessians cost O(|S| p^2 + p^3) per subset,
        about an exact fit's first iteration, so where prediction speed matters more than
        accuracy (large p) pass "influence" (one GEMM for all subsets). None is the
        paper's method (predict theta(S) directly); ``PAPER_SETTINGS`` uses it.
    arch : {"deepsets", "set_transformer"}, default="deepsets"
        The set function g: :class:`DeepSets` (one sum pooling) or :class:`SetTransformer`
        (ISAB attention rounds and PMA pooling, Lee et al. 2019; THEORY.md section 12 proves
        what the attention rounds represent that one sum pooling cannot). Recorded by ``save``.
    width, phi_depth, rho_hidden, pooling, activation
        Architecture (:class:`DeepSets`; for the set transformer: model width, row-wise
        encoder depth, rho and activation). ``pooling`` (DeepSets only; None: "centred").
        ``rho_hidden="auto"`` (default) uses
        (width, width, r) with r the numerical rank of the centred training targets (at least
        64): a last hidden layer of width r confines predictions to an r-dimensional affine
        subspace, so r must not be below the targets' rank.
    heads, inducing, blocks : int or None
        Set transformer only (None: 4 heads, 16 inducing points, 2 ISAB blocks).
    regularize : bool, default=True
        False gives the "PARA" ablation: plain MSE (kappa, utility and weight penalties ignored).
    kappa : float, default=1.0
        Weight of the preconditioned optimality residual R_opt at the final prediction.
    utility : float, default=0.0
        Weight of the utility-consistency term R_util (the paper's second regulariser).
    weight_l1, weight_l2 : float, default=0.0
        Penalties on the network's weight matrices.
    n_unlabelled : int, default=0
        Extra random subsets (no label) on which R_opt is also evaluated, one minibatch per step.
    lr, batch_size, epochs, patience, eval_every, max_time, val_fraction
        Adam with a cosine schedule; early stopping on the validation error of whole held-out
        groups (permutations); ``val_fraction`` of them also calibrates the gate.
    sampler, n_permutations, n_subsets, min_size, max_size, step
        Pair generation used by ``fit(X, y)`` without given pairs (``generate_pairs``).
    cache_dir : path or None
        Disk cache for the generated labels (resumable).
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the exact labels are solved (float64), the network is trained (float32; the
        regularisers in float64) and the network part of predictions runs (``predict_dtype``). The
        classical base, certificates and saved weights stay on the CPU; ``load`` returns a CPU
        model (set ``model.device`` to move its predictions).
    n_jobs : int or None, default=None
        Label the pairs over this many joblib workers (``setfn.label_masks``; the engine is
        joblib's active backend: loky processes, or Dask / Ray through
        ``joblib.parallel_config``); results are bit-identical to the serial run.
    progress : bool, default=True
        tqdm bars for labelling and training.

    Attributes
    ----------
    net_ : DeepSets or SetTransformer   the trained network (float32)
    base_ : ClassicalBase    the fitted base (theta(pool) and its precomputed matrices)
    gate_ : ResidualGate     the gate, with its per-size-bin shrink factors
    classes_ : ndarray or None   the class labels in encoding order (classifiers)
    history_ : list of dict  per evaluation: epoch, time, lr, loss terms, validation error
    pairs_ : TrainingPairs or None   pairs generated by ``fit``
    device : str             settable: where labels, training and the network's predictions run
    predict_dtype : str      settable: "float32" (default: the network's training precision,
                             ~1e-7 relative change, half the cost) or "float64" (permutation
                             invariance to ~1e-15); the base and returned theta stay float64
    """

    def __init__(self, learner, seed: int = 0, *, base="newton", width: int = 128,
                 phi_depth: int = 3, rho_hidden="auto", pooling: str | None = None,
                 activation: str = "elu", arch: str = "deepsets", heads: int | None = None,
                 inducing: int | None = None, blocks: int | None = None,
                 regularize: bool = True, kappa: float = 1.0,
                 utility: float = 0.0, weight_l1: float = 0.0, weight_l2: float = 0.0,
                 n_unlabelled: int = 0, lr: float = 5e-3, batch_size: int = 128,
                 epochs: int = 100, patience: int | None = None, eval_every: int = 1,
                 max_time: float | None = None, val_fraction: float = 0.1,
                 sampler: str = "permutation", n_permutations: int = 40, n_subsets: int = 10000,
                 min_size: int | None = None, max_size: int | None = None, step: int = 1,
                 cache_dir: str | os.PathLike | None = None, n_jobs: int | None = None,
                 device="cpu", progress: bool = True):
        if not isinstance(learner, _lbase.ConvexLearner):
            raise ValueError(f"learner must be a ConvexLearner, got {type(learner).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.base = make_base(base, learner).name  # validates the name
        network = arch_settings(arch, pooling=pooling, heads=heads, inducing=inducing,
                                blocks=blocks)
        self.rho_auto = isinstance(rho_hidden, str)
        if self.rho_auto and rho_hidden != "auto":
            raise ValueError(f"rho_hidden must be 'auto' or a sequence of integers, "
                             f"got {rho_hidden!r}")
        self.arch, self.train_params, self.sampler_params = build_settings(
            width=width, phi_depth=phi_depth, rho_hidden=(64,) if self.rho_auto else rho_hidden,
            network=network, activation=activation, regularize=regularize, kappa=kappa,
            utility=utility, weight_l1=weight_l1, weight_l2=weight_l2,
            n_unlabelled=n_unlabelled, lr=lr, batch_size=batch_size, epochs=epochs,
            patience=patience, eval_every=eval_every, max_time=max_time,
            val_fraction=val_fraction, sampler=sampler, n_permutations=n_permutations,
            n_subsets=n_subsets, min_size=min_size, max_size=max_size, step=step)
        if self.rho_auto:
            self.arch["rho_hidden"] = "auto"
        self.learner = learner
        self.seed = int(seed)
        self.cache_dir = cache_dir
        self.n_jobs = check_n_jobs(n_jobs)
        self._device = resolve_device(device)  # a bad device fails here, before any work
        self._pred_dtype = torch.float32  # the network part of predictions (predict_dtype)
        if self.n_jobs not in (None, 1) and self._device.type != "cpu":
            raise ValueError(f"n_jobs={n_jobs} labels in CPU processes; it cannot be combined "
                             f"with device={device!r} (use one or the other)")
        self.progress = bool(progress)
        self._reset()

    def _reset(self):
        self.net_: DeepSets | SetTransformer | None = None
        self._net_fast: DeepSets | SetTransformer | None = None
        self.base_ = None
        self.gate_ = None
        self.classes_ = None
        self.history_: list[dict] = []
        self.pairs_ = None
        self.meta_: dict = {}
        self._pool_bases: dict = {}

    def __repr__(self) -> str:
        state = "fitted" if self.net_ is not None else "unfitted"
        return (f"ModelPred({self.learner!r}, seed={self.seed}, base={self.base!r}, "
                f"arch={self.arch['arch']!r}, "
                f"regularize={self.train_params['regularize']}, {state})")

    def _check_fitted(self):
        if self.net_ is None:
            raise RuntimeError("this ModelPred is not fitted yet: call fit(X, y) or load(path)")

    def _encode(self, X, y):
        """Validated (X, y_enc, Z = [x; e(y)], K); X float64 (n, d), Z (n, d + label_dim)."""
        X, y_enc, K = self.learner.prepare(X, y)
        if self.net_ is not None:
            if X.shape[1] != self.meta_["d"]:
                raise ValueError(f"X has {X.shape[1]} features but the model was trained with "
                                 f"d={self.meta_['d']}")
            if K != self.meta_["K"]:
                raise ValueError(f"y gives K={K} outputs but the model was trained with "
                                 f"K={self.meta_['K']} (pass n_classes to the learner)")
            label_dim = self.meta_["label_dim"]
        else:
            label_dim = 1 if _is_regression(self.learner) else (K if K > 1 else 2)
        return X, y_enc, encode_points(X, y_enc, label_dim), K

    # ------------------------------------------------------------------ training
    def fit(self, X, y, masks=None, thetas=None, groups=None, unlabelled=None):
        """Train on exact pairs (S, theta(S)) over the pool (X, y).

        Sum convention: the labels are theta(S) = argmin sum_{i in S} loss_i + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n), optional
            Training subsets. None: generate them with the sampler settings (labelled exactly,
            cached in ``cache_dir`` when given).
        thetas : ndarray of shape (k, p), optional
            Exact labels of ``masks``, checked for optimality: labels whose relative residual
            exceeds 1e-4 are refused (they are not minimisers), above 1e-7 a warning is given.
            None with masks given: label them here.
        groups : ndarray of shape (k,), optional
            Group of each row (e.g. permutation id); validation holds out whole groups.
        unlabelled : ndarray of shape (k_u, n), optional
            Extra subsets WITHOUT labels, used only by R_opt. None: ``n_unlabelled`` random ones.

        Returns
        -------
        self
        """
        self._reset()
        X, y_enc, Z, K = self._encode(X, y)
        M, T, G, self.pairs_ = labelled_pairs(self, X, y, K, masks, thetas, groups)
        U = unlabelled_masks(self, X, y_enc, K, M, unlabelled)
        fp = data_fingerprint(X, y)
        base = make_base(self.base, self.learner).fit(X, y_enc, K, fp)
        gate = ResidualGate(X.shape[0], active=self.base is not None)
        B = base.predict(X, y_enc, K, M)  # shape: (k, p)
        S = gate.scale(M.sum(1))
        tr, va = split_pairs(G, self.train_params["val_fraction"], self.seed)
        tr, va = tr[S[tr] > 0], va[S[va] > 0]  # the pool itself: base exact, nothing to learn
        if tr.size == 0:
            raise ValueError("no training pair differs from the pool: every mask selects the "
                             "whole pool, where the base is exact")
        BU = SU = None
        if U is not None:
            SU = gate.scale(U.sum(1))
            U = U[SU > 0] if np.any(SU > 0) else None
            if U is not None:
                SU = SU[SU > 0]
                BU = base.predict(X, y_enc, K, U)
        exact = self.base is not None and (np.max(np.abs(T[tr] - B[tr]))
                                           <= _EXACT_BASE * max(np.max(np.abs(T[tr])), 1e-300))
        if self.rho_auto:
            self.arch["rho_hidden"] = auto_rho((T[tr] - B[tr]) / S[tr, None], self.arch["width"])
        self.meta_ = {"d": int(X.shape[1]), "K": int(K), "p": int(T.shape[1]),
                      "label_dim": int(Z.shape[1] - X.shape[1]), "n_pool": int(X.shape[0]),
                      "n_train_pairs": int(tr.size), "n_val_pairs": int(va.size),
                      "base_exact": bool(exact), "pool_fingerprint": fp}
        if exact:  # e.g. ridge with the Newton base: the correction is identically zero
            net = make_network(Z.shape[1], T.shape[1], seed=self.seed, **self._arch_resolved())
            gate.alpha[:] = 0.0
            history, info = [], {"best_epoch": 0, "train_time_s": 0.0, "steps": 0}
        else:
            net, history, info = train_network(self, X, y_enc, Z, K, M, T, B, S, tr, va, U, BU,
                                               SU)
        self.net_, self.base_, self.gate_, self.history_ = net, base, gate, history
        self.meta_.update(info)
        if not exact and va.size:
            self.meta_["gate"] = gate.calibrate(M[va].sum(1), B[va],
                                                S[va, None] * self._net_out(Z, M[va]), T[va])
        self.classes_ = self.learner.classes(y)
        return self

    def _arch_resolved(self) -> dict:
        return dict(self.arch)

    # ------------------------------------------------------------------ prediction
    def _base_for(self, X, y, y_enc, K):
        """The fitted base of this pool: the saved one if the data fingerprint matches."""
        fp = data_fingerprint(X, y)
        if fp == self.base_.fingerprint or self.base is None:
            return self.base_
        if fp not in self._pool_bases:
            self._pool_bases = {fp: make_base(self.base, self.learner).fit(X, y_enc, K, fp)}
        return self._pool_bases[fp]

    def predict(self, X, y, masks, *, correct: bool = False, newton_steps: int | None = None,
                tol: float = 1e-13, return_info: bool = False, foreign_pool: str = "base"):
        """Predicted theta(S) = base(S) + gate(S) g(S) for subsets of the pool (X, y).

        Sum convention: theta(S) = argmin sum_{i in S} w_i loss_i + lam/2 ||P theta||^2.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            The pool. A pool other than the training one (another data fingerprint: other rows,
            or the same rows with some labels changed) gets its own base, fitted here, and a
            :class:`~modelpred_theory.ForeignPoolWarning` that says by how much its full fit
            differs from the training pool's (see ``foreign_pool``).
        y : ndarray of shape (n,)
        masks : ndarray of shape (k, n)
            Boolean masks (or non-negative weights: weighted sum pooling). For learners whose
            minimiser needs every class, masks missing a class are refused, as in fit_subsets.
        correct : bool, default=False
            Predict-then-correct: the prediction warm-starts exact Newton steps
            (``learner.fit_subsets(X, y, masks, theta0=prediction)``).
        newton_steps : int, optional
            At most this many correcting Newton steps (default: to convergence).
        tol : float, default=1e-13
            Relative gradient tolerance of the correction.
        return_info : bool
            Also return a dict (times; with ``correct``: grad_norms, n_iter, converged).
        foreign_pool : {"base", "correct"}, default="base"
            On a pool other than the training one the learned correction was trained on another
            pool's residuals and can make the base worse (measured on breast_cancer with 10% of
            the labels flipped: ``tests/test_modelpred_pool.py``). "base" (default)
            predicts with this pool's base alone; "correct" applies the correction anyway. Either
            way a ForeignPoolWarning gives the relative change of the pool fit (the scale of the
            harm). A model without a base (``base=None``) has nothing to fall back to: it
            predicts, and the warning gives its relative error on the whole new pool.

        Returns
        -------
        thetas : ndarray of shape (k, p), float64
        info : dict, only with ``return_info``
        """
        self._check_fitted()
        if newton_steps is not None:
            newton_steps = check_pos("newton_steps", newton_steps, integer=True)
        if not (isinstance(tol, float) and 0 < tol < 1):
            raise ValueError(f"tol must be a float in (0, 1), got {tol!r}")
        if foreign_pool not in ("base", "correct"):
            raise ValueError(f"foreign_pool must be 'base' or 'correct', got {foreign_pool!r}")
        X, y_enc, Z, K = self._encode(X, y)
        W = check_weight_matrix(masks, X.shape[0])
        self.learner.check_existence(W, y_enc, K, "masks")
        t0 = time.perf_counter()
        base = self._base_for(X, y, y_enc, K)
        use_net = True
        if data_fingerprint(X, y) != self.meta_.get("pool_fingerprint"):
            use_net = self._warn_foreign(X, y, Z, base, foreign_pool)
        B = base.predict(X, y_enc, K, W)
        t1 = time.perf_counter()
        out = torch.from_numpy(B)
        if use_net:
            out = out.addcmul_(torch.from_numpy(self.gate_(W.sum(1)))[:, None],
                               torch.from_numpy(self._net_out(Z, W)))
        out = self.learner.fix_gauge(out, X.shape[1], K, inplace=True).numpy()
        info = {"predict_time_s": time.perf_counter() - t0, "base_time_s": t1 - t0}
        if correct:
            params = {**self.learner.get_params(), "tol": tol}
            if newton_steps is not None:
                params["max_iter"] = newton_steps
            solver = type(self.learner)(**params)
            t2 = time.perf_counter()
            res = solver.fit_subsets(X, y, W, theta0=out, return_info=True)
            info.update({"correct_time_s": time.perf_counter() - t2,
                         "grad_norms": res.grad_norms, "n_iter": res.n_iter,
                         "converged": res.converged})
            out = res.thetas
        return (out, info) if return_info else out

    def _warn_foreign(self, X, y, Z, base, foreign_pool: str) -> bool:
        """Warn that (X, y) is not the training pool; return whether to apply the network."""
        import warnings

        from ..exceptions import ForeignPoolWarning

        n = X.shape[0]
        if self.base is None:  # nothing to fall back to: measure the error on the whole pool
            exact = self.learner.fit(X, y).theta
            full = self._net_out(Z, np.ones((1, n)))[0]
            err = np.linalg.norm(full - exact) / max(np.linalg.norm(exact), 1e-300)
            warnings.warn(f"predict: (X, y) is not the pool this ModelPred was trained on (its "
                          f"data fingerprint differs) and the model has no base to fall back "
                          f"to; on this whole pool its prediction is {err:.1%} off the exact fit "
                          f"(relative L2), so expect errors of that order: train a ModelPred on "
                          f"this pool", ForeignPoolWarning, stacklevel=3)
            return True
        t0 = self.base_.theta0
        shift = np.linalg.norm(base.theta0 - t0) / max(np.linalg.norm(t0), 1e-300)
        what = ("predicting with this pool's " + repr(self.base) + " base alone (pass "
                "foreign_pool='correct' to apply the correction anyway)"
                if foreign_pool == "base" else "applying the correction anyway "
                "(foreign_pool='correct'); the default foreign_pool='base' drops it")
        warnings.warn(f"predict: (X, y) is not the pool this ModelPred was trained on (its data "
                      f"fingerprint differs); its full fit differs from the training pool's by "
                      f"{shift:.1%} (relative L2), and the learned correction, trained on the "
                      f"other pool's residuals, may add an error of that order: {what}",
                      ForeignPoolWarning, stacklevel=3)
        return foreign_pool == "correct"

    def predict_sets(self, sets) -> np.ndarray:
        """Predicted theta(S) for sets of NEW points, [(X_1, y_1), ..., (X_k, y_k)].

        Sum convention as in :meth:`predict`. Ragged sets are zero-padded with a mask (the output
        does not depend on the padding). Both bases are functions of the set alone given the
        pool fit theta(pool): the influence base is theta_0 - H_0^{-1} grad F_S(theta_0) with the
        pool's Hessian, the Newton base uses each set's own Hessian at theta_0. The gate uses
        t = 1 - m_i / n_pool, so sets of the pool's size get little correction.

        Parameters
        ----------
        sets : sequence of k pairs (X_i of shape (m_i, d), y_i of shape (m_i,)), m_i >= 1

        Returns
        -------
        ndarray of shape (k, p), float64
        """
        return predict_new_sets(self, sets)

    # ------------------------------------------------------------------ persistence
    def get_config(self) -> dict:
        """JSON-able configuration: learner, base, architecture, training and sampler settings."""
        return {"format": FORMAT, "version": FORMAT_VERSION,
                "learner": learner_spec(self.learner), "lam": self.learner.lam,
                "seed": self.seed, "base": self.base,
                "arch": {**self.arch, "rho_hidden": "auto" if self.rho_auto
                         else self.arch["rho_hidden"]},
                "rho_hidden_resolved": self.arch["rho_hidden"],
                "train_params": self.train_params, "sampler_params": self.sampler_params,
                "meta": self.meta_, "history": self.history_,
                "gate_alpha": None if self.gate_ is None else self.gate_.alpha.tolist(),
                "classes": None if self.classes_ is None else self.classes_.tolist()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/{config.json, weights.pt, base.npz}`` (a folder; created if needed)."""
        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelPred:
        """Rebuild a saved ModelPred (learner and base included); predictions are identical.

        Every corrupt, truncated or mismatched file raises a ValueError naming it.
        """
        return load_model(cls, path)
