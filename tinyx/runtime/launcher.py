"""Run a multirun's jobs at once on one machine: a fresh process per job, each with its own threads or GPU.

The engine behind `hydra/launcher=parallel` (the Hydra side is hydra_plugins/tinyx_launcher; this module
does not import Hydra). Each job is a new interpreter (multiprocessing's `spawn`), never a reused
worker, so nothing a job sets globally (torch's threads and seeds, registered resolvers, wandb's state)
reaches the next one. Each running job holds one *slot*: its CPU thread count and, on GPUs, the devices
it sees (CUDA_VISIBLE_DEVICES), both set in its environment before it starts, so CUDA and OpenMP start
with them. docs/parallel.md compares the engines considered (submitit, joblib/loky, Ray, ProcessPoolExecutor).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from tinyx.common.errors import ConfigError

# Set in each job's process to the job's number (`#3`): its console lines carry it, since jobs running at once
# share one terminal.
JOB_LABEL_ENV = "TINYX_JOB_LABEL"


@dataclass(frozen=True)
class Slot:
    """What one running job may use: `threads` torch/OpenMP threads, and GPUs `gpus` (None: no GPU assigned)."""

    threads: int
    gpus: str | None = None

    def env(self) -> dict[str, str]:
        env = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        if self.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus
        return env


def visible_gpu_count() -> int:
    """GPUs this process sees, without starting CUDA in it (the jobs start it, each with its own devices).

    Without an NVIDIA driver, 0 without importing torch (seconds of the launch on a busy CPU machine).
    """
    import shutil
    from pathlib import Path

    if not (Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi")):
        return 0
    import torch

    return torch.cuda.device_count() if torch.version.cuda else 0


def _gpu_list(gpus: Any, visible: int) -> list[int]:
    """hydra.launcher.gpus: auto (every visible GPU), none, a count N (GPUs 0..N-1) or a list of indices."""
    if gpus is None or gpus == "none" or gpus == 0:
        return []
    if gpus == "auto":
        return list(range(visible))
    if isinstance(gpus, bool) or not isinstance(gpus, (int, list, tuple)):
        raise ConfigError(f"hydra.launcher.gpus={gpus!r} is not a GPU count, a list of GPU indices, auto or none: "
                          f"e.g. hydra.launcher.gpus=2 or 'hydra.launcher.gpus=[0,2]'.")
    wanted = list(range(gpus)) if isinstance(gpus, int) else [int(g) for g in gpus]
    if wanted and not visible:
        raise ConfigError(f"hydra.launcher.gpus={gpus!r} but this machine has no visible CUDA GPU: "
                          f"use hydra.launcher.gpus=none (or auto) to run the jobs on CPU.")
    out_of_range = wanted and (min(wanted) < 0 or max(wanted) >= visible)
    if out_of_range or len(wanted) > visible or len(set(wanted)) < len(wanted):
        raise ConfigError(f"hydra.launcher.gpus={gpus!r} asks for GPUs this machine does not have (it sees {visible}: "
                          f"indices 0..{visible - 1}): ask for at most {visible}, or hydra.launcher.gpus=auto.")
    return wanted


def visible_gpu_names(visible: int, cuda_visible_devices: str | None) -> list[str]:
    """What to put in a job's CUDA_VISIBLE_DEVICES for each GPU this process sees: under the launcher's own
    CUDA_VISIBLE_DEVICES=2,3, its GPU 0 is "2" (the jobs' indices are the launcher's, as the user sees them)."""
    names = [n.strip() for n in (cuda_visible_devices or "").split(",") if n.strip()]
    return names[:visible] if len(names) >= visible else [str(i) for i in range(visible)]


def plan_slots(max_jobs: int | None, threads_per_job: int | None, gpus: Any, jobs_per_gpu: int,
               cpu_count: int, visible_gpus: int, gpu_names: list[str] | None = None) -> list[Slot]:
    """The slots jobs run in, one per job at once.

    With GPUs, `jobs_per_gpu` slots per GPU (max_jobs null: all of them); on CPU, max_jobs slots
    (null: one per core, so one thread each). Threads per job (null): the cores shared evenly, at least one.
    `gpu_names`: visible_gpu_names (default: 0..visible_gpus-1).

    Why one single-thread job per core on CPU: a small model's matrices are too small for torch's
    intra-op threads to pay off (they wait on each other at every op), while separate processes never
    wait; one job per two cores ran slower than Hydra's default launcher (docs/parallel.md). It also
    makes a job's numbers the same whatever the machine's core count (the thread count changes the
    floating-point reduction order, so the last digits).
    """
    for key, value in (("max_jobs", max_jobs), ("threads_per_job", threads_per_job), ("jobs_per_gpu", jobs_per_gpu)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"hydra.launcher.{key}={value!r}: it must be a whole number >= 1 "
                              f"(e.g. hydra.launcher.{key}=2).")
    devices = _gpu_list(gpus, visible_gpus)
    if devices:
        names = gpu_names or [str(i) for i in range(visible_gpus)]
        gpu_slots = [names[d] for _ in range(jobs_per_gpu) for d in devices]  # spread over the GPUs first
        if max_jobs is not None and max_jobs > len(gpu_slots):
            raise ConfigError(f"hydra.launcher.max_jobs={max_jobs} but {len(devices)} GPU(s) x jobs_per_gpu="
                              f"{jobs_per_gpu} give {len(gpu_slots)} slots: raise hydra.launcher.jobs_per_gpu "
                              f"or lower max_jobs.")
        gpu_slots = gpu_slots[:max_jobs or len(gpu_slots)]
        threads = threads_per_job or max(1, cpu_count // len(gpu_slots))
        return [Slot(threads, d) for d in gpu_slots]
    n = max_jobs or max(1, cpu_count)
    # On a CPU-only launch with a GPU present, hide it: the jobs share the cores, not an unplanned GPU.
    hide = "" if visible_gpus else None
    return [Slot(threads_per_job or max(1, cpu_count // n), hide) for _ in range(n)]


@contextmanager
def _environment(values: dict[str, str]):
    """os.environ with `values` set, restored after: a spawned child copies the environment at start."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _child(target: Callable[[Any, Slot], Any], payload: Any, slot: Slot, conn, forked: bool = False) -> None:
    """In the job's own process: run it, send its result back (an unpicklable error as its text)."""
    if forked:  # a forkserver's child has the server's environment, not the one the launcher set at its start
        os.environ.update(slot.env())
    result = target(payload, slot)
    try:
        conn.send((result,))  # in a tuple: a job whose result is None still sends one
    except Exception:  # noqa: BLE001 (a result or error pickle cannot carry)
        conn.send((RuntimeError(repr(result)),))
    conn.close()


