"""The console: a progress bar on a terminal, plain lines elsewhere, the summary at the end.

Every line it says also goes to the run's train.log and is masked (tinyx.common.masking) before it is shown.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Collection

from tinyx.common.masking import mask
from tinyx.rundir.contract import TRAIN_LOSS, VAL_BPB, VAL_BPB_BEST, VAL_LOSS, VAL_LOSS_BEST, VAL_PPL
from tinyx.rundir.records import COMPLETED
from tinyx.runtime.launcher import JOB_LABEL_ENV

if TYPE_CHECKING:
    from rich.console import Console


def _fmt(metrics: dict[str, float]) -> str:
    parts = []
    for key, fmt in [(TRAIN_LOSS, "loss {:.4f}"), (VAL_LOSS, "val {:.4f}"), (VAL_BPB, "bpb {:.4f}"),
                     ("lr", "lr {:.2e}"), ("grad_norm", "gnorm {:.2f}"), ("step_ms", "{:.1f} ms"),
                     ("tokens_per_second", "{:,.0f} tok/s"), ("mfu", "mfu {:.1%}")]:
        if metrics.get(key) is not None:
            parts.append(fmt.format(metrics[key]))
    return "  ".join(parts)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))  # 0:11:56, as rich's progress bar shows it


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


class ConsoleLogger:
    """A progress bar on a terminal; plain lines elsewhere (CI logs, pipes).

    `console`: the rich Console the bar draws on (tests give a fixed width); `long_run_seconds`: without a
    bar, say once how long the run will take when that is longer; `after_run`: lines printed after the
    summary of a completed run (next_steps).
    """

    def __init__(self, max_steps: int, start_step: int, progress_bar: bool = True, quiet: bool = False, *,
                 console: Console | None = None, long_run_seconds: float = 120.0, after_run: Collection[str] = ()):
        self.max_steps = max_steps
        self.quiet = quiet
        self.long_run_seconds = long_run_seconds
        self.after_run = list(after_run)
        self.intervals_logged = 0
        self.pace = Pace(start_step)
        self.job_label = os.environ.get(JOB_LABEL_ENV)
        self.progress = None
        if progress_bar and (console.is_terminal if console else sys.stdout.isatty()) and not quiet:
            self.progress = _progress_bar(console)
            self.task = self.progress.add_task("train", total=max_steps, completed=start_step, figures="")
            self.progress.start()

    def say(self, text: str) -> None:
        if self.quiet:
            return
        # Also to the run's train.log: under train.py Hydra's file handler takes this logger (conf/hydra/).
        logging.getLogger("tinyx.console").info(text)
        if self.job_label:  # jobs of a parallel multirun share the terminal: each line says whose it is
            text = "\n".join(f"[{self.job_label}] {line}" for line in text.split("\n"))
        if self.progress:
            # soft_wrap: rich would otherwise break long lines with real newlines, even inside a path or a
            # command meant to be pasted (the terminal still wraps them on screen).
            self.progress.console.print(mask(text), markup=False, highlight=False, soft_wrap=True)
        else:  # masked like the log records (tinyx.common.masking): a secret a line quotes shows as its source
            print(mask(text), flush=True)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        line = _fmt(metrics)
        if VAL_LOSS in metrics:
            self.say(f"step {step:>6}  {line}  ppl {metrics.get(VAL_PPL, float('nan')):.2f}")
        elif self.progress:
            self.progress.update(self.task, completed=step, figures=line)
        else:
            step_seconds = self.pace.seconds_per_step(step, (metrics.get("step_ms") or 0) / 1e3)
            left = (self.max_steps - step) * step_seconds
            eta = f"eta {_clock(left)}  " if step_seconds else ""
            self.say(f"step {step:>6}/{self.max_steps}  {eta}{line}")
            self.intervals_logged += 1
            # Once, from the second interval: the first carries one-off costs (warm-up, compilation).
            if self.intervals_logged == 2 and step_seconds and left > self.long_run_seconds:
                self.say(f"about {_duration(left)} to go for {self.max_steps} steps ({step_seconds:.2f} s/step)")

    def log_sample(self, step: int, text: str) -> None:
        self.say(f"--- sample at step {step} ---\n{text}\n---")

    def finish(self, summary: dict) -> None:
        if self.progress:
            self.progress.update(self.task, completed=summary.get("step", self.max_steps))
            self.progress.stop()
        if self.quiet:
            return
        keys = ["status", "step", VAL_LOSS, VAL_LOSS_BEST, VAL_PPL, VAL_BPB, VAL_BPB_BEST, "params", "tokens_per_second",
                "wall_seconds", "eval_seconds", "run_dir"]
        width = max(len(k) for k in keys)
        lines = [f"  {k:<{width}}  {summary[k]:.4f}" if isinstance(summary.get(k), float) else
                 f"  {k:<{width}}  {summary.get(k)}" for k in keys if k in summary]
        if summary.get("status") == COMPLETED:
            lines.extend(self.after_run)
        self.say("summary\n" + "\n".join(lines))


class Pace:
    """Seconds per step over the whole run so far, for the ETA: one slow interval on a loaded machine moves it
    little (an ETA from the last interval alone jumped 0:00:21 -> 0:01:58 -> 0:03:14 on consecutive lines).
    The first interval carries one-off costs (warm-up, compilation): it counts only until a second arrives."""

    def __init__(self, start_step: int):
        self.last_step, self.first = start_step, None
        self.steps = self.seconds = 0.0

    def seconds_per_step(self, step: int, interval_seconds_per_step: float) -> float:
        steps, self.last_step = step - self.last_step, step
        if not interval_seconds_per_step or steps <= 0:
            return 0.0
        if self.first is None:
            self.first = interval_seconds_per_step
        else:
            self.steps += steps
            self.seconds += steps * interval_seconds_per_step
        return self.seconds / self.steps if self.steps else self.first


def _progress_bar(console: Console | None):
    """rich's Progress, laid out so that a narrow terminal (80 columns) cuts only the figures.

    rich shrinks every wrappable column when a line is too wide, down to "…": step/total and the ETA are
    kept whole (no_wrap), the bar has a fixed width, and the figures, last, are the one column cut.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

    class Figures(ProgressColumn):
        def render(self, task):
            return Text(task.fields["figures"], no_wrap=True, overflow="ellipsis")

    whole = Column(no_wrap=True)
    return Progress(TextColumn("train", table_column=whole), BarColumn(bar_width=20, table_column=whole),
                    MofNCompleteColumn(table_column=whole), TimeRemainingColumn(table_column=whole),
                    Figures(table_column=Column(no_wrap=False)), console=console,
                    speed_estimate_period=24 * 3600)  # the whole run's pace, not the last 30 s's (rich's default)
