"""Fault injection: real train.py processes killed with SIGKILL at chosen instants, SIGTERM and Ctrl-C,
and NaN/inf injected into the loss and gradients (tinyx/common/faults.py: pause a process at a named point
of a step, so a test kills it exactly there instead of sleeping and hoping)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from helpers import MICRO, ROOT, compose, micro_config, run_cli

from tinyx.common import faults
from tinyx.hydra_glue.train_main import run_train
from tinyx.rundir.checkpoints import (
    best_checkpoint,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from tinyx.rundir.contract import read_jsonl
from tinyx.training import train

# Dropout on, so that resuming exactly also needs the RNG state; one thread, as in the subprocesses.
SETTINGS = ["train.max_steps=60", "train.ckpt_every=10", "train.eval_every=20", "train.log_every=5",
            "model.dropout=0.1", "hardware.threads=1"]


@contextlib.contextmanager
def torch_threads_restored():
    """hardware.threads=1 sets torch's thread count for the whole process: put it back afterwards."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    with torch_threads_restored():
        train(micro_config(*SETTINGS), run_dir, quiet=True)
    return run_dir


def trajectory(run_dir: Path) -> list[tuple]:
    """Everything a run logs that must not depend on interruptions (timings left out)."""
    keys = ("train/loss", "val/loss", "grad_norm", "lr", "nonfinite_steps")
    return [(r["step"], *(r.get(k) for k in keys)) for r in read_jsonl(run_dir / "metrics.jsonl")]


