"""Arms and their seeds' run directories: seed k of an arm lives in <out>/<arm>/seed_<k>, run by `train.py -m`
(resumed when interrupted, reused when completed)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.cli.entry import CHECKOUT
from tinyx.common.errors import AblateError
from tinyx.config import override_key
from tinyx.rundir import records
from tinyx.rundir.contract import read_summary

ROOT = CHECKOUT  # train.py's folder (Hydra finds conf/ beside it)
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


def read_seed(out: Path, arm: ArmSpec, seed: int, metric: str) -> str:
    """The state of one seed's run (completed, failed: spent, pending), recording a completed run's metric."""
    from tinyx.compare import read_run

    path = seed_dir(out, arm, seed)
    summary = read_summary(path)
    if summary is None or not records.has_ended(summary.status):
        return STATE_PENDING  # never started, killed, or interrupted: (re)run it, resuming its checkpoint
    run = read_run(path, lambda message: None) if summary.completed else None
    value = run.value(metric, None) if run is not None else None
    if value is None:  # diverged, failed, pruned, or completed without the metric: a rerun would do the same
        arm.seeds_spent[seed] = summary.status if not summary.completed else f"completed without {metric}"
        return STATE_FAILED
    arm.seeds_done[seed], arm.runs[seed] = value, run
    return STATE_COMPLETED


def train_command(out: Path, arm: ArmSpec, seeds: list[int], extra: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "-m", *arm.overrides, *extra,
            f"seed={','.join(map(str, seeds))}", f"hydra.sweep.dir={out / arm.slug}",
            "hydra.sweep.subdir=seed_${seed}", "train.resume=auto"]


def run_seeds(out: Path, arm: ArmSpec, n: int, extra: list[str], metric: str, say) -> None:
    """Make sure seeds 0..n-1 of the arm have finished: run the ones that have not in one train.py -m."""
    pending = [s for s in range(n) if read_seed(out, arm, s, metric) == STATE_PENDING]
    if not pending:
        return
    say(f"{arm.name}: seeds {','.join(map(str, pending))}")
    result = subprocess.run(train_command(out, arm, pending, extra))  # from the user's directory: their paths hold
    if result.returncode != 0:
        if result.returncode in (130, 143):  # the user stopped it: rerunning the same command continues
            raise KeyboardInterrupt
        raise AblateError(f"train.py for arm {arm.name!r} exited with {result.returncode} (its error is above): "
                          f"fix it, then rerun this command; finished seeds are kept.")
    for seed in pending:
        read_seed(out, arm, seed, metric)
