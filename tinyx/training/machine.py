"""Where a run trains: the device and dtype, the torchrun world, rank 0's run directory, DDP and compile, each
rank's seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tinyx.common import faults
from tinyx.common.files import check_writable
from tinyx.config import RunConfig
from tinyx.rundir.contract import refuse_to_overwrite
from tinyx.runtime import distributed, hardware
from tinyx.training.step import Trainable


@dataclass
class Machine:
    """The processes and device a run trains on, the directory it writes, and what to say once a console exists."""

    world: distributed.World
    hw: hardware.Hardware
    run_dir: Path  # rank 0's, on every rank
    injected: faults.Faults  # fault injection, for tinyx's tests
    notes: list[str]  # said once the console exists (hw's: a GPU left unused, and why)


def prepare_machine(cfg: RunConfig, run_dir: Path) -> Machine:
    """Pick the device, join torchrun's process group, and (on rank 0) check the run directory can be written:
    a read-only or full disk fails now, not after the data is tokenised."""
    injected = faults.load()
    described = distributed.world_from_env()  # the device depends on the local rank, the process group on the device
    hw = hardware.setup(cfg.hardware, described.local_rank, described.size)
    world = distributed.init(hw.device)
    main_dir = rank0_run_dir(run_dir, world)
    notes = list(hw.notes)
    if world.is_main:
        check_writable(main_dir)
        if not cfg.train.resume:
            refuse_to_overwrite(main_dir)
    if injected:
        notes.append(f"warning: fault injection on ({faults.ENV}={injected.spec}): for tinyx's tests only")
    return Machine(world, hw, main_dir, injected, notes)


def rank0_run_dir(run_dir: Path, world: distributed.World) -> Path:
    """Rank 0's run directory on every rank. Hydra in each torchrun process names its own, so another
    rank's name can differ; that rank's (empty) folder is removed."""
    if not world.distributed:
        return run_dir
    main_dir = Path(distributed.broadcast(str(run_dir), world))
    if not world.is_main and run_dir.resolve() != main_dir.resolve() and run_dir.is_dir() and \
            not any(run_dir.iterdir()):
        run_dir.rmdir()
    return main_dir


def wrap_for_world(trainable: Trainable, world: distributed.World, hw: hardware.Hardware) -> None:
    """Under torchrun, DDP averages the ranks' gradients and starts every rank from rank 0's weights
    (so it wraps after a resume has loaded them); torch.compile goes around the outermost module."""
    if world.distributed:
        trainable.ddp_model = torch.nn.parallel.DistributedDataParallel(
            trainable.model, device_ids=[hw.device.index] if hw.device.type == "cuda" else None)
    outer = trainable.ddp_model or trainable.model
    trainable.step_model = torch.compile(outer) if hw.compile else outer


def seed_rank(seed: int, rank: int, step: int) -> None:
    """Give each torchrun rank its own dropout masks; rank 0 keeps the stream a single process has
    (so its exact resume holds), the others derive theirs from the seed, their rank and the step."""
    if rank > 0:
        torch.manual_seed(seed + 7919 * rank + step)
