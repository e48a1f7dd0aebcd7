"""Which runs of an arm count: completed runs (unless asked otherwise), one per seed (the newest completed),
those with the metric; the others left out, each with why."""

from __future__ import annotations

from tinyx.compare.arms import Excluded
from tinyx.compare.runs import TIME_TO_TARGET, RunResult, comparable


def judged_step(run: RunResult, at_step: int | None, at_tokens: int | None) -> int | None:
    """The step a run is judged at: --at-step, --at-tokens in this run's steps, or None (its end)."""
    return at_tokens // run.tokens_per_step if at_tokens is not None else at_step


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
        by_seed.setdefault(comparable(run.seed), []).append(run)
    kept_runs, values = [], []
    for same_seed in by_seed.values():
        same_seed.sort(key=lambda r: (r.completed, r.finished_at, str(r.path)), reverse=True)
        kept, *dropped = same_seed
        excluded += [Excluded(r, f"seed {r.seed} again: one observation per seed, {kept.path} kept "
                                 f"(the newest completed)", kept) for r in dropped]
        step = judged_step(kept, at_step, at_tokens)
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
