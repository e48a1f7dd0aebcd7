"""TensorBoard event files in the run directory. TensorBoard is imported only when this logger is on: it is slow."""

from __future__ import annotations

from pathlib import Path

from tinyx.loggers.jsonl import History, metric_values


class TensorBoardLogger:
    """Event files in the run directory, so `tensorboard --logdir outputs` lists every run by its path."""

    def __init__(self, run_dir: Path, config: dict, history: History, start_step: int):
        from torch.utils.tensorboard import SummaryWriter

        resumed_in_place = start_step > 0 and any(run_dir.glob("events.out.tfevents.*"))
        # In place, the old event file already holds the history; drop what it logged after the checkpoint.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=start_step + 1 if resumed_in_place else None)
        if not resumed_in_place:
            config_lines = "\n".join(f"    {k}: {v}" for k, v in config.items())
            self.writer.add_text("config", config_lines, 0)
            for row in history.metrics:
                self.log_metrics(row["step"], row)
            for row in history.samples:
                self.log_sample(row["step"], row.get("text", ""))

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        for key, value in metric_values(metrics).items():
            self.writer.add_scalar(key, value, step)

    def log_sample(self, step: int, text: str) -> None:
        # Indented: TensorBoard renders text as Markdown, and a code block keeps the sample's line breaks.
        self.writer.add_text("samples", "\n".join("    " + line for line in text.splitlines()), step)

    def finish(self, summary: dict) -> None:
        self.writer.close()
