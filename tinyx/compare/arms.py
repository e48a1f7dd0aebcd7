"""Runs into arms and judging them: which runs form an arm, which count, one observation per seed, the statistics
against the baseline (tinyx.compare.stats), the verdicts. The package docstring says what compare does; reading one run
is tinyx.compare.runs."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tinyx.compare import stats
from tinyx.compare.runs import (DATA_CONTENT, SEED_KEY, TIME_TO_TARGET, RunResult, commit_warning, data_warning,
                                read_run)
from tinyx.config import is_hyperparameter, override_key
from tinyx.common.errors import CompareError
from tinyx.rundir import records
from tinyx.rundir.contract import FINAL_METRICS, VAL_LOSS
from tinyx.rundir.find import find_runs

# The metrics an arm can be judged by: final or best of each validation curve, or the wall time to a target.
METRICS = (*FINAL_METRICS, TIME_TO_TARGET)
DEFAULT_MIN_EFFECT = 0.005  # relative to the baseline's mean, when --min-effect is not given


@dataclass
class Stat:
    """Mean and sample standard deviation (None for a single value) of a secondary figure (tokens/s, wall s)."""

    mean: float | None
    std: float | None

    @classmethod
    def of(cls, values: list[float | None]) -> Stat:
        values = [v for v in values if v is not None]
        if not values:
            return cls(None, None)
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)


@dataclass
class Excluded:
    run: RunResult
    why: str
    kept: RunResult | None = None  # for a seed run again: the run of that seed that was kept


@dataclass
class Arm:
    """Runs that differ only by seed: one arm of the ablation, and its statistics against the baseline."""

    name: str
    values: dict[str, Any]  # the differing config keys (seed excluded) and this arm's values
    runs: list[RunResult]  # the observations: one run per seed
    observations: list[float]  # the metric of each run, in the order of `runs`
    excluded: list[Excluded] = field(default_factory=list)
    estimate: stats.Estimate | None = None
    difference: stats.Difference | None = None  # None for the baseline itself
    p_adjusted: float | None = None
    verdict: str = ""
    seeds_needed: int | None = None
    rank: int = 0  # 1 = the lowest mean
    is_baseline: bool = False

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]

    def stat(self, attribute: str) -> Stat:
        return Stat.of([getattr(r, attribute) for r in self.runs])


@dataclass
class Comparison:
    keys: list[str]  # the config keys that differ between arms
    arms: list[Arm]  # the baseline first, then the variants in the order they were found
    metric: str
    warnings: list[str]
    alpha: float = stats.ALPHA
    min_effect: float = 0.0
    at_step: int | None = None
    at_tokens: int | None = None
    target: float | None = None  # a validation loss whose time to reach is reported

    @property
    def baseline(self) -> Arm:
        return self.arms[0]

    @property
    def variants(self) -> list[Arm]:
        return self.arms[1:]

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
                        "seeds_needed": a.seeds_needed,
                        "tokens_per_second_mean": a.stat("tokens_per_second").mean,
                        "params": _whole(a.stat("params").mean), "wall_seconds_mean": a.stat("wall_seconds").mean,
                        **({"target_val_loss": self.target, "seconds_to_target_mean": a.stat("seconds_to_target").mean,
                            "reached_target": sum(r.seconds_to_target is not None for r in a.runs)}
                           if self.target is not None else {}),
                        "seeds": ";".join(map(str, a.seeds)), "runs": ";".join(str(r.path) for r in a.runs)})
            rows.append(row)
        return rows


def _whole(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value



# ---------------------------------------------------------------- arms
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


def _natural(path: Path) -> tuple:
    """Job 10 after job 2: the order a multirun's jobs ran in, so the first arm is the first one swept."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts)


def _show(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)


