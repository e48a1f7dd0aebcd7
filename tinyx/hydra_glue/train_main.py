"""train.py's body on the Hydra side: the run (or one multirun job) in its directory, and its labels for trackers."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

from tinyx.common.errors import ConfigError, TinyxError, TrainingDiverged, TrainingInterrupted, exit_on_user_error
from tinyx.config import is_hyperparameter, override_key
from tinyx.hydra_glue.compose import env_config_keys
from tinyx.rundir.claims import claimed_by_this_process
from tinyx.rundir.contract import HYDRA_DIR, LOG_FILE, holds_run, read_summary
from tinyx.rundir.last import LAST, newest, outputs_root, resolve_last
from tinyx.rundir.records import DIVERGED


@exit_on_user_error
def run_train(cfg, run_dir, labels=None, multirun: bool = False) -> float:
    """train.py's body: validate the composed config, train, return the final validation loss.

    `labels` (a tinyx.loggers.labels.RunLabels, see run_labels_from_hydra) names the run in wandb. A
    diverged run exits with code 3, except in a multirun (`multirun`), where its result is nan and
    the other jobs go on. A user error before training leaves no directory behind.
    """
    try:
        return _train_job(cfg, Path(run_dir), labels, multirun)
    except TinyxError:
        _remove_if_unused(Path(run_dir), multirun)
        raise
    except TrainingInterrupted as e:
        if multirun:  # the hint must rerun the whole sweep in place, not this job alone
            e.sweep_dir = str(Path(run_dir).parent)
        raise


def _train_job(cfg, run_dir: Path, labels, multirun: bool) -> float:
    from tinyx.config import to_run_config

    # Before importing torch, so config errors come back at once; train() takes it as validated (unchanged).
    run_cfg = to_run_config(cfg)
    resume = run_cfg.train.resume
    if multirun and resume == LAST:
        raise ConfigError(f"train.resume={LAST} continues one run, not a multirun: rerun its -m command with "
                          f"train.resume=auto hydra.sweep.dir=<its directory> (the newest: {newest(kind='sweep')}).")
    if resume == "auto":
        _say_where_auto_resumes(run_dir, multirun)
        done = read_summary(run_dir) if multirun else None
        if done is not None and done.completed and done.step >= run_cfg.train.max_steps:
            # A rerun multirun skips its finished jobs (a single run says it has nothing left to train).
            print(f"train.resume=auto: {run_dir} already completed at step {done.step}: skipped", flush=True)
            return done.val_loss
    from tinyx.training import train

    # Values the composed config took from the environment (tokens, signed URLs) are the run's secrets.
    summary = train(run_cfg, run_dir, labels=labels, secrets=env_config_keys(cfg))
    if summary.status == DIVERGED:
        if not multirun:
            raise TrainingDiverged(f"run {run_dir} diverged: {summary.reason}.")
        print(f"warning: run {run_dir} diverged (its result is nan; the multirun goes on): {summary.reason}.",
              file=sys.stderr, flush=True)
        return math.nan
    return summary.val_loss


def _say_where_auto_resumes(run_dir: Path, multirun: bool) -> None:
    """train.resume=auto in a directory the default naming just made continues nothing: name the fix.

    It still starts (the same command is the documented first start), but a user who meant to
    continue a run learns which setting picks it.
    """
    if not multirun and claimed_by_this_process(run_dir):
        last = newest()
        newest_note = f" (the newest: {resolve_last()})" if last is not None else ""
        print(f"train.resume=auto: {run_dir} is a new directory (no hydra.run.dir given), so a new run starts "
              f"there; to continue a run add hydra.run.dir=<its directory>{newest_note}, or use "
              f"train.resume={LAST}", flush=True)
    elif multirun and claimed_by_this_process(run_dir.parent) and len(_subdirs(run_dir.parent)) == 1:
        last = newest(kind="sweep")
        newest_note = f" (the newest: {last})" if last is not None else ""
        print(f"train.resume=auto: {run_dir.parent} is a new sweep directory (no hydra.sweep.dir given), so its "
              f"jobs start new runs; to continue a multirun add hydra.sweep.dir=<its directory>{newest_note}",
              flush=True)


def _subdirs(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.is_dir()]


# What Hydra writes into a run or sweep directory before the job runs.
_HYDRA_RUN_FILES = {HYDRA_DIR, LOG_FILE}
_HYDRA_SWEEP_FILES = {"multirun.yaml"}


def _remove_if_unused(run_dir: Path, multirun: bool) -> None:
    """Remove a run directory that holds only Hydra's files (a start that failed on a user error), and the
    folders of the default naming it leaves empty; never one that holds a run or anything else."""
    if not run_dir.is_dir() or holds_run(run_dir) or any(p.name not in _HYDRA_RUN_FILES for p in run_dir.iterdir()):
        return
    shutil.rmtree(run_dir)
    folder = run_dir.parent
    if multirun and folder.is_dir() and all(p.name in _HYDRA_SWEEP_FILES for p in folder.iterdir()):
        shutil.rmtree(folder)  # the sweep held nothing else: no job ran
        folder = folder.parent
    root = outputs_root().resolve()
    # The <date>/ and runs/ (or multirun/) folders the default naming made, when nothing else is in them.
    while folder.resolve() != root and root in folder.resolve().parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


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
    """Group, arm and tags of the current Hydra job, for trackers (HydraConfig.get() in train.py).

    arm: the job's overrides that differ between the jobs of its multirun but the seed (in a single run: all its
    overrides but the seed), e.g. `optim.lr=0.003`; the run's name is `<arm> seed=<seed>`
    (tinyx.loggers.labels.run_name); group: the experiment, or for a multirun the study group of its sweep
    directory (tinyx.loggers.labels.study_group: no machine path), so a dashboard shows one sweep's jobs
    together; tags: the config groups chosen, e.g. `model=tiny`.
    """
    from hydra.types import RunMode

    from tinyx.loggers.labels import RunLabels, study_group

    # Run names say what was trained: where and how it ran is left out.
    overrides = [o for o in hydra_cfg.overrides.task if is_hyperparameter(override_key(o))]
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items()
               if not k.startswith("hydra/") and k != "logger" and v is not None}
    experiment = choices.get("experiment")
    group = experiment
    if hydra_cfg.mode == RunMode.MULTIRUN:
        group = study_group(hydra_cfg.sweep.dir)
        swept = _swept_keys(Path(hydra_cfg.sweep.dir))
        if swept:  # a multirun of one job (nothing swept) keeps all its overrides in the arm
            overrides = [o for o in overrides if override_key(o) in swept]
    arm = ",".join(o for o in overrides if override_key(o) != "seed") or experiment or "defaults"
    return RunLabels(arm=arm, group=group, dashboard={"experiment": experiment} if experiment else {},
                     tags=[f"{k}={v}"[:64] for k, v in sorted(choices.items())])
