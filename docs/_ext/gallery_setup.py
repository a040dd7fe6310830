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


def readable_figures(gallery_conf, fname, when=None):
    """Figure fonts of at least 10 pt at the page's width.

    Figures are saved at 100 dpi, so a figure of at most 9.6 inches is at most 960 px wide.
    Tutorial pages have no side columns (``docs/conf.py``), so the text column is up to about
    960 px and a figure is shown at (nearly) its own size: 12 pt tick and legend labels and
    13 pt text stay above 10 pt on the page (a 0.83 scale still leaves them at 10 pt).
    ``tests/test_docs.py`` checks that no tutorial sets a smaller font or a wider figure.
    """
    import matplotlib

    matplotlib.rcParams.update({"font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13,
                                "xtick.labelsize": 12, "ytick.labelsize": 12,
                                "legend.fontsize": 12, "figure.titlesize": 14,
                                "figure.dpi": 100, "savefig.dpi": 100})
