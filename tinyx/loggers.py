"""Where metrics go: metrics.jsonl (always), the console (always), wandb and TensorBoard (by config).

Every logger has the same three calls: `log_metrics`, `log_sample`, `finish`.
wandb and TensorBoard are imported only when their logger is on: both are slow to import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import netrc
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Protocol
from urllib.parse import urlsplit

from tinyx.files import atomic_write_json, atomic_write_text
from tinyx.rundir import METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE, read_jsonl

if TYPE_CHECKING:
    from tinyx.config import RunConfig


class Logger(Protocol):
    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_sample(self, step: int, text: str) -> None: ...

    def finish(self, summary: dict) -> None: ...


def _json_value(v):
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
        row = {"step": step, **{k: _json_value(v) for k, v in metrics.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()

    def log_sample(self, step: int, text: str) -> None:
        self.samples.write(json.dumps({"step": step, "text": text}) + "\n")
        self.samples.flush()

    def finish(self, summary: dict) -> None:
        self.metrics.close()
        self.samples.close()
        atomic_write_json(self.run_dir / SUMMARY_FILE, {k: _json_value(v) for k, v in summary.items()})


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
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), TextColumn("{task.fields[figures]}"))
            self.task = self.progress.add_task("train", total=max_steps, completed=start_step, figures="")
            self.progress.start()

    def say(self, text: str) -> None:
        if self.quiet:
            return
        # Also to the run's train.log: under train.py Hydra's file handler takes this logger (conf/hydra/).
        logging.getLogger("tinyx.console").info(text)
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
                "wall_seconds", "eval_seconds", "run_dir"]
        width = max(len(k) for k in keys)
        lines = [f"  {k:<{width}}  {summary[k]:.4f}" if isinstance(summary.get(k), float) else
                 f"  {k:<{width}}  {summary.get(k)}" for k in keys if k in summary]
        self.say("summary\n" + "\n".join(lines))


# ---------------------------------------------------------------- wandb and TensorBoard
@dataclass
class RunLabels:
    """How trackers name a run, from what the entry point knows (Hydra's overrides and sweep).

    The library never reads Hydra: train.py fills this (tinyx.cli.run_labels_from_hydra) and
    `logger.wandb.name` / `logger.wandb.group` in the config override it.
    """

    name: str | None = None  # e.g. "optim.lr=0.003,seed=1": the overrides that differ
    group: str | None = None  # the experiment, or the multirun sweep directory
    tags: list[str] = field(default_factory=list)  # e.g. "model=tiny": the config groups chosen
    # Config keys whose value came from the environment, with their source text (`${oc.env:...}`):
    # never sent to a tracker, and checkpoints store the source instead of the value. A list of
    # keys alone is accepted too.
    private_keys: dict[str, str | None] = field(default_factory=dict)


Say = Callable[[str], None]


def build_loggers(cfg: RunConfig, run_dir: str | Path, labels: RunLabels | None = None, start_step: int = 0,
                  say: Say = print) -> list[Logger]:
    """The loggers `cfg.logger` switches on beyond the console and metrics.jsonl.

    Call it after JsonlLogger has written the run's history: on resume, a backend that starts
    a fresh record (a new wandb run, a run directory without event files) replays it.
    """
    run_dir = Path(run_dir)
    labels = labels or RunLabels()
    history = _History(run_dir) if start_step > 0 else _History(None)
    loggers: list[Logger] = []
    if cfg.logger.tensorboard.enabled:
        loggers.append(TensorBoardLogger(run_dir, tracked_config(cfg, labels.private_keys), history, start_step))
    if cfg.logger.wandb.enabled:
        wandb_logger = WandbLogger.start(cfg, run_dir, labels, history, start_step, say)
        if wandb_logger is not None:
            loggers.append(wandb_logger)
    return loggers


class _History:
    """The metrics and samples a resumed run carries over (what JsonlLogger kept)."""

    def __init__(self, run_dir: Path | None):
        self.metrics = read_jsonl(run_dir / METRICS_FILE) if run_dir else []
        self.samples = read_jsonl(run_dir / SAMPLES_FILE) if run_dir else []


def tracked_config(cfg: RunConfig, private_keys: Collection[str] = ()) -> dict:
    """The resolved config as flat `a.b.c` keys, for trackers' config panels (tinyx.config.Redactor.tracked:
    all but the logger settings and secrets)."""
    from tinyx.config import MUON_ONLY_KEYS, Redactor, config_to_dict

    tracked = Redactor(dict.fromkeys(private_keys)).tracked(config_to_dict(cfg))
    unused = {f"optim.{k}" for k in MUON_ONLY_KEYS} if cfg.optim.name != "muon" else set()
    return {k: v for k, v in tracked.items() if k not in unused}


def _metric_values(metrics: dict) -> dict[str, float]:
    return {k: v for k, v in metrics.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}


class TensorBoardLogger:
    """Event files in the run directory, so `tensorboard --logdir outputs` lists every run by its path."""

    def __init__(self, run_dir: Path, config: dict, history: _History, start_step: int):
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
        for key, value in _metric_values(metrics).items():
            self.writer.add_scalar(key, value, step)

    def log_sample(self, step: int, text: str) -> None:
        # Indented: TensorBoard renders text as Markdown, and a code block keeps the sample's line breaks.
        self.writer.add_text("samples", "\n".join("    " + line for line in text.splitlines()), step)

    def finish(self, summary: dict) -> None:
        self.writer.close()


WANDB_ID_FILE = "run_id"  # inside <run dir>/wandb/: the id an in-place resume continues


def has_wandb_key() -> bool:
    """An API key in $WANDB_API_KEY or in the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    try:
        return bool(host) and netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


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
    def start(cls, cfg: RunConfig, run_dir: Path, labels: RunLabels, history: _History, start_step: int,
              say: Say) -> WandbLogger | None:
        # A .env copied from .env.example sets unused keys to "": they mean "not set", and wandb
        # would refuse an empty WANDB_MODE or use an empty project name.
        for key in [k for k, v in os.environ.items() if k.startswith("WANDB_") and not v.strip()]:
            del os.environ[key]
        mode = os.environ.get("WANDB_MODE", "").strip().lower()
        if mode == "disabled":
            say("wandb: off (WANDB_MODE=disabled); the run is logged locally only")
            return None
        offline_reason = None
        if mode == "offline":
            offline_reason = "WANDB_MODE=offline"
        elif not has_wandb_key():
            offline_reason = "no WANDB_API_KEY in the environment or .env"
        run = None
        try:
            import wandb

            wcfg = cfg.logger.wandb
            wandb_dir = run_dir / "wandb"
            wandb_dir.mkdir(parents=True, exist_ok=True)
            id_file = wandb_dir / WANDB_ID_FILE
            resume_id = id_file.read_text().strip() if start_step > 0 and id_file.is_file() else None
            run = wandb.init(
                project=wcfg.project or os.environ.get("WANDB_PROJECT") or "tinyx",
                entity=wcfg.entity or os.environ.get("WANDB_ENTITY") or None,
                group=wcfg.group or labels.group, name=wcfg.name or labels.name, job_type=wcfg.job_type,
                tags=_unique([*wcfg.tags, *labels.tags]), notes=wcfg.notes,
                config=tracked_config(cfg, labels.private_keys),
                dir=str(run_dir), id=resume_id, resume="allow" if resume_id else None,
                mode="offline" if offline_reason else None,
                # Our own loggers of different runs of one process (multirun) must never share a run.
                reinit="create_new",
                settings=wandb.Settings(silent=True),
            )
            id_file.write_text(run.id + "\n")
            run.define_metric("step")
            run.define_metric("*", step_metric="step")
            run.define_metric("val/loss", summary="min,last")
            run.define_metric("val/ppl", summary="min,last")
        except Exception as e:  # wandb raises many types: errors of network, auth, disk, settings
            say(f"warning: wandb failed to start ({type(e).__name__}: {_one_line(e)}); training goes on, "
                f"logged locally only")
            if run is not None:
                cls(run, say)._finish_quietly()
            return None
        if run.offline:
            # Every offline-run-* folder: a run resumed in place adds one per attempt, all with one run id.
            sync_dirs = wandb_dir / "offline-run-*"
            reason = f" ({offline_reason})" if offline_reason else ""
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
        self.say(f"warning: wandb failed ({type(e).__name__}: {_one_line(e)}); it is off for the rest of "
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
            self.run.log({"step": step, **_metric_values(metrics)})
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
            # val/loss and val/ppl keep their {min, last} summaries from define_metric.
            self.run.summary.update({k: _json_value(v) for k, v in summary.items()
                                     if k not in ("val/loss", "val/ppl", "step")})
            self.run.finish(exit_code=0 if summary.get("status") == "completed" else 1)
        except Exception as e:
            self._fail(e)
        self.run = None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _one_line(e: Exception) -> str:
    # One line, even for multi-line messages (pydantic's name the setting on their second line).
    return " ".join(str(e).split())[:300]
