"""torchrun: the process group, this process's rank, and the few collectives the training loop needs.

`uv run torchrun --nproc_per_node=N train.py ...` starts N copies of train.py with RANK, LOCAL_RANK
and WORLD_SIZE set; without torchrun every function here is a no-op for a world of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from tinyx.common.errors import ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The world torchrun describes in the environment (a world of one without torchrun)."""
    try:
        return World(rank=int(os.environ.get("RANK", 0)), local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                     size=int(os.environ.get("WORLD_SIZE", 1)))
    except ValueError:
        raise ConfigError(f"RANK/LOCAL_RANK/WORLD_SIZE in the environment are not integers "
                          f"({os.environ.get('RANK')!r}, {os.environ.get('LOCAL_RANK')!r}, "
                          f"{os.environ.get('WORLD_SIZE')!r}): launch with torchrun, or unset them.") from None


def is_main_process() -> bool:
    """Rank 0, or no torchrun: the one process that writes files (read before the process group exists)."""
    return world_from_env().is_main


def init(device: torch.device) -> World:
    """Join torchrun's process group (NCCL on CUDA, Gloo on CPU) when there is more than one process."""
    world = world_from_env()
    if world.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "mps":
            raise ConfigError("torchrun with hardware.device=mps is not supported (PyTorch has no MPS backend "
                              "for torch.distributed): run one process, or use CUDA or CPU.")
        dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    return world


def mean(value: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of a tensor over all ranks (the tensor itself in a world of one)."""
    if world.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= world.size
    return value


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when it is true on one (so all ranks stop at the same step)."""
    if not world.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast(obj, world: World):
    """Rank 0's value of a small picklable object, on every rank."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
