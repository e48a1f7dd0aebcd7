"""What a ladder writes: ladder.md (the fits, the difference per size, its trend and extrapolation, the verdicts and
the rule they follow), ladder.csv (one row per arm and size) and the two plots; the same text on the console."""

from __future__ import annotations

import csv
import io
import math

from tinyx.common.files import atomic_write_text
from tinyx.tools.ladder.analysis import Ladder
from tinyx.tools.ladder.options import Options
from tinyx.tools.ladder.plan import DIAL_KEY, Rung

REPORT_FILE, CSV_FILE, FIT_PLOT, DELTA_PLOT = "ladder.md", "ladder.csv", "ladder.png", "ladder_delta.png"


def _f(x: float | None, fmt: str = ".4f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _ci(low: float | None, high: float | None, fmt: str = ".4f") -> str:
    return "-" if low is None or high is None else f"[{_f(low, fmt)}, {_f(high, fmt)}]"


def fit_lines(ladder: Ladder) -> list[str]:
    lines = ["| arm | E | A | alpha | fitted at target | sizes |", "|---|---|---|---|---|---|"]
    for a in ladder.arms:
        if a.fit is None:
            lines.append(f"| {a.name} | - | - | - | - | {len(a.compute)}: {a.no_fit} |")
            continue
        lines.append(f"| {a.name} | {_f(a.fit.E)} {_ci(*a.E_ci)} | {_f(a.fit.A, '.3g')} {_ci(*a.A_ci, '.3g')} | "
                     f"{_f(a.fit.alpha, '.3f')} {_ci(*a.alpha_ci, '.3f')} | {_f(a.at_target)} {_ci(*a.at_target_ci)} "
                     f"| {len(a.compute)} |")
    return lines


def size_lines(ladder: Ladder, rungs: list[Rung]) -> list[str]:
    params = {(r.arm.name, r.depth): r.figures.params for r in rungs}
    lines = []
    for v in ladder.variants:
        lines += [f"### {v.arm} against {ladder.baseline}", "",
                  f"| {DIAL_KEY} | params (base / this) | FLOPs (base) | baseline | this arm | delta | 95% CI | p | "
                  f"p (Holm) | test |", "|---|---|---|---|---|---|---|---|---|---|"]
        for s in v.sizes:
            lines.append(f"| {s.depth} | {params.get((ladder.baseline, s.depth), 0):,} / "
                         f"{params.get((v.arm, s.depth), 0):,} | {s.compute:.3g} | {_f(s.baseline_mean)} | "
                         f"{_f(s.variant_mean)} | {_f(s.delta, '+.4f')} | {_ci(s.ci_low, s.ci_high, '+.4f')} | "
                         f"{_f(s.p, '.3g')} | {_f(s.p_holm, '.3g')} | {s.test} |")
        lines += ["", f"- slope of the delta per decade of compute: {_f(v.slope, '+.4f')} "
                      f"{_ci(*v.slope_ci, '+.4f')}",
                  f"- delta extrapolated to {v.target_compute:.3g} FLOPs ({ladder.target:g}x the largest run): "
                  f"{_f(v.delta_at_target, '+.4f')}, 95% interval {_ci(*v.delta_at_target_ci, '+.4f')}"
                  + (f"; the interval reaches 0 at {v.zero_at:.3g} FLOPs" if v.zero_at else ""),
                  f"- **verdict: {v.verdict}**" + (f" ({v.direction})" if v.direction else ""), ""]
    return lines


def sizes_lines(ladder: Ladder, rungs: list[Rung]) -> list[str]:
    """Per arm and size: what it trained and how long a run took here (the mean over its seeds)."""
    epochs = {(r.arm.name, r.depth): r.epochs for r in rungs}
    lines = [f"| arm | {DIAL_KEY} | params | FLOPs/token | tokens | epochs | FLOPs | seconds a run |",
             "|---|---|---|---|---|---|---|---|"]
    for a in ladder.arms:
        for k, depth in enumerate(a.depths):
            lines.append(f"| {a.name} | {depth} | {a.params[k]:,} | {a.flops_per_token[k]:.3g} | {a.tokens[k]:,} | "
                         f"{epochs.get((a.name, depth), math.nan):.2f} | {a.compute[k]:.3g} | "
                         f"{_f(a.seconds[k], '.0f')} |")
    return lines


def report_text(ladder: Ladder, rungs: list[Rung], opts: Options) -> str:
    epochs = sorted({(r.depth, round(r.epochs, 2)) for r in rungs if r.arm is opts.arms[0]})
    lines = [f"# Ladder: {ladder.metric} against compute", "",
             f"Baseline {ladder.baseline}; sizes {DIAL_KEY}={','.join(map(str, opts.depths))}; {opts.seeds} seeds "
             f"each; epochs of the corpus the baseline reads per size: "
             + ", ".join(f"{d}: {e:g}" for d, e in epochs) + ".", "",
             "## Sizes (seconds: train.py's own wall clock, start-up outside it not counted)", "",
             *sizes_lines(ladder, rungs), "",
             "## Fits: L(C) = E + A * C^-alpha per arm (95% bootstrap intervals over seeds)", "", *fit_lines(ladder),
             "", "## The difference per size, its trend and its extrapolation", "", *size_lines(ladder, rungs),
             "## The rule", "", *ladder.rule.splitlines(), ""]
    return "\n".join(lines)


def csv_text(ladder: Ladder) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["arm", "depth", "params", "flops_per_token", "tokens", "flops", "seconds", "seeds", "mean", "sd",
                     "delta", "delta_ci_low", "delta_ci_high", "p", "p_holm", "values"])
    deltas = {(v.arm, s.depth): s for v in ladder.variants for s in v.sizes}
    for a in ladder.arms:
        for k, depth in enumerate(a.depths):
            s = deltas.get((a.name, depth))
            vals = [x for x in a.values[k] if not math.isnan(x)]
            writer.writerow([a.name, depth, a.params[k], f"{a.flops_per_token[k]:.6g}", a.tokens[k],
                             f"{a.compute[k]:.6g}", _f(a.seconds[k], ".1f"), len(vals), f"{a.means[k]:.6f}",
                             _f(a.sds[k], ".6f"), *(["", "", "", "", ""] if s is None else [
                                 f"{s.delta:.6f}", _f(s.ci_low, ".6f"), _f(s.ci_high, ".6f"), _f(s.p, ".4g"),
                                 _f(s.p_holm, ".4g")]), " ".join(f"{x:.6f}" for x in vals)])
    return buffer.getvalue()


def write_report(ladder: Ladder, rungs: list[Rung], opts: Options) -> str:
    """Write ladder.md, ladder.csv and the plots into --out; the text printed."""
    from tinyx.tools.ladder.plots import plot_deltas, plot_fits

    text = report_text(ladder, rungs, opts)
    atomic_write_text(opts.out / CSV_FILE, csv_text(ladder))
    plot_fits(ladder, opts.out / FIT_PLOT)
    plot_deltas(ladder, opts.out / DELTA_PLOT)
    atomic_write_text(opts.out / REPORT_FILE, text)
    return text
