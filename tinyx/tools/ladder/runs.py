"""A ladder's runs: seed k of an arm at depth d lives in <out>/<arm>/depth_<d>/seed_<k>, a plain train.py run through
ablate's pool (resumed when stopped, reused when completed), the largest first so two cores stay busy to the end;
and what the finished runs say, per arm and size: the compute each trained with and the metric of every seed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.common.errors import LadderError
from tinyx.tools.ablate.pool import Job
from tinyx.tools.ablate.seeds import STATE_COMPLETED, STATE_FAILED, ArmSpec, read_run_dir
from tinyx.tools.ladder.plan import DIAL_KEY, Rung


def run_dir(out: Path, arm: ArmSpec, depth: int, seed: int) -> Path:
    return out / arm.slug / f"depth_{depth}" / f"seed_{seed}"


def seeds_of(rung: Rung, seeds: int, baseline: ArmSpec, variant_offset: int) -> list[int]:
    """The seeds an arm runs at a size: 0..S-1, a variant's from --variant-seeds-from."""
    start = 0 if rung.arm is baseline else variant_offset
    return list(range(start, start + seeds))


def pending_jobs(rungs: list[Rung], seeds: int, out: Path, metric: str, labels: dict[str, str],
                 variant_offset: int = 0) -> list[Job]:
    """The runs still to do (never started, or stopped: resumed), the longest first."""
    jobs = []
    for rung in sorted(rungs, key=lambda r: -r.run_seconds):
        for seed in seeds_of(rung, seeds, rungs[0].arm, variant_offset):
            path = run_dir(out, rung.arm, rung.depth, seed)
            if read_run_dir(path, metric)[0] in (STATE_COMPLETED, STATE_FAILED):
                continue
            dial = f"{DIAL_KEY}={rung.depth}"
            jobs.append(Job(path, [*rung.arm.overrides, dial], [f"seed={seed}"],
                            f"{rung.arm.name} {dial} seed={seed}", rung.arm.name, labels=labels))
    return jobs


@dataclass
class ArmResults:
    """One arm across the sizes: compute[k] and values[k][s] (NaN where seed s has no value at size k)."""

    arm: ArmSpec
    depths: list[int]
    params: list[int]
    compute: list[float]
    values: list[list[float]]
    runs: list[list[object]] = field(default_factory=list)  # compare's RunResult or None, as values
    failed: list[str] = field(default_factory=list)  # "depth 3 seed 1: diverged"
    tokens: list[int] = field(default_factory=list)
    flops_per_token: list[float] = field(default_factory=list)

    def seconds(self, k: int) -> float:
        """The mean wall time of size k's runs (start-up outside train's clock not counted), NaN without runs."""
        walls = [r.wall_seconds for r in self.runs[k] if r is not None and r.wall_seconds is not None]
        return sum(walls) / len(walls) if walls else math.nan


def read_results(rungs: list[Rung], seeds: int, out: Path, metric: str, variant_offset: int = 0) -> list[ArmResults]:
    """Every arm's finished runs; a size where a seed never produced the metric is named in `failed`."""
    by_arm: dict[str, ArmResults] = {}
    for rung in rungs:
        res = by_arm.setdefault(rung.arm.name, ArmResults(rung.arm, [], [], [], []))
        row, row_runs = [], []
        for seed in seeds_of(rung, seeds, rungs[0].arm, variant_offset):
            state, value, run, ended = read_run_dir(run_dir(out, rung.arm, rung.depth, seed), metric)
            row.append(value if value is not None else math.nan)
            row_runs.append(run)
            if state == STATE_FAILED:
                res.failed.append(f"depth {rung.depth} seed {seed}: {ended}")
        res.depths.append(rung.depth)
        res.params.append(rung.figures.params)
        res.compute.append(float(rung.figures.flops))
        res.tokens.append(rung.figures.tokens)
        res.flops_per_token.append(rung.figures.flops_per_token)
        res.values.append(row)
        res.runs.append(row_runs)
    return list(by_arm.values())


def check_complete(results: list[ArmResults], metric: str) -> None:
    """Every size of every arm needs at least two seeds with the metric (a spread, a test)."""
    for res in results:
        for depth, row in zip(res.depths, res.values):
            have = sum(not math.isnan(v) for v in row)
            if have < 2:
                raise LadderError(f"{res.arm.name} at {DIAL_KEY}={depth}: {have} seed(s) with {metric} ("
                                  f"{'; '.join(res.failed) or 'runs missing'}): a size needs 2 or more; rerun with "
                                  f"more --seeds or drop that size.")


def paired(baseline: ArmResults, variant: ArmResults, k: int) -> bool:
    """Seeds pair at size k when each seed's two runs drew the same windows (compare's one pairing rule,
    tinyx.rundir.records)."""
    from tinyx.compare.runs import comparable
    from tinyx.rundir import records

    pairs = records.seed_pairs(*({comparable(r.seed): r for r in res.runs[k] if r is not None}
                                 for res in (baseline, variant)))
    return bool(pairs) and not records.arms_order_differences(pairs)
