"""What a tracker is told about a run: its name, group and tags (RunLabels) and its config panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyx.config import RunConfig
    from tinyx.config.secrets import Redactor


@dataclass
class RunLabels:
    """How trackers name a run, from what the entry point knows (Hydra's overrides and sweep).

    The library never reads Hydra: train.py fills this (tinyx.hydra_glue.train_main.run_labels_from_hydra) and
    `logger.wandb.name` / `logger.wandb.group` in the config override it.
    """

    name: str | None = None  # e.g. "optim.lr=0.003,seed=1": the overrides that differ
    group: str | None = None  # the experiment, or the multirun sweep directory
    tags: list[str] = field(default_factory=list)  # e.g. "model=tiny": the config groups chosen
    # Keys a dashboard groups runs by, added to the tracker's config: `arm` (the differing overrides but the
    # seed, e.g. "experiment=llama_tiny": the seeds of one arm share it) and `experiment` (the one chosen).
    dashboard: dict[str, str] = field(default_factory=dict)


def tracked_config(cfg: RunConfig, redactor: Redactor) -> dict:
    """The resolved config as flat `a.b.c` keys for trackers' config panels: all but logger settings and the
    secrets `redactor` (the run's) knows."""
    from tinyx.config import MUON_ONLY_KEYS, config_to_dict

    tracked = redactor.tracked(config_to_dict(cfg))
    unused = {f"optim.{k}" for k in MUON_ONLY_KEYS} if cfg.optim.name != "muon" else set()
    return {k: v for k, v in tracked.items() if k not in unused}


def study_group(folder) -> str:
    """A wandb group for the runs under `folder`, without machine paths: relative to the outputs root when under
    it, else its last two parts."""
    from pathlib import Path

    from tinyx.rundir.last import outputs_root

    path, root = Path(folder).resolve(), outputs_root().resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else "/".join(path.parts[-2:])
