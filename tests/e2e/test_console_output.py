"""What a training run prints as a whole process: the time estimate, and what to do next at the end."""

from __future__ import annotations

import shlex

from helpers import MICRO, run_cli


def test_a_run_says_how_long_it_takes_and_ends_with_what_to_do_next(tmp_path):
    run_dir = tmp_path / "run"
    out = run_cli("train.py", *MICRO, "logger.tensorboard.enabled=true", "logger.long_run_seconds=0",
                  f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    estimates = [line for line in lines if line.startswith("about ")]
    assert len(estimates) == 1 and "to go for 40 steps" in estimates[0], lines
    assert any(line.startswith("step     10/40  eta ") for line in lines), lines
    tail = "\n".join(lines[-5:])
    where = shlex.quote(str(run_dir))
    for command in (f"uv run tinyx generate {where}", f"uv run tinyx evaluate {where}",
                    f"uv run tinyx compare {where}", f"uv run tensorboard --logdir {where}"):
        assert command in tail, tail
    assert lines[-5] == "next:", tail


def test_a_multirun_job_points_compare_at_its_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli("train.py", "-m", *MICRO, "train.max_steps=5", "seed=0", f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr
    tail = out.stdout.splitlines()[-4:]
    assert f"  uv run tinyx compare {shlex.quote(str(sweep))}" in "\n".join(tail), tail
    assert not any("tensorboard" in line for line in tail), tail  # its logger is off
