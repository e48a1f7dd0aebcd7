"""sweep.py's body: check the command, open the study, run trials until it holds sweep.n_trials, report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from tinyx.common.errors import ConfigError
from tinyx.config import RunConfig, SweepConfig, to_run_config, validate_sweep
from tinyx.sweep.objective import TRIALS_DIR, Objective
from tinyx.sweep.report import write_report
from tinyx.sweep.samplers import make_pruner, make_sampler
from tinyx.sweep.space import Compose, SearchSpace
from tinyx.sweep.storage import (
    finished_trials,
    load_or_create_study,
    open_storage,
    storage_label,
    study_signature,
)


def run_study(sweep: SweepConfig, search_space: dict, base_overrides: list[str], compose: Compose,
              default_name: str = "study", say: Callable[[str], None] = print, report: bool = True) -> dict | None:
    """Run (or with sweep.report_only, report on) the study and return its report (None without `report`).

    `base_overrides` are the command line's train.py overrides (every trial gets them);
    `compose(overrides)` returns the train.py config for a list of overrides.
    """
    validate_sweep(sweep)
    name = sweep.study_name or default_name
    study_dir = Path(sweep.root) / name
    base_cfg, base_run, space = _check_command(sweep, search_space, base_overrides, compose)
    _quiet_optuna()
    storage = open_storage(sweep.storage, study_dir, sweep.heartbeat_interval, sweep.heartbeat_grace)
    if sweep.report_only:  # any command line may report on a study: its trials hold their own overrides
        return write_report(load_or_create_study(name, storage, sweep, None, create=False), sweep, study_dir,
                            compose, say)
    study = load_or_create_study(name, storage, sweep, study_signature(sweep, space, base_overrides))
    study.pruner = make_pruner(sweep, base_run.train.max_steps, base_run.train.eval_every)
    study.sampler = make_sampler(sweep)
    say(f"study '{name}' in {storage_label(sweep)}: {finished_trials(study)} of {sweep.n_trials} trials done | "
        f"searching {', '.join(p.name for p in space.searched)}"
        + (f" | fixed by the command line: {', '.join(f'{k}={v}' for k, v in space.fixed.items())}"
           if space.fixed else "")
        + f" | trials in {study_dir / TRIALS_DIR}")
    objective = Objective(sweep, space, base_overrides, compose, name, study_dir, say)
    if sweep.workers > 1:
        _run_workers(sweep, search_space, base_overrides, compose, default_name, say)
    else:
        _import_training_stack(base_run)
        _run_trials(study, objective, sweep, say)
    return write_report(study, sweep, study_dir, compose, say) if report else None


def _run_workers(sweep: SweepConfig, search_space: dict, base_overrides: list[str], compose: Compose,
                 default_name: str, say: Callable[[str], None]) -> None:
    """sweep.workers trial loops at once, each a new process (tinyx.runtime.launcher's, as hydra/launcher=parallel's
    jobs: nothing global leaks between them) with cores / workers threads, or a GPU each where there are
    GPUs (shared when workers outnumber them); they share the study through its storage, as workers on
    several machines do. The study exists already, so they never race to create it."""
    import dataclasses
    import math
    import os

    from tinyx.runtime.launcher import plan_slots, run_jobs, visible_gpu_count, visible_gpu_names

    visible = visible_gpu_count()
    slots = plan_slots(sweep.workers, None, "auto" if visible else "none", math.ceil(sweep.workers / max(1, visible)),
                       os.cpu_count() or 1, visible, visible_gpu_names(visible, os.environ.get("CUDA_VISIBLE_DEVICES")))
    overrides = list(base_overrides)
    if not any(o.startswith("hardware.threads=") for o in overrides):
        overrides.append(f"hardware.threads={slots[0].threads}")
    say(f"{sweep.workers} workers at once, each a new process with {slots[0].threads} thread(s)"
        + (f", GPUs {', '.join(sorted({s.gpus for s in slots}))}" if slots[0].gpus else ""))
    payload = (dataclasses.replace(sweep, workers=1), search_space, overrides, compose, default_name)
    run_jobs(_worker, [payload] * sweep.workers, slots)


def _worker(payload: tuple, slot) -> None:
    """One of sweep.workers, in its own process: the trial loop, no report (the launching process writes it)."""
    import sys

    sweep, search_space, overrides, compose, default_name = payload
    try:
        run_study(sweep, search_space, overrides, compose, default_name, report=False)
    except KeyboardInterrupt as e:  # the loop said how to continue; exit as a single sweep.py would
        sys.exit(getattr(e, "exit_code", 130))





def _check_command(sweep: SweepConfig, search_space: dict, base_overrides: list[str],
                   compose: Compose) -> tuple[DictConfig, RunConfig, SearchSpace]:
    """Everything that can fail on bad input, before a study or a file is created."""
    base_cfg = compose(base_overrides)
    base_run = to_run_config(base_cfg)
    if base_run.train.resume:
        raise ConfigError(f"train.resume={base_run.train.resume} would make every trial resume one run: "
                          f"drop it (a study continues by running sweep.py again).")
    space = SearchSpace(search_space, base_overrides, base_cfg)
    if not sweep.report_only:
        space.check_keys(compose, base_overrides)
        from tinyx.data import check_lengths, load_tokens
        check_lengths(load_tokens(base_run.data), base_run.model.block_size)
    return base_cfg, base_run, space


def _quiet_optuna() -> None:
    import warnings

    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Heartbeats, multivariate TPE and the matplotlib plots are marked experimental: say it once, in the README.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _import_training_stack(base_run: RunConfig) -> None:
    """Imported before the first trial, so that a Ctrl-C never lands inside these imports (an interrupted
    import of torch's compiler stack can abort the process instead of raising KeyboardInterrupt).
    Only runs that compile import that stack (tinyx.nn.optimizers.eager_optimizers)."""
    from tinyx.runtime.hardware import resolve_compile, resolve_device

    if resolve_compile(base_run.hardware.compile, resolve_device(base_run.hardware.device)):
        import torch._dynamo  # noqa: F401

    import tinyx.training  # noqa: F401


def _run_trials(study, objective: Objective, sweep: SweepConfig, say: Callable[[str], None]) -> None:
    """One trial at a time until the study holds sweep.n_trials finished ones (other workers' count too)."""
    started = time.monotonic()
    while finished_trials(study) < sweep.n_trials:
        if sweep.timeout is not None and time.monotonic() - started > sweep.timeout:
            say(f"sweep.timeout={sweep.timeout:g} s reached: no new trial starts (rerun to continue the study).")
            break
        try:
            study.optimize(objective, n_trials=1, catch=(Exception,))
        except KeyboardInterrupt:
            trial = objective.current
            if trial is not None and trial.params:
                # Its parameters run first when the study continues, so the interrupted point is not lost.
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            say(f"interrupted: trial {trial.number if trial else '?'} stopped; its parameters run first when you rerun "
                f"the same command, which continues study '{study.study_name}' ({finished_trials(study)} of "
                f"{sweep.n_trials} trials done).")
            raise
        objective.say_result(study)
