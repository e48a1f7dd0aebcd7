"""The table compare prints: the Markdown table's essentials in the terminal's width (comparison.md keeps every
column). Means and differences as `value ± half-width of the CI` (t intervals are symmetric); the p-value the
verdict used; columns of lower priority (metrics beyond the loss, seeds needed, the test, tokens/s, params)
only where they fit; arm names shortened (what all arms share left out, else A, B, ...) with a legend when
they do not fit."""

from __future__ import annotations

import shutil
import string
import textwrap
from dataclasses import dataclass

from tinyx.compare import stats
from tinyx.compare.comparison import Comparison, metric_label
from tinyx.compare.report import (
    REPORT_FILES,
    extras_rule,
    num,
    p_text,
    rank_rule,
    rank_text,
    sections,
    seeds_needed_text,
    signed,
)

FALLBACK_WIDTH = 80  # where the width is unknown (output piped to a file or a pager)
GAP = "  "
SHORT_VERDICTS = {stats.NO_DIFFERENCE: "no diff"}


@dataclass(eq=False)  # a column is itself: two with the same cells are still two
class Column:
    header: str
    cells: list[str]
    essential: bool = True

    @property
    def width(self) -> int:
        return max(len(x) for x in [self.header, *self.cells])


def terminal_width() -> int:
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def _plus_minus(value: float, low: float | None, high: float | None, text=num) -> str:
    return f"{text(value)} ± {num((high - low) / 2)}" if low is not None and high is not None else text(value)


def _columns(c: Comparison, names: list[str]) -> list[Column]:
    """Every column the terminal could show, in order; the essential ones first make the narrowest table."""
    d = {a.name: a.difference for a in c.variants}
    p_of = {a.name: a.p_adjusted if len(c.variants) > 1 else d[a.name].p for a in c.variants}

    def each(cell) -> list[str]:
        return [cell(a) for a in c.arms]

    mean = each(lambda a: _plus_minus(a.estimate.mean, a.estimate.ci_low, a.estimate.ci_high)
                + ("" if a.n > 1 else " (n=1)"))
    delta = each(lambda a: "-" if a.is_baseline else _plus_minus(d[a.name].delta, d[a.name].ci_low,
                                                                 d[a.name].ci_high, signed))
    return [Column("#", each(lambda a: rank_text(c, a))), Column("arm", names),
            Column("n", each(lambda a: str(a.n))), Column("mean ± CI", mean), Column("Δ ± CI", delta),
            Column("p (Holm)" if len(c.variants) > 1 else "p", each(lambda a: "-" if a.is_baseline
                                                                       else p_text(p_of[a.name]))),
            Column("verdict", each(lambda a: "baseline" if a.is_baseline else SHORT_VERDICTS.get(a.verdict,
                                                                                                  a.verdict))),
            *(Column(header, each(lambda a, x=x: num(a.extras.get(x))), False)
              for x, header in zip(c.extra_names, _short_headers(c.extra_names))),
            Column("seeds needed", each(lambda a: "-" if a.is_baseline else seeds_needed_text(a.seeds_needed)),
                   False),
            Column("test", each(lambda a: "-" if a.is_baseline else d[a.name].test or "none"), False),
            Column("tokens/s", each(lambda a: _count(a.stat("tokens_per_second").mean)), False),
            Column("params", each(lambda a: _count(a.stat("params").mean)), False)]


def _short_headers(names: list[str]) -> list[str]:
    """`attn/sink_mass/*` as `sink_mass/*`: without the first part of the name, unless two would then clash."""
    short = [name.split("/", 1)[-1] for name in names]
    return short if len(set(short)) == len(short) else names


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _fits(columns: list[Column], width: int) -> bool:
    return sum(col.width for col in columns) + len(GAP) * (len(columns) - 1) <= width


def short_names(names: list[str]) -> list[str]:
    """Arm names without the overrides every arm shares, and without a key every remaining name starts with:
    `experiment=llama_tiny optim=muon` and `... optim=adamw` become `muon` and `adamw`."""
    words = [name.split(" ") for name in names]
    shared = set.intersection(*(set(w) for w in words))
    kept = [" ".join(x for x in w if x not in shared) or name for w, name in zip(words, names)]
    keys = {k.split("=", 1)[0] + "=" if "=" in k and " " not in k else None for k in kept}
    if len(keys) == 1 and (key := keys.pop()) is not None:
        kept = [k.removeprefix(key) for k in kept]
    return kept if len(set(kept)) == len(kept) else names


def fit(c: Comparison, width: int) -> tuple[list[Column], bool]:
    """(the columns shown, whether arm names are shortened): the full names if the essential columns fit with
    them, else the names without what all arms share, else A, B, ...; then each optional column, in order, that
    still fits."""
    full = [a.name for a in c.arms]
    letters = list(string.ascii_uppercase) if len(c.arms) <= 26 else [str(i + 1) for i in range(len(c.arms))]
    for names in (full, short_names(full), letters[:len(c.arms)]):
        columns = _columns(c, names)
        shown = [col for col in columns if col.essential]
        if _fits(shown, width):
            break
    for col in columns:
        if not col.essential and _fits([*shown, col], width):
            shown.append(col)
    return [col for col in columns if any(col is s for s in shown)], names != full


def _wrap(line: str, width: int) -> list[str]:
    return textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False) or [""]


def to_terminal(c: Comparison, width: int | None = None) -> str:
    """The table in `width` columns (default: the terminal's), its legend and key, the runs left out, the
    warnings; the full table is comparison.md."""
    width = width or terminal_width()
    columns, shortened = fit(c, width)
    shorts = set(_short_headers(c.extra_names))
    rows = [[col.header for col in columns], *zip(*(col.cells for col in columns))]
    sizes = [col.width for col in columns]
    lines = [GAP.join(cell.ljust(size) for cell, size in zip(row, sizes)).rstrip() for row in rows]
    arm = next(col for col in columns if col.header == "arm")
    pad = max(len(label) for label in arm.cells)
    legend = [f"{label.ljust(pad)}  {a.name}" for label, a in zip(arm.cells, c.arms)] if shortened else []
    baseline = arm.cells[0]
    p_note = f"Holm-adjusted over the {len(c.variants)} variants" if len(c.variants) > 1 else "two-sided"
    key = [f"{metric_label(c)}: mean ± half-width of the {1 - c.alpha:.0%} CI over seeds; Δ = arm - baseline "
           f"({baseline}); p: {p_note}; no diff = no detectable difference (CI of Δ inside ±{c.min_effect:.4g}).",
           rank_rule(c, "# (rank)"), *([extras_rule(c)] if any(col.header in shorts for col in columns) else []),
           f"Every column and how to read it: {REPORT_FILES[0]}."]
    text = [*lines, *([""] + legend if legend else []), "", *key, *sections(c)]
    return "\n".join(wrapped for line in text for wrapped in _wrap(line, width)) + "\n"