def _override_names(runs: list[RunResult], groups: list[list[RunResult]]) -> list[str] | None:
    """Arm names from the command lines (e.g. `experiment=llama_tiny`): the hyperparameter overrides not shared
    by every run; None unless every run has them and they name each arm once."""
    if any(r.overrides is None for r in runs):
        return None

    kept = [[o for o in r.overrides if override_key(o) != SEED_KEY and is_hyperparameter(override_key(o))]
            for r in runs]
    common = set.intersection(*(set(k) for k in kept))
    by_run = {id(r): " ".join(o for o in k if o not in common) for r, k in zip(runs, kept)}
    names = []
    for members in groups:
        own = {by_run[id(r)] for r in members}
        if len(own) != 1 or not next(iter(own)):
            return None
        names.append(own.pop())
    return names if len(set(names)) == len(names) else None


def _value(run: RunResult, key: str):
    return run.data_content if key == DATA_CONTENT else run.config.get(key)


def _grouped(runs: list[RunResult], keys: list[str]) -> list[list[RunResult]]:
    by_values: dict[tuple, list[RunResult]] = {}
    for run in runs:
        by_values.setdefault(tuple(_comparable(_value(run, k)) for k in keys), []).append(run)
    return list(by_values.values())


def group_arms(runs: list[RunResult]) -> tuple[list[str], list[tuple[str, dict, list[RunResult]]]]:
    """(differing keys, [(name, values, runs)]): runs that differ only by seed, in the order first found.

    Runs whose data differ (another corpus or tokenizer, which may differ only in where it is read from: a
    machine setting) are other arms, told apart by the `data content` they record; runs older than that record
    are grouped by their hyperparameters alone, as before (data_warning says when that may merge corpora).
    """
    runs = sorted(runs, key=lambda r: _natural(r.path))
    keys = [k for k in differing_keys([r.config for r in runs]) if k != SEED_KEY]
    groups = _grouped(runs, keys)
    if all(r.data_content for r in runs) and len(by_data := _grouped(runs, [*keys, DATA_CONTENT])) > len(groups):
        keys, groups = [*keys, DATA_CONTENT], by_data
    values = [{k: g[0].data_label() if k == DATA_CONTENT else g[0].config.get(k) for k in keys} for g in groups]
    names = _override_names(runs, groups) or [
        " ".join(f"{k}={_show(v)}" for k, v in vals.items()) or "all runs" for vals in values]
    return keys, list(zip(names, values, groups))


# ---------------------------------------------------------------- observations: which runs enter
def select_observations(runs: list[RunResult], metric: str, at_step: int | None, include_incomplete: bool,
                        at_tokens: int | None = None) -> tuple[list[RunResult], list[float], list[Excluded]]:
    """One observation per seed, and the runs left out with why.

    Left out: runs that did not complete (unless include_incomplete); of the runs of one seed (a rerun, a
    copy of a resumed run) all but the newest completed one; runs without the metric (never evaluated,
    did not reach the step, never reached the target).
    """
    excluded: list[Excluded] = []
    eligible = []
    for run in runs:
        if run.completed or include_incomplete:
            eligible.append(run)
        else:
            excluded.append(Excluded(run, f"{run.status} at step {run.step} (--include-incomplete counts it)"))
    by_seed: dict[str, list[RunResult]] = {}
    for run in eligible:
        by_seed.setdefault(_comparable(run.seed), []).append(run)
    kept_runs, values = [], []
    for same_seed in by_seed.values():
        same_seed.sort(key=lambda r: (r.completed, r.finished_at, str(r.path)), reverse=True)
        kept, *dropped = same_seed
        excluded += [Excluded(r, f"seed {r.seed} again: one observation per seed, {kept.path} kept "
                                 f"(the newest completed)", kept) for r in dropped]
        step = at_tokens // kept.tokens_per_step if at_tokens is not None else at_step
        if step is not None and kept.step < step:
            excluded.append(Excluded(kept, f"stopped at step {kept.step}, before step {step}"))
            continue
        value = kept.value(metric, step)
        if value is None:
            why = ("never reached the target" if metric == TIME_TO_TARGET else f"no {metric.removesuffix('_best')} "
                   f"logged{f' by step {step}' if step is not None else ''}")
            excluded.append(Excluded(kept, why))
            continue
        kept_runs.append(kept)
        values.append(value)
    order = sorted(range(len(kept_runs)), key=lambda i: (str(kept_runs[i].seed), str(kept_runs[i].path)))
    return [kept_runs[i] for i in order], [values[i] for i in order], excluded


