"""compare's figures (matplotlib, Agg, imported inside the functions): the validation curve of each arm with its
CI band (comparison.png), and each variant's difference to the baseline (comparison_delta.png), which stays
readable at many arms and where the final region of the curves is compressed."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tinyx.compare import stats
from tinyx.compare.arms import Arm
from tinyx.compare.comparison import Comparison, metric_label
from tinyx.compare.judging import seed_differences
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS

VERDICT_COLORS = {stats.BETTER: "tab:green", stats.WORSE: "tab:red"}  # the rest grey


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mean_curve(a: Arm, name: str, alpha: float) -> tuple[list[int], list[float], list[float], list[float]]:
    """(steps, mean, CI low, CI high) of an arm's validation curve over its seeds, at the steps all evaluated."""
    curves = [dict(r.curves.get(name, [])) for r in a.runs]
    curves = [c for c in curves if c]
    if not curves:
        return [], [], [], []
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    estimates = [stats.estimate([c[s] for c in curves], 1 - alpha) for s in steps]
    return (steps, [e.mean for e in estimates], [e.ci_low if e.ci_low is not None else e.mean for e in estimates],
            [e.ci_high if e.ci_high is not None else e.mean for e in estimates])


def plot_curves(c: Comparison, path: Path) -> None:
    """The validation curve of each arm: mean over seeds and its CI band."""
    plt = _pyplot()
    name = VAL_BPB if c.metric.startswith(VAL_BPB) else VAL_LOSS
    fig, ax = plt.subplots(figsize=(8, 5))
    for a in c.arms:
        steps, mean, low, high = mean_curve(a, name, c.alpha)
        if not steps:
            continue
        label = f"{a.name} (n={a.n}{', baseline' if a.is_baseline else ''})"
        (line,) = ax.plot(steps, mean, marker="o" if len(steps) < 20 else None, markersize=3, label=label)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if c.at_step is not None:
        ax.axvline(c.at_step, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{name} (mean and {1 - c.alpha:.0%} CI over seeds)")
    ax.set_title(f"{name} by arm")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def delta_rows(c: Comparison) -> list[tuple[str, float, float | None, float | None, list[float]]]:
    """Per variant: (name, Δ, CI low, CI high, one Δ per seed): the paired differences of its seeds when the
    test was paired, else each seed's value minus the baseline's mean."""
    return [(a.name, a.difference.delta, a.difference.ci_low, a.difference.ci_high,
             seed_differences(c.baseline, a)) for a in c.variants]


def plot_deltas(c: Comparison, path: Path) -> None:
    """Δ = variant - baseline per variant (one row each): its CI as an error bar, a dot per seed, a zero line."""
    plt = _pyplot()
    rows = delta_rows(c)
    paired = {a.difference.test == stats.PAIRED for a in c.variants}
    dots = {frozenset({True}): "paired differences", frozenset({False}): "value - baseline mean"}.get(
        frozenset(paired), "paired differences where paired, else value - baseline mean")
    fig, ax = plt.subplots(figsize=(9, 2 + 0.6 * max(1, len(rows))))
    for y, ((_, delta, low, high, seeds), arm) in enumerate(zip(rows, c.variants)):
        color = VERDICT_COLORS.get(arm.verdict, "grey")
        error = [[delta - low], [high - delta]] if low is not None else None
        ax.errorbar([delta], [y], xerr=error, fmt="D", color=color, capsize=4, markersize=6, zorder=3,
                    label=arm.verdict if arm.verdict not in ax.get_legend_handles_labels()[1] else None)
        spread = [y + 0.3 * (i / max(1, len(seeds) - 1) - 0.5) for i in range(len(seeds))]  # seeds that tie: apart
        ax.scatter(seeds, spread, s=14, color=color, alpha=0.6, zorder=2)
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [textwrap.fill(f"{a.name} (n={a.n})", 40) for a in c.variants],
                  fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel(f"Δ = arm - baseline, {metric_label(c)} (lower is better)\nbar: its {1 - c.alpha:.0%} CI "
                  f"(unadjusted); dots: one per seed ({dots})", fontsize=8)
    ax.set_title(textwrap.fill(f"Δ vs the baseline {c.baseline.name} (n={c.baseline.n})", 80), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    if rows:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
