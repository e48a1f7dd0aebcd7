"""tinyx.runtime.launcher, the engine of hydra/launcher=parallel: slots (threads, GPUs), a new process per job, the cap."""

from __future__ import annotations

import os
import sys
import time

import pytest

from tinyx.common.errors import ConfigError
from tinyx.runtime.launcher import (
    JobExited,
    Slot,
    plan_slots,
    run_jobs,
    visible_gpu_names,
)


def _report(payload, slot: Slot):
    """A job: what its process is and sees. payload: (seconds to take, exit code or None)."""
    seconds, exit_code = payload
    start = time.time()
    time.sleep(seconds)
    if exit_code is not None:
        sys.exit(exit_code)
    return {"pid": os.getpid(), "omp": os.environ.get("OMP_NUM_THREADS"), "slot_threads": slot.threads,
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}


def test_cpu_slots_share_the_cores_evenly():
    assert plan_slots(2, None, "none", 1, cpu_count=2, visible_gpus=0) == [Slot(1), Slot(1)]
    assert plan_slots(3, None, "auto", 1, cpu_count=16, visible_gpus=0) == [Slot(5)] * 3
    assert plan_slots(4, 3, "none", 1, cpu_count=2, visible_gpus=0) == [Slot(3)] * 4  # threads as asked


def test_the_cpu_default_is_one_single_thread_job_per_core():
    # Faster on CPU than fewer jobs with more threads each (docs/parallel.md), and a job's thread count, so
    # its last digits, the same on any machine.
    assert plan_slots(None, None, "auto", 1, cpu_count=2, visible_gpus=0) == [Slot(1), Slot(1)]
    assert plan_slots(None, None, "none", 1, cpu_count=8, visible_gpus=0) == [Slot(1)] * 8
    assert plan_slots(None, None, "auto", 1, cpu_count=1, visible_gpus=0) == [Slot(1)]
    assert plan_slots(None, None, "none", 1, cpu_count=4, visible_gpus=1) == [Slot(1, "")] * 4  # GPU hidden
    assert plan_slots(None, 2, "none", 1, cpu_count=4, visible_gpus=0) == [Slot(2)] * 4  # threads as asked


def test_gpu_slots_spread_over_the_gpus_then_share_them():
    slots = plan_slots(None, None, "auto", 2, cpu_count=16, visible_gpus=2)
    assert [s.gpus for s in slots] == ["0", "1", "0", "1"] and {s.threads for s in slots} == {4}
    assert [s.gpus for s in plan_slots(3, None, "auto", 2, cpu_count=16, visible_gpus=2)] == ["0", "1", "0"]
    assert [s.gpus for s in plan_slots(None, None, [1, 3], 1, cpu_count=8, visible_gpus=4)] == ["1", "3"]
    assert [s.gpus for s in plan_slots(None, None, 1, 1, cpu_count=8, visible_gpus=4)] == ["0"]
    # Under the launcher's own CUDA_VISIBLE_DEVICES=4,6 its GPUs 0 and 1 are the machine's 4 and 6
    names = visible_gpu_names(2, "4,6")
    assert [s.gpus for s in plan_slots(None, None, "auto", 1, 8, 2, names)] == ["4", "6"]
    assert [s.gpus for s in plan_slots(None, None, [1], 1, 8, 2, names)] == ["6"]
    assert visible_gpu_names(2, None) == visible_gpu_names(2, "") == ["0", "1"]
    # gpus=none on a GPU machine: CPU jobs that do not touch the GPU
    assert plan_slots(2, None, "none", 1, cpu_count=4, visible_gpus=1) == [Slot(2, ""), Slot(2, "")]


@pytest.mark.parametrize("kwargs, words", [
    (dict(max_jobs=0), ["hydra.launcher.max_jobs=0", ">= 1"]),
    (dict(threads_per_job=-2), ["hydra.launcher.threads_per_job=-2", ">= 1"]),
    (dict(jobs_per_gpu=0), ["hydra.launcher.jobs_per_gpu=0", ">= 1"]),
    (dict(gpus=3), ["hydra.launcher.gpus=3", "sees 2", "at most 2"]),
    (dict(gpus=[0, 2]), ["hydra.launcher.gpus=[0, 2]", "sees 2"]),
    (dict(max_jobs=5), ["hydra.launcher.max_jobs=5", "4 slots", "jobs_per_gpu"]),
    (dict(gpus="many"), ["hydra.launcher.gpus='many'", "hydra.launcher.gpus=2"]),
])
def test_bad_launcher_settings_name_the_value_and_the_fix(kwargs, words):
    args = dict(max_jobs=None, threads_per_job=None, gpus="auto", jobs_per_gpu=2, cpu_count=4, visible_gpus=2)
    with pytest.raises(ConfigError) as e:
        plan_slots(**{**args, **kwargs})
    for word in words:
        assert word in str(e.value)


def test_gpus_asked_on_a_machine_without_one():
    with pytest.raises(ConfigError, match=r"hydra.launcher.gpus=1 but this machine has no visible CUDA GPU"):
        plan_slots(None, None, 1, 1, cpu_count=4, visible_gpus=0)


def test_each_job_runs_in_a_new_process_with_its_slot_and_at_most_cap_at_once():
    slots = [Slot(1, "0"), Slot(3, "1")]
    results = run_jobs(_report, [(0.6, None)] * 4, slots)
    assert len({r["pid"] for r in results} | {os.getpid()}) == 5  # four new processes, none reused
    assert {(r["omp"], r["cuda"], r["slot_threads"]) for r in results} == {("1", "0", 1), ("3", "1", 3)}
    assert "CUDA_VISIBLE_DEVICES" not in os.environ or os.environ["CUDA_VISIBLE_DEVICES"] not in ("0", "1")
    events = sorted([(r["start"], 1) for r in results] + [(r["end"], -1) for r in results])
    running = [sum(d for _, d in events[:i + 1]) for i in range(len(events))]
    assert max(running) == 2  # the cap held, and two did run at once


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forkserver is Linux's (macOS spawns)")
def test_with_modules_to_preload_each_job_is_still_a_new_process_with_its_slot():
    # The forkserver imports the preloaded modules once; each job is forked from it, and gets its slot's
    # environment although the server started before any slot was set.
    slots = [Slot(1, "0"), Slot(3, "1")]
    results = run_jobs(_report, [(0.3, None)] * 4, slots, preload=("json",))
    assert len({r["pid"] for r in results} | {os.getpid()}) == 5
    assert {(r["omp"], r["cuda"], r["slot_threads"]) for r in results} == {("1", "0", 1), ("3", "1", 3)}


def _nothing(payload, slot: Slot) -> None:
    return None


def test_a_job_whose_result_is_none_is_not_a_failure():
    assert run_jobs(_nothing, [0, 1], [Slot(1)]) == [None, None]


def test_a_job_that_exits_stops_the_launch_with_its_code():
    starts = []
    with pytest.raises(JobExited) as e:
        run_jobs(_report, [(0.0, 2), (0.0, None), (0.0, None)], [Slot(1)], on_start=lambda i, s: starts.append(i))
    assert (e.value.index, e.value.exitcode) == (0, 2)
    assert starts == [0]  # no job started after the failure
