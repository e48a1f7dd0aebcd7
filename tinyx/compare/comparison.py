"""A comparison of arms: `compare_runs` (run directories -> arms -> one observation per seed -> judged against
the baseline) and the `Comparison` it returns, whose `table()` is comparison.csv. The package docstring says
what compare does; the steps are tinyx.compare.runs, grouping, observations and judging."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyx.common.errors import CompareError
from tinyx.compare import extras, stats
from tinyx.compare.arms import Arm, Excluded
from tinyx.compare.budget import FLOPS_UNRECORDED, Budget
from tinyx.compare.fairness import tuning_warning
from tinyx.compare.grouping import group_arms
from tinyx.compare.judging import find_baseline, judge, seed_pairs
from tinyx.compare.observations import select_observations
from tinyx.compare.runs import TIME_TO_TARGET, commit_warning, data_warning, read_run
from tinyx.rundir import records
from tinyx.rundir.contract import FINAL_METRICS, VAL_LOSS
from tinyx.rundir.find import find_runs

# The metrics an arm can be judged by: final or best of each validation curve, or the wall time to a target.
METRICS = (*FINAL_METRICS, TIME_TO_TARGET)
DEFAULT_MIN_EFFECT = 0.005  # relative to the baseline's mean, when --min-effect is not given


@dataclass
class Comparison:
    """What compare_runs returns: the arms judged, and how (the metric, at which step, the thresholds)."""

    keys: list[str]  # the config keys that differ between arms
    arms: list[Arm]  # the baseline first, then the variants in the order they were found
    metric: str
    warnings: list[str]
    alpha: float = stats.ALPHA
    min_effect: float = 0.0
    at_step: int | None = None
    at_tokens: int | None = None
    at_flops: float | None = None
    at_seconds: float | None = None
    target: float | None = None  # a validation loss whose time to reach is reported

    @property
    def budget(self) -> Budget:
        """Where every run was judged (Budget: none, its end)."""
        return Budget(self.at_step, self.at_tokens, self.at_flops, self.at_seconds)

    @property
    def baseline(self) -> Arm:
        return self.arms[0]

    @property
    def variants(self) -> list[Arm]:
        return self.arms[1:]

    @property
    def extra_names(self) -> list[str]:
        """The metrics beyond the loss that any arm logged (tinyx.compare.extras), sorted."""
        return sorted({name for a in self.arms for name in a.extras})

    @property
    def excluded(self) -> list[Excluded]:
        return [e for a in self.arms for e in a.excluded]

    def table(self) -> list[dict[str, Any]]:
        """One row per arm (the baseline first), the numbers unrounded: what comparison.csv holds."""
        rows = []
        for a in self.arms:
            e, d = a.estimate, a.difference
            row: dict[str, Any] = {"arm": a.name, "baseline": a.is_baseline, "rank": a.rank}
            row.update({k: a.values.get(k) for k in self.keys})
            row.update({"metric": self.metric, "n": a.n, "mean": e.mean, "sd": e.sd, "ci_low": e.ci_low,
                        "ci_high": e.ci_high, "delta": d.delta if d else None, "delta_ci_low": d.ci_low if d else None,
                        "delta_ci_high": d.ci_high if d else None, "p": d.p if d else None,
                        "p_adjusted": a.p_adjusted, "test": d.test if d else None, "verdict": a.verdict,
                        "seeds_needed": a.seeds_needed, "seeds_no_difference": a.seeds_no_difference,
                        "tokens_per_second_mean": a.stat("tokens_per_second").mean,
                        "params": _whole(a.stat("params").mean), "wall_seconds_mean": a.stat("wall_seconds").mean,
                        **({"target_val_loss": self.target, "seconds_to_target_mean": a.stat("seconds_to_target").mean,
                            "reached_target": sum(r.seconds_to_target is not None for r in a.runs)}
                           if self.target is not None else {}),
                        **{f"{name}_mean": a.extras.get(name) for name in self.extra_names},
                        "seeds": ";".join(map(str, a.seeds)), "runs": ";".join(str(r.path) for r in a.runs)})
            rows.append(row)
        return rows


def metric_label(c: Comparison) -> str:
    if c.metric == TIME_TO_TARGET:
        return f"s to val/loss <= {c.target:g}"
    name = c.metric.removesuffix("_best") + (" (best)" if c.metric.endswith("_best") else " (final)")
    at = c.budget.label()
    return f"{name} at {at}" if at is not None else name


def _whole(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


def _no_observation(name: str, excluded: list[Excluded], at: str | None) -> CompareError:
    whys = "; ".join(f"{e.run.path.name}: {e.why}" for e in excluded[:3]) + ("; ..." if len(excluded) > 3 else "")
    if at and all(e.why == FLOPS_UNRECORDED for e in excluded):
        fix = "rerun its runs with this tinyx, which records it, or compare at equal tokens with --at-tokens"
    elif at and all(" by " in e.why for e in excluded):  # each run's first evaluation came after it
        fix = f"choose a later {at}, by which every arm evaluated"
    elif at:
        fix = f"choose an earlier {at} that every arm reached"
    elif all(" logged" in e.why or "target" in e.why for e in excluded):
        fix = "evaluate during training (train.eval_every), or choose another --metric"
    else:
        fix = "finish its runs (train.resume=auto), pass --include-incomplete, or leave its runs out"
    return CompareError(f"arm {name!r} has no run to compare ({whys}): {fix}.")


def check_options(metric: str, target: float | None, budget: Budget = Budget()) -> None:
    if metric not in METRICS:
        raise CompareError(f"--metric={metric!r} is not a metric compare knows: choose one of {', '.join(METRICS)}.")
    if metric == TIME_TO_TARGET and target is None:
        raise CompareError(f"--metric={TIME_TO_TARGET} needs the validation loss to reach: pass --target LOSS.")
    budget.check()


def compare_runs(paths: list[str | Path], metric: str = VAL_LOSS, baseline: str | None = None,
                 at_step: int | None = None, at_tokens: int | None = None, include_incomplete: bool = False,
                 target: float | None = None, min_effect: float | None = None, alpha: float = stats.ALPHA,
                 at_flops: float | None = None, at_seconds: float | None = None) -> Comparison:
    """The comparison of the arms found in paths (run dirs, multirun dirs, globs) against the baseline arm; with
    one of at_step, at_tokens, at_flops, at_seconds, every run judged at the step that budget gives it."""
    budget = Budget(at_step, at_tokens, at_flops, at_seconds)
    check_options(metric, target, budget)
    warnings: list[str] = []
    runs = [r for p in find_runs(paths) if (r := read_run(p, warnings.append, target)) is not None]
    if not runs:
        raise CompareError(f"none of the runs in {' '.join(map(str, paths))} can be read: check their config.json.")
    keys, groups = group_arms(runs)
    warnings += [w for w in (commit_warning(runs), data_warning([g for _, _, g in groups])) if w is not None]
    arms = []
    for name, values, members in groups:
        kept, observations, excluded = select_observations(members, metric, budget, include_incomplete)
        if not kept:
            raise _no_observation(name, excluded, budget.flag)
        arms.append(Arm(name=name, values=values, runs=kept, observations=observations, excluded=excluded,
                        extras=extras.arm_means([extras.at_step(r.extras, budget.step_of(r))
                                                 for r in kept])))
        warnings += [f"seed {e.run.seed} of arm {name!r} ran more than once: {e.run.path} is left out and "
                     f"{e.kept.path} kept (the newest completed; one observation per seed)" for e in excluded if e.kept]
    first = find_baseline(arms, baseline)
    arms = [first] + [a for a in arms if a is not first]
    if any(records.by_config(seed_pairs(first, a)) for a in arms[1:]):
        warnings.append(f"{records.UNRECORDED}.")
    if min_effect is None:
        min_effect = DEFAULT_MIN_EFFECT * abs(statistics.fmean(first.observations))
    judge(arms, alpha, min_effect)
    warnings += [w for w in (tuning_warning(keys, arms),) if w is not None]
    return Comparison(keys=keys, arms=arms, metric=metric, warnings=warnings, alpha=alpha, min_effect=min_effect,
                      at_step=at_step, at_tokens=at_tokens, at_flops=at_flops, at_seconds=at_seconds, target=target)
