"""The commands a finished run suggests: sample, evaluate, compare (and TensorBoard when it logged there)."""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyx.config import RunConfig


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
    prompt_arg = f" --prompt {shlex.quote(prompt)}" if prompt and "\n" not in prompt else ""
    compare = (f"{_shell_path(sweep)}   # this sweep's runs" if sweep is not None else
               f"{where}   # and other runs' directories")
    lines = [f"uv run tinyx generate {where}{prompt_arg}   # sample text",
             f"uv run tinyx evaluate {where}   # val loss and bits per byte on the whole split",
             f"uv run tinyx compare {compare}"]
    if cfg.logger.tensorboard.enabled:
        lines.append(f"uv run tensorboard --logdir {where}   # curves")
    return ["next:", *("  " + line for line in lines)]
