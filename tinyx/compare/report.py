"""What tinyx.compare writes: the Markdown table and its notes, the CSV, the curves with CI bands, the wandb run."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from tinyx.compare import stats
from tinyx.compare.arms import Arm
from tinyx.compare.comparison import Comparison
from tinyx.compare.runs import TIME_TO_TARGET
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS

REPORT_FILES = ("comparison.md", "comparison.csv", "comparison.png")


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _p(value: float | None) -> str:
    return "-" if value is None else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


def metric_label(c: Comparison) -> str:
    if c.metric == TIME_TO_TARGET:
        return f"s to val/loss <= {c.target:g}"
    name = c.metric.removesuffix("_best") + (" (best)" if c.metric.endswith("_best") else " (final)")
    if c.at_step is not None:
        return f"{name} at step {c.at_step}"
    return f"{name} at {c.at_tokens:,} tokens" if c.at_tokens is not None else name


def seeds_needed_text(n: int | None, no_difference: int | None = None) -> str:
    """Seeds for a significant difference, and (where the interval could fit) for no detectable difference."""
    count = lambda k: "-" if k is None else f">{stats.MAX_SEEDS_NEEDED:,}" if k > stats.MAX_SEEDS_NEEDED else str(k)
    return count(n) + ("" if no_difference is None else f" (no diff: {count(no_difference)})")


def _cells(a: Arm, adjusted: bool) -> list[str]:
    e, d = a.estimate, a.difference
    mean = f"{_num(e.mean)} [{_num(e.ci_low)}, {_num(e.ci_high)}]" if e.ci_low is not None else f"{_num(e.mean)} (n=1)"
    if d is None:
        contrast = ["baseline", "-", "-", "-", "-"]
    else:
        delta = f"{_signed(d.delta)} [{_signed(d.ci_low)}, {_signed(d.ci_high)}]" if d.ci_low is not None else \
            f"{_signed(d.delta)} (no CI)"
        p = _p(d.p) + (f" (Holm {_p(a.p_adjusted)})" if adjusted and d.p is not None else "")
        contrast = [delta, p, d.test or "none", a.verdict, seeds_needed_text(a.seeds_needed, a.seeds_no_difference)]
    tps, params = a.stat("tokens_per_second").mean, a.stat("params").mean
    return [str(a.rank), a.name, str(a.n), mean, *contrast, "-" if tps is None else f"{tps:,.0f}",
            "-" if params is None else f"{params:,.0f}"]


def notes(c: Comparison) -> list[str]:
    """The lines under the table: how to read it, the rule of the verdict, what was left out and why."""
    confidence = 1 - c.alpha
    adjusted = len(c.variants) > 1
    lines = ["", f"n: seeds, one run each. Mean [{confidence:.0%} CI]: t interval of the mean over seeds. "
             f"Δ = arm - baseline ({c.baseline.name}), its {confidence:.0%} CI and two-sided p from scipy.stats: the "
             f"paired t-test when both arms ran the same seeds with the same batch size and context length (a "
             f"seed then fixes the batches), else Welch's t-test.",
             stats.verdict_rule(c.alpha, c.min_effect, adjusted, confidence),
             f"Seeds needed: per arm, for p < {c.alpha:g} at {stats.POWER:.0%} power were the observed Δ and sd the "
             f"truth (noncentral t, scipy.stats.nct); an effect observed on few seeds is usually an overestimate. "
             f"(no diff: N): seeds for 'no detectable difference' (the CI inside ±{c.min_effect:.4g}) at the same "
             f"power, where |Δ| < --min-effect."]
    tests = [f"- {a.name}: {a.difference.test or 'no test'}: {a.difference.note}" for a in c.variants
             if a.difference.note]
    single = [a.name for a in c.arms if a.n < 2]
    if single:
        tests.append(f"- one seed only ({', '.join(single)}): no confidence interval or test is possible; run more "
                     f"seeds (seed=0,1,2 ...).")
    lines += ["", "Tests:", *tests] if tests else []
    if c.excluded:
        lines += ["", f"Left out ({len(c.excluded)} run{'s' if len(c.excluded) > 1 else ''}):",
                  *(f"- {e.run.path}: {e.why}" for e in c.excluded)]
    if c.warnings:
        lines += ["", "Warnings:", *(f"- {w}" for w in c.warnings)]
    return lines


def to_markdown(c: Comparison) -> str:
    header = ["rank", "arm", "n", f"{metric_label(c)} [{1 - c.alpha:.0%} CI]", "Δ vs baseline [CI]", "p", "test",
              "verdict", "seeds needed", "tokens/s", "params"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cells(a, len(c.variants) > 1)) + " |" for a in c.arms]
    return "\n".join(lines + notes(c)) + "\n"


def write_csv(c: Comparison, path: Path) -> None:
    rows = c.table()
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def write_reports(c: Comparison, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, csv_path, png = (out_dir / name for name in REPORT_FILES)
    md.write_text(to_markdown(c))
    write_csv(c, csv_path)
    plot_curves(c, png)
    return [md, csv_path, png]


def finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def arm_summary(c: Comparison) -> dict[str, float | int | str | None]:
    """Per-arm statistics as flat summary keys (`<arm>/mean`, `<arm>/delta`, ...), for a tracker's summary."""
    out: dict[str, float | int | str | None] = {"metric": c.metric, "baseline": c.baseline.name}
    for a in c.arms:
        e, d = a.estimate, a.difference
        out.update({f"{a.name}/n": a.n, f"{a.name}/mean": e.mean, f"{a.name}/ci_low": e.ci_low,
                    f"{a.name}/ci_high": e.ci_high, f"{a.name}/sd": e.sd})
        if d is not None:
            out.update({f"{a.name}/delta": d.delta, f"{a.name}/delta_ci_low": d.ci_low,
                        f"{a.name}/delta_ci_high": d.ci_high, f"{a.name}/p": d.p,
                        f"{a.name}/p_adjusted": a.p_adjusted, f"{a.name}/test": d.test,
                        f"{a.name}/verdict": a.verdict, f"{a.name}/seeds_needed": a.seeds_needed,
                        f"{a.name}/seeds_no_difference": a.seeds_no_difference})
    return {k: finite_or_none(v) if not isinstance(v, str) else v for k, v in out.items()}
