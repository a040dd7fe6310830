"""The set-function architectures ModelPred can train: their names, settings and constructor.

Both predict theta(S) of a convex learner (sum convention of docs/design.md: F_S(theta) =
sum_{i in S} w_i loss_i(theta) + lam/2 ||P theta||^2) and share one interface (``embed``,
``forward_masks``, ``forward_padded``, output scaling): ``"deepsets"`` (:class:`DeepSets`, one
sum pooling) and ``"set_transformer"`` (:class:`SetTransformer`, ISAB attention rounds and PMA
pooling; THEORY.md section 12 says what the attention rounds add).
"""

from __future__ import annotations

from .network import DeepSets
from .set_transformer import SetTransformer

__all__ = ["ARCHS", "arch_settings", "make_network"]

ARCHS = ("deepsets", "set_transformer")
# Defaults of the settings that only the set transformer has.
_ATTENTION_DEFAULTS = {"heads": 4, "inducing": 16, "blocks": 2}


def arch_settings(arch, *, pooling, heads, inducing, blocks) -> dict:
    """The architecture-specific entries of ModelPred's ``arch`` dict, validated before work.

    Parameters
    ----------
    arch : {"deepsets", "set_transformer"}
    pooling : str or None
        DeepSets only (None: "centred").
    heads, inducing, blocks : int or None
        Set transformer only (None: 4, 16, 2).

    Returns
    -------
    dict with "arch" and either "pooling" or "heads", "inducing", "blocks"
    """
    if not isinstance(arch, str) or arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    given = {"heads": heads, "inducing": inducing, "blocks": blocks}
    if arch == "deepsets":
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} apply only to arch='set_transformer' "
                             f"(arch='deepsets' pools by a sum)")
        return {"arch": arch, "pooling": "centred" if pooling is None else pooling}
    if pooling is not None:
        raise ValueError("pooling applies only to arch='deepsets' (the set transformer pools "
                         "by attention, PMA)")
    return {"arch": arch, **{k: _ATTENTION_DEFAULTS[k] if v is None else v
                             for k, v in given.items()}}


def make_network(in_dim: int, out_dim: int, *, arch: str = "deepsets", **settings):
    """Build the network of ``arch`` (DeepSets when absent: configs saved before the option)."""
    if arch == "deepsets":
        return DeepSets(in_dim, out_dim, **settings)
    if arch == "set_transformer":
        return SetTransformer(in_dim, out_dim, **settings)
    raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
