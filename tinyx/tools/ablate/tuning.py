"""Each arm at its own best value of a key (the learning rate, usually) before the verdict: a log grid around the
arm's own value, run on tuning seeds that never enter the verdict.

Why fresh seeds: the best point of a noisy grid is flattered by its own noise (the winner's curse), so judging
an arm on the runs that chose its value favours whichever arm had more grid points to be lucky on. The verdict
seeds (0, 1, ...) therefore run after tuning, at the chosen values; the tuning seeds are TUNING_SEED + 0, 1, ...
The chosen value is the vertex of the parabola through the best grid value and its neighbours (ArmTuning.chosen).
A best value at the grid's edge is not a bracketed optimum: the grid grows by one step beyond that edge, up to
MAX_EXTENSIONS times per side. How to read the result: docs/ablations.md#tuning-each-arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.common.errors import AblateError
from tinyx.loggers.labels import TUNING_JOB
from tinyx.tools.ablate.pool import Job, run_pool
from tinyx.tools.ablate.seeds import STATE_COMPLETED, STATE_PENDING, ArmSpec, read_run_dir

TUNING_SEED = 1000  # tuning seeds start here; verdict seeds are 0..max_seeds-1 (below it)
TUNING_DIR = "tuning"  # <out>/tuning/<arm>/<key>_<value>/seed_<k>
DEFAULT_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)  # a factor-2 log grid around each arm's own value
MAX_EXTENSIONS = 2


@dataclass
class TuneSpec:
    key: str  # e.g. optim.lr
    factors: tuple[float, ...] = DEFAULT_FACTORS  # times each arm's own value...
    values: tuple[float, ...] = ()  # ...or the same values for every arm
    steps: int | None = None  # train.max_steps of the tuning runs (None: the runs' own)
    seeds: int = 2


@dataclass
class ArmTuning:
    """One arm's grid: per value, the tuning seeds' metrics (None: the run diverged or failed)."""

    arm: ArmSpec
    grid: list[float]
    results: dict[float, list[float | None]] = field(default_factory=dict)

    def mean(self, value: float) -> float:
        runs = self.results.get(value, [])
        return math.inf if not runs or None in runs else sum(runs) / len(runs)

    @property
    def best(self) -> float:
        """The grid value with the lowest mean."""
        return min(self.grid, key=self.mean)

    @property
    def chosen(self) -> float:
        """The vertex of the parabola through the best grid value and its neighbours (in log value), 3 digits.

        Not the best grid value itself: two arms alike in truth often pick different grid values by noise, and
        the grid's coarse steps then make them differ for real (an A/A check at 5 values and 2 seeds declared
        identical arms different ~9% of the time at α = 5%); the vertex moves smoothly with the noise, and
        near the optimum the curve is flat (tests/unit/test_ablate_tuning.py simulates both)."""
        i = self.grid.index(self.best)
        if i in (0, len(self.grid) - 1) or math.isinf(self.mean(self.grid[i - 1]) + self.mean(self.grid[i + 1])):
            return self.best
        x = [math.log(v) for v in self.grid[i - 1:i + 2]]
        y = [self.mean(v) for v in self.grid[i - 1:i + 2]]
        return float(f"{math.exp(parabola_vertex(x, y)):.3g}")

    @property
    def edge(self) -> str:
        """'low' or 'high' when the best value is the grid's end: the optimum may lie beyond it."""
        best = self.grid.index(self.best)
        return "low" if best == 0 else "high" if best == len(self.grid) - 1 else ""


def parabola_vertex(x: list[float], y: list[float]) -> float:
    """Where the parabola through three points (the middle one lowest) has its minimum: between x[0] and x[2]."""
    (x0, x1, x2), (y0, y1, y2) = x, y
    denominator = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denominator
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denominator
    return x1 if a <= 0 else min(max(-b / (2 * a), x0), x2)


def fmt(value: float) -> str:
    return f"{value:.6g}"


def run_dir(out: Path, spec: TuneSpec, arm: ArmSpec, value: float, seed: int) -> Path:
    return out / TUNING_DIR / arm.slug / f"{spec.key}_{fmt(value)}" / f"seed_{seed}"


def _jobs(out: Path, spec: TuneSpec, tuning: ArmTuning, metric: str, group: dict) -> list[Job]:
    """The grid's runs not yet finished; reads the finished ones' metrics into tuning.results."""
    jobs = []
    for value in tuning.grid:
        tuning.results[value] = []
        for seed in range(TUNING_SEED, TUNING_SEED + spec.seeds):
            path = run_dir(out, spec, tuning.arm, value, seed)
            state, metric_value, _, _ = read_run_dir(path, metric)
            if state == STATE_PENDING:
                steps = [f"train.max_steps={spec.steps}"] if spec.steps else []
                arm = tuning.arm.with_values([f"{spec.key}={fmt(value)}"])
                jobs.append(Job(path, tuning.arm.overrides, [f"{spec.key}={fmt(value)}", *steps, f"seed={seed}"],
                                f"{arm} seed={seed}", arm, job_type=TUNING_JOB, labels=group))
            tuning.results[value].append(metric_value if state == STATE_COMPLETED else None)
    return jobs


def _extend(tuning: ArmTuning, extensions: dict[str, int]) -> bool:
    """One more grid step beyond the edge the best value sits at (up to MAX_EXTENSIONS per side)."""
    side = tuning.edge
    if not side or extensions[side] >= MAX_EXTENSIONS or math.isinf(tuning.mean(tuning.best)):
        return False
    extensions[side] += 1
    g = tuning.grid
    tuning.grid = [g[0] * g[0] / g[1], *g] if side == "low" else [*g, g[-1] * g[-1] / g[-2]]
    return True


def tune(arms: list[ArmSpec], spec: TuneSpec, grids: dict[str, list[float]], out: Path, metric: str,
         extra: list[str], jobs_at_once: int | None, group: dict, say) -> list[ArmTuning]:
    """Run every arm's grid in one pool (rounds only to grow a grid at its edge); set each arm's tuned value."""
    tunings = [ArmTuning(arm, sorted(grids[arm.name])) for arm in arms if arm.name in grids]
    extensions = {t.arm.name: {"low": 0, "high": 0} for t in tunings}
    todo = list(tunings)
    while todo:
        run_pool([job for t in todo for job in _jobs(out, spec, t, metric, group)], extra, jobs_at_once, say)
        for t in todo:
            _jobs(out, spec, t, metric, group)  # read back what the pool finished
        todo = [t for t in todo if _extend(t, extensions[t.arm.name])]
    for t in tunings:
        if math.isinf(t.mean(t.best)):
            raise AblateError(f"every {spec.key} of arm {t.arm.name!r} diverged or failed in tuning (runs in "
                              f"{out / TUNING_DIR / t.arm.slug}): give a lower grid (--tune-factors or values).")
        t.arm.tuned = [f"{spec.key}={fmt(t.chosen)}"]
        say(f"tuned {t.arm.name}: {spec.key}={fmt(t.chosen)}" + (f" (at the grid's {t.edge} edge)" if t.edge else ""))
    return tunings
