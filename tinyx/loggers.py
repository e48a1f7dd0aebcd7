"""Where metrics go: metrics.jsonl (always), the console (always), and pluggable backends.

Every logger has the same three calls: `log_metrics`, `log_sample`, `finish`.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Protocol

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"


class Logger(Protocol):
    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_sample(self, step: int, text: str) -> None: ...

    def finish(self, summary: dict) -> None: ...


def _json_value(v):
    # JSON has no NaN/inf; write null so every reader can parse the file.
    return None if isinstance(v, float) and not math.isfinite(v) else v


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
    return rows


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


class JsonlLogger:
    """metrics.jsonl and samples.jsonl in the run directory, flushed line by line."""

    def __init__(self, run_dir: Path, history_from: Path | None = None, history_until: int = 0):
        self.run_dir = Path(run_dir)
        # On resume, keep the history up to the checkpoint's step and drop what came after it.
        for name in (METRICS_FILE, SAMPLES_FILE):
            rows = []
            if history_from is not None:
                rows = [r for r in read_jsonl(Path(history_from) / name) if r.get("step", 0) <= history_until]
            tmp = self.run_dir / f".{name}.tmp"
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
            os.replace(tmp, self.run_dir / name)
        self.metrics = open(self.run_dir / METRICS_FILE, "a")
        self.samples = open(self.run_dir / SAMPLES_FILE, "a")

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: _json_value(v) for k, v in metrics.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()

    def log_sample(self, step: int, text: str) -> None:
        self.samples.write(json.dumps({"step": step, "text": text}) + "\n")
        self.samples.flush()

    def finish(self, summary: dict) -> None:
        self.metrics.close()
        self.samples.close()
        write_json_atomic(self.run_dir / SUMMARY_FILE, {k: _json_value(v) for k, v in summary.items()})


def _fmt(metrics: dict[str, float]) -> str:
    parts = []
    for key, fmt in [("train/loss", "loss {:.4f}"), ("val/loss", "val {:.4f}"), ("lr", "lr {:.2e}"),
                     ("grad_norm", "gnorm {:.2f}"), ("step_ms", "{:.1f} ms"),
                     ("tokens_per_second", "{:,.0f} tok/s"), ("mfu", "mfu {:.1%}")]:
        if metrics.get(key) is not None:
            parts.append(fmt.format(metrics[key]))
    return "  ".join(parts)


class ConsoleLogger:
    """A progress bar on a terminal; plain lines elsewhere (CI logs, pipes)."""

    def __init__(self, max_steps: int, start_step: int, progress_bar: bool = True, quiet: bool = False):
        self.max_steps = max_steps
        self.quiet = quiet
        self.progress = None
        if progress_bar and sys.stdout.isatty() and not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.fields[figures]}"))
            self.task = self.progress.add_task("train", total=max_steps, completed=start_step, figures="")
            self.progress.start()

    def say(self, text: str) -> None:
        if self.quiet:
            return
        if self.progress:
            self.progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        line = _fmt(metrics)
        if "val/loss" in metrics:
            self.say(f"step {step:>6}  {line}  ppl {metrics.get('val/ppl', float('nan')):.2f}")
        elif self.progress:
            self.progress.update(self.task, completed=step, figures=line)
        else:
            self.say(f"step {step:>6}/{self.max_steps}  {line}")

    def log_sample(self, step: int, text: str) -> None:
        self.say(f"--- sample at step {step} ---\n{text}\n---")

    def finish(self, summary: dict) -> None:
        if self.progress:
            self.progress.update(self.task, completed=summary.get("step", self.max_steps))
            self.progress.stop()
        if self.quiet:
            return
        keys = ["status", "step", "val/loss", "val/loss_best", "val/ppl", "params", "tokens_per_second",
                "wall_seconds", "run_dir"]
        width = max(len(k) for k in keys)
        lines = [f"  {k:<{width}}  {summary[k]:.4f}" if isinstance(summary.get(k), float) else
                 f"  {k:<{width}}  {summary.get(k)}" for k in keys if k in summary]
        print("summary\n" + "\n".join(lines), flush=True)
