"""torchrun on CPU (Gloo): two ranks train exactly what one process with twice the batch trains, only
rank 0 writes files, and checkpoints resume on any number of processes."""

from __future__ import annotations

import json

import pytest

from conftest import MICRO, micro_config, run_cli
from tinyx.loggers import read_jsonl
from tinyx.trainer import train

# The learning rate must not depend on train.max_steps, so a 20-step run resumed to 30 steps follows
# the 30-step run exactly.
SETTINGS = ["hardware.threads=1", "optim.schedule=constant", "train.max_steps=30", "train.eval_every=10",
            "train.log_every=5", "train.sample_tokens=0"]
TOLERANCE = 1e-5  # float32: the ranks' gradients are averaged in another order than one batch's


def torchrun(*overrides: str):
    result = run_cli("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", *MICRO, *SETTINGS,
                     "train.batch_size=4", *overrides, timeout=300)
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


def test_checkpoints_resume_on_another_number_of_processes(tmp_path, one_process_batch_8):
    # 2 ranks -> 1 process.
    torchrun("train.max_steps=20", f"hydra.run.dir={tmp_path / 'two_ranks'}")
    resumed_on_one = tmp_path / "resumed_on_one"
    train(micro_config(*SETTINGS, "train.batch_size=8", f"train.resume={tmp_path / 'two_ranks'}"),
          resumed_on_one, quiet=True)
    # 1 process -> 2 ranks.
    train(micro_config(*SETTINGS, "train.batch_size=8", "train.max_steps=20"), tmp_path / "one",
          quiet=True)
    torchrun(f"train.resume={tmp_path / 'one'}", f"hydra.run.dir={tmp_path / 'resumed_on_two'}")

    uninterrupted = losses(one_process_batch_8)
    for resumed in (resumed_on_one, tmp_path / "resumed_on_two"):
        assert json.loads((resumed / "summary.json").read_text())["step"] == 30
        assert max_difference(losses(resumed), uninterrupted) < TOLERANCE
