"""What tinyx.compare writes: the Markdown table (every column) and its notes, the CSV, the figures
(tinyx.compare.plots); the terminal's narrower table is tinyx.compare.terminal, the wandb run tracking."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from tinyx.compare import stats
from tinyx.compare.arms import Arm
from tinyx.compare.comparison import Comparison, metric_label
from tinyx.compare.extras import PER_LAYER
from tinyx.compare.plots import plot_curves, plot_deltas

# The Markdown table, the CSV, the curves, the differences to the baseline (tinyx.compare.plots).
REPORT_FILES = ("comparison.md", "comparison.csv", "comparison.png", "comparison_delta.png")


def num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def p_text(value: float | None) -> str:
    return "-" if value is None else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


def seeds_needed_text(n: int | None, no_difference: int | None = None) -> str:
    """Seeds for a significant difference, and (where the interval could fit) for no detectable difference."""
    count = lambda k: "-" if k is None else f">{stats.MAX_SEEDS_NEEDED:,}" if k > stats.MAX_SEEDS_NEEDED else str(k)
    return count(n) + ("" if no_difference is None else f" (no diff: {count(no_difference)})")


def rank_text(c: Comparison, a: Arm) -> str:
    """`2=` where another arm shares the rank (their difference is not significant), else `2`."""
    return f"{a.rank}=" if sum(b.rank == a.rank for b in c.arms) > 1 else str(a.rank)


def rank_rule(c: Comparison, label: str = "Rank") -> str:
    """How ranks are given, in words, for under a table (whose rank column is `label`)."""
    pairs = len(c.arms) * (len(c.arms) - 1) // 2
    family = f", Holm-adjusted over all {pairs} pairs of arms" if pairs > 1 else ""
    return (f"{label}: by mean, lowest first; arms share a rank (2=) unless their difference is significant "
            f"(p < {c.alpha:g}{family}): arms with different ranks differ significantly; a shared rank may join a "
            f"chain of such pairs.")


def extras_rule(c: Comparison) -> str:
    """What the columns of metrics beyond the loss are, for under the Markdown table."""
    return (f"{', '.join(c.extra_names)}: logged at the evaluation judged, mean over seeds ('-': the arm did not log "
            f"it); `<name>{PER_LAYER}` is the mean over the layers of `<name>/<layer>`.")


def _cells(a: Arm, c: Comparison) -> list[str]:
    e, d = a.estimate, a.difference
    mean = f"{num(e.mean)} [{num(e.ci_low)}, {num(e.ci_high)}]" if e.ci_low is not None else f"{num(e.mean)} (n=1)"
    if d is None:
        contrast = ["baseline", "-", "-", "-", "-"]
    else:
        delta = f"{signed(d.delta)} [{signed(d.ci_low)}, {signed(d.ci_high)}]" if d.ci_low is not None else \
            f"{signed(d.delta)} (no CI)"
        p = p_text(d.p) + (f" (Holm {p_text(a.p_adjusted)})" if len(c.variants) > 1 and d.p is not None else "")
        contrast = [delta, p, d.test or "none", a.verdict, seeds_needed_text(a.seeds_needed, a.seeds_no_difference)]
    tps, params = a.stat("tokens_per_second").mean, a.stat("params").mean
    return [rank_text(c, a), a.name, str(a.n), mean, *contrast, *(num(a.extras.get(x)) for x in c.extra_names),
            "-" if tps is None else f"{tps:,.0f}", "-" if params is None else f"{params:,.0f}"]


def notes(c: Comparison) -> list[str]:
    """The lines under the table: how to read it, the rule of the verdict, what was left out and why."""
    confidence = 1 - c.alpha
    adjusted = len(c.variants) > 1
    return ["", f"n: seeds, one run each. Mean [{confidence:.0%} CI]: t interval of the mean over seeds. "
            f"Δ = arm - baseline ({c.baseline.name}), its {confidence:.0%} CI and two-sided p from scipy.stats: the "
            f"paired t-test when both arms ran the same seeds with the same batch size and context length (a "
            f"seed then fixes the batches), else Welch's t-test.",
            stats.verdict_rule(c.alpha, c.min_effect, adjusted, confidence),
            f"Seeds needed: per arm, for p < {c.alpha:g} at {stats.POWER:.0%} power were the observed Δ and sd the "
            f"truth (noncentral t, scipy.stats.nct); an effect observed on few seeds is usually an overestimate. "
            f"(no diff: N): seeds for 'no detectable difference' (the CI inside ±{c.min_effect:.4g}) at the same "
            f"power, where |Δ| < --min-effect.", rank_rule(c), *([extras_rule(c)] if c.extra_names else []),
            *sections(c)]


def sections(c: Comparison) -> list[str]:
    """The notes that name arms and runs (both tables print them): the tests' notes, the runs left out and why,
    the warnings."""
    tests = [f"- {a.name}: {a.difference.test or 'no test'}: {a.difference.note}" for a in c.variants
             if a.difference.note]
    single = [a.name for a in c.arms if a.n < 2]
    if single:
        tests.append(f"- one seed only ({', '.join(single)}): no confidence interval or test is possible; run more "
                     f"seeds (seed=0,1,2 ...).")
    lines = ["", "Tests:", *tests] if tests else []
    if c.excluded:
        lines += ["", f"Left out ({len(c.excluded)} run{'s' if len(c.excluded) > 1 else ''}):",
                  *(f"- {e.run.path}: {e.why}" for e in c.excluded)]
    if c.warnings:
        lines += ["", "Warnings:", *(f"- {w}" for w in c.warnings)]
    return lines


def to_markdown(c: Comparison) -> str:
    header = ["rank", "arm", "n", f"{metric_label(c)} [{1 - c.alpha:.0%} CI]", "Δ vs baseline [CI]", "p", "test",
              "verdict", "seeds needed", *c.extra_names, "tokens/s", "params"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cells(a, c)) + " |" for a in c.arms]
    return "\n".join(lines + notes(c)) + "\n"


def write_csv(c: Comparison, path: Path) -> None:
    rows = c.table()
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_reports(c: Comparison, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, csv_path, curves, deltas = (out_dir / name for name in REPORT_FILES)
    md.write_text(to_markdown(c))
    write_csv(c, csv_path)
    plot_curves(c, curves)
    plot_deltas(c, deltas)
    return [md, csv_path, curves, deltas]


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
