"""metrics.jsonl, samples.jsonl and summary.json: the run's own record, written whatever else logs it."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tinyx.common.files import atomic_write_json, atomic_write_text
from tinyx.rundir.contract import METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE, read_jsonl


def json_value(v):
    # JSON has no NaN/inf; write null so every reader can parse the file.
    return None if isinstance(v, float) and not math.isfinite(v) else v


class JsonlLogger:
    """metrics.jsonl and samples.jsonl in the run directory, flushed line by line."""

    def __init__(self, run_dir: Path, history_from: Path | None = None, history_until: int = 0):
        self.run_dir = Path(run_dir)
        # On resume, keep the history up to the checkpoint's step and drop what came after it.
        for name in (METRICS_FILE, SAMPLES_FILE):
            rows = []
            if history_from is not None:
                rows = [r for r in read_jsonl(Path(history_from) / name) if r.get("step", 0) <= history_until]
            atomic_write_text(self.run_dir / name, "".join(json.dumps(r) + "\n" for r in rows))
        self.metrics = open(self.run_dir / METRICS_FILE, "a")
        self.samples = open(self.run_dir / SAMPLES_FILE, "a")

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: json_value(v) for k, v in metrics.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()

    def log_sample(self, step: int, text: str) -> None:
        self.samples.write(json.dumps({"step": step, "text": text}) + "\n")
        self.samples.flush()

    def finish(self, summary: dict) -> None:
        self.metrics.close()
        self.samples.close()
        atomic_write_json(self.run_dir / SUMMARY_FILE, {k: json_value(v) for k, v in summary.items()})


class History:
    """The metrics and samples a resumed run carries over (what JsonlLogger kept), for a tracker that starts a
    fresh record to replay."""

    def __init__(self, run_dir: Path | None):
        self.metrics = read_jsonl(run_dir / METRICS_FILE) if run_dir else []
        self.samples = read_jsonl(run_dir / SAMPLES_FILE) if run_dir else []


def metric_values(metrics: dict) -> dict[str, float]:
    """The numbers of a metrics row a tracker plots: not its step, not a flag."""
    return {k: v for k, v in metrics.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}
