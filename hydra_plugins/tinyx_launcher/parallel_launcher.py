"""`uv run train.py -m hydra/launcher=parallel hydra.launcher.max_jobs=2 seed=0,1,2,3`: a multirun's jobs at once.

Hydra finds launchers in the `hydra_plugins` namespace package only; this module is the thin Hydra
side (each job's config, Hydra's run_job in the job's process) of the engine in tinyx.runtime.launcher.
Hydra imports every plugin module at start, so nothing heavy is imported here at module level.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


# What every job imports, imported once in the launcher's forkserver rather than in each job (torch alone is
# seconds of a job's start on a laptop CPU: tinyx.runtime.launcher._context).
JOB_IMPORTS = ("torch", "hydra_plugins.tinyx_launcher.parallel_launcher", "tinyx.hydra_glue.train_main",
               "tinyx.training")


def _run_in_job_process(payload: tuple, slot) -> tuple[JobStatus, Any, str]:
    """The job's own (fresh) process: Hydra's state as the launcher had it, then the task as Hydra runs it."""
    from hydra.core.plugins import Plugins

    from tinyx.runtime.launcher import JOB_LABEL_ENV

    hydra_context, config, task_name, singletons = payload
    os.environ[JOB_LABEL_ENV] = f"#{config.hydra.job.num}"
    Singleton._instances = singletons  # Singleton.set_state, less the resolvers (see _payload)
    Plugins.instance()
    setup_globals()
    # The task function is train.py's `main`, which spawn imported again as this process's __main__;
    # Hydra hands launchers the function inside @hydra.main's wrapper, so unwrap it.
    task_function = inspect.unwrap(getattr(sys.modules["__main__"], task_name))
    ret = run_job(hydra_context=hydra_context, task_function=task_function, config=config,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    # What the sweeper reads, not the JobReturn itself: its configs hold classes of Hydra's plugin modules,
    # which this process imported anew, so pickle would not find them as the same objects.
    return ret.status, ret._return_value, ret.working_dir


def _job_return(result: Any, overrides: list[str]) -> JobReturn:
    ret = JobReturn(overrides=overrides)
    if isinstance(result, tuple):
        ret.status, ret._return_value, ret.working_dir = result
    else:  # the job's result could not be sent back: `result` says what it was
        ret.status, ret._return_value = JobStatus.FAILED, result
    return ret


class ParallelLauncher(Launcher):
    def __init__(self, max_jobs: int | None = None, threads_per_job: int | None = None, gpus: Any = "auto",
                 jobs_per_gpu: int = 1) -> None:
        from omegaconf import OmegaConf

        self.max_jobs, self.threads_per_job, self.jobs_per_gpu = max_jobs, threads_per_job, jobs_per_gpu
        self.gpus = OmegaConf.to_container(gpus) if OmegaConf.is_config(gpus) else gpus
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from tinyx.common.errors import exit_on_user_error

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        # Checked before any job or file: a bad setting leaves nothing behind (the sweep directory that
        # on_multirun_start has just made, still empty, is removed).
        self.slots = exit_on_user_error(self._plan_slots)()

    def _plan_slots(self) -> list:
        import os

        from tinyx.common.errors import ConfigError
        from tinyx.rundir.claims import claimed_by_this_process
        from tinyx.runtime.launcher import plan_slots, visible_gpu_count, visible_gpu_names

        try:
            visible = visible_gpu_count()
            return plan_slots(self.max_jobs, self.threads_per_job, self.gpus, self.jobs_per_gpu,
                              os.cpu_count() or 1, visible,
                              visible_gpu_names(visible, os.environ.get("CUDA_VISIBLE_DEVICES")))
        except ConfigError:
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            if claimed_by_this_process(sweep_dir) and sweep_dir.is_dir() and not any(sweep_dir.iterdir()):
                sweep_dir.rmdir()
            raise

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from tinyx.common.errors import exit_on_user_error

        return exit_on_user_error(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
        from tinyx.runtime.launcher import JobExited, run_jobs

        setup_globals()
        slots = self.slots
        # Resolved here, once: the jobs' processes must not claim a new directory of their own (tinyx_new_dir).
        sweep_dir = str(self.config.hydra.sweep.dir)
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        where = f", GPU {sorted({s.gpus for s in slots})}" if slots[0].gpus else ""
        # At most one job per slot, and never more at once than there are jobs (CPU slots are one per core).
        log.info(f"Launching {len(job_overrides)} jobs, {min(len(slots), len(job_overrides))} at once, "
                 f"{slots[0].threads} thread(s) each{where}, each in a new process")
        payloads = [self._payload(list(overrides), initial_job_idx + i, sweep_dir, slots[0].threads)
                    for i, overrides in enumerate(job_overrides)]
        try:
            results = run_jobs(_run_in_job_process, payloads, slots,
                               on_start=lambda i, slot: log.info(f"\t#{initial_job_idx + i} started"
                                                                 + (f" on GPU {slot.gpus}" if slot.gpus else "")),
                               preload=JOB_IMPORTS)
        except KeyboardInterrupt:
            # Ctrl-C reached the jobs too (one process group); run_jobs waited while each saved its checkpoint.
            print(f"interrupted: the running jobs saved their checkpoints. Continue the multirun with the same "
                  f"command plus train.resume=auto hydra.sweep.dir={sweep_dir}", file=sys.stderr, flush=True)
            sys.exit(130)
        except JobExited as e:
            # The job printed its own error; the launch stops with its code, as a sequential multirun would.
            print(f"error: multirun job #{initial_job_idx + e.index} exited with code {e.exitcode} "
                  f"(its message is above); no further jobs were started.", file=sys.stderr, flush=True)
            sys.exit(e.exitcode)
        return [_job_return(r, list(o)) for r, o in zip(results, job_overrides)]

    def _payload(self, overrides: list[str], idx: int, sweep_dir: str, threads: int) -> tuple:
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        loader = self.hydra_context.config_loader
        config = loader.load_sweep_config(self.config, overrides)
        if not config.hardware.threads:  # the job's threads are the launcher's unless the job sets its own
            config = loader.load_sweep_config(self.config, overrides + [f"hardware.threads={threads}"])
        with open_dict(config):
            config.hydra.job.id = idx
            config.hydra.job.num = idx
            config.hydra.sweep.dir = sweep_dir
        # Hydra's singletons (the config store, the job's runtime) without OmegaConf's resolvers: those are
        # closures pickle cannot carry, and the job's process registers its own on importing train.py.
        instances = Singleton.get_state()["instances"]
        return self.hydra_context, config, self.task_function.__name__, instances
