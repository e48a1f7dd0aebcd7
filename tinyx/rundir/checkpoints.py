"""Atomic checkpoint files, safe loading, and finding the checkpoint to resume from.

Layout inside a run directory:
    checkpoints/ckpt_000500.pt   one file per saved step
    checkpoints/latest           the file name of the newest complete checkpoint
    checkpoints/best             the file name of the checkpoint with the lowest validation loss

A checkpoint is written to a temporary file, fsynced and renamed into place, then `latest`
(and `best`) are moved, then old checkpoints are pruned: a crash at any instant leaves every
`ckpt_*.pt` complete and both pointers naming existing files.
"""

from __future__ import annotations

import contextlib
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tinyx.common import faults
from tinyx.common.errors import CheckpointError
from tinyx.common.files import atomic_write, atomic_write_text

if TYPE_CHECKING:
    import torch

CKPT_DIR = "checkpoints"
LATEST = "latest"
BEST = "best"
_CKPT_RE = re.compile(r"ckpt_(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    return f"ckpt_{step:06d}.pt"


def checkpoint_step(path: Path) -> int:
    return int(_CKPT_RE.search(path.name).group(1))


def _write_pointer(folder: Path, pointer: str, target: Path) -> None:
    atomic_write_text(folder / pointer, target.name + "\n", durable=True)


def _read_pointer(folder: Path, pointer: str) -> Path | None:
    path = folder / pointer
    if not path.is_file():
        return None
    target = folder / path.read_text().strip()
    return target if _CKPT_RE.search(target.name) and target.is_file() else None


def save_checkpoint(run_dir: Path, step: int, state: dict, keep: int, best: bool = False) -> Path:
    """Write the checkpoint atomically, move `latest` (and `best` if it is the best so far), then prune.

    Pruning keeps the newest `keep` checkpoints plus the one `best` names.
    """
    folder = Path(run_dir) / CKPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checkpoint_name(step)
    import torch  # here, not at the top: rundir reads CKPT_DIR from this module without torch

    def write(tmp: Path) -> None:
        torch.save(state, tmp)
        faults.pause_point("checkpoint_write", step)

    atomic_write(path, write, durable=True)
    faults.pause_point("checkpoint_latest", step)
    _write_pointer(folder, LATEST, path)
    if best:
        _write_pointer(folder, BEST, path)
    best_path = _read_pointer(folder, BEST)
    for old in list_checkpoints(run_dir)[:-keep]:
        if old != best_path:
            old.unlink(missing_ok=True)
    for stale in folder.glob(".ckpt_*.tmp"):  # left by a process killed while writing
        stale.unlink(missing_ok=True)
    return path


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint files of a run, oldest first."""
    folder = Path(run_dir) / CKPT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def best_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the lowest validation loss so far (None before the first evaluation)."""
    return _read_pointer(Path(run_dir) / CKPT_DIR, BEST)


def find_checkpoint(path: str | Path, key: str | None = None) -> Path:
    """A checkpoint file given itself or a run directory (its `latest`); `key` names the setting in errors."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"{f'{key}=' if key else ''}{path} does not exist: pass a run directory or a "
                              f"checkpoint file.")
    latest = _read_pointer(path / CKPT_DIR, LATEST)
    if latest is not None:
        return latest
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"{path} holds no checkpoint ({CKPT_DIR}/ckpt_*.pt): "
                              f"pass a run directory that saved one, or a checkpoint file.")
    return found[-1]


def _try_load(path: Path, map_location) -> tuple[dict | None, str, str]:
    """(state, "", "") or (None, what is wrong with the file, how to fix it)."""
    try:
        import torch

        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        # torch's safe unpickler names a class or function it refused to import "Unsupported global".
        if isinstance(e, pickle.UnpicklingError) and "Unsupported global" in str(e):
            return None, (f"{path} holds Python objects that tinyx will not unpickle (it did not write this "
                          f"file)"), "load only checkpoints written by tinyx"
        return None, f"checkpoint {path} is corrupt, truncated or not a checkpoint ({type(e).__name__})", \
            f"use another one (e.g. an earlier checkpoint in {path.parent})"
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        return None, f"{path} is not a tinyx checkpoint (no model/config entries)", \
            f"pass a checkpoint from a run's {CKPT_DIR}/ folder"
    return state, "", ""


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load with weights_only=True: tensors and plain containers only, never arbitrary objects.

    Text values the run took from the environment are stored as their `${oc.env:NAME}` source (a
    checkpoint holds no secret); they are resolved again here, from this process's environment.
    """
    state, problem, fix = _try_load(Path(path), map_location)
    if state is None:
        raise CheckpointError(f"{problem}: {fix}.")
    _resolve_private(state)
    return state


def _resolve_private(state: dict) -> None:
    """Put back the values a run took from the environment, where this process's environment has them;
    elsewhere the `${oc.env:NAME}` source stays (generating text needs no data URL). The sources stay in
    state["private_sources"] (what a model card shows), and the values are masked in every line from now on."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from tinyx.config.secrets import Redactor

    private = state.get("private_keys", [])
    if not private:
        return
    config = OmegaConf.create(state["config"])  # the context: a source may refer to other keys
    sources = {}
    for key in private:
        *parents, leaf = key.split(".")
        node = state["config"]
        for name in parents:
            node = node[name]
        sources[key] = node[leaf]
        with contextlib.suppress(OmegaConfBaseException):
            node[leaf] = OmegaConf.select(config, key, throw_on_resolution_failure=True)
    state["private_sources"] = sources
    Redactor(sources).protect(state["config"])


def load_latest_good(run_dir: str | Path, warn: Callable[[str], None]) -> tuple[Path, dict] | None:
    """The newest checkpoint of a run that loads, and its state; None if the run saved none.

    A corrupt or truncated one (a disk that lost its last writes) is skipped with a warning; if
    every one is, that is an error, since starting over silently would throw the run away.
    """
    found = list_checkpoints(run_dir)
    for path in reversed(found):
        state, problem, _ = _try_load(path, "cpu")
        if state is not None:
            return path, state
        warn(f"warning: {problem}: skipped, resuming from the checkpoint before it")
    if found:
        raise CheckpointError(f"every checkpoint in {Path(run_dir) / CKPT_DIR} is corrupt or truncated: move that "
                              f"folder away to start the run over.")
    return None


def discard_after(run_dir: Path, step: int, best_step: int | None) -> list[Path]:
    """Delete the checkpoints after `step` and point `latest` and `best` back into the kept past.

    A run resumed in its own directory from `step` rewrites its future: checkpoints saved after
    it (or corrupt ones) would otherwise outrank the new ones.
    """
    folder = Path(run_dir) / CKPT_DIR
    removed = [p for p in list_checkpoints(run_dir) if checkpoint_step(p) > step]
    for path in removed:
        path.unlink()
    kept = list_checkpoints(run_dir)
    if kept:
        _write_pointer(folder, LATEST, kept[-1])
    best = folder / checkpoint_name(best_step) if best_step is not None else None
    if best is not None and best.is_file():
        _write_pointer(folder, BEST, best)
    else:
        (folder / BEST).unlink(missing_ok=True)
    return removed
