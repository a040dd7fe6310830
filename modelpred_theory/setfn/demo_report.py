"""The demo's figure and plain-text table (no computation: both read the results dict).

Parameters compared are minimisers of the sum objective F_S(theta) = sum_{i in S} loss_i(theta)
+ lam/2 ||P theta||^2 (C = 1/lam; docs/design.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["figure", "format_table"]

# The rows of the by-fraction line and the figure's emphasis: the hybrids and their bases.
_KEY_ROWS = ("ModelPred (Newton base)", "Newton step", "ModelPred (influence base)",
             "influence (1st order)", "ModelPred (no base)")


def _fmt(v, spec):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def figure(results: dict, path: Path) -> Path:
    """Median and IQR of the relative parameter error against |S|, one panel per experiment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = results["experiments"]
    fig, axes = plt.subplots(1, len(exps), figsize=(6.5 * len(exps), 4.6), squeeze=False)
    n = results["config"]["n"]
    for ax, (exp, r) in zip(axes[0], exps.items(), strict=True):
        sizes, rel = r["_sizes"], r["_rel"]
        grid = np.unique(sizes)
        for name, v in rel.items():
            if name == "exact retraining":
                continue
            med = np.array([np.median(v[sizes == s]) for s in grid])
            q1 = np.array([np.quantile(v[sizes == s], 0.25) for s in grid])
            q3 = np.array([np.quantile(v[sizes == s], 0.75) for s in grid])
            style = "-" if name.startswith("ModelPred") else "--"
            line, = ax.plot(grid, np.maximum(med, 1e-16), style, marker="o", ms=3, label=name,
                            lw=2.0 if name in _KEY_ROWS[:3:2] else 1.2)
            ax.fill_between(grid, np.maximum(q1, 1e-16), np.maximum(q3, 1e-16), alpha=0.12,
                            color=line.get_color())
        ax.set_yscale("log")
        # The bases and hybrids are exact at the pool / base set (error ~1e-16): clip there.
        ax.set_ylim(bottom=1e-6)
        ax.set_xlabel(f"subset size |S| (pool n = {n})")
        ax.set_ylabel("||theta_hat - theta(S)|| / ||theta(S)||")
        title = ("deletion: retain 50-100% (unseen permutations)" if exp == "deletion"
                 else "addition: base n/2 + random extra points")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    cfg = results["config"]
    name = cfg["learner"].split("(")[0]
    fig.suptitle(f"{cfg['dataset']}, {name} (lam={cfg['lam']}): median and IQR over held-out "
                 f"subsets; exact retraining is the reference", fontsize=10, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=80 if cfg["quick"] else 140)
    plt.close(fig)
    return path


def _experiment_lines(exp: str, r: dict) -> list[str]:
    lines = ["", f"{exp} ({r['k']} held-out subsets; x = {r['x']})",
             f"  {'method':<28}{'med.rel.err':>12}{'mean':>10}{'loss r':>9}{'loss rho':>9}"
             f"{'time/model':>12}{'cert.cov':>9}{'finite':>8}{'bound/err':>10}"]
    for name, m in r["methods"].items():
        lines.append(
            f"  {name:<28}{_fmt(m['median_rel_err'], '12.2e')}"
            f"{_fmt(m['mean_rel_err'], '10.2e')}{_fmt(m['test_loss_pearson'], '9.4f')}"
            f"{_fmt(m['test_loss_spearman'], '9.4f')}"
            f"{_fmt(m['time_per_model_s'] * 1e3, '10.3f')}ms"
            f"{_fmt(m['certificate_coverage'], '9.3f')}{_fmt(m['certificate_finite'], '8.3f')}"
            f"{_fmt(m['certificate_median_ratio'], '10.1f')}")
    bins = r.get("rel_err_by_bin", {})
    for name in _KEY_ROWS:
        if name in bins:
            lines.append(f"  {name:<28} median by {r['x']} bin: " + "  ".join(
                f"{b}: {v:.2e}" for b, v in bins[name].items()))
    return lines


def format_table(results: dict) -> str:
    """The demo's results as a plain-text table."""
    cfg = results["config"]
    lines = [f"ModelPred demo: {cfg['dataset']} (n={cfg['n']}, p={cfg['p']}), "
             f"{cfg['learner']}, {cfg['n_pairs']} labelled pairs"
             f"{' [QUICK: numbers are a smoke test]' if cfg['quick'] else ''}"]
    for exp, r in results["experiments"].items():
        lines += _experiment_lines(exp, r)
    lines.append("  (cert.cov: fraction of subsets whose bound >= true error, infinite bounds "
                 "included; finite: fraction of finite bounds; bound/err: median ratio over "
                 "finite bounds)")
    pc = results["predict_then_correct"]
    lines += ["", f"predict-then-correct on {pc['k']} subsets (Newton to rel. tol "
              f"{pc['tol']:g}): cold {pc['cold_s']:.2f}s ({pc['cold_mean_newton_iters']:.1f} "
              f"it), warm from full fit {pc['warm_full_fit_s']:.2f}s "
              f"({pc['warm_full_mean_newton_iters']:.1f} it), from {pc['model']} "
              f"{pc['modelpred_correct_s']:.2f}s "
              f"({pc['modelpred_correct_mean_newton_iters']:.1f} it), "
              f"max residual {pc['max_residual']:.1e}"]
    sb = results["small_budget_ablation"]
    lines.append(f"regulariser ablation (no base) at a small label budget ({sb['n_pairs']} "
                 f"pairs, {sb['epochs']} epochs, +{sb['n_unlabelled']} unlabelled subsets for "
                 f"R_opt): median rel.err ModelPred {sb['ModelPred_median_rel_err']:.2e} vs "
                 f"PARA {sb['PARA_median_rel_err']:.2e} (train {sb['ModelPred_train_s']:.1f}s "
                 f"vs {sb['PARA_train_s']:.1f}s)")
    t = results["timing"]
    lines.append(f"timing: labels {t['labels_s']:.1f}s, training "
                 + ", ".join(f"{k} {v:.1f}s" for k, v in t["train_s"].items())
                 + f", total {t['total_s']:.1f}s")
    lines.append("targets: " + ", ".join(f"{k}={v}" for k, v in results["targets"].items()
                                         if isinstance(v, bool)))
    return "\n".join(lines)
