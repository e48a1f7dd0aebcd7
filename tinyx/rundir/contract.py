"""The run directory's contract: the names of its files and of the metrics they hold, and reading and writing them.

Training writes a run directory through this module and every tool reads it through it. The files, one by one,
are the tree in docs/training.md's "What a run writes" (tests/unit/test_code_map.py checks that every name
defined here is in it). Its neighbours in tinyx.rundir: records (what the statuses and data orders mean),
checkpoints (checkpoints/), claims (a new directory per run), last (the newest run), find (runs and checkpoints
named on a command line).

Importing it stays cheap (compare never pays for torch): omegaconf only inside read_config, for old runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional

from tinyx.common.errors import RunDirError
from tinyx.common.files import atomic_write_json
from tinyx.rundir.checkpoints import CKPT_DIR  # checkpoints/ is checkpoint.py's to lay out
from tinyx.rundir.records import COMPLETED, RUNNING

CONFIG_FILE = "config.json"  # the resolved, redacted config (written by train() itself, Hydra or not)
HYDRA_DIR = ".hydra"  # Hydra's own record, when train.py ran the run (config.yaml, overrides.yaml)
HYDRA_CONFIG_FILE = f"{HYDRA_DIR}/config.yaml"  # read for runs written before config.json existed
HYDRA_OVERRIDES_FILE = f"{HYDRA_DIR}/overrides.yaml"  # the command line's overrides, as Hydra recorded them
PROVENANCE_FILE = "provenance.json"  # git commit and diff, versions, device, data fingerprint
METRICS_FILE = "metrics.jsonl"  # one JSON object per logged step (train and eval)
SAMPLES_FILE = "samples.jsonl"  # generated text at each evaluation
SUMMARY_FILE = "summary.json"  # the RunSummary
TOKENIZER_FILE = "tokenizer.json"  # what decodes the run's token ids
LOG_FILE = "train.log"  # every console line, time-stamped (Hydra's log of the job)
WANDB_DIR = "wandb"  # the wandb logger's files: its runs (offline ones to sync) and the run id a resume reuses

# The metrics' names: keys of metrics.jsonl's rows and of summary.json.
TRAIN_LOSS, VAL_LOSS, VAL_PPL, VAL_BPB = "train/loss", "val/loss", "val/ppl", "val/bpb"
VAL_LOSS_BEST, VAL_BPB_BEST = "val/loss_best", "val/bpb_best"  # the lowest of any evaluation
# What a run's end is judged by (compare, ablate, a sweep's objective): the last or the best evaluation; lower is
# better. Bits per byte compares runs whose tokenizers differ.
FINAL_METRICS = (VAL_LOSS, VAL_LOSS_BEST, VAL_BPB, VAL_BPB_BEST)
# provenance.json's record of the compute a step costs, written at the run's start (so a killed run has it):
# training FLOPs per token (the model's flops_per_token) and the processes that each trained a batch.
FLOPS_PER_TOKEN, WORLD_SIZE = "flops_per_token", "world_size"

# RunSummary's fields whose names in summary.json (and in metrics.jsonl) hold a slash.
_JSON_NAMES = {"train_loss": TRAIN_LOSS, "val_loss": VAL_LOSS, "val_loss_best": VAL_LOSS_BEST,
               "val_ppl": VAL_PPL, "val_bpb": VAL_BPB, "val_bpb_best": VAL_BPB_BEST}
_FIELD_NAMES = {v: k for k, v in _JSON_NAMES.items()}


@dataclass
class RunSummary:
    """summary.json: how a run ended. status: running | completed | interrupted | diverged | pruned | failed: ..."""

    status: str = RUNNING
    step: int = 0
    params: Optional[int] = None
    run_dir: Optional[str] = None
    train_loss: Optional[float] = None
    val_loss: Optional[float] = None
    val_loss_best: Optional[float] = None
    val_ppl: Optional[float] = None
    val_bpb: Optional[float] = None  # bits per byte of the last evaluation: compares across tokenizers
    val_bpb_best: Optional[float] = None  # the lowest of any evaluation
    nonfinite_steps: int = 0
    tokens_per_second: Optional[float] = None
    wall_seconds: Optional[float] = None
    eval_seconds: Optional[float] = None
    reason: Optional[str] = None  # why a run that did not complete stopped, and what to do
    # Runs with the same data_order saw the same training windows at every step (WindowSampler.order_key):
    # compare pairs such runs seed for seed.
    data_order: Optional[str] = None

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: slash names (`val/loss`), NaN and inf as null (JSON has neither)."""
        return {_JSON_NAMES.get(k, k): _json_value(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        known = {f.name for f in fields(cls)}
        values = {_FIELD_NAMES.get(k, k): v for k, v in data.items()}
        return cls(**{k: v for k, v in values.items() if k in known})


def _json_value(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def write_summary(run_dir: str | Path, summary: RunSummary) -> None:
    atomic_write_json(Path(run_dir) / SUMMARY_FILE, summary.to_dict())


def read_summary(run_dir: str | Path) -> RunSummary | None:
    """The run's summary; None while it runs, after a kill, or when the file is not valid JSON."""
    try:
        data = json.loads((Path(run_dir) / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return RunSummary.from_dict(data) if isinstance(data, dict) else None


def write_config(run_dir: str | Path, config: dict[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / CONFIG_FILE, config)


def has_config(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / HYDRA_CONFIG_FILE).is_file()


def config_path(run_dir: str | Path) -> Path:
    """The file read_config reads: config.json, else (a run older than it) .hydra/config.yaml."""
    run_dir = Path(run_dir)
    return run_dir / CONFIG_FILE if (run_dir / CONFIG_FILE).is_file() else run_dir / HYDRA_CONFIG_FILE


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's nested config: config.json, or for a run older than it Hydra's .hydra/config.yaml."""
    path = config_path(run_dir)
    if path.suffix == ".json":
        return json.loads(path.read_text())
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(path)
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # an interpolation only Hydra can resolve (e.g. ${now:...}): as written
        return OmegaConf.to_container(cfg, resolve=False)


def holds_run(run_dir: str | Path) -> bool:
    """Whether a run has trained in this directory (logged a step, saved a checkpoint or a summary)."""
    run_dir = Path(run_dir)
    metrics = run_dir / METRICS_FILE
    return ((metrics.is_file() and metrics.stat().st_size > 0) or (run_dir / SUMMARY_FILE).is_file()
            or any((run_dir / CKPT_DIR).glob("ckpt_*.pt")))


def refuse_to_overwrite(run_dir: str | Path) -> None:
    """A directory holding a run is never overwritten silently: the user resumes it or chooses another."""
    if not holds_run(run_dir):
        return
    summary = read_summary(run_dir)
    what = f"{summary.status} at step {summary.step}" if summary else "no summary: it was stopped or is running"
    raise RunDirError(f"run directory {run_dir} already holds a run ({what}): continue it with train.resume=auto, "
                      f"or start fresh in another directory (hydra.run.dir=...) or after removing this one.")


def read_jsonl(path: Path, on_bad_line: Callable[[int, str], None] | None = None) -> list[dict]:
    """The JSON objects of a .jsonl file; a line that is not one (cut short by a crash) is skipped.

    `on_bad_line(line_number, line)` hears about each skipped line, for tools that warn.
    """
    rows = []
    if path.is_file():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict):
                rows.append(row)
            elif line.strip() and on_bad_line is not None:
                on_bad_line(number, line)
    return rows


def read_metrics(run_dir: str | Path, on_bad_line: Callable[[int, str], None] | None = None) -> list[dict]:
    """metrics.jsonl's rows, oldest first ([] before the first log line)."""
    return read_jsonl(Path(run_dir) / METRICS_FILE, on_bad_line)


def read_provenance(run_dir: str | Path) -> dict[str, Any] | None:
    """provenance.json; None for a run written before it existed, or when it is not a JSON object."""
    try:
        data = json.loads((Path(run_dir) / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def git_commit(run_dir: str | Path) -> str | None:
    """The git commit the run's code was at, from provenance.json (None if unknown)."""
    git = (read_provenance(run_dir) or {}).get("git")
    commit = git.get("commit") if isinstance(git, dict) else None
    return commit if isinstance(commit, str) and commit else None
