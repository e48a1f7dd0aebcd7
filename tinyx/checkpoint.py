"""Atomic checkpoint files, safe loading, and finding the checkpoint to resume from.

Layout inside a run directory:
    checkpoints/ckpt_000500.pt   one file per saved step
    checkpoints/latest           the file name of the newest complete checkpoint
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

from tinyx.errors import CheckpointError

CKPT_DIR = "checkpoints"
LATEST = "latest"
_CKPT_RE = re.compile(r"ckpt_(\d+)\.pt$")


def _fsync_replace(tmp: Path, dest: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def save_checkpoint(run_dir: Path, step: int, state: dict, keep: int) -> Path:
    """Write the checkpoint to a temporary file, fsync, rename; then move `latest`; then prune."""
    folder = Path(run_dir) / CKPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt_{step:06d}.pt"
    tmp = folder / f".{path.name}.tmp"
    torch.save(state, tmp)
    _fsync_replace(tmp, path)
    pointer_tmp = folder / f".{LATEST}.tmp"
    pointer_tmp.write_text(path.name + "\n")
    _fsync_replace(pointer_tmp, folder / LATEST)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint files of a run, oldest first."""
    folder = Path(run_dir) / CKPT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file given itself or a run directory (its `latest`)."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"train.resume={path} does not exist: pass a run directory or a checkpoint file.")
    pointer = path / CKPT_DIR / LATEST
    if pointer.is_file():
        target = path / CKPT_DIR / pointer.read_text().strip()
        if target.is_file():
            return target
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"{path} holds no checkpoint ({CKPT_DIR}/ckpt_*.pt): "
                              f"pass a run directory that saved one, or a checkpoint file.")
    return found[-1]


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load with weights_only=True: tensors and plain containers only, never arbitrary objects."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(f"{path} holds Python objects that tinyx will not unpickle (it did not write "
                                  f"this file): load only checkpoints written by tinyx.") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}): "
                              f"resume from an earlier checkpoint in {path.parent}.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}): "
                              f"resume from an earlier checkpoint in {path.parent}.") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a tinyx checkpoint (no model/config entries).")
    return state
