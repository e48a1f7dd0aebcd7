"""The training loop end to end: files, accumulation, exact resume after SIGKILL, the on_eval hook.

Bad input: tests/test_bad_inputs.py; faults (kills, signals, NaN): tests/test_faults.py.
"""

import json
import math
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import MICRO, ROOT, micro_config

from tinyx.rundir.checkpoints import find_checkpoint, list_checkpoints, load_checkpoint
from tinyx.rundir.contract import read_jsonl
from tinyx.training import train


def test_run_directory_contract(trained_run):
    run_dir, summary = trained_run
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["status"] == "completed" and saved["step"] == 40
    for key in ["val/loss", "val/loss_best", "val/ppl", "val/bpb", "val/bpb_best", "params", "tokens_per_second",
                "wall_seconds"]:
        assert isinstance(saved[key], (int, float)), key
    assert saved["val/ppl"] == pytest.approx(math.exp(saved["val/loss"]))
    assert saved["val/loss_best"] <= saved["val/loss"]

    rows = read_jsonl(run_dir / "metrics.jsonl")
    train_rows = [r for r in rows if "train/loss" in r]
    val_rows = [r for r in rows if "val/loss" in r]
    assert [r["step"] for r in train_rows] == list(range(5, 41, 5))
    assert [r["step"] for r in val_rows] == [20, 40]
    for key in ["lr", "grad_norm", "tokens_per_second", "mfu", "step_ms"]:
        assert all(r[key] > 0 for r in train_rows), key
    assert train_rows[-1]["train/loss"] < train_rows[0]["train/loss"] - 0.3  # it learns
    assert val_rows[-1]["val/loss"] == saved["val/loss"]

    # keep_checkpoints=3 of the four saved (10, 20, 30, 40); latest points at the last.
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_000020.pt", "ckpt_000030.pt", "ckpt_000040.pt"]
    assert find_checkpoint(run_dir).name == "ckpt_000040.pt"
    state = load_checkpoint(find_checkpoint(run_dir))
    assert state["step"] == 40 and state["config"]["model"]["vocab_size"] == 65
    assert json.loads((run_dir / "tokenizer.json").read_text())["kind"] == "char"
    samples = read_jsonl(run_dir / "samples.jsonl")
    assert [s["step"] for s in samples] == [20, 40] and all(len(s["text"]) == 17 for s in samples)


def test_grad_accumulation_equals_one_big_batch(tmp_path):
    common = ["train.max_steps=3", "train.log_every=1", "train.eval_every=3", "train.sample_tokens=0"]
    big = train(micro_config(*common, "train.batch_size=8", "train.grad_accum=1"), tmp_path / "big")
    acc = train(micro_config(*common, "train.batch_size=4", "train.grad_accum=2"), tmp_path / "acc")
    rows_big = read_jsonl(tmp_path / "big" / "metrics.jsonl")
    rows_acc = read_jsonl(tmp_path / "acc" / "metrics.jsonl")
    assert len(rows_big) == len(rows_acc) > 0  # zip would stop at the shorter list
    assert [r["step"] for r in rows_big] == [r["step"] for r in rows_acc]
    for a, b in zip(rows_big, rows_acc):
        for key in ("train/loss", "grad_norm", "val/loss"):
            if key in a:
                assert a[key] == pytest.approx(b[key], rel=1e-5), (a["step"], key)
    assert big.val_loss == pytest.approx(acc.val_loss, rel=1e-5)


def _losses(run_dir):
    return [(r["step"], r.get("train/loss"), r.get("val/loss")) for r in read_jsonl(run_dir / "metrics.jsonl")]


@pytest.mark.slow
def test_sigkill_then_resume_logs_exactly_the_uninterrupted_losses(tmp_path):
    settings = ["train.max_steps=300", "train.ckpt_every=20", "train.eval_every=20", "train.log_every=5",
                "model.dropout=0.1"]
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "train.py", *MICRO, *settings, f"hydra.run.dir={killed_dir}"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    # Kill once `latest` names the second checkpoint (it is moved after the file is complete).
    pointer = killed_dir / "checkpoints" / "latest"
    def second_checkpoint_named():
        return pointer.is_file() and pointer.read_text().strip() >= "ckpt_000040.pt"

    while proc.poll() is None and time.time() < deadline and not second_checkpoint_named():
        time.sleep(0.01)
    # The state the kill is meant for, not whatever the run reached by the deadline.
    assert proc.poll() is None and second_checkpoint_named(), proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not (killed_dir / "summary.json").exists()
    resumed_from = load_checkpoint(find_checkpoint(killed_dir))["step"]
    assert 40 <= resumed_from < 300

    resumed = train(micro_config(*settings, f"train.resume={killed_dir}"), tmp_path / "resumed")
    full = train(micro_config(*settings), tmp_path / "full")
    assert resumed.status == "completed" and resumed.step == 300
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "full")  # exact, step for step
    assert resumed.val_loss == full.val_loss


def test_float_checkpoint_survives_weights_only_load(trained_run):
    state = load_checkpoint(find_checkpoint(trained_run[0]))
    assert isinstance(state["rng"]["torch"], torch.Tensor) and len(state["optimizers"]) == 1


def test_on_eval_can_stop_a_run_with_its_own_status(tmp_path):
    seen = []

    def stop_at_second_eval(step, val_loss):
        seen.append((step, val_loss))
        return "pruned" if len(seen) == 2 else None

    cfg = micro_config("train.max_steps=60", "train.eval_every=10")
    summary = train(cfg, tmp_path, quiet=True, on_eval=stop_at_second_eval)
    assert [s for s, _ in seen] == [10, 20]
    assert summary.status == "pruned" and summary.step == 20 and summary.val_loss == seen[-1][1]
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "pruned"
    assert max(row["step"] for row in read_jsonl(tmp_path / "metrics.jsonl")) == 20


def test_resume_from_a_step_between_log_steps_with_accumulation_logs_exactly_the_uninterrupted_losses(tmp_path):
    # ckpt_every=7 with log_every=5: checkpoint 7 holds steps 6-7's loss sum, which step 10's mean needs.
    settings = ["train.max_steps=15", "train.grad_accum=2", "train.log_every=5", "train.ckpt_every=7",
                "train.eval_every=15", "train.sample_tokens=0", "model.dropout=0.1", "hardware.threads=1"]
    full = train(micro_config(*settings), tmp_path / "full", quiet=True)
    checkpoint = tmp_path / "full" / "checkpoints" / "ckpt_000007.pt"
    assert load_checkpoint(checkpoint)["loss_steps"] == 2  # mid-interval: two steps since the log at 5
    resumed = train(micro_config(*settings, f"train.resume={checkpoint}"), tmp_path / "resumed", quiet=True)
    assert resumed.status == "completed" and resumed.step == 15
    # The new directory carries the history up to the checkpoint (step 5's row) and goes on from it.
    assert [step for step, _, _ in _losses(tmp_path / "resumed")] == [5, 10, 15, 15]
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "full")  # exact, step for step
    assert resumed.val_loss == full.val_loss
