"""The ladder's two plots: the metric against compute (log-log; per arm every seed, the means, the fit and its 95%
band out to the target), and the difference against compute (per size with its CI; the fits' difference and its
band out to the target)."""

from __future__ import annotations

from pathlib import Path

from tinyx.compare.plots import _pyplot
from tinyx.tools.ladder.analysis import Ladder


def plot_fits(ladder: Ladder, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, a in enumerate(ladder.arms):
        color = f"C{i}"
        for c, row in zip(a.compute, a.values):
            ax.scatter([c] * len(row), row, s=10, color=color, alpha=0.4)
        ax.scatter(a.compute, a.means, s=36, color=color, label=a.name, zorder=3)
        if a.fit is not None:
            ax.plot(ladder.grid, a.curve, color=color)
            ax.fill_between(ladder.grid, a.band[0], a.band[1], color=color, alpha=0.15)
    ax.axvline(ladder.target_compute, color="grey", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="training compute (FLOPs)", ylabel=ladder.metric,
           title=f"{ladder.metric} against compute: E + A*C^-alpha, 95% bands")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_deltas(ladder: Ladder, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, v in enumerate(ladder.variants, start=1):
        color = f"C{i}"
        xs = [s.compute for s in v.sizes]
        ys = [s.delta for s in v.sizes]
        err = [[s.delta - s.ci_low if s.ci_low is not None else 0 for s in v.sizes],
               [s.ci_high - s.delta if s.ci_high is not None else 0 for s in v.sizes]]
        ax.errorbar(xs, ys, yerr=err, fmt="o", color=color, capsize=3,
                    label=f"{v.arm}: same size, 95% CI ({v.verdict})")
        if v.curve is not None:
            ax.plot(ladder.grid, v.curve, color=color, label="the fits' difference at equal compute, 95% band")
            ax.fill_between(ladder.grid, v.band[0], v.band[1], color=color, alpha=0.15)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(ladder.target_compute, color="grey", ls=":", lw=1)
    ax.set(xscale="log", xlabel="training compute (FLOPs)", ylabel=f"delta {ladder.metric} (variant - baseline)",
           title=f"the difference against compute, 95% CIs; target {ladder.target:g}x")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
