"""What tuning found, three ways: tuning.json (compare reads it: the arms were tuned), a table in ablation.md and
tuning.png, the learning-rate curve of each arm: the metric against the value, one dot per tuning seed, the
mean's line and the chosen value as a dotted line."""

from __future__ import annotations

import math
from pathlib import Path

from tinyx.common.files import atomic_write_json
from tinyx.compare.tuning import TUNING_FILE
from tinyx.tools.ablate.tuning import TUNING_SEED, ArmTuning, TuneSpec, fmt

TUNING_PLOT = "tuning.png"


def write_record(out: Path, spec: TuneSpec, tunings: list[ArmTuning], metric: str) -> None:
    atomic_write_json(out / TUNING_FILE, {
        "key": spec.key, "metric": metric, "steps": spec.steps,
        "seeds": list(range(TUNING_SEED, TUNING_SEED + spec.seeds)),
        "arms": {t.arm.name: {"chosen": t.chosen, "best_of_grid": t.best, "values": t.grid, "edge": t.edge,
                              "means": [None if math.isinf(t.mean(v)) else t.mean(v) for v in t.grid],
                              "runs": [t.results[v] for v in t.grid]} for t in tunings}})


def _cell(t: ArmTuning, value: float) -> str:
    runs = t.results.get(value, [])
    if None in runs:
        return "failed or diverged"
    spread = f" ±{(max(runs) - min(runs)) / 2:.4f}" if len(runs) > 1 else ""
    return f"**{t.mean(value):.4f}**{spread}" if value == t.best else f"{t.mean(value):.4f}{spread}"


def table(spec: TuneSpec, tunings: list[ArmTuning], metric: str) -> list[str]:
    """Per arm its grid's means (± half the seeds' range), the best in bold, and the value chosen from them."""
    steps = f"{spec.steps} steps" if spec.steps else "the runs' own steps"
    lines = ["", f"## Tuning: each arm at its own best {spec.key}", "",
             f"{metric} at each {spec.key} (mean of {spec.seeds} tuning seed(s), {TUNING_SEED}..; {steps}); the "
             f"verdict above ran fresh seeds at the chosen value, so the tuning's luck does not enter it. Chosen: the "
             f"vertex of the parabola through the best grid value (bold) and its neighbours, in log {spec.key}.", "",
             f"| arm | chosen {spec.key} | grid: {metric} |", "|---|---|---|"]
    for t in tunings:
        cells = "; ".join(f"{fmt(v)}: {_cell(t, v)}" for v in t.grid)
        edge = f" (grid's {t.edge} edge)" if t.edge else ""
        lines.append(f"| {t.arm.name} | {fmt(t.chosen)}{edge} | {cells} |")
    if any(t.edge for t in tunings):
        lines += ["", "An edge value is the best of a grid that grew twice past it: the optimum may lie beyond; "
                      "rerun with a wider grid (--tune-factors) in another --out to bracket it."]
    return lines + ["", f"The curves: {TUNING_PLOT}."]


def plot(out: Path, spec: TuneSpec, tunings: list[ArmTuning], metric: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, t in enumerate(tunings):
        color = f"C{i}"
        done = [v for v in t.grid if not math.isinf(t.mean(v))]
        ax.plot(done, [t.mean(v) for v in done], "-", color=color, label=t.arm.name)
        for v in done:
            ax.plot([v] * len(t.results[v]), t.results[v], "o", color=color, alpha=0.45, markersize=4)
        ax.axvline(t.chosen, color=color, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(spec.key)
    ax.set_ylabel(f"{metric} (lower is better)")
    ax.set_title(f"{spec.key} per arm: dots are tuning seeds, dotted lines the chosen values", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / TUNING_PLOT
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
