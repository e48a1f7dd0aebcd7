"""The Hydra side of the entry points: train.py's and sweep.py's bodies, run labels (composing: tinyx.compose)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from tinyx.compose import compose_train, env_config_keys
from tinyx.config import is_hyperparameter
from tinyx.errors import TrainingDiverged, exit_on_user_error


@exit_on_user_error
def run_train(cfg, run_dir, labels=None, multirun: bool = False) -> float:
    """train.py's body: validate the composed config, train, return the final validation loss.

    `labels` (a tinyx.loggers.RunLabels, see run_labels_from_hydra) names the run in wandb. A
    diverged run exits with code 3, except in a multirun (`multirun`), where its result is nan and
    the other jobs go on.
    """
    from tinyx.config import to_run_config

    run_cfg = to_run_config(cfg)  # before importing torch, so config errors come back at once
    from tinyx.loggers import RunLabels
    from tinyx.training import train

    labels = labels or RunLabels()
    labels.private_keys = env_config_keys(cfg)
    summary = train(run_cfg, run_dir, labels=labels)
    if summary.status == "diverged":
        if not multirun:
            raise TrainingDiverged(f"run {run_dir} diverged: {summary.reason}.")
        print(f"warning: run {run_dir} diverged (its result is nan; the multirun goes on): {summary.reason}.",
              file=sys.stderr, flush=True)
        return math.nan
    return summary.val_loss


# sweep.py's own overrides; the rest of its command line is given to every trial.
_SWEEP_KEYS = ("sweep.", "search_space", "hydra.")


@exit_on_user_error
def run_sweep(cfg, overrides: list[str], search_space_name: str | None) -> float | None:
    """sweep.py's body: run (or report on) the study; Ctrl-C stops it cleanly with exit code 130."""
    from omegaconf import OmegaConf

    from tinyx.sweep import run_study

    sweep = OmegaConf.to_object(cfg.sweep)
    search_space = OmegaConf.to_container(cfg.search_space, resolve=True)
    base_overrides = [o for o in overrides if not _override_key(o).startswith(_SWEEP_KEYS)]
    try:
        report = run_study(sweep, search_space, base_overrides, compose_train,
                           default_name=search_space_name or "study")
    except KeyboardInterrupt as e:  # the study said how to continue; 130 for Ctrl-C, 143 for SIGTERM
        sys.exit(getattr(e, "exit_code", 130))
    return report["best"]["value"] if report["best"] else None




def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _swept_keys(sweep_dir: Path) -> set[str] | None:
    """The keys a multirun sweeps (`optim.lr=1e-3,3e-4`), from the multirun.yaml Hydra writes first."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    try:
        task = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task
        parsed = OverridesParser.create().parse_overrides(list(task))
    except Exception:  # an unreadable multirun.yaml only costs the run a longer name
        return None
    return {o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()}


def run_labels_from_hydra(hydra_cfg):
    """Name, group and tags of the current Hydra job, for trackers (HydraConfig.get() in train.py).

    name: the job's overrides that differ between the jobs of its multirun (in a single run:
    all its overrides), e.g. `optim.lr=0.003,seed=1`; group: the experiment, or for a multirun
    the sweep directory, so a dashboard shows one sweep's jobs together; tags: the config
    groups chosen, e.g. `model=tiny`.
    """
    from hydra.types import RunMode

    from tinyx.loggers import RunLabels

    # Run names say what was trained: where and how it ran is left out.
    overrides = [o for o in hydra_cfg.overrides.task if is_hyperparameter(_override_key(o))]
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items()
               if not k.startswith("hydra/") and k != "logger" and v is not None}
    experiment = choices.get("experiment")
    group = experiment
    if hydra_cfg.mode == RunMode.MULTIRUN:
        group = str(hydra_cfg.sweep.dir)
        swept = _swept_keys(Path(hydra_cfg.sweep.dir))
        if swept:  # a multirun of one job (nothing swept) keeps all its overrides in the name
            overrides = [o for o in overrides if _override_key(o) in swept]
    name = ",".join(overrides) or experiment or "defaults"
    return RunLabels(name=name[:128], group=group[:128] if group else None,
                     tags=[f"{k}={v}"[:64] for k, v in sorted(choices.items())])
