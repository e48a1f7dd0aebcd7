"""ablation.md: each variant's verdict, the seeds it took and the figures of its deciding look."""

from __future__ import annotations

from pathlib import Path

from tinyx.compare import stats
from tinyx.rundir import records
from tinyx.tools.ablate.rounds import Look, Options
from tinyx.tools.ablate.rule import schedule
from tinyx.tools.ablate.seeds import ArmSpec, seed_dir


def report(arms: list[ArmSpec], last: dict[str, Look], opts: Options) -> str:
    looks = len(schedule(opts.round_seeds, opts.max_seeds))
    lines = ["| arm | verdict | seeds spent | decided at | Δ vs baseline | CI | p | test |", "|" + "---|" * 8]
    for arm in arms:
        spent = len(arm.seeds_done) + len(arm.seeds_spent)
        if arm is arms[0]:
            lines.append(f"| {arm.name} | baseline | {spent} | - | - | - | - | - |")
            continue
        d = last[arm.name].difference
        at = f"{arm.stopped_at} seeds" + (" (max)" if arm.verdict == stats.UNDECIDED else "")
        figures = (f"{d.delta:+.4f} | [{d.ci_low:+.4f}, {d.ci_high:+.4f}] | {d.p:.4g} | {d.test}" if d and d.ci_low
                   is not None else "- | - | - | -")
        lines.append(f"| {arm.name} | {arm.verdict} | {spent} | {at} | {figures} |")
    lines += seed_notes(arms, opts.out)
    lines += ["", f"{opts.metric}, lower is better. Seeds in rounds of {opts.round_seeds} up to {opts.max_seeds} "
              f"({looks} planned looks); each look tests at α/{looks} = {opts.alpha / looks:.4g} (Bonferroni over the "
              f"looks: at most α = {opts.alpha:g} false 'better/worse' per variant over all looks). CI: "
              f"{1 - opts.alpha / looks:.2%} at the deciding look. no detectable difference: that CI inside "
              f"±min-effect. {sum(len(a.seeds_done) + len(a.seeds_spent) for a in arms)} verdict runs in all.",
              f"Full table (each arm tested once, at α): {compare_command(arms, opts.out)}"]
    return "\n".join(lines) + "\n"


def compare_command(arms: list[ArmSpec], out: Path) -> str:
    """The compare command over the verdict's runs (the tuning runs under out/tuning are not arms), its
    --baseline spelled as compare names the baseline's arm, so it runs as printed."""
    import shlex

    from tinyx.compare import group_arms

    runs = [run for arm in arms for run in arm.runs.values()]
    folders = " ".join(shlex.quote(str(out / arm.slug)) for arm in arms)
    groups = group_arms(runs)[1]
    names = [name for name, _, group in groups if any(r in group for r in arms[0].runs.values())]
    baseline = f" --baseline {shlex.quote(names[0])}" if len(names) == 1 and len(groups) > 1 else ""
    return f"uv run tinyx compare {folders}{baseline}"


def seed_notes(arms: list[ArmSpec], out: Path) -> list[str]:
    """What the table does not show: the seeds that ended without a value (never rerun, so said here) and
    whether the pairing of older runs was decided from their config."""
    spent = [f"- {arm.name}, seed {seed}: {status} ({seed_dir(out, arm, seed)})"
             for arm in arms for seed, status in sorted(arm.seeds_spent.items())]
    lines = ["", "Seeds spent without a value, not run again (delete a seed's directory to rerun it):", *spent]
    old = any(records.by_config(records.seed_pairs(arms[0].runs, v.runs)) for v in arms[1:])
    return (lines if spent else []) + (["", f"Pairing: {records.UNRECORDED}."] if old else [])
