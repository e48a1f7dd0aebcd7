"""Compare runs: which variant of an ablation is better, and is the difference more than seed noise?

    uv run python -m tinyx.compare outputs/multirun/2026-11-21/01-04-15
    uv run python -m tinyx.compare 'outputs/runs/2026-11-21/*' outputs/runs/2026-11-22/09-00-00 --out reports/

Reads only the run-directory contract, through tinyx.rundir (config, metrics, summary, provenance).
The config keys that differ between runs become the table's columns; runs that differ only
by `seed` form one group, reported as mean ± std (sample standard deviation, n-1) over its seeds.
Writes comparison.md, comparison.csv and comparison.png into the directory compared (or --out).
Runs whose provenance names different git commits are compared, with one warning listing them.

Other code calls `compare_runs(paths)` and reads `Comparison.groups` / `Comparison.table()`.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import os
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyx import rundir
from tinyx.config import is_hyperparameter
from tinyx.errors import CompareError, exit_on_user_error
from tinyx.files import check_writable
from tinyx.rundir import METRICS_FILE, SUMMARY_FILE, find_runs

SEED_KEY = "seed"
# Keys that say where files are or how a run is logged, not what was trained: never columns.
REPORT_FILES = ("comparison.md", "comparison.csv", "comparison.png")


@dataclass
class RunResult:
    """One run directory as compare reads it."""

    path: Path
    config: dict[str, Any]  # flat `a.b.c` keys
    status: str
    final_val_loss: float
    best_val_loss: float
    tokens_per_second: float | None
    params: float | None
    wall_seconds: float | None
    val_curve: list[tuple[int, float]]  # (step, val/loss) of every evaluation
    seconds_to_target: float | None = None  # wall time at the first evaluation <= the target, if reached
    commit: str | None = None  # the git commit of the code that trained it (provenance.json), if known


@dataclass
class Stat:
    """Mean and sample standard deviation (None for a single value) of one figure over a group's runs."""

    mean: float | None
    std: float | None

    @classmethod
    def of(cls, values: list[float | None]) -> Stat:
        values = [v for v in values if v is not None]
        if not values:
            return cls(None, None)
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)


@dataclass
class Group:
    """Runs that differ only by seed: one variant of the ablation."""

    values: dict[str, Any]  # the differing config keys (seed excluded) and this group's values
    runs: list[RunResult]
    final_val_loss: Stat
    best_val_loss: Stat
    tokens_per_second: Stat
    params: Stat
    wall_seconds: Stat
    seconds_to_target: Stat = field(default_factory=lambda: Stat(None, None))
    reached_target: int = 0  # runs whose validation loss reached the target
    rank: int = 0  # 1 = lowest mean final validation loss
    overlaps: list[int] = field(default_factory=list)  # ranks of groups whose seed intervals overlap this one's

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def is_best(self) -> bool:
        return self.rank == 1

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.values.items()) or "all runs"

    def interval(self) -> tuple[float, float]:
        """mean ± std of the final validation loss (a point for a single seed)."""
        spread = self.final_val_loss.std or 0.0
        return self.final_val_loss.mean - spread, self.final_val_loss.mean + spread


@dataclass
class Comparison:
    keys: list[str]  # the config keys that differ between groups: the table's columns
    groups: list[Group]  # best first
    warnings: list[str]
    target: float | None = None  # a validation loss whose time to reach is reported

    def table(self) -> list[dict[str, Any]]:
        """One row per group (best first), the numbers unrounded: what comparison.csv holds."""
        rows = []
        for g in self.groups:
            row: dict[str, Any] = {"rank": g.rank, "best": g.is_best}
            row.update({k: g.values.get(k) for k in self.keys})
            row.update({"n": g.n,
                        "val_loss_mean": g.final_val_loss.mean, "val_loss_std": g.final_val_loss.std,
                        "val_loss_best_mean": g.best_val_loss.mean, "val_loss_best_std": g.best_val_loss.std,
                        "tokens_per_second_mean": g.tokens_per_second.mean,
                        "tokens_per_second_std": g.tokens_per_second.std,
                        "params": _whole(g.params.mean), "wall_seconds_mean": g.wall_seconds.mean,
                        "wall_seconds_std": g.wall_seconds.std,
                        "overlaps_with_ranks": ";".join(map(str, g.overlaps)),
                        **({"target_val_loss": self.target, "reached_target": g.reached_target,
                            "seconds_to_target_mean": g.seconds_to_target.mean,
                            "seconds_to_target_std": g.seconds_to_target.std} if self.target is not None else {}),
                        "runs": ";".join(str(r.path) for r in g.runs)})
            rows.append(row)
        return rows


