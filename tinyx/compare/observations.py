"""Which runs of an arm count: completed runs (unless asked otherwise), one per seed (the newest completed),
those with the metric; the others left out, each with why."""

from __future__ import annotations

from tinyx.compare.arms import Excluded
from tinyx.compare.budget import Budget
from tinyx.compare.runs import TIME_TO_TARGET, RunResult, comparable


def select_observations(runs: list[RunResult], metric: str, budget: Budget = Budget(),
                        include_incomplete: bool = False) -> tuple[list[RunResult], list[float], list[Excluded]]:
    """One observation per seed, each at the step `budget` gives its run, and the runs left out with why.

    Left out: runs that did not complete (unless include_incomplete); of the runs of one seed (a rerun, a
    copy of a resumed run) all but the newest completed one; runs without the metric (never evaluated,
    did not reach the budget or do not record what it counts, never reached the target).
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
        unmet = budget.unmet(kept)
        if unmet is not None:
            excluded.append(Excluded(kept, unmet))
            continue
        step = budget.step_of(kept)
        value = kept.value(metric, step)
        if value is None:
            at = f" ({budget.label()})" if budget.step is None and step is not None else ""
            why = ("never reached the target" if metric == TIME_TO_TARGET else f"no {metric.removesuffix('_best')} "
                   f"logged{f' by step {step}{at}' if step is not None else ''}")
            excluded.append(Excluded(kept, why))
            continue
        kept_runs.append(kept)
        values.append(value)
    order = sorted(range(len(kept_runs)), key=lambda i: (str(kept_runs[i].seed), str(kept_runs[i].path)))
    return [kept_runs[i] for i in order], [values[i] for i in order], excluded