def _seed_range(arm: Arm) -> str:
    return ",".join(map(str, arm.seeds))


def _seed_pairs(baseline: Arm, variant: Arm) -> list[tuple[RunResult, RunResult]]:
    """The runs of each seed both arms ran: what the pairing rule (tinyx.rundir.records) reads."""
    return records.seed_pairs(*({_comparable(r.seed): r for r in arm.runs} for arm in (baseline, variant)))


def against_baseline(baseline: Arm, variant: Arm, alpha: float) -> stats.Difference:
    """The paired t-test when both arms ran the same seeds with the same data order, else Welch's, saying why."""
    differs = records.arms_order_differences(_seed_pairs(baseline, variant))
    if differs:
        note = f"unpaired: {', '.join(differs)} differ, so a seed does not give both arms the same batches"
        return stats.difference(baseline.observations, variant.observations, False, note, 1 - alpha)
    if sorted(map(_comparable, baseline.seeds)) != sorted(map(_comparable, variant.seeds)):
        note = f"unpaired: seeds differ (baseline {_seed_range(baseline)}; this arm {_seed_range(variant)})"
        return stats.difference(baseline.observations, variant.observations, False, note, 1 - alpha)
    by_seed = {_comparable(r.seed): v for r, v in zip(baseline.runs, baseline.observations)}
    paired_baseline = [by_seed[_comparable(r.seed)] for r in variant.runs]
    paired = stats.difference(paired_baseline, variant.observations, True, "paired over seeds", 1 - alpha)
    welch = stats.difference(baseline.observations, variant.observations, False, "", 1 - alpha)
    if paired.ci_low is not None and welch.ci_low is not None:  # what pairing bought: the figure users ask for
        width, unpaired = paired.ci_high - paired.ci_low, welch.ci_high - welch.ci_low
        ratio = ("" if width == 0 or unpaired == 0 else f", {unpaired / width:.1f}x narrower" if unpaired >= width
                 else f", {width / unpaired:.1f}x wider: the arms share little seed noise, and pairing halves the "
                      f"degrees of freedom")
        paired = replace(paired, note=f"paired over seeds; CI width {width:.4g} against {unpaired:.4g} unpaired "
                                      f"(Welch, p {welch.p:.4g}){ratio}")
    return paired


def find_baseline(arms: list[Arm], name: str | None) -> Arm:
    """The arm --baseline names: its exact name, else the one arm whose name contains it; default the first."""
    if name is None:
        return arms[0]
    exact = [a for a in arms if a.name == name]
    matches = exact or [a for a in arms if name in a.name]
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(repr(a.name) for a in arms)
    how = "matches no arm" if not matches else f"matches {len(matches)} arms"
    raise CompareError(f"--baseline={name!r} {how}: pass one of {listed}.")


def judge(arms: list[Arm], alpha: float, min_effect: float) -> None:
    """Per arm its estimate; per variant the test against the baseline (arms[0]), Holm-adjusted, and a verdict."""
    baseline = arms[0]
    baseline.is_baseline = True
    for arm in arms:
        arm.estimate = stats.estimate(arm.observations, 1 - alpha)
    for arm in arms[1:]:
        arm.difference = against_baseline(baseline, arm, alpha)
        arm.seeds_needed = stats.seeds_needed(arm.difference.delta, arm.difference.sd,
                                              arm.difference.test == stats.PAIRED, alpha)
    for arm, p in zip(arms[1:], stats.holm([a.difference.p for a in arms[1:]])):
        arm.p_adjusted = p
        arm.verdict = stats.verdict(arm.difference, p, alpha, min_effect)
    for rank, arm in enumerate(sorted(arms, key=lambda a: a.estimate.mean), start=1):
        arm.rank = rank


