"""Arms and their seeds' run directories: seed k of an arm lives in <out>/<arm>/seed_<k>, run by train.py through
the pool (resumed when interrupted, reused when completed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.common.errors import AblateError
from tinyx.config import override_key
from tinyx.rundir import records
from tinyx.rundir.contract import read_summary
from tinyx.tools.ablate.pool import Job

# A seed's state, named after its run's status (pending: not started, or to be resumed).
STATE_COMPLETED, STATE_FAILED, STATE_PENDING = records.COMPLETED, records.FAILED, "pending"


@dataclass
class ArmSpec:
    name: str  # as the user wrote it, experiment names spelled out: "experiment=llama_tiny"
    overrides: list[str]
    seeds_done: dict[int, float] = field(default_factory=dict)  # seed -> metric of its completed run
    runs: dict = field(default_factory=dict)  # seed -> its completed run (compare's RunResult): what pairs
    seeds_spent: dict[int, str] = field(default_factory=dict)  # seed -> how it ended without a value (failed: ...)
    verdict: str = ""
    stopped_at: int | None = None  # seeds per arm at the look that decided it
    tuned: list[str] = field(default_factory=list)  # the tuned value's override, e.g. ["optim.lr=0.003"]

    @property
    def label(self) -> str:
        """The arm as runs, the console and wandb name it: its overrides, the tuned value in place of its own."""
        return self.with_values(self.tuned)

    def with_values(self, overrides: list[str]) -> str:
        """The arm's name with these overrides replacing its own of the same keys (`optim.lr=` at a grid value)."""
        keys = {override_key(o) for o in overrides}
        return " ".join([*(o for o in self.name.split() if override_key(o) not in keys), *overrides])

    @property
    def slug(self) -> str:
        # A directory name Hydra's override grammar takes as a plain value: no '=', ',', quotes or spaces.
        return re.sub(r"[^A-Za-z0-9._+-]+", "_", self.name.replace("=", "-"))


def parse_arm(text: str) -> ArmSpec:
    """`llama_tiny` -> experiment=llama_tiny; `model.norm=rmsnorm model.pos=rope` -> those overrides."""
    overrides = [o if "=" in o else f"experiment={o}" for o in text.split()]
    if not overrides:
        raise AblateError("an empty arm: pass an experiment name or overrides, e.g. llama_tiny or 'model.norm=rmsnorm'.")
    if any(override_key(o) == "seed" for o in overrides):
        raise AblateError(f"arm {text!r} sets the seed: ablate chooses the seeds (0, 1, ...); leave seed= out.")
    return ArmSpec(name=" ".join(overrides), overrides=overrides)


def seed_dir(out: Path, arm: ArmSpec, seed: int) -> Path:
    return out / arm.slug / f"seed_{seed}"


def read_run_dir(path: Path, metric: str) -> tuple[str, float | None, object, str]:
    """A run directory's state (completed, failed: spent, pending), its metric, its run (compare's RunResult) and,
    for a spent run, how it ended."""
    from tinyx.compare import read_run

    summary = read_summary(path)
    if summary is None or not records.has_ended(summary.status):
        return STATE_PENDING, None, None, ""  # never started, killed, or interrupted: (re)run it, resuming
    run = read_run(path, lambda message: None) if summary.completed else None
    value = run.value(metric, None) if run is not None else None
    if value is None:  # diverged, failed, pruned, or completed without the metric: a rerun would do the same
        return STATE_FAILED, None, None, summary.status if not summary.completed else f"completed without {metric}"
    return STATE_COMPLETED, value, run, ""


def read_seed(out: Path, arm: ArmSpec, seed: int, metric: str) -> str:
    """The state of one seed's run, recording a completed run's metric (or how a spent one ended) on the arm."""
    state, value, run, ended = read_run_dir(seed_dir(out, arm, seed), metric)
    if state == STATE_FAILED:
        arm.seeds_spent[seed] = ended
    elif state == STATE_COMPLETED:
        arm.seeds_done[seed], arm.runs[seed] = value, run
    return state


def pending_jobs(out: Path, arm: ArmSpec, n: int, metric: str, group: dict[str, str]) -> list[Job]:
    """The runs seeds 0..n-1 of the arm still need (never started or stopped: resumed)."""
    pending = [s for s in range(n) if read_seed(out, arm, s, metric) == STATE_PENDING]
    return [Job(seed_dir(out, arm, s), arm.overrides, [*arm.tuned, f"seed={s}"], f"{arm.label} seed={s}", arm.label,
                labels=group) for s in pending]
