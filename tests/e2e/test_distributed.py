"""torchrun on CPU (Gloo): two ranks train exactly what one process with twice the batch trains, only
rank 0 writes files, and checkpoints resume on any number of processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import CORPUS, MICRO, ROOT, micro_config, run_cli

from tinyx.rundir.checkpoints import find_checkpoint
from tinyx.rundir.contract import read_jsonl
from tinyx.training import train

SETTINGS = ["hardware.threads=1", "train.max_steps=30", "train.eval_every=10", "train.log_every=5",
            "train.sample_tokens=0"]
TOLERANCE = 1e-5  # float32: the ranks' gradients are averaged in another order than one batch's


def torchrun(*overrides: str):
    result = run_cli("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", *MICRO,
                     *SETTINGS, "train.batch_size=4", *overrides, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def losses(run_dir) -> dict[tuple[int, str], float]:
    rows = read_jsonl(run_dir / "metrics.jsonl")
    return {(r["step"], k): r[k] for r in rows for k in ("train/loss", "val/loss") if k in r}


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(abs(a[k] - b[k]) for k in a)


@pytest.fixture(scope="module")
def one_process_batch_8(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("one_process")
    train(micro_config(*SETTINGS, "train.batch_size=8"), run_dir, quiet=True)
    return run_dir


@pytest.mark.slow
def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path, one_process_batch_8):
    result = torchrun(f"hydra.run.dir={tmp_path / 'run'}")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    run_dir = tmp_path / "run"
    difference = max_difference(losses(run_dir), losses(one_process_batch_8))
    print(f"max |loss difference|, 2 ranks x batch 4 vs 1 process x batch 8: {difference:.2e}")
    assert difference < TOLERANCE
    # Only rank 0 wrote: every step logged once, one summary, one Hydra log.
    steps = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/loss" in r]
    assert steps == [5, 10, 15, 20, 25, 30]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == 30
    assert "x 2 processes" in result.stdout  # the global batch is printed


def killed_at_step_25(cmd: list[str], tmp_path, processes: int) -> None:
    """Run `cmd` until every process is paused mid-step 25 (checkpoint 20 saved), then SIGKILL them all."""
    ready = tmp_path / f"ready_{processes}"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "TINYX_FAULTS": "pause@step:25", "TINYX_FAULTS_READY": str(ready)})
    deadline = time.monotonic() + 120
    def all_paused():
        return ready.is_file() and len(ready.read_text().splitlines()) >= processes

    while time.monotonic() < deadline and proc.poll() is None and not all_paused():
        time.sleep(0.05)
    # Every process paused mid-step 25, not whatever state they reached by the deadline.
    assert proc.poll() is None and all_paused(), proc.stderr.read().decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun (its workers may run in their own process groups)
    for line in ready.read_text().splitlines():  # "<point> <step> <pid>" of each paused process
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[2]), signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_a_killed_run_resumes_on_another_number_of_processes(tmp_path, one_process_batch_8):
    # 2 ranks killed -> resumed by 1 process.
    two_ranks = tmp_path / "two_ranks"
    killed_at_step_25([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                       "train.py", *MICRO, *SETTINGS, "train.batch_size=4", "train.ckpt_every=10",
                       f"hydra.run.dir={two_ranks}"], tmp_path, processes=2)
    assert find_checkpoint(two_ranks).name == "ckpt_000020.pt" and not (two_ranks / "summary.json").exists()
    resumed_on_one = tmp_path / "resumed_on_one"
    train(micro_config(*SETTINGS, "train.batch_size=8", f"train.resume={two_ranks}"), resumed_on_one, quiet=True)
    # 1 process killed -> resumed by 2 ranks.
    one = tmp_path / "one"
    killed_at_step_25([sys.executable, "train.py", *MICRO, *SETTINGS, "train.batch_size=8", "train.ckpt_every=10",
                       f"hydra.run.dir={one}"], tmp_path, processes=1)
    assert find_checkpoint(one).name == "ckpt_000020.pt"
    torchrun(f"train.resume={one}", f"hydra.run.dir={tmp_path / 'resumed_on_two'}")

    uninterrupted = losses(one_process_batch_8)
    for resumed in (resumed_on_one, tmp_path / "resumed_on_two"):
        assert json.loads((resumed / "summary.json").read_text())["step"] == 30
        assert max_difference(losses(resumed), uninterrupted) < TOLERANCE


@pytest.mark.slow
def test_two_ranks_with_grad_accumulation_equal_one_process_with_twice_the_batch(tmp_path):
    # DDP must average the gradients accumulated over every micro-step (no_sync on all but the last).
    settings = ["train.max_steps=10", "train.eval_every=10", "train.grad_accum=2"]
    one_process = tmp_path / "one_process"
    train(micro_config(*SETTINGS, *settings, "train.batch_size=4"), one_process, quiet=True)
    torchrun(*settings, "train.batch_size=2", f"hydra.run.dir={tmp_path / 'run'}")
    difference = max_difference(losses(tmp_path / "run"), losses(one_process))
    print(f"max |loss difference|, 2 ranks x batch 2 x accum 2 vs 1 process x batch 4 x accum 2: {difference:.2e}")
    assert difference < TOLERANCE
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "train/loss" in r] == [5, 10]


LOAD_UNDER_A_SHORT_TIMEOUT = """
import sys, time
from datetime import timedelta
import torch.distributed as dist
import tinyx.data.build as build
from tinyx.config import DataConfig
from tinyx.data import load_tokens

dist.init_process_group("gloo", timeout=timedelta(seconds=2))
original = build.build_text_cache

def slow_build(*args, **kwargs):
    time.sleep(6)  # a large corpus: longer than the process group's timeout
    original(*args, **kwargs)

build.build_text_cache = slow_build
data = load_tokens(DataConfig(path=sys.argv[1], cache_dir=sys.argv[2]))
hits = [None, None]
dist.all_gather_object(hits, (data.cache_hit, data.fingerprint))
if dist.get_rank() == 0:
    print("hits", sorted(h for h, _ in hits), "same cache", hits[0][1] == hits[1][1])
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ranks_wait_for_a_build_longer_than_the_process_group_timeout(tmp_path):
    # NCCL's 10-minute default passes at about 12 GB of text: loading must not wait at a collective.
    script, corpus = tmp_path / "load.py", tmp_path / "corpus.txt"
    script.write_text(LOAD_UNDER_A_SHORT_TIMEOUT)
    corpus.write_text(CORPUS.read_text()[:20_000])
    result = run_cli("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), str(corpus),
                     str(tmp_path / "cache"), timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "hits [False, True] same cache True" in result.stdout  # one rank built, the other opened it