def _no_observation(name: str, excluded: list[Excluded], at: str | None) -> CompareError:
    whys = "; ".join(f"{e.run.path.name}: {e.why}" for e in excluded[:3]) + ("; ..." if len(excluded) > 3 else "")
    if at:
        fix = f"choose an earlier {at} that every arm reached"
    elif all(" logged" in e.why or "target" in e.why for e in excluded):
        fix = "evaluate during training (train.eval_every), or choose another --metric"
    else:
        fix = "finish its runs (train.resume=auto), pass --include-incomplete, or leave its runs out"
    return CompareError(f"arm {name!r} has no run to compare ({whys}): {fix}.")


def check_options(metric: str, target: float | None, at_step: int | None, at_tokens: int | None) -> None:
    if metric not in METRICS:
        raise CompareError(f"--metric={metric!r} is not a metric compare knows: choose one of {', '.join(METRICS)}.")
    if metric == TIME_TO_TARGET and target is None:
        raise CompareError(f"--metric={TIME_TO_TARGET} needs the validation loss to reach: pass --target LOSS.")
    if at_step is not None and at_tokens is not None:
        raise CompareError("--at-step and --at-tokens both given: pass one of them.")
    for flag, value in (("--at-step", at_step), ("--at-tokens", at_tokens)):
        if value is not None and value < 1:
            raise CompareError(f"{flag}={value} must be a positive integer.")


def compare_runs(paths: list[str | Path], metric: str = VAL_LOSS, baseline: str | None = None,
                 at_step: int | None = None, at_tokens: int | None = None, include_incomplete: bool = False,
                 target: float | None = None, min_effect: float | None = None,
                 alpha: float = stats.ALPHA) -> Comparison:
    """The comparison of the arms found in paths (run dirs, multirun dirs, globs) against the baseline arm."""
    check_options(metric, target, at_step, at_tokens)
    warnings: list[str] = []
    runs = [r for p in find_runs(paths) if (r := read_run(p, warnings.append, target)) is not None]
    if not runs:
        raise CompareError(f"none of the runs in {' '.join(map(str, paths))} can be read: check their config.json.")
    keys, groups = group_arms(runs)
    warnings += [w for w in (commit_warning(runs), data_warning([g for _, _, g in groups])) if w is not None]
    at = f"--at-step={at_step}" if at_step is not None else f"--at-tokens={at_tokens}" if at_tokens else None
    arms = []
    for name, values, members in groups:
        kept, observations, excluded = select_observations(members, metric, at_step, include_incomplete, at_tokens)
        if not kept:
            raise _no_observation(name, excluded, at)
        arms.append(Arm(name=name, values=values, runs=kept, observations=observations, excluded=excluded))
        warnings += [f"seed {e.run.seed} of arm {name!r} ran more than once: {e.run.path} is left out and "
                     f"{e.kept.path} kept (the newest completed; one observation per seed)" for e in excluded if e.kept]
    first = find_baseline(arms, baseline)
    arms = [first] + [a for a in arms if a is not first]
    if any(records.by_config(_seed_pairs(first, a)) for a in arms[1:]):
        warnings.append(f"{records.UNRECORDED}.")
    if min_effect is None:
        min_effect = DEFAULT_MIN_EFFECT * abs(statistics.fmean(first.observations))
    judge(arms, alpha, min_effect)
    return Comparison(keys=keys, arms=arms, metric=metric, warnings=warnings, alpha=alpha, min_effect=min_effect,
                      at_step=at_step, at_tokens=at_tokens, target=target)
