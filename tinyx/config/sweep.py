"""sweep.py's own config (`sweep.*`) and its search-space entries, with the checks of both.

The trials' keys are RunConfig's (tinyx.config.schema); tinyx.sweep reads these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from tinyx.common.errors import ConfigError
from tinyx.config.choices import check_choices, one_of


@dataclass
class SweepConfig:
    """sweep.py's own keys (`sweep.*`); the trials' keys are RunConfig's."""

    study_name: Optional[str] = None  # None: the search space's name (search_space=lr -> "lr")
    # None: an SQLite file outputs/sweeps/<study>/study.db. Also postgresql://..., mysql://...
    # (several machines) or journal:<file> (Optuna's journal file, for a shared file system).
    storage: Optional[str] = None
    root: str = "outputs/sweeps"  # each study's folder: trials/, report/, study.db
    n_trials: int = 20  # the study's size: a rerun adds trials until the study holds this many
    timeout: Optional[float] = None  # seconds: no new trial starts after this long (this process)
    # Trial loops at once on this machine, each a new process with its share of the cores or its GPU
    # (tinyx.runtime.launcher, the engine of hydra/launcher=parallel), all on this study's storage.
    workers: int = 1
    sampler: str = one_of("tpe", ("tpe", "random"))
    seed: int = 0
    startup_trials: int = 4  # TPE samples at random until this many trials finished
    pruner: str = one_of("median", ("median", "hyperband", "none"))
    pruner_startup_trials: int = 3  # median: never prune before this many trials finished
    pruner_warmup_steps: int = 0  # median: never prune at or before this training step
    direction: str = one_of("minimize", ("minimize", "maximize"))
    # A summary.json figure; val/bpb (bits per byte) compares trials whose tokenizers differ (data.tokenizer or
    # data.encoding searched).
    metric: str = one_of("val/loss", ("val/loss", "val/loss_best", "val/bpb", "val/bpb_best", "train/loss",
                                      "tokens_per_second"))
    report_only: bool = False  # print the report and write its files, train nothing
    write_experiment: bool = False  # write <experiment_dir>/best_<study>.yaml for the best trial
    experiment_dir: str = "conf/experiment"
    # SQLite/PostgreSQL/MySQL: a worker records a heartbeat for its trial every heartbeat_interval seconds;
    # a trial without one for heartbeat_grace seconds (its worker was killed) is marked failed by the next
    # worker that starts a trial, and retried once. Integers: Optuna's heartbeat counts whole seconds.
    heartbeat_interval: int = 60
    heartbeat_grace: int = 180


SPEC_TYPES = ("float", "int", "categorical")


@dataclass
class ParamSpec:
    """One search-space entry (conf/search_space/*.yaml): a config key and the values to try."""

    type: str  # one of SPEC_TYPES (sweep.space checks it, naming the entry)
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Optional[List[Any]] = None
    key: Optional[str] = None  # the config key set; None: the entry's name (e.g. optim.lr)
    # Only suggested when earlier entries took these values, e.g. {optim: muon}.
    when: Optional[Dict[str, Any]] = None


def validate_sweep(sweep: SweepConfig) -> None:
    """The checks of sweep.py's own keys that their types alone cannot express."""
    check_choices(sweep, "sweep.", fix="set it to one of them")
    if sweep.n_trials < 1:
        raise ConfigError(f"sweep.n_trials={sweep.n_trials} must be >= 1.")
    if sweep.workers < 1:
        raise ConfigError(f"sweep.workers={sweep.workers} must be >= 1 (trial loops at once on this machine).")
    for key in ("startup_trials", "pruner_startup_trials", "pruner_warmup_steps"):
        if getattr(sweep, key) < 0:
            raise ConfigError(f"sweep.{key}={getattr(sweep, key)} must be >= 0.")
    if sweep.heartbeat_interval < 1:
        raise ConfigError(f"sweep.heartbeat_interval={sweep.heartbeat_interval} must be >= 1 second.")
    if sweep.heartbeat_grace <= sweep.heartbeat_interval:
        raise ConfigError(f"sweep.heartbeat_grace={sweep.heartbeat_grace} must be greater than "
                          f"sweep.heartbeat_interval={sweep.heartbeat_interval} (a live worker's trial would be "
                          f"failed between two heartbeats): raise it, e.g. to 3 x the interval.")
    if sweep.timeout is not None and sweep.timeout <= 0:
        raise ConfigError(f"sweep.timeout={sweep.timeout} must be > 0 seconds, or null for none.")
    if sweep.pruner != "none" and not sweep.metric.startswith("val/"):
        raise ConfigError(f"sweep.pruner={sweep.pruner} prunes on a validation figure, but sweep.metric="
                          f"{sweep.metric}: use a val/ metric or sweep.pruner=none.")
    if sweep.study_name is not None and not re.fullmatch(r"[\w.-]+", sweep.study_name):
        raise ConfigError(f"sweep.study_name={sweep.study_name!r} may hold only letters, digits, '_', '-' and '.' "
                          f"(it names a folder).")
