"""One pool for every run a round needs: all arms' seeds (and all tuning runs) share the launcher's slots, so two
cores stay busy until the round's last run, not until each arm's last seed (one multirun per arm left the third
seed of every arm running alone). Each run is a plain `train.py` in its own directory, resumed when it was stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.cli.entry import CHECKOUT
from tinyx.common.errors import AblateError
from tinyx.config import override_key, quoted_override
from tinyx.loggers.labels import TRAIN_JOB
from tinyx.runtime.launcher import JOB_LABEL_ENV, Slot

INTERRUPTED = (130, 143, -2, -15)  # Ctrl-C or SIGTERM reached the run: it saved its checkpoint; rerun to continue


@dataclass
class Job:
    """One train.py run: what it trains (overrides), where (run_dir), and how a dashboard names it."""

    run_dir: Path
    overrides: list[str]  # the arm's
    own: list[str]  # this run's, after the user's `--` overrides: seed=, a tuned or tuning value, tuning's steps
    name: str  # e.g. "experiment=llama_tiny seed=2": what the console and wandb call it
    arm: str  # the dashboard's `arm`: what the seeds of one arm share
    job_type: str = TRAIN_JOB  # or TUNING_JOB
    labels: dict[str, str] = field(default_factory=dict)


def train_command(job: Job, threads: int, extra: list[str]) -> list[str]:
    """train.py for one job; the wandb labels and the threads unless the user set them after `--`."""
    own = {override_key(o) for o in job.own}
    mine = {override_key(o) for o in [*job.overrides, *extra]}
    defaults = {"logger.wandb.name": job.name, "logger.wandb.arm": job.arm, "logger.wandb.job_type": job.job_type,
                "hardware.threads": str(threads), **job.labels}
    return [sys.executable, str(CHECKOUT / "train.py"), *job.overrides, *(o for o in extra if override_key(o) not in own),
            *job.own, *(quoted_override(k, v) for k, v in defaults.items() if k not in mine),
            f"hydra.run.dir={job.run_dir}", "train.resume=auto"]


def _run_job(payload: tuple[list[str], str], slot: Slot) -> int:
    """In the launcher's job process: train.py, waited for. Ctrl-C reaches train.py itself (one process group),
    which saves its checkpoint; this process only waits, so it never kills a run mid-save."""
    import signal

    command, label = payload
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return subprocess.Popen(command, env={**os.environ, JOB_LABEL_ENV: label}).wait()


def launch(commands: list[tuple[list[str], str]], slots: list[Slot], on_start) -> list[int]:
    """Every command through the parallel launcher's engine, len(slots) at once: their exit codes."""
    from tinyx.runtime.launcher import run_jobs

    return run_jobs(_run_job, commands, slots, on_start=on_start)


def plan(jobs_at_once: int | None) -> list[Slot]:
    """The slots: the parallel launcher's CPU/GPU plan (tinyx.runtime.launcher.plan_slots)."""
    from tinyx.runtime.launcher import plan_slots, visible_gpu_count

    return plan_slots(jobs_at_once, None, "auto", 1, os.cpu_count() or 1, visible_gpu_count())


def run_pool(jobs: list[Job], extra: list[str], jobs_at_once: int | None, say) -> None:
    """Run the jobs, len(slots) at once; a failed run stops the command (its error is above), Ctrl-C too."""
    if not jobs:
        return
    slots = plan(jobs_at_once)
    commands = [(train_command(job, slots[0].threads, extra), f"#{i}") for i, job in enumerate(jobs)]
    say(f"{len(jobs)} runs, {len(slots)} at once ({slots[0].threads} thread(s) each)")
    codes = launch(commands, slots, lambda i, slot: say(f"  #{i} {jobs[i].name}"))
    if any(code in INTERRUPTED for code in codes):
        raise KeyboardInterrupt
    failed = [(job, code) for job, code in zip(jobs, codes) if code != 0]
    if failed:
        job, code = failed[0]
        raise AblateError(f"train.py for {job.name!r} exited with {code} (its error is above; its run: {job.run_dir}):"
                          f" fix it, then rerun this command; finished runs are kept.")
