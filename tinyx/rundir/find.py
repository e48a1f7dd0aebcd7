"""The runs and checkpoints a command line names: run directories, directories of runs (a multirun), globs, `last`.

compare and ablate read runs, evaluate and export checkpoints; each argument is expanded here, once, so that
every tool takes the same forms and says the same thing when one names nothing.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Callable, Iterator

from tinyx.common.errors import RunDirError
from tinyx.rundir.checkpoints import CKPT_DIR
from tinyx.rundir.contract import CONFIG_FILE, HYDRA_CONFIG_FILE, has_config
from tinyx.rundir.last import LAST, resolve_last


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
    from tinyx.rundir.checkpoints import find_checkpoint

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
