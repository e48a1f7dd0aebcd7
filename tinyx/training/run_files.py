"""What the process that writes files puts in the run directory before step 1: the records (config,
provenance, tokenizer) and the loggers, after checking the disk has room for the run's checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from tinyx.common.errors import ConfigError
from tinyx.common.files import atomic_write_json
from tinyx.config import RunConfig
from tinyx.config.secrets import Redactor
from tinyx.data import TokenData
from tinyx.loggers import Logger, build_loggers
from tinyx.loggers.console import ConsoleLogger
from tinyx.loggers.jsonl import JsonlLogger
from tinyx.loggers.labels import RunLabels
from tinyx.rundir import provenance
from tinyx.rundir.checkpoints import discard_after, list_checkpoints
from tinyx.rundir.contract import PROVENANCE_FILE, SUMMARY_FILE, TOKENIZER_FILE, write_config
from tinyx.rundir.data_record import data_record
from tinyx.training.checkpointing import Checkpointer
from tinyx.training.machine import Machine


def open_run_dir(cfg: RunConfig, machine: Machine, checkpointer: Checkpointer, data: TokenData,
                 resumed_from: Path | None, labels: RunLabels, redactor: Redactor, console: ConsoleLogger) -> list[Logger]:
    """Write the run directory's records (config, provenance, tokenizer) and open its loggers; `redactor` (the
    run's) keeps secrets out of the trackers' config panels."""
    run_dir, notes = machine.run_dir, machine.notes
    start_step = checkpointer.state.step
    check_free_space(run_dir, checkpointer.trainable.model, cfg.train.keep_checkpoints)
    if resumed_from is not None and resumed_from.parent.parent.resolve() == run_dir.resolve():
        # This directory continues from start_step: what it wrote after that is rewritten.
        for path in discard_after(run_dir, start_step, checkpointer.state.best_step):
            notes.append(f"discarded {path.name}, saved after the checkpoint resumed from (the run rewrites it)")
        (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
    write_config(run_dir, checkpointer.config)
    model = checkpointer.trainable.model
    atomic_write_json(run_dir / PROVENANCE_FILE, provenance.collect(
        str(machine.hw.device), data_record(data), model.flops_per_token(), machine.world.size))
    atomic_write_json(run_dir / TOKENIZER_FILE, data.tokenizer.to_dict())
    jsonl = JsonlLogger(run_dir, history_from=resumed_from.parent.parent if resumed_from else None,
                        history_until=start_step)
    return [jsonl, console, *build_loggers(cfg, run_dir, redactor, labels, start_step, console.say)]


def check_free_space(run_dir: Path, model: torch.nn.Module, keep: int) -> None:
    """Refuse to start a run whose checkpoints will not fit on the disk, rather than fail at its first save."""
    # Weights plus up to two optimizer slots per weight (AdamW's moments); Muon keeps one.
    checkpoint_bytes = 3 * sum(p.numel() * p.element_size() for p in model.parameters())
    existing = sum(p.stat().st_size for p in list_checkpoints(run_dir))  # reused by an in-place resume
    needed = checkpoint_bytes * (keep + 2) - existing  # the kept ones, the best, one being written
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise ConfigError(f"run directory {run_dir} has {free / 1e6:.1f} MB free, but this run's checkpoints need "
                          f"about {needed / 1e6:.1f} MB (train.keep_checkpoints={keep}, the best and one being "
                          f"written, {checkpoint_bytes / 1e6:.1f} MB each): free space, lower "
                          f"train.keep_checkpoints, or choose another directory with hydra.run.dir=...")