class JobExited(Exception):
    """A job's process ended without a result (sys.exit on a user error, a kill): its exit code."""

    def __init__(self, index: int, exitcode: int):
        super().__init__(f"job {index} exited with code {exitcode}")
        self.index, self.exitcode = index, exitcode


def _context(preload: Sequence[str]):
    """spawn (a new interpreter per job), or with modules to preload a forkserver: each job is then forked from
    a clean server process that imported them once (torch's import is seconds of every job's start), still a
    fresh process per job. Torch in the server starts no threads and no CUDA: each job sets its own. Linux only:
    on macOS a process that imported torch is not safe to fork (the Objective-C runtime), so there it is spawn."""
    import sys

    if not preload or not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ctx


def run_jobs(target: Callable[[Any, Slot], Any], payloads: Sequence[Any], slots: Sequence[Slot],
             on_start: Callable[[int, Slot], None] | None = None, preload: Sequence[str] = ()) -> list[Any]:
    """`target(payload, slot)` for every payload, each in a new process, at most len(slots) at once.

    The results in payloads' order. A job that exits without a result (a user error's sys.exit, a
    kill) stops the launch: no new job starts, the running ones finish, and JobExited names the
    first such job and its code. `target`: importable by name. `preload`: modules imported once (_context).
    """
    ctx = _context(preload)
    results: list[Any] = [None] * len(payloads)
    free = list(slots)
    # Keyed by the job's result pipe: readable when the result comes or the process ends (EOF). Waiting
    # on the pipe, not the process, lets a result larger than the pipe's buffer through.
    running: dict[Any, tuple[int, Any, Slot]] = {}
    pending = list(range(len(payloads)))
    failure: JobExited | None = None
    try:
        while pending or running:
            while pending and free and failure is None:
                index, slot = pending.pop(0), free.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                forked = ctx.get_start_method() == "forkserver"  # its child sets the slot's environment itself
                process = ctx.Process(target=_child, args=(target, payloads[index], slot, send, forked), daemon=False)
                with _environment(slot.env()):
                    process.start()
                send.close()
                running[receive] = (index, process, slot)
                if on_start is not None:
                    on_start(index, slot)
            if not running:
                break
            for receive in wait(list(running)):
                index, process, slot = running.pop(receive)
                try:
                    (results[index],), sent = receive.recv(), True
                except EOFError:  # ended without sending
                    sent = False
                receive.close()
                process.join()
                if not sent and failure is None:
                    failure = JobExited(index, process.exitcode if process.exitcode is not None else 1)
                free.append(slot)
    except KeyboardInterrupt:
        # Ctrl-C reached every job too (one process group): each saves its checkpoint; wait for them.
        for _, process, _ in running.values():
            process.join()
        raise
    if failure is not None:
        raise failure
    return results
