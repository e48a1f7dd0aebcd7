"""One wandb run per training run, inside the run directory. wandb is imported only when this logger is on: it is
slow to import."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tinyx.loggers.jsonl import History, json_value, metric_values
from tinyx.loggers.labels import RunLabels, logged_labels
from tinyx.loggers.wandb_env import offline_reason, wandb_error, wandb_mode
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS, VAL_PPL, WANDB_DIR
from tinyx.rundir.records import COMPLETED

if TYPE_CHECKING:
    from tinyx.config import RunConfig

Say = Callable[[str], None]

WANDB_ID_FILE = "run_id"  # inside <run dir>/wandb/: the id an in-place resume continues


class WandbLogger:
    """One wandb run per training run (each multirun job its own), written inside the run directory.

    wandb is a convenience on top of the local logs: any failure (no network, bad key, full
    disk, wandb missing) prints one warning, turns this logger off and lets training go on.
    """

    def __init__(self, run, say: Say):
        self.run = run
        self.say = say
        self.samples: list[list] = []

    @classmethod
    def start(cls, cfg: RunConfig, run_dir: Path, labels: RunLabels, config: dict, history: History,
              start_step: int, say: Say) -> WandbLogger | None:
        """`config`: the tracked config (tinyx.loggers.labels.tracked_config) for the run's config panel."""
        mode = wandb_mode()
        if mode == "disabled":
            say("wandb: off (WANDB_MODE=disabled); the run is logged locally only")
            return None
        offline = offline_reason(mode)
        wandb_dir = run_dir / WANDB_DIR
        run = None
        try:
            run, resume_id, settled = _init_run(cfg, run_dir, labels, config, start_step, offline)
            (wandb_dir / WANDB_ID_FILE).write_text(run.id + "\n")
            settled.write(wandb_dir)
            _define_metrics(run)
        except Exception as e:  # wandb raises many types: errors of network, auth, disk, settings
            say(f"warning: wandb failed to start ({wandb_error(e)}); training goes on, "
                f"logged locally only")
            if run is not None:
                cls(run, say)._finish_quietly()
            return None
        if run.offline:
            # Every offline-run-* folder: a run resumed in place adds one per attempt, all with one run id.
            sync_dirs = wandb_dir / "offline-run-*"
            reason = f" ({offline})" if offline else ""
            say(f"wandb: offline{reason}; upload later with: uv run wandb sync {sync_dirs}")
        else:
            say(f"wandb: {run.url}")
        logger = cls(run, say)
        if resume_id is None:
            for row in history.metrics:
                logger.log_metrics(row["step"], row)
            logger.samples = [[row["step"], row.get("text", "")] for row in history.samples]
        return logger

    def _fail(self, e: Exception) -> None:
        self.say(f"warning: wandb failed ({wandb_error(e)}); it is off for the rest of "
                 f"this run, the local logs go on")
        self._finish_quietly()

    def _finish_quietly(self) -> None:
        run, self.run = self.run, None
        # Already broken, and the one warning has been printed: a second failure here says nothing new.
        with contextlib.suppress(Exception):
            run.finish(exit_code=1)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        if self.run is None:
            return
        try:
            self.run.log({"step": step, **metric_values(metrics)})
        except Exception as e:
            self._fail(e)

    def log_sample(self, step: int, text: str) -> None:
        if self.run is None:
            return
        try:
            import wandb

            self.samples.append([step, text])
            # A wandb Table is immutable once logged: log the whole growing table each time.
            self.run.log({"step": step, "samples": wandb.Table(columns=["step", "text"], data=list(self.samples))})
        except Exception as e:
            self._fail(e)

    def finish(self, summary: dict) -> None:
        if self.run is None:
            return
        try:
            # val/loss, val/ppl and val/bpb keep their {min, last} summaries from define_metric.
            self.run.summary.update({k: json_value(v) for k, v in summary.items()
                                     if k not in (VAL_LOSS, VAL_PPL, VAL_BPB, "step")})
            self.run.finish(exit_code=0 if summary.get("status") == COMPLETED else 1)
        except Exception as e:
            self._fail(e)
        self.run = None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _init_run(cfg: RunConfig, run_dir: Path, labels: RunLabels, config: dict, start_step: int,
              offline: str | None) -> tuple:
    """wandb.init for this run, the id of the wandb run it continues (None: a new one) and the labels it is logged
    under (RunLabels.settled: the config's `logger.wandb` settings first; a run resumed in place keeps its first
    name, group and arm). Project and entity: the config's, then the environment's."""
    import wandb

    wandb_dir = run_dir / WANDB_DIR
    wandb_dir.mkdir(parents=True, exist_ok=True)
    id_file = wandb_dir / WANDB_ID_FILE
    resume_id = id_file.read_text().strip() if start_step > 0 and id_file.is_file() else None
    wcfg = cfg.logger.wandb
    settled = labels.settled(wcfg, cfg.seed, logged_labels(run_dir) if resume_id else None)
    return wandb.init(
        project=wcfg.project or os.environ.get("WANDB_PROJECT") or "tinyx",
        entity=wcfg.entity or os.environ.get("WANDB_ENTITY") or None,
        group=settled.group, name=settled.name, job_type=settled.job_type,
        tags=_unique([*wcfg.tags, *labels.tags]), notes=wcfg.notes, config={**config, **settled.config_keys()},
        dir=str(run_dir), id=resume_id, resume="allow" if resume_id else None,
        mode="offline" if offline else None,
        # Our own loggers of different runs of one process (multirun) must never share a run.
        reinit="create_new",
        settings=wandb.Settings(silent=True),
    ), resume_id, settled


def _define_metrics(run) -> None:
    run.define_metric("step")
    run.define_metric("*", step_metric="step")
    run.define_metric(VAL_LOSS, summary="min,last")
    run.define_metric(VAL_PPL, summary="min,last")
    run.define_metric(VAL_BPB, summary="min,last")
