"""What a tracker is told about a run: its name, group, arm and job type (RunLabels), the study group a folder of
runs is logged in (study_group), and its config panel (tracked_config)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tinyx.rundir.contract import WANDB_DIR

if TYPE_CHECKING:
    from tinyx.config import RunConfig, WandbConfig
    from tinyx.config.secrets import Redactor

# wandb's job types: what a run is, so a dashboard tells them apart within a study's group.
TRAIN_JOB, TUNING_JOB, SWEEP_JOB, COMPARE_JOB, LADDER_JOB = "train", "tuning", "sweep", "compare", "ladder"
WANDB_LABELS_FILE = "labels.json"  # inside <run dir>/wandb/: the labels the run was first logged under
_MAX_LABEL = 128  # wandb's longest name, group and job type


@dataclass
class RunLabels:
    """How trackers name a run, from what the entry point knows (Hydra's overrides and sweep).

    The library never reads Hydra: train.py fills this (tinyx.hydra_glue.train_main.run_labels_from_hydra) and
    `logger.wandb.name` / `group` / `arm` / `job_type` in the config override it (settled).
    """

    name: str | None = None  # None: "<arm> seed=<seed>" (run_name), e.g. "optim.lr=0.003 seed=1"
    group: str | None = None  # the experiment, or the study: study_group of the multirun's sweep directory
    # What differs from the other arms of the study (the differing overrides but the seed, e.g. "optim=muon"): a
    # dashboard groups an arm's seeds by it (the `arm` config key).
    arm: str | None = None
    job_type: str = TRAIN_JOB
    tags: list[str] = field(default_factory=list)  # e.g. "model=tiny": the config groups chosen
    dashboard: dict[str, str] = field(default_factory=dict)  # more config keys to group by: `experiment`

    def settled(self, wcfg: WandbConfig, seed: int, first: RunLabels | None = None) -> RunLabels:
        """The labels the wandb run is logged under: `logger.wandb`'s where set, else `first` (those a run resumed in
        place was first logged under: it keeps its name, group and arm), else these; the name defaults to run_name."""
        base = first or self
        arm = (wcfg.arm or base.arm or "defaults")[:_MAX_LABEL]
        group = (wcfg.group or base.group or "")[:_MAX_LABEL] or None
        return replace(self, arm=arm, group=group,
                       name=(wcfg.name or base.name or run_name(arm, seed))[:_MAX_LABEL],
                       job_type=(wcfg.job_type or base.job_type or TRAIN_JOB)[:_MAX_LABEL])

    def config_keys(self) -> dict[str, str]:
        """The keys added to the tracker's config panel: `arm`, and `experiment` where one was chosen."""
        return {"arm": self.arm or "defaults", **self.dashboard}

    def write(self, wandb_dir: Path) -> None:
        (wandb_dir / WANDB_LABELS_FILE).write_text(json.dumps({k: v for k, v in asdict(self).items()
                                                               if k in _STORED}) + "\n")


_STORED = ("name", "group", "arm", "job_type")


def logged_labels(run_dir: Path) -> RunLabels | None:
    """The labels a run directory's wandb run was logged under (None: it never logged to wandb, or before
    they were kept)."""
    try:
        stored = json.loads((Path(run_dir) / WANDB_DIR / WANDB_LABELS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return RunLabels(**{k: stored.get(k) for k in _STORED if isinstance(stored.get(k), str)})


def run_name(arm: str, seed: int) -> str:
    """A run's name: what it is (its arm) and which seed, e.g. "optim=muon seed=1"."""
    return f"{arm} seed={seed}"


def study_group(folder: str | Path) -> str:
    """The wandb group of a study kept in `folder` (a multirun's sweep directory, an ablation's folder), naming no
    machine path: the folder relative to the outputs root when under it (`multirun/2026-12-07/20-15-00`), else its
    last three folders (below the home folder, whose path names the user)."""
    from tinyx.rundir.last import outputs_root

    path = Path(folder).expanduser().resolve()
    root = outputs_root().expanduser().resolve()
    if root in path.parents:
        return path.relative_to(root).as_posix()[-_MAX_LABEL:]
    home = Path.home().resolve()
    parts = path.relative_to(home).parts if home in path.parents else path.parts[1:]
    return "/".join(parts[-3:])[-_MAX_LABEL:] or "study"


def tracked_config(cfg: RunConfig, redactor: Redactor) -> dict:
    """The resolved config as flat `a.b.c` keys for trackers' config panels: all but logger settings and the
    secrets `redactor` (the run's) knows."""
    from tinyx.config import MUON_ONLY_KEYS, config_to_dict

    tracked = redactor.tracked(config_to_dict(cfg))
    unused = {f"optim.{k}" for k in MUON_ONLY_KEYS} if cfg.optim.name != "muon" else set()
    return {k: v for k, v in tracked.items() if k not in unused}

