"""The run directory: the one contract between training and every tool that reads a run.

    <run dir>/
      config.json        the resolved, redacted config (written by train() itself, Hydra or not)
      provenance.json    what reproduces the run: git commit and diff, versions, device, data fingerprint
      .hydra/            Hydra's own record, when train.py ran it (config.yaml, overrides.yaml)
      metrics.jsonl      one JSON object per logged step (train and eval)
      samples.jsonl      generated text at each evaluation
      summary.json       the RunSummary: status, final and best val loss and bits per byte, params, tokens/s, wall time
      tokenizer.json     what decodes the run's token ids
      checkpoints/       ckpt_<step>.pt, and `latest` / `best` pointers (tinyx.checkpoint)
      train.log          Hydra's log of the console
      wandb/, events.out.tfevents.*   when those loggers are on

compare, evaluate, generate, bench, resume and the sweep all read runs through this module:
finding them (`find_runs`, `find_checkpoints`, and `resolve_last` for the argument `last`), reading
them (`read_config`, `read_summary`, `read_metrics`, `read_provenance`) and rebuilding a run's model
(`load_model`).

Importing it stays cheap (compare never pays for torch): modules that need torch are imported
inside the functions that use them.
"""

from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from tinyx.checkpoint import CKPT_DIR  # checkpoints/ is checkpoint.py's to lay out
from tinyx.errors import RunDirError
from tinyx.files import atomic_write_json

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.json"
HYDRA_CONFIG_FILE = ".hydra/config.yaml"  # runs written before config.json existed
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"
TOKENIZER_FILE = "tokenizer.json"
WANDB_DIR = "wandb"
OUTPUTS_ENV = "TINYX_OUTPUTS"  # where train.py's default run and sweep directories go (conf/hydra/default.yaml)
LAST = "last"  # the argument that names the newest run (resolve_last)

# RunSummary's fields whose names in summary.json (and in metrics.jsonl) hold a slash.
_JSON_NAMES = {"train_loss": "train/loss", "val_loss": "val/loss", "val_loss_best": "val/loss_best",
               "val_ppl": "val/ppl", "val_bpb": "val/bpb", "val_bpb_best": "val/bpb_best"}
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
        except OSError:  # a read-only or full disk: the writable probe that follows names it
            return base
        _claimed[key] = candidate
        return candidate
    raise RuntimeError(f"no free directory name next to {base}")


def claimed_by_this_process(path: str | Path) -> bool:
    """Whether this process created `path` as a new directory of the default naming (claim_new_dir)."""
    return Path(path).resolve() in {p.resolve() for p in _claimed.values()}


# ---------------------------------------------------------------- `last`: the newest run
def outputs_root() -> Path:
    """The folder train.py's default run directories go to: $TINYX_OUTPUTS, else outputs/."""
    return Path(os.environ.get(OUTPUTS_ENV) or "outputs")


def _start_key(path: Path) -> tuple:
    """When a run or sweep of the default naming (<date>/<time>[_n]) started: its name says it."""
    time_name, _, n = path.name.partition("_")
    return path.parent.name, time_name, int(n) if n.isdigit() else 0


def _job_key(path: Path) -> tuple:
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)  # job 10 after job 2


def newest(root: str | Path | None = None, kind: str = "any") -> Path | None:
    """The newest run (`kind="run"`), sweep (`"sweep"`) or either (`"any"`) under root (default outputs_root()),
    by start time; only directories a run trained in count, so a failed start never hides the last run."""
    root = Path(root) if root is not None else outputs_root()
    found: list[Path] = []
    if kind in ("any", "run"):
        found += [p for p in root.glob("runs/*/*") if p.is_dir() and holds_run(p)]
    if kind in ("any", "sweep"):
        found += [p for p in root.glob("multirun/*/*") if p.is_dir() and any(map(holds_run, _jobs(p)))]
    return max(found, key=_start_key, default=None)


def _jobs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=_job_key)


def resolve_last(root: str | Path | None = None, whole_sweep: bool = False) -> Path:
    """What `last` names: the newest run directory under root (default outputs_root()), by start time.

    When the newest is a multirun, that is its newest job that trained, or with `whole_sweep`
    (compare, evaluate: tools that read many runs) the sweep directory itself.
    """
    root = Path(root) if root is not None else outputs_root()
    found = newest(root)
    if found is None:
        raise RunDirError(f"`{LAST}`: no run in {root / 'runs'} or {root / 'multirun'} yet: train one first, or pass "
                          f"a run directory ({OUTPUTS_ENV} sets where runs are written).")
    if found.parent.parent == root / "multirun" and not whole_sweep:
        return [job for job in _jobs(found) if holds_run(job)][-1]
    return found


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


