"""Per-tutorial set-up for the sphinx-gallery run (named in ``sphinx_gallery_conf``)."""

from __future__ import annotations


def one_torch_thread(gallery_conf, fname, when=None):
    """Run every tutorial with one torch thread.

    The tutorials' tensors are small: on a 2-core machine one thread is as fast as two, and
    under any other load it is several times faster (measured: a batch of 120 exact digits
    fits took 2.9 s with one thread and 34 s with two on a loaded machine).
    """
    import torch

    torch.set_num_threads(1)
