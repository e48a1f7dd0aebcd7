"""Which checkpoint a run continues from (`train.resume`), and whether it fits the run."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Callable

from tinyx.common.errors import CheckpointError
from tinyx.config import ModelConfig
from tinyx.rundir.checkpoints import CKPT_DIR, find_checkpoint, load_checkpoint, load_latest_good
from tinyx.rundir.data_record import data_settings, tokenizer_mismatch
from tinyx.rundir.last import LAST, resolve_last


def find_resume_checkpoint(resume: str, run_dir: Path, say: Callable[[str], None]) -> tuple[Path, dict] | None:
    """The checkpoint `train.resume` names and its state; None for `auto` in a directory without one.

    `last` is the newest run under the outputs root (tinyx.rundir.last.resolve_last); train.py also makes
    it the run directory, so that run continues in place.
    """
    if resume == LAST:
        resume = str(resolve_last())
    if resume == "auto":
        found = load_latest_good(run_dir, say)
        if found is None:
            say(f"train.resume=auto: no checkpoint in {run_dir} yet, starting from step 0")
        return found
    path = Path(resume).expanduser()
    if path.is_dir():
        found = load_latest_good(path, say)
        if found is None:
            raise CheckpointError(f"train.resume={resume} holds no checkpoint ({CKPT_DIR}/ckpt_*.pt): pass a run "
                                  f"directory that saved one, or a checkpoint file.")
        return found
    path = find_checkpoint(path, key="train.resume")
    return path, load_checkpoint(path)


def check_resumable(state: dict, path: Path, model_cfg: dict, tokenizer: dict) -> None:
    """The checkpoint's tokenizer and model shape must be this run's (dropout may differ).

    The tokenizer first: another tokenizer also changes model.vocab_size, and the fix is the data, not it.
    """
    mismatch = tokenizer_mismatch(state.get("tokenizer") or {}, tokenizer)
    if mismatch:
        raise CheckpointError(f"checkpoint {path} was trained with {mismatch}: resume with the data it was "
                              f"trained on ({data_settings(state['config'])}).")
    # A key newer than the checkpoint (model.depth, model.parametrization, ...) was trained with its default.
    trained = {**{f.name: f.default for f in fields(ModelConfig)}, **state["config"].get("model", {})}
    differing = [k for k in model_cfg if k != "dropout" and trained.get(k) != model_cfg[k]]
    if differing:
        diffs = ", ".join(f"model.{k}={trained.get(k)} (this run: {model_cfg[k]})" for k in differing)
        fix = " ".join(f"model.{k}={trained.get(k)}" for k in differing)
        raise CheckpointError(f"checkpoint {path} was trained with {diffs}: resume with the same model "
                              f"settings (add: {fix}).")


def check_steps_left(state: dict, path: Path, max_steps: int) -> None:
    """A checkpoint already at train.max_steps has nothing left to train: say so before anything is written."""
    if state["step"] >= max_steps:
        raise CheckpointError(f"{path} is already at step {state['step']} (train.max_steps={max_steps}): raise "
                              f"train.max_steps to continue")
