"""Resuming as a user does it, through train.py: the hint after Ctrl-C works when followed, `train.resume=last`,
`train.resume=auto` without a run directory, and what a failed or normal start leaves behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import MICRO, ROOT, run_cli

from tinyx.common import faults
from tinyx.rundir.contract import read_jsonl, read_summary

FAST = [*MICRO, "train.max_steps=10", "hardware.threads=1"]
SETTINGS = [*MICRO, "train.max_steps=30", "train.ckpt_every=10", "train.eval_every=10", "hardware.threads=1"]


def outputs(root: Path, *, faults_spec: str = "", ready: Path | None = None) -> dict[str, str]:
    """The environment of a user whose runs go to `root` (TINYX_OUTPUTS), fault injection as asked."""
    return {"TINYX_OUTPUTS": str(root), faults.ENV: faults_spec, faults.READY_ENV: str(ready or "")}


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("runs/*/*") if p.is_dir())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One normal `train.py` run in the default naming, under its own outputs root."""
    root = tmp_path_factory.mktemp("outputs")
    result = run_cli("train.py", *FAST, env=outputs(root))
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = run_dirs(root)
    return root, run_dir, result


def copy_outputs(first_run, tmp_path: Path) -> tuple[Path, Path]:
    """A fresh outputs root holding a copy of the first run at the same place."""
    root, run_dir, _ = first_run
    shutil.copytree(root, tmp_path / "outputs")
    return tmp_path / "outputs", tmp_path / "outputs" / run_dir.relative_to(root)


def test_train_log_holds_the_console(first_run):
    _, run_dir, result = first_run
    log = (run_dir / "train.log").read_text()
    assert re.search(r"tinyx: [\d,]+ parameters", log), log[:2000]
    assert "summary" in log and "status" in log and "completed" in log
    assert "\n  val/loss " in log  # the summary's lines as the console shows them


def test_resume_auto_without_a_run_dir_names_the_newest_run_and_starts(first_run, tmp_path):
    root, old_run = copy_outputs(first_run, tmp_path)
    result = run_cli("train.py", *FAST, "train.resume=auto", env=outputs(root))
    assert result.returncode == 0, result.stderr[-3000:]
    [new_run] = [d for d in run_dirs(root) if d != old_run]
    hints = [line for line in result.stdout.splitlines() if "is a new directory" in line]
    assert hints == [f"train.resume=auto: {new_run} is a new directory (no hydra.run.dir given), so a new run "
                     f"starts there; to continue a run add hydra.run.dir=<its directory> (the newest: {old_run}), "
                     f"or use train.resume=last"]
    assert read_summary(new_run).completed and read_summary(old_run).step == 10


def test_resume_last_continues_the_newest_run_in_place(first_run, tmp_path):
    root, old_run = copy_outputs(first_run, tmp_path)
    result = run_cli("train.py", *FAST, "train.max_steps=20", "train.resume=last", env=outputs(root))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resumed from {old_run}/checkpoints/ckpt_000010.pt at step 10" in result.stdout
    assert run_dirs(root) == [old_run]  # no new directory
    summary = read_summary(old_run)
    assert summary.completed and summary.step == 20
    assert [r["step"] for r in read_jsonl(old_run / "metrics.jsonl") if "train/loss" in r] == [5, 10, 15, 20]


def test_resume_last_with_no_run_yet_is_one_error_and_leaves_nothing(tmp_path):
    result = run_cli("train.py", *FAST, "train.resume=last", env=outputs(tmp_path))
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip() == (f"error: `last`: no run in {tmp_path}/runs or {tmp_path}/multirun yet: train "
                                     f"one first, or pass a run directory (TINYX_OUTPUTS sets where runs are "
                                     f"written).")
    assert run_dirs(tmp_path) == []


def test_a_start_that_fails_on_a_user_error_leaves_no_directory(tmp_path):
    result = run_cli("train.py", *FAST, "model.d_model=33", env=outputs(tmp_path))
    assert result.returncode == 2 and "model.d_model=33" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.rglob("*")) == []
    result = run_cli("train.py", "-m", *FAST, "model.d_model=33,34", env=outputs(tmp_path))
    assert result.returncode == 2 and "model.d_model=33" in result.stderr
    assert list(tmp_path.rglob("*")) == []


def interrupt(cmd: list[str], root: Path, point_step: str) -> str:
    """Start `python <cmd>`, SIGINT it where the fault injection paused it, return its stderr."""
    ready = root / "paused"
    proc = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, **outputs(root, faults_spec=f"pause@{point_step}", ready=ready)})
    deadline = time.monotonic() + 300
    while point_step.replace(":", " ") not in (ready.read_text() if ready.is_file() else ""):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    ready.unlink()
    return err


def follow_hint(err: str, same_command: str) -> list[str]:
    """The arguments the printed hint says to add to the same command."""
    match = re.search(rf"Resume with the {re.escape(same_command)} plus (.+)$", err, re.MULTILINE)
    assert match, err[-3000:]
    return match.group(1).split()


@pytest.mark.slow
def test_the_hint_after_ctrl_c_continues_a_single_run(tmp_path):
    cmd = ["train.py", *SETTINGS]
    err = interrupt(cmd, tmp_path, "step:15")
    [run_dir] = run_dirs(tmp_path)
    added = follow_hint(err, "same command")
    assert added == ["train.resume=auto", f"hydra.run.dir={run_dir}"]
    result = run_cli(*cmd, *added, env=outputs(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resumed from {run_dir}/checkpoints/ckpt_000015.pt at step 15" in result.stdout
    assert run_dirs(tmp_path) == [run_dir] and read_summary(run_dir).step == 30


@pytest.mark.slow
def test_the_hint_after_ctrl_c_continues_a_multirun(tmp_path):
    # Job 0 (10 steps) finishes; job 1 (30 steps) is interrupted at step 20.
    cmd = ["train.py", "-m", *SETTINGS, "train.max_steps=10,30"]
    err = interrupt(cmd, tmp_path, "step:20")
    [sweep] = list(tmp_path.glob("multirun/*/*"))
    added = follow_hint(err, "same -m command")
    assert added == ["train.resume=auto", f"hydra.sweep.dir={sweep}"]
    result = run_cli(*cmd, *added, env=outputs(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"train.resume=auto: {sweep}/0 already completed at step 10: skipped" in result.stdout
    assert f"resumed from {sweep}/1/checkpoints/ckpt_000020.pt at step 20" in result.stdout
    assert list(tmp_path.glob("multirun/*/*")) == [sweep]
    assert [read_summary(sweep / job).step for job in ("0", "1")] == [10, 30]