def _whole(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


# ---------------------------------------------------------------- reading runs
def _read_config(path: Path) -> dict[str, Any]:
    from tinyx.config import flatten_config

    return flatten_config(rundir.read_config(path))


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _first(*values):
    return next((v for v in values if v is not None), None)


def _read_summary(path: Path, rows: list[dict], warn) -> rundir.RunSummary | None:
    summary = rundir.read_summary(path)
    if summary is None and (path / SUMMARY_FILE).is_file():
        warn(f"{path / SUMMARY_FILE} is not valid JSON: figures taken from {METRICS_FILE}.")
    elif summary is None:
        last = rows[-1]["step"] if rows and "step" in rows[-1] else 0
        warn(f"{path} has no {SUMMARY_FILE} (still running, or killed): figures from {METRICS_FILE} up to "
             f"step {last}.")
    elif not summary.completed:
        warn(f"{path} ended with status {summary.status!r}.")
    return summary


def read_run(path: Path, warn, target: float | None = None) -> RunResult | None:
    """A run's figures from its summary, falling back to its metrics for a run that did not finish."""
    try:
        config = _read_config(path)
    except Exception as e:
        warn(f"{rundir.config_path(path)} is unreadable ({type(e).__name__}): run skipped.")
        return None
    rows = rundir.read_metrics(path, on_bad_line=lambda number, line: warn(
        f"{path / METRICS_FILE} line {number} is not a JSON object ({line[:40]!r}...): line skipped."))
    curve = [(int(r["step"]), v) for r in rows if "step" in r and (v := _finite(r.get("val/loss"))) is not None]
    # A run without a summary (killed, or still running) is read from its metrics alone.
    summary = _read_summary(path, rows, warn) or rundir.RunSummary(status="incomplete")
    final = _first(_finite(summary.val_loss), curve[-1][1] if curve else None)
    if final is None:
        warn(f"{path} has no finite validation loss yet: run skipped.")
        return None
    best = _first(_finite(summary.val_loss_best), min(v for _, v in curve) if curve else None, final)
    throughput = [v for r in rows if (v := _finite(r.get("tokens_per_second"))) is not None]
    tokens_per_second = _first(_finite(summary.tokens_per_second),
                               statistics.median(throughput) if throughput else None)
    seconds_to_target = None
    if target is not None:
        seconds_to_target = next((_finite(r.get("wall_seconds")) for r in rows
                                  if (v := _finite(r.get("val/loss"))) is not None and v <= target), None)
    return RunResult(path=path, config=config, status=summary.status, final_val_loss=final, best_val_loss=best,
                     tokens_per_second=tokens_per_second, params=_finite(summary.params),
                     wall_seconds=_finite(summary.wall_seconds), val_curve=curve,
                     seconds_to_target=seconds_to_target, commit=rundir.git_commit(path))


def commit_warning(runs: list[RunResult]) -> str | None:
    """One warning when the runs' code came from different git commits (runs without provenance not counted).

    A difference between groups is then not only the config's: the code changed under them too.
    """
    commits = Counter(r.commit for r in runs if r.commit is not None)
    if len(commits) < 2:
        return None
    listed = ", ".join(f"{c[:12]} ({n} run{'s' if n > 1 else ''})" for c, n in commits.most_common())
    return (f"the runs come from {len(commits)} git commits: {listed}. Differences may come from code changes, "
            f"not only from the config: rerun the groups on one commit to compare like with like.")


# ---------------------------------------------------------------- grouping
def _comparable(value) -> str:
    return json.dumps(value, sort_keys=True)


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every run (a key missing from a run counts as differing)."""
    keys = []
    for key in sorted(set().union(*configs)):
        if not is_hyperparameter(key):  # where and how a run ran is not what it trained
            continue
        values = {_comparable(c[key]) if key in c else "<missing>" for c in configs}
        if len(values) > 1:
            keys.append(key)
    return keys


def group_runs(runs: list[RunResult]) -> tuple[list[str], list[Group]]:
    """Groups of runs that differ only by seed, ranked by mean final validation loss, with their overlaps."""
    keys = [k for k in differing_keys([r.config for r in runs]) if k != SEED_KEY]
    by_values: dict[tuple, list[RunResult]] = {}
    for run in runs:
        by_values.setdefault(tuple(_comparable(run.config.get(k)) for k in keys), []).append(run)
    groups = []
    for members in by_values.values():
        members.sort(key=lambda r: (str(r.config.get(SEED_KEY)), str(r.path)))
        groups.append(Group(
            values={k: members[0].config.get(k) for k in keys}, runs=members,
            final_val_loss=Stat.of([r.final_val_loss for r in members]),
            best_val_loss=Stat.of([r.best_val_loss for r in members]),
            tokens_per_second=Stat.of([r.tokens_per_second for r in members]),
            params=Stat.of([r.params for r in members]), wall_seconds=Stat.of([r.wall_seconds for r in members]),
            seconds_to_target=Stat.of([r.seconds_to_target for r in members]),
            reached_target=sum(r.seconds_to_target is not None for r in members)))
    groups.sort(key=lambda g: g.final_val_loss.mean)
    for rank, g in enumerate(groups, start=1):
        g.rank = rank
    for g in groups:
        lo, hi = g.interval()
        g.overlaps = [o.rank for o in groups if o is not g and o.interval()[0] <= hi and lo <= o.interval()[1]]
    return keys, groups


def compare_runs(paths: list[str | Path], target: float | None = None) -> Comparison:
    """The grouped comparison of the runs named by paths (run dirs, multirun dirs, globs).

    With `target`, each group also reports the wall time its runs took to first evaluate at or below it.
    """
    warnings: list[str] = []
    runs = [r for p in find_runs(paths) if (r := read_run(p, warnings.append, target)) is not None]
    if not runs:
        raise CompareError(f"none of the runs in {' '.join(map(str, paths))} has a validation loss yet: "
                           f"compare runs that reached their first evaluation (train.eval_every).")
    if (mixed := commit_warning(runs)) is not None:
        warnings.append(mixed)
    keys, groups = group_runs(runs)
    return Comparison(keys=keys, groups=groups, warnings=warnings, target=target)


# ---------------------------------------------------------------- reports
def _show(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)


def _pm(stat: Stat, digits: int, thousands: bool = False) -> str:
    if stat.mean is None:
        return "-"
    fmt = f"{{:,.{digits}f}}" if thousands else f"{{:.{digits}f}}"
    return fmt.format(stat.mean) + (f" ± {fmt.format(stat.std)}" if stat.std is not None else "")


def _noise(g: Group) -> str:
    if g.overlaps:
        return "overlaps " + ", ".join(f"#{r}" for r in g.overlaps)
    return "separated" if g.n > 1 else "n=1, no interval"


def to_markdown(comparison: Comparison) -> str:
    header = ["rank", *comparison.keys, "n", "val loss (final)", "val loss (best)", "tokens/s", "params",
              "wall s", "seed noise"]
    if comparison.target is not None:
        header.insert(-1, f"s to val <= {comparison.target:g} (reached)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in comparison.groups:
        cells = [f"{g.rank} best" if g.is_best else str(g.rank), *(_show(g.values[k]) for k in comparison.keys),
                 str(g.n), _pm(g.final_val_loss, 4), _pm(g.best_val_loss, 4), _pm(g.tokens_per_second, 0, True),
                 f"{g.params.mean:,.0f}" if g.params.mean is not None else "-", _pm(g.wall_seconds, 1),
                 _noise(g)]
        if comparison.target is not None:
            cells.insert(-1, f"{_pm(g.seconds_to_target, 1)} ({g.reached_target}/{g.n})")
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", "val loss: mean ± std (sample standard deviation) over the seeds of each group; ranked by the "
             "final validation loss. Seed noise: groups whose intervals (mean ± std of the final validation "
             "loss) overlap do not separate from seed noise."]
    best = comparison.groups[0]
    if len(comparison.groups) > 1:
        if best.overlaps:
            notes.append(f"The best group (#1) is within seed noise of #{', #'.join(map(str, best.overlaps))}: "
                         f"more seeds, or a larger difference, are needed to call it better.")
        elif best.n > 1:
            notes.append("The best group (#1) separates from every other group's seed interval.")
    if comparison.warnings:
        notes += ["", "Warnings:", *(f"- {w}" for w in comparison.warnings)]
    return "\n".join(lines + notes) + "\n"


def write_csv(comparison: Comparison, path: Path) -> None:
    rows = comparison.table()
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _show(v) if isinstance(v, (list, dict)) else ("" if v is None else v)
                             for k, v in row.items()})


def plot_val_curves(comparison: Comparison, path: Path) -> None:
    """Validation loss against step: one line per group (mean over seeds) and a ± std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for g in comparison.groups:
        curves = [dict(r.val_curve) for r in g.runs if r.val_curve]
        if not curves:
            continue
        steps = sorted(set.intersection(*(set(c) for c in curves)))  # steps every seed evaluated at
        means = [statistics.fmean(c[s] for c in curves) for s in steps]
        label = f"#{g.rank} {g.label} (n={g.n})"
        (line,) = ax.plot(steps, means, marker="o" if len(steps) < 20 else None, markersize=3, label=label)
        if len(curves) > 1:
            stds = [statistics.stdev(c[s] for c in curves) for s in steps]
            ax.fill_between(steps, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss (mean ± std over seeds)")
    ax.set_title("validation loss by group")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def default_out_dir(paths: list[str], run_dirs: list[Path]) -> Path:
    """The directory compared: the one directory given, else the runs' common parent."""
    if len(paths) == 1 and not glob.has_magic(str(paths[0])) and Path(paths[0]).is_dir():
        return Path(paths[0])
    return Path(os.path.commonpath([str(p) for p in run_dirs]))


def write_reports(comparison: Comparison, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, csv_path, png = (out_dir / name for name in REPORT_FILES)
    md.write_text(to_markdown(comparison))
    write_csv(comparison, csv_path)
    plot_val_curves(comparison, png)
    return [md, csv_path, png]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tinyx.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="run directories, multirun directories, or globs of them")
    parser.add_argument("--out", help="directory for comparison.{md,csv,png} (default: the directory compared)")
    parser.add_argument("--target", type=float, help="also report the wall seconds each group took to reach "
                                                     "this validation loss (first evaluation at or below it)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str]) -> Comparison:
    args = parse_args(argv)
    comparison = compare_runs(args.paths, target=args.target)
    for w in comparison.warnings:
        print(f"warning: {w}", file=sys.stderr, flush=True)
    run_dirs = [r.path for g in comparison.groups for r in g.runs]
    out_dir = Path(args.out) if args.out else default_out_dir(args.paths, run_dirs)
    check_writable(out_dir, "--out")  # so that a full disk leaves no half of the reports
    try:
        written = write_reports(comparison, out_dir)
    except OSError as e:
        raise CompareError(f"cannot write the reports to {out_dir} ({e.strerror}): pass --out DIR.") from None
    print(to_markdown(comparison), end="")
    print(f"\nwrote {', '.join(p.name for p in written)} to {out_dir}", flush=True)
    return comparison


if __name__ == "__main__":
    from tinyx.entry import load_env

    load_env()
    main(sys.argv[1:])
