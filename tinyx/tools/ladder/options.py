"""What one `tinyx ladder` command asks for, as the command line gave it (tinyx.tools.ladder.cli parses it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyx.tools.ablate.seeds import ArmSpec


@dataclass
class Options:
    arms: list[ArmSpec]
    depths: list[int]
    seeds: int
    out: Path
    metric: str
    target: float  # multiple of the largest run's compute
    max_flops: float | None
    jobs: int | None
    boot: int
    wandb: bool
    dry_run: bool = False  # print the plan, run nothing
    variant_seed_offset: int = 0  # the variants' seeds start here (an A/A check on other seeds: unpaired)
    extra: list[str] = field(default_factory=list)
