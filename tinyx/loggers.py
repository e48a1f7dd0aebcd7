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
import shlex
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Protocol
from urllib.parse import urlsplit

from tinyx.files import atomic_write_json, atomic_write_text
from tinyx.masking import mask
from tinyx.rundir.contract import METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE, WANDB_DIR, read_jsonl
from tinyx.rundir.records import COMPLETED

if TYPE_CHECKING:
    from rich.console import Console

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
    for key, fmt in [("train/loss", "loss {:.4f}"), ("val/loss", "val {:.4f}"), ("val/bpb", "bpb {:.4f}"),
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


def _shell_path(path: Path) -> str:
    # Relative to where the user is when the run is inside it (outputs/runs/...): shorter lines, same meaning.
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(Path.cwd().resolve())
    return shlex.quote(str(path))


def next_steps(cfg: RunConfig, run_dir: Path) -> list[str]:
    """The commands to run on a finished run, each a whole line to paste (its comment included)."""
    run_dir = Path(run_dir)
    where = _shell_path(run_dir)
    # A multirun job's directory sits in its sweep's (Hydra writes multirun.yaml there): compare the sweep.
    sweep = run_dir.parent if (run_dir.parent / "multirun.yaml").is_file() else None
    prompt = cfg.train.sample_prompt.strip() or ("ROMEO:" if cfg.data.path is None else "")  # Tiny Shakespeare's
    prompt_arg = f" {shlex.quote('prompt=' + prompt)}" if prompt and "\n" not in prompt else ""
    compare = (f"{_shell_path(sweep)}   # this sweep's runs" if sweep is not None else
               f"{where}   # and other runs' directories")
    lines = [f"uv run python -m tinyx.generate run={where}{prompt_arg}   # sample text",
             f"uv run python -m tinyx.evaluate {where}   # val loss and bits per byte on the whole split",
             f"uv run python -m tinyx.compare {compare}"]
    if cfg.logger.tensorboard.enabled:
        lines.append(f"uv run tensorboard --logdir {where}   # curves")
    return ["next:", *("  " + line for line in lines)]


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
        if self.progress:
            # soft_wrap: rich would otherwise break long lines with real newlines, even inside a path or a
            # command meant to be pasted (the terminal still wraps them on screen).
            self.progress.console.print(mask(text), markup=False, highlight=False, soft_wrap=True)
        else:  # masked like the log records (tinyx.masking): a secret a line quotes shows as its source
            print(mask(text), flush=True)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        line = _fmt(metrics)
        if "val/loss" in metrics:
            self.say(f"step {step:>6}  {line}  ppl {metrics.get('val/ppl', float('nan')):.2f}")
        elif self.progress:
            self.progress.update(self.task, completed=step, figures=line)
        else:
            step_seconds = (metrics.get("step_ms") or 0) / 1e3
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
        keys = ["status", "step", "val/loss", "val/loss_best", "val/ppl", "val/bpb", "val/bpb_best", "params",
                "tokens_per_second",
                "wall_seconds", "eval_seconds", "run_dir"]
        width = max(len(k) for k in keys)
        lines = [f"  {k:<{width}}  {summary[k]:.4f}" if isinstance(summary.get(k), float) else
                 f"  {k:<{width}}  {summary.get(k)}" for k in keys if k in summary]
        if summary.get("status") == COMPLETED:
            lines.extend(self.after_run)
        self.say("summary\n" + "\n".join(lines))


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
                    Figures(table_column=Column(no_wrap=False)), console=console)


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
    # Keys a dashboard groups runs by, added to the tracker's config: `arm` (the differing overrides but the
    # seed, e.g. "experiment=llama_tiny": the seeds of one arm share it) and `experiment` (the one chosen).
    dashboard: dict[str, str] = field(default_factory=dict)
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
    """The resolved config as flat `a.b.c` keys for trackers' config panels: all but logger settings and secrets."""
    from tinyx.config import MUON_ONLY_KEYS, config_to_dict
    from tinyx.secrets import Redactor

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
            wandb_dir = run_dir / WANDB_DIR
            wandb_dir.mkdir(parents=True, exist_ok=True)
            id_file = wandb_dir / WANDB_ID_FILE
            resume_id = id_file.read_text().strip() if start_step > 0 and id_file.is_file() else None
            run = wandb.init(
                project=wcfg.project or os.environ.get("WANDB_PROJECT") or "tinyx",
                entity=wcfg.entity or os.environ.get("WANDB_ENTITY") or None,
                group=wcfg.group or labels.group, name=wcfg.name or labels.name, job_type=wcfg.job_type,
                tags=_unique([*wcfg.tags, *labels.tags]), notes=wcfg.notes,
                config={**tracked_config(cfg, labels.private_keys), **labels.dashboard},
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
            run.define_metric("val/bpb", summary="min,last")
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
            # val/loss, val/ppl and val/bpb keep their {min, last} summaries from define_metric.
            self.run.summary.update({k: _json_value(v) for k, v in summary.items()
                                     if k not in ("val/loss", "val/ppl", "val/bpb", "step")})
            self.run.finish(exit_code=0 if summary.get("status") == COMPLETED else 1)
        except Exception as e:
            self._fail(e)
        self.run = None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _one_line(e: Exception) -> str:
    # One line, even for multi-line messages (pydantic's name the setting on their second line).
    return " ".join(str(e).split())[:300]
