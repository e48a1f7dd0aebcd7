"""`last`: the argument that names the newest run under the outputs root, wherever a tool takes a run."""

from __future__ import annotations

import os
from pathlib import Path

from tinyx.common.errors import RunDirError
from tinyx.rundir.contract import holds_run

OUTPUTS_ENV = "TINYX_OUTPUTS"  # where train.py's default run and sweep directories go (conf/hydra/default.yaml)
LAST = "last"  # the argument that names the newest run (resolve_last)
RUNS_DIR, MULTIRUN_DIR = "runs", "multirun"  # under the outputs root: <date>/<time>[_n] (conf/hydra/default.yaml)
EXPORTS_DIR = "exports"  # under the outputs root: tinyx export's <run name>-step<N>[_n] (tools/export_out.py)


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
        found += [p for p in root.glob(f"{RUNS_DIR}/*/*") if p.is_dir() and holds_run(p)]
    if kind in ("any", "sweep"):
        found += [p for p in root.glob(f"{MULTIRUN_DIR}/*/*") if p.is_dir() and any(map(holds_run, _jobs(p)))]
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
        raise RunDirError(f"`{LAST}`: no run in {root / RUNS_DIR} or {root / MULTIRUN_DIR} yet: train one first, or "
                          f"pass a run directory ({OUTPUTS_ENV} sets where runs are written).")
    if found.parent.parent == root / MULTIRUN_DIR and not whole_sweep:
        return [job for job in _jobs(found) if holds_run(job)][-1]
    return found
