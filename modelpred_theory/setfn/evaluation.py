"""Where and in what precision ModelPred's trained network is evaluated.

The network g of ModelPred (theta_hat(S) = base(S) + gate(|S|) g(S), sum convention
theta(S) = argmin sum_{i in S} w_i loss_i + lam/2 ||P theta||^2) is trained in float32. For
predictions a copy is kept on the model's device, in ``predict_dtype``, with its output
scaling folded into rho's last layer; the base and the returned parameters are float64.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..learners.tensors import resolve_device
from .network import DeepSets
from .set_transformer import SetTransformer

# Largest number of subsets pushed through rho at once in predict (memory bound only).
_PREDICT_CHUNK = 8192


class NetworkEvaluation:
    """Mixin of ModelPred: ``device``, ``predict_dtype`` and the evaluation copy of ``net_``.

    Expects ``net_`` (the trained DeepSets or SetTransformer), ``_device`` (torch.device),
    ``_pred_dtype`` (torch dtype) and ``_net_fast`` (the cached copy, or None) on the instance.
    """

    @property
    def device(self) -> str:
        """Where labels, training and the network's predictions run (see the class docs)."""
        return str(self._device)

    @device.setter
    def device(self, value) -> None:
        self._device = resolve_device(value)
        self._net_fast = None

    @property
    def label_device(self):
        """The device for the exact labels: None (the learner's default, CPU) on the CPU."""
        return None if self._device.type == "cpu" else self._device

    @property
    def predict_dtype(self) -> str:
        """Precision of the network part of predictions: "float32" (default) or "float64".

        The network is trained in float32, so float32 evaluation is the trained function
        (changes of ~1e-7 relative in g(S) against float64, far below its approximation error)
        at half the cost; "float64" gives permutation invariance to ~1e-15. The base is always
        float64, and so is the returned theta."""
        return str(self._pred_dtype).removeprefix("torch.")

    @predict_dtype.setter
    def predict_dtype(self, value) -> None:
        dtypes = {"float32": torch.float32, "float64": torch.float64}
        if value not in dtypes:
            raise ValueError(f"predict_dtype must be 'float32' or 'float64', got {value!r}")
        self._pred_dtype = dtypes[value]
        self._net_fast = None

    def _net_eval(self) -> DeepSets | SetTransformer:
        """The evaluation copy: predict_dtype, on the device, output scaling folded into rho."""
        if self._net_fast is None:
            net = copy.deepcopy(self.net_).to(self._pred_dtype).to(self._device).eval()
            self._net_fast = net.fold_output_scaling()
        return self._net_fast

    def _net_out(self, Z, W) -> np.ndarray:
        """g(S) in theta units (shift + scale z) for masks W over encoded rows Z: (k, p)."""
        net, dev, dt = self._net_eval(), self._device, self._pred_dtype
        with torch.no_grad():
            H = net.embed(torch.as_tensor(Z, dtype=dt, device=dev))  # shape: (n, width)
            return np.concatenate([
                net.forward_masks(torch.as_tensor(W[s:s + _PREDICT_CHUNK], dtype=dt,
                                                  device=dev), H).cpu().numpy()
                for s in range(0, W.shape[0], _PREDICT_CHUNK)])
