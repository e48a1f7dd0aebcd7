"""The rounds: each adds seeds to the arms still running, then looks; a variant whose verdict is in stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyx.common.errors import AblateError
from tinyx.compare import stats
from tinyx.rundir import records
from tinyx.rundir.contract import VAL_LOSS
from tinyx.tools.ablate.rule import decide, schedule
from tinyx.tools.ablate.pool import run_pool
from tinyx.tools.ablate.seeds import ArmSpec, pending_jobs, read_seed
from tinyx.tools.ablate.tuning import TuneSpec


@dataclass
class Look:
    """One variant against the baseline at one look: what the verdict was made from."""

    verdict: str
    difference: stats.Difference | None


def look(baseline: ArmSpec, variant: ArmSpec, n: int, looks: int, alpha: float, min_effect: float,
         paired: bool) -> Look:
    """The verdict on seeds 0..n-1 (paired over the seeds both completed when a seed fixes the data order)."""
    if paired:
        seeds = [s for s in range(n) if s in baseline.seeds_done and s in variant.seeds_done]
        a, b = [baseline.seeds_done[s] for s in seeds], [variant.seeds_done[s] for s in seeds]
    else:
        a = [v for s, v in sorted(baseline.seeds_done.items()) if s < n]
        b = [v for s, v in sorted(variant.seeds_done.items()) if s < n]
    if min(len(a), len(b)) < 2:
        return Look(stats.UNDECIDED, None)
    verdict = str(decide(a, b, paired, looks, alpha, min_effect).item())
    return Look(verdict, stats.difference(a, b, paired, confidence=1 - alpha / looks))


def same_data_order(baseline: ArmSpec, variant: ArmSpec) -> bool:
    """Whether each seed both arms completed drew the same windows in both (tinyx.rundir.records: compare's rule)."""
    pairs = records.seed_pairs(baseline.runs, variant.runs)
    return bool(pairs) and not records.arms_order_differences(pairs)


@dataclass
class Options:
    out: Path
    round_seeds: int = 2
    max_seeds: int = 10
    metric: str = VAL_LOSS
    alpha: float = stats.ALPHA
    min_effect: float | None = None  # default: 0.5% of the baseline's mean
    extra: list[str] = field(default_factory=list)  # overrides for every run
    jobs: int | None = None  # runs at once (None: the parallel launcher's default)
    tune: TuneSpec | None = None  # tune a key per arm first (tools/ablate/tuning.py)
    wandb_group: dict[str, str] = field(default_factory=dict)  # {"logger.wandb.group": ...} unless the user set one


def ablate(arms: list[ArmSpec], opts: Options, say=print) -> dict[str, Look]:
    """Rounds of seeds until every variant is decided or has max_seeds; the last look of each variant."""
    from tinyx.compare import DEFAULT_MIN_EFFECT

    looks_at = schedule(opts.round_seeds, opts.max_seeds)
    baseline, variants = arms[0], arms[1:]
    last: dict[str, Look] = {}
    for k, n in enumerate(looks_at, start=1):
        active = [v for v in variants if not v.verdict]
        if not active:
            break
        jobs = [job for arm in [baseline, *active] for job in pending_jobs(opts.out, arm, n, opts.metric,
                                                                           opts.wandb_group)]
        run_pool(jobs, opts.extra, opts.jobs, say)
        for arm in [baseline, *active]:
            for seed in range(n):
                read_seed(opts.out, arm, seed, opts.metric)
        if not baseline.seeds_done:
            raise AblateError(f"the baseline {baseline.name!r} has no completed seed (see the runs in "
                              f"{opts.out / baseline.slug}): fix it, then rerun this command.")
        min_effect = (opts.min_effect if opts.min_effect is not None else
                      DEFAULT_MIN_EFFECT * abs(sum(baseline.seeds_done.values()) / len(baseline.seeds_done)))
        for v in active:
            last[v.name] = look(baseline, v, n, len(looks_at), opts.alpha, min_effect, same_data_order(baseline, v))
            if last[v.name].verdict != stats.UNDECIDED or n == looks_at[-1]:
                v.verdict, v.stopped_at = last[v.name].verdict, n
        say(f"look {k}/{len(looks_at)} at {n} seeds: " + "; ".join(f"{v.name}: {last[v.name].verdict}"
                                                                   for v in active))
    return last