def start_train(run_dir: Path, fault_spec: str = "") -> tuple[subprocess.Popen, Path]:
    """`train.py ... train.resume=auto hydra.run.dir=<run_dir>`, the command a user reruns after a crash."""
    ready = run_dir.parent / f"{run_dir.name}.paused"
    ready.unlink(missing_ok=True)
    env = {**os.environ, faults.ENV: fault_spec, faults.READY_ENV: str(ready)}
    proc = subprocess.Popen([sys.executable, "train.py", *MICRO, *SETTINGS, "train.resume=auto",
                             f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, ready


def wait_until_paused(proc: subprocess.Popen, ready: Path, point: str, step: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while f"{point} {step}" not in (ready.read_text() if ready.is_file() else ""):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"train.py exited ({proc.returncode}) before pausing at {point} {step}:\n{out[-2000:]}"
                        f"\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"train.py did not reach {point} {step}"
        time.sleep(0.02)


def assert_every_checkpoint_loads(run_dir: Path) -> None:
    for path in list_checkpoints(run_dir):
        assert load_checkpoint(path)["step"] == int(path.stem.split("_")[1])
    assert find_checkpoint(run_dir).is_file()


@pytest.mark.slow
def test_killed_at_five_points_and_rerun_with_resume_auto_logs_the_uninterrupted_losses(
        tmp_path, uninterrupted, capsys):
    run_dir = tmp_path / "run"
    # Where each SIGKILL lands, and the step the next start resumes from.
    kills = [(("step", 13), 10),  # mid-step: gradients computed, optimizer not stepped
             (("checkpoint_write", 20), 10),  # the new checkpoint half-way: in its temporary file
             (("checkpoint_latest", 30), 30),  # renamed into place, `latest` not yet moved: it is complete
             (("eval", 40), 20),  # during evaluation; then the newest checkpoint (30) is cut short on disk
             (("step", 47), 40)]
    outputs = []
    for (point, step), _ in kills:
        proc, ready = start_train(run_dir, f"pause@{point}:{step}")
        wait_until_paused(proc, ready, point, step)
        proc.kill()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err[-3000:]
        outputs.append(out)
        assert not (run_dir / "summary.json").exists()
        assert_every_checkpoint_loads(run_dir)  # whatever instant the kill came at
        if point == "eval":  # a disk that lost the last write: the newest checkpoint is cut short
            newest = list_checkpoints(run_dir)[-1]
            assert newest.name == "ckpt_000030.pt"
            newest.write_bytes(newest.read_bytes()[:5000])

    assert "train.resume=auto: no checkpoint in" in outputs[0] and "starting from step 0" in outputs[0]
    for out, (_, resumed_from) in zip(outputs[1:], kills):
        assert f"ckpt_{resumed_from:06d}.pt at step {resumed_from}\n" in out, out[-3000:]
    assert "ckpt_000030.pt is corrupt, truncated or not a checkpoint" in outputs[4], outputs[4][:1500]
    assert "skipped, resuming from the checkpoint before it" in outputs[4]
    assert "discarded ckpt_000030.pt" in outputs[4]

    with torch_threads_restored():  # the last rerun runs to the end, through train.py's own function
        run_train(compose(MICRO + SETTINGS + ["train.resume=auto"]), run_dir)
    assert "ckpt_000040.pt at step 40\n" in capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == 60
    assert trajectory(run_dir) == trajectory(uninterrupted)  # exact, step for step, no duplicates
    assert read_jsonl(run_dir / "samples.jsonl") == read_jsonl(uninterrupted / "samples.jsonl")
    assert summary["val/loss"] == json.loads((uninterrupted / "summary.json").read_text())["val/loss"]
    assert_every_checkpoint_loads(run_dir)
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


def test_sigterm_finishes_the_step_saves_and_exits_143_then_resume_continues(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    proc, ready = start_train(run_dir, "pause@step:23")  # 23: neither a log, evaluation nor checkpoint step
    wait_until_paused(proc, ready, "step", 23)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 143, err[-3000:]
    assert f"interrupted by SIGTERM at step 23: checkpoint {run_dir}/checkpoints/ckpt_000023.pt saved" in err
    assert f"Resume with the same command plus train.resume=auto hydra.run.dir={run_dir}" in err
    assert "Traceback" not in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["step"] == 23 and "SIGTERM" in summary["reason"]
    assert find_checkpoint(run_dir).name == "ckpt_000023.pt" and load_checkpoint(find_checkpoint(run_dir))["step"] == 23

    with torch_threads_restored():
        run_train(compose(MICRO + SETTINGS + ["train.resume=auto"]), run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == 60
    assert trajectory(run_dir) == trajectory(uninterrupted)


def test_a_second_ctrl_c_stops_at_once_without_a_half_written_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc, ready = start_train(run_dir, "pause@step:23,pause@checkpoint_write:23")
    wait_until_paused(proc, ready, "step", 23)
    proc.send_signal(signal.SIGINT)  # finish step 23, then save it...
    wait_until_paused(proc, ready, "checkpoint_write", 23)
    proc.send_signal(signal.SIGINT)  # ...but a second Ctrl-C while it is being written stops at once
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 130, err[-3000:]
    assert "interrupted by SIGINT at step 23: stopped at once (second signal)" in err and "Traceback" not in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SIGINT twice" in summary["reason"]
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_000010.pt", "ckpt_000020.pt"]
    assert find_checkpoint(run_dir).name == "ckpt_000020.pt"
    assert_every_checkpoint_loads(run_dir)


# Ctrl-C in a Python session that calls train(): a real SIGINT, sent by a logger to its own process when it
# sees a step logged. That process is a child: a SIGINT to pytest's own process would end the whole session
# if the handler under test were missing.
CTRL_C_IN_PROCESS = """
import json, os, signal, sys
from helpers import micro_config
from tinyx.common.errors import TrainingInterrupted, exit_on_user_error
from tinyx.training import train

class CtrlCAt:
    def __init__(self, step):
        self.step = step
    def log_metrics(self, step, metrics):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
    def log_sample(self, step, text):
        pass
    def finish(self, summary):
        pass

run_dir = sys.argv[1]
handler_before = signal.getsignal(signal.SIGINT)
cfg = micro_config("train.log_every=1")
try:  # what a caller such as the sweep sees
    train(cfg, run_dir + "/again", quiet=True, extra_loggers=[CtrlCAt(3)])
except TrainingInterrupted as e:
    print(json.dumps({"keyboard_interrupt": isinstance(e, KeyboardInterrupt), "signum": e.signum, "step": e.step,
                      "exit_code": e.exit_code, "checkpoint": e.checkpoint,
                      "handler_restored": signal.getsignal(signal.SIGINT) is handler_before}), flush=True)
exit_on_user_error(lambda: train(cfg, run_dir, quiet=True, extra_loggers=[CtrlCAt(17)]))()
"""


def test_ctrl_c_in_process_saves_then_raises_training_interrupted_and_restores_handlers(tmp_path):
    result = run_cli("-c", f"import sys; sys.path.insert(0, 'tests')\n{CTRL_C_IN_PROCESS}", str(tmp_path))
    assert result.returncode == 130, result.stderr[-3000:]
    assert f"interrupted by SIGINT at step 17: checkpoint {tmp_path}/checkpoints/ckpt_000017.pt saved" in result.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(find_checkpoint(tmp_path))["step"] == 17
    caught = json.loads(result.stdout.splitlines()[0])
    assert caught == {"keyboard_interrupt": True, "signum": signal.SIGINT, "step": 3, "exit_code": 130,
                      "checkpoint": str(tmp_path / "again" / "checkpoints" / "ckpt_000003.pt"),
                      "handler_restored": True}


def test_outside_the_main_thread_train_leaves_signal_handling_alone(tmp_path):
    handler_before = signal.getsignal(signal.SIGTERM)
    result = {}
    worker = threading.Thread(target=lambda: result.update(summary=train(micro_config("train.max_steps=10"),
                                                                         tmp_path, quiet=True)))
    worker.start()
    worker.join()
    assert result["summary"].status == "completed" and signal.getsignal(signal.SIGTERM) is handler_before


def _same(a, b) -> bool:
    """Equal, tensor for tensor, through nested dicts and lists."""
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# Fused AdamW and tinyx's Muon skip on the device (found_inf); unfused AdamW and torch.optim.Muon take the
# path of step_unless_nonfinite that reads the skip flag on the host.
@pytest.mark.parametrize("optim", [["optim=adamw"], ["optim=muon"], ["optim=adamw", "optim.fused=false"],
                                   ["optim=muon", "optim.muon_impl=torch"]],
                         ids=["adamw", "muon", "adamw-unfused", "muon-torch"])
def test_a_nonfinite_step_is_skipped_counted_and_changes_nothing(tmp_path, monkeypatch, optim):
    monkeypatch.setenv(faults.ENV, "nan_loss@12,inf_grad@16")
    summary = train(micro_config(*optim, "train.max_steps=18", "train.eval_every=18",
                                 "train.ckpt_every=1", "train.keep_checkpoints=100"), tmp_path, quiet=True)
    assert summary.status == "completed" and summary.nonfinite_steps == 2
    state = {s: load_checkpoint(tmp_path / "checkpoints" / f"ckpt_{s:06d}.pt") for s in (11, 12, 13, 15, 16, 17)}
    for skipped in (12, 16):  # the weights and every optimizer state (moments, step counts) as the step before
        assert _same(state[skipped]["model"], state[skipped - 1]["model"])
        assert _same([o["state"] for o in state[skipped]["optimizers"]],
                     [o["state"] for o in state[skipped - 1]["optimizers"]])
        assert not _same(state[skipped + 1]["model"], state[skipped]["model"])  # and training goes on
    rows = {r["step"]: r for r in read_jsonl(tmp_path / "metrics.jsonl") if "train/loss" in r}
    assert [rows[s]["nonfinite_steps"] for s in (5, 10, 15, 18)] == [0, 0, 1, 2]
    assert all(math.isfinite(r["train/loss"]) for r in rows.values())  # the skipped losses are left out


def test_nonfinite_steps_in_a_row_stop_the_run_as_diverged_keeping_the_last_good_checkpoint(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(faults.ENV, "nan_loss@23-40")
    with pytest.raises(SystemExit) as exit_info:
        run_train(compose(MICRO), tmp_path / "run")
    err = capsys.readouterr().err
    assert exit_info.value.code == 3
    assert "diverged: the loss or gradients were NaN or inf for 5 steps in a row by step 30" in err
    assert all(w in err for w in ("lower optim.lr", "optim.grad_clip", "hardware.dtype=float32")), err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["step"] == 30 and summary["nonfinite_steps"] == 8
    # Nothing saved once the streak began: the last good checkpoint is intact and is the best.
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["ckpt_000010.pt", "ckpt_000020.pt"]
    assert f"the last good checkpoint is {tmp_path / 'run' / 'checkpoints' / 'ckpt_000020.pt'}" in err
    assert best_checkpoint(tmp_path / "run").name == "ckpt_000020.pt"
    assert load_checkpoint(find_checkpoint(tmp_path / "run"))["step"] == 20

    # In a multirun, the job's result is nan and the sweep goes on.
    monkeypatch.setenv(faults.ENV, "nan_loss@1-10")
    assert math.isnan(run_train(compose(MICRO + ["train.max_steps=10"]), tmp_path / "job", multirun=True))
    assert "the multirun goes on" in capsys.readouterr().err


def test_resume_auto_starts_fresh_then_refuses_a_finished_run_and_changes_nothing(tmp_path, capsys):
    overrides = MICRO + ["train.max_steps=20", "train.resume=auto"]
    run_train(compose(overrides), tmp_path)
    assert f"train.resume=auto: no checkpoint in {tmp_path} yet, starting from step 0" in capsys.readouterr().out
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_info:  # the same command again: nothing left to train
        run_train(compose(overrides), tmp_path)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (f"error: {tmp_path}/checkpoints/ckpt_000020.pt is already at step 20 "
                                       f"(train.max_steps=20): raise train.max_steps to continue\n")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_pruning_keeps_the_newest_and_the_best(tmp_path):
    state = {"model": {}, "config": {}}
    for step, best in [(10, True), (20, False), (30, True), (40, False), (50, False)]:
        save_checkpoint(tmp_path, step, state, keep=2, best=best)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000030.pt", "ckpt_000040.pt", "ckpt_000050.pt"]
    assert best_checkpoint(tmp_path).name == "ckpt_000030.pt" and find_checkpoint(tmp_path).name == "ckpt_000050.pt"
    save_checkpoint(tmp_path, 60, state, keep=2, best=True)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000050.pt", "ckpt_000060.pt"]


class Hung(Exception):
    """pause_point slept through a signal that had already arrived."""


@contextlib.contextmanager
def signal_handlers(handlers: dict, hang_after: float = 5.0):
    """Install `handlers`, and turn a hang into a Hung exception after `hang_after` seconds (SIGALRM)."""
    def hung(signum, frame):
        raise Hung(f"still paused {hang_after} s after the signal")

    previous = {signum: signal.signal(signum, handler) for signum, handler in {**handlers, signal.SIGALRM: hung}.items()}
    signal.setitimer(signal.ITIMER_REAL, hang_after)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("raises", [False, True], ids=["handler-returns", "handler-raises"])
def test_a_signal_right_after_the_pause_is_announced_ends_the_pause(monkeypatch, tmp_path, raises):
    # The SIGTERM lands after the announcement and before the wait begins: the pause must still see it.
    received = []

    def on_sigterm(signum, frame):
        received.append(signum)
        if raises:
            raise KeyboardInterrupt

    announce = faults._announce

    def announce_then_signal(point, step):
        announce(point, step)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before pause_point's next line

    monkeypatch.setattr(faults, "active", faults.parse("pause@step:7"))
    monkeypatch.setattr(faults, "_announce", announce_then_signal)
    monkeypatch.setenv(faults.READY_ENV, str(tmp_path / "ready"))
    started = time.monotonic()
    with signal_handlers({signal.SIGTERM: on_sigterm}):
        if raises:
            with pytest.raises(KeyboardInterrupt):
                faults.pause_point("step", 7)
        else:
            faults.pause_point("step", 7)
    assert received == [signal.SIGTERM] and time.monotonic() - started < 2
    assert (tmp_path / "ready").read_text() == f"step 7 {os.getpid()}\n"


def test_a_pause_waits_for_a_signal_from_another_thread(monkeypatch):
    received = []
    monkeypatch.setattr(faults, "active", faults.parse("pause@eval:3"))
    monkeypatch.delenv(faults.READY_ENV, raising=False)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    with signal_handlers({signal.SIGTERM: lambda signum, frame: received.append(signum)}):
        timer.start()
        faults.pause_point("eval", 3)
        faults.pause_point("eval", 4)  # not a pause point: returns at once
    assert received == [signal.SIGTERM] and 0.25 < time.monotonic() - started < 2
