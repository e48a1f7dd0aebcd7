"""An arm of an ablation as compare holds it: its runs (one per seed), their observations, the runs left out and
why, and its statistics against the baseline once judged (tinyx.compare.judging)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from tinyx.compare import stats
from tinyx.compare.runs import RunResult


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
    seeds_no_difference: int | None = None  # seeds for "no detectable difference" at --min-effect
    rank: int = 0  # 1 = the lowest mean; arms whose difference is not significant share one (judging.shared_ranks)
    extras: dict[str, float] = field(default_factory=dict)  # mean over seeds of metrics beyond the loss (extras.py)
    is_baseline: bool = False

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]

    def stat(self, attribute: str) -> Stat:
        return Stat.of([getattr(r, attribute) for r in self.runs])

