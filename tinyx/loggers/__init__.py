"""Where metrics go: metrics.jsonl (always), the console (always), wandb and TensorBoard (by config).

Every logger has the same three calls: `log_metrics`, `log_sample`, `finish`. One module per destination:
jsonl (the run's own record), console, tensorboard_logger, wandb_logger (wandb_env: the environment wandb reads);
labels: what a tracker is told about a run; next_steps: the commands a finished run suggests.
wandb and TensorBoard are imported only when their logger is on: both are slow to import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from tinyx.loggers.jsonl import History
from tinyx.loggers.labels import RunLabels, tracked_config
from tinyx.loggers.tensorboard_logger import TensorBoardLogger
from tinyx.loggers.wandb_logger import WandbLogger

if TYPE_CHECKING:
    from tinyx.config import RunConfig
    from tinyx.config.secrets import Redactor


class Logger(Protocol):
    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_sample(self, step: int, text: str) -> None: ...

    def finish(self, summary: dict) -> None: ...


def build_loggers(cfg: RunConfig, run_dir: str | Path, redactor: Redactor, labels: RunLabels | None = None,
                  start_step: int = 0, say: Callable[[str], None] = print) -> list[Logger]:
    """The loggers `cfg.logger` switches on beyond the console and metrics.jsonl; `redactor`, the run's, keeps
    its secrets from their config panels.

    Call it after JsonlLogger has written the run's history: on resume, a backend that starts
    a fresh record (a new wandb run, a run directory without event files) replays it.
    """
    run_dir = Path(run_dir)
    labels = labels or RunLabels()
    history = History(run_dir) if start_step > 0 else History(None)
    loggers: list[Logger] = []
    if not (cfg.logger.tensorboard.enabled or cfg.logger.wandb.enabled):
        return loggers
    config = tracked_config(cfg, redactor)
    if cfg.logger.tensorboard.enabled:
        loggers.append(TensorBoardLogger(run_dir, config, history, start_step))
    if cfg.logger.wandb.enabled:
        wandb_logger = WandbLogger.start(cfg, run_dir, labels, config, history, start_step, say)
        if wandb_logger is not None:
            loggers.append(wandb_logger)
    return loggers
