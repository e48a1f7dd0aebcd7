"""The run directory: the one contract between training and every tool that reads a run.

    <run dir>/
      config.json        the resolved, redacted config (written by train() itself, Hydra or not)
      provenance.json    what reproduces the run: git commit and diff, versions, device, data fingerprint
      .hydra/            Hydra's own record, when train.py ran it (config.yaml, overrides.yaml)
      metrics.jsonl      one JSON object per logged step (train and eval)
      samples.jsonl      generated text at each evaluation
      summary.json       the RunSummary: status, final and best val loss, params, tokens/s, wall time
      tokenizer.json     what decodes the run's token ids
      checkpoints/       ckpt_<step>.pt, and `latest` / `best` pointers (tinyx.checkpoint)
      train.log          Hydra's log of the console
      wandb/, events.out.tfevents.*   when those loggers are on

compare, evaluate, generate, bench, resume and the sweep all read runs through this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Optional

from tinyx.files import atomic_write_json

CONFIG_FILE = "config.json"
HYDRA_CONFIG_FILE = ".hydra/config.yaml"  # runs written before config.json existed
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"
TOKENIZER_FILE = "tokenizer.json"
CKPT_DIR = "checkpoints"
WANDB_DIR = "wandb"

# RunSummary's fields whose names in summary.json (and in metrics.jsonl) hold a slash.
_JSON_NAMES = {"train_loss": "train/loss", "val_loss": "val/loss", "val_loss_best": "val/loss_best",
               "val_ppl": "val/ppl"}
_FIELD_NAMES = {v: k for k, v in _JSON_NAMES.items()}


@dataclass
class RunSummary:
    """summary.json: how a run ended. status: running | completed | interrupted | diverged | pruned | failed: ..."""

    status: str = "running"
    step: int = 0
    params: Optional[int] = None
    run_dir: Optional[str] = None
    train_loss: Optional[float] = None
    val_loss: Optional[float] = None
    val_loss_best: Optional[float] = None
    val_ppl: Optional[float] = None
    nonfinite_steps: int = 0
    tokens_per_second: Optional[float] = None
    wall_seconds: Optional[float] = None
    eval_seconds: Optional[float] = None
    reason: Optional[str] = None  # why a run that did not complete stopped, and what to do

    @property
    def completed(self) -> bool:
        return self.status == "completed"

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


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's nested config: config.json, or for a run older than it Hydra's .hydra/config.yaml."""
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).is_file():
        return json.loads((run_dir / CONFIG_FILE).read_text())
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(run_dir / HYDRA_CONFIG_FILE)
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
    from tinyx.errors import RunDirError

    summary = read_summary(run_dir)
    what = f"{summary.status} at step {summary.step}" if summary else "no summary: it was stopped or is running"
    raise RunDirError(f"run directory {run_dir} already holds a run ({what}): continue it with train.resume=auto, "
                      f"or start fresh in another directory (hydra.run.dir=...) or after removing this one.")


_claimed: dict[str, Path] = {}  # per process: a directory is claimed once, however often its name is resolved


def claim_new_dir(base: str | Path) -> Path:
    """A directory of this process's own: `base` if nobody has it yet, else `base_1`, `base_2`, ...

    `os.mkdir` is atomic, so two runs started in the same second (two terminals, a job array) never
    share a directory.
    """
    key = str(base)
    if key in _claimed:
        return _claimed[key]
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = base if n == 0 else base.with_name(f"{base.name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        _claimed[key] = candidate
        return candidate
    raise RuntimeError(f"no free directory name next to {base}")
