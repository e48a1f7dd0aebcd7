"""The console: the live progress line at narrow widths, copyable lines, plain lines' ETA and estimate."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.progress import ProgressSample

from tinyx.loggers.console import ConsoleLogger

FIGURES = {"train/loss": 2.6057, "lr": 3e-4, "grad_norm": 0.55, "step_ms": 360.0, "tokens_per_second": 27185.0,
           "mfu": 0.7}


def terminal(width: int) -> Console:
    return Console(width=width, force_terminal=True, record=True, file=io.StringIO())


@pytest.mark.parametrize("width", [80, 120])
def test_progress_line_keeps_step_total_and_eta(width):
    console = ConsoleLogger(2000, 0, console=terminal(width))
    console.log_metrics(120, FIGURES)
    task = console.progress.tasks[0]
    # rich's ETA needs a speed: 120 steps in 43.2 s, as if the updates had come that far apart.
    now = task.get_time()
    task._progress.clear()
    task._progress.extend([ProgressSample(now - 43.2, 0), ProgressSample(now, 120)])
    shown = terminal(width)
    shown.print(console.progress.get_renderable())
    console.progress.stop()
    line = shown.export_text().rstrip("\n")
    assert "\n" not in line, line
    assert " 120/2000 " in line and "loss 2.6057" in line, line
    assert re.search(r"120/2000 +0:11:\d\d ", line), f"no ETA after step/total: {line!r}"


def test_a_copyable_line_is_never_wrapped():
    screen = terminal(80)
    console = ConsoleLogger(2000, 0, console=screen)
    command = "uv run wandb sync " + "/very/long/path/" * 10 + "offline-run-20261121_010415-abcdefgh12"
    assert len(command) > 180
    console.say(command)
    console.progress.stop()
    # What the terminal received, the live bar's cursor moves taken out: the command must be one line of it.
    written = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.file.getvalue())
    assert command in re.split(r"[\r\n]", written)


def plain_lines(capsys, max_steps: int, step_ms: float, long_run_seconds: float, steps=(10, 20, 30)) -> list[str]:
    console = ConsoleLogger(max_steps, 0, progress_bar=False, long_run_seconds=long_run_seconds)
    for step in steps:
        console.log_metrics(step, {**FIGURES, "step_ms": step_ms})
    return capsys.readouterr().out.splitlines()


def test_plain_lines_carry_the_eta(capsys):
    lines = plain_lines(capsys, 2000, 360.0, long_run_seconds=1e9)
    assert lines[0].startswith("step     10/2000  eta 0:11:56  loss 2.6057"), lines


def test_a_long_run_says_how_long_once(capsys):
    lines = plain_lines(capsys, 2000, 360.0, long_run_seconds=120)
    estimates = [line for line in lines if line.startswith("about ")]
    # After the second interval: the first carries one-off costs (warm-up, compilation).
    assert estimates == ["about 12 min to go for 2000 steps (0.36 s/step)"], lines
    assert lines.index(estimates[0]) == 2


def test_a_short_run_says_nothing_of_its_length(capsys):
    lines = plain_lines(capsys, 200, 30.0, long_run_seconds=120)
    assert not [line for line in lines if line.startswith("about ")], lines


def test_next_steps_generate_with_the_runs_prompt(tmp_path):
    from helpers import compose

    from tinyx.config import to_run_config
    from tinyx.loggers.next_steps import next_steps

    shakespeare = next_steps(to_run_config(compose(["debug=micro"])), tmp_path)
    assert f"uv run tinyx generate {tmp_path} --prompt ROMEO:   # sample text" in "\n".join(shakespeare)
    own_prompt = next_steps(to_run_config(compose(["debug=micro", "train.sample_prompt='JULIET: O'"])), tmp_path)
    assert f"uv run tinyx generate {tmp_path} --prompt 'JULIET: O'   # sample text" in "\n".join(own_prompt)


def test_the_eta_follows_the_whole_run_not_one_slow_interval(capsys):
    """A loaded machine slows one interval 10x: the ETA moves by the run's pace, not tenfold; the first
    interval (warm-up) stops counting once a second has arrived."""
    console = ConsoleLogger(2000, 0, progress_bar=False, long_run_seconds=1e9)
    for step, step_ms in ((10, 5000.0), (20, 100.0), (30, 100.0), (40, 100.0), (50, 1000.0)):
        console.log_metrics(step, {**FIGURES, "step_ms": step_ms})
    etas = [line.split("eta ")[1].split()[0] for line in capsys.readouterr().out.splitlines()]
    # 1990 x 5 s; then 0.1 s/step; the slow interval: (30 x 0.1 + 10 x 1.0) / 40 = 0.325 s/step
    assert etas == ["2:45:50", "0:03:18", "0:03:17", "0:03:16", "0:10:34"], etas


def test_a_parallel_jobs_lines_say_which_job_they_are(capsys, monkeypatch):
    """Jobs of `hydra/launcher=parallel` share one terminal (issue 25): the launcher names each job's process."""
    from tinyx.runtime.launcher import JOB_LABEL_ENV

    monkeypatch.setenv(JOB_LABEL_ENV, "#3")
    console = ConsoleLogger(2000, 0, progress_bar=False, long_run_seconds=1e9)
    console.log_metrics(10, {**FIGURES, "step_ms": 100.0})
    console.log_sample(10, "ROMEO:\nWhat")
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("[#3] ") for line in lines), lines