# ---------------------------------------------------------------- finding runs and checkpoints
def _expand(arg: str, glob_fix: str, missing_fix: str) -> list[Path]:
    """The paths one argument names: itself, the newest run for `last`, or the matches of a glob (sorted)."""
    if arg == LAST:
        return [resolve_last(whole_sweep=True)]
    if glob.has_magic(arg):
        matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
        if not matches:
            raise RunDirError(f"the pattern {arg!r} matches nothing: check it, or {glob_fix}.")
        return [Path(m) for m in matches]
    path = Path(arg).expanduser()
    if not path.exists():
        raise RunDirError(f"{arg} does not exist: {missing_fix}.")
    return [path]


def _walk(root: Path, is_run: Callable[[Path], bool]) -> Iterator[Path]:
    """The runs in and under root, sorted; a run's own folders (checkpoints, wandb) are not walked."""
    for folder, subfolders, _ in os.walk(root):
        if is_run(Path(folder)):
            subfolders.clear()
            yield Path(folder)
        else:
            subfolders.sort()


def _unique(paths: list[Path]) -> list[Path]:
    # One run named twice (a directory and a glob reaching it) is compared or scored once.
    return list(dict.fromkeys(p.resolve() for p in paths))


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Run directories named by paths: a run directory, a directory holding runs (a multirun), or a glob.

    A run directory is one with a config (config.json, or .hydra/config.yaml for a run older than it).
    """
    found: list[Path] = []
    for arg in map(str, paths):
        for path in _expand(arg, "pass the run or multirun directory itself",
                            "pass a run directory, a multirun directory (outputs/multirun/<date>/<time>) or a glob"):
            if path.is_dir():
                found.extend(_walk(path, has_config))
    unique = _unique(found)
    if not unique:
        raise RunDirError(f"no run directories in {' '.join(map(str, paths))} (a run directory holds {CONFIG_FILE} "
                          f"or {HYDRA_CONFIG_FILE}): pass outputs/runs/<date>/<time>, "
                          f"outputs/multirun/<date>/<time>, or a glob of them.")
    return unique


def _has_checkpoints(path: Path) -> bool:
    return (path / CKPT_DIR).is_dir()


def find_checkpoints(paths: list[str | Path]) -> list[Path]:
    """Checkpoint files named by paths: files, run directories (their latest), directories of runs, globs."""
    from tinyx.checkpoint import find_checkpoint

    found: list[Path] = []
    for arg in map(str, paths):
        for path in _expand(arg, "pass a checkpoint file or run directory",
                            f"pass a checkpoint file ({CKPT_DIR}/ckpt_*.pt), a run directory or a glob"):
            if path.is_file():
                found.append(path)
            elif path.is_dir():
                found.extend(find_checkpoint(run) for run in _walk(path, _has_checkpoints))
    unique = _unique(found)
    if not unique:
        raise RunDirError(f"no checkpoints in {' '.join(map(str, paths))}: pass checkpoint files, run directories "
                          f"that saved some ({CKPT_DIR}/ckpt_*.pt), or a glob.")
    return unique


def run_dir_of(checkpoint: str | Path) -> Path:
    """The run directory a checkpoint file belongs to (its own folder for a file outside a run)."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == CKPT_DIR else checkpoint.parent


# ---------------------------------------------------------------- a run's model
@dataclass
class LoadedRun:
    """A model rebuilt from a checkpoint, in eval mode on the device asked for."""

    model: Any  # tinyx.model.GPT
    tokenizer: Any  # the run's tokenizer (tinyx.data)
    state: dict[str, Any]  # the whole checkpoint: config, step, tokenizer, optimizer and RNG state
    checkpoint: Path

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def config(self) -> dict[str, Any]:
        """The nested config the checkpoint was trained with, values from the environment resolved here."""
        return self.state["config"]

    @property
    def public_config(self) -> dict[str, Any]:
        """The config as the run's config.json shows it, for what is written to be shared (a model card):
        values from the environment as their `${oc.env:NAME}` source, secrets by key name as ***."""
        from tinyx.secrets import Redactor

        private = {**dict.fromkeys(self.state.get("private_keys", [])), **self.state.get("private_sources", {})}
        return Redactor(private).redact(self.config)


def load_model(run_or_checkpoint: str | Path, device: str | torch.device = "cpu",
               key: str | None = None) -> LoadedRun:
    """The model and tokenizer of a run directory (its latest checkpoint), of a checkpoint file, or of
    the newest run for `last`.

    `key` names the setting the path came from (e.g. generate's `run`), for the error messages.
    """
    from tinyx.checkpoint import find_checkpoint, load_checkpoint
    from tinyx.config import ModelConfig
    from tinyx.data import tokenizer_from_dict
    from tinyx.model import GPT

    if str(run_or_checkpoint) == LAST:
        run_or_checkpoint = resolve_last()
    path = find_checkpoint(run_or_checkpoint, key=key)
    state = load_checkpoint(path, map_location=device)
    model = GPT(ModelConfig(**state["config"]["model"]))
    model.load_state_dict(state["model"])
    return LoadedRun(model=model.to(device).eval(), tokenizer=tokenizer_from_dict(state["tokenizer"]),
                     state=state, checkpoint=path)
