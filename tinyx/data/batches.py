"""Batches: random training windows from a seeded generator (exact resume), fixed validation windows, and
the whole split in order. Works on numpy arrays and on memmaps of a cache larger than RAM: only the
windows drawn are read."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch


def sample_windows(ids: np.ndarray, batch_size: int, block_size: int, generator: torch.Generator,
                   rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """`batch_size` random contiguous windows of block_size + 1 tokens, gathered at once.

    Under torchrun every rank draws the whole global batch (batch_size x world_size starts) from the
    same seeded generator and gathers its own slice: ranks see different windows, N ranks with batch B
    see exactly the windows one process with batch N x B sees, and the generator's state is the same
    on every rank, so a checkpoint resumes on any number of processes.
    """
    starts = torch.randint(len(ids) - block_size, (batch_size * world_size,), generator=generator)
    starts = starts[rank * batch_size:(rank + 1) * batch_size].numpy()
    windows = ids[starts[:, None] + np.arange(block_size + 1)]
    return torch.from_numpy(windows.astype(np.int64))


class WindowSampler:
    """The training batches of one run: random windows of the train split, drawn from a seeded generator.

    The seed alone fixes the windows drawn (not the model or the optimizer), so two arms of an
    ablation with the same seed, batch size and context see the same batches. Its state is the
    generator's, saved in checkpoints for exact resume.
    """

    window_start = "random"  # data.window_start: where windows may start (part of the data order)
    # data_order's version: 2 hashes where windows start and the train split's content. Keys of two versions
    # are not compared (tinyx.rundir.records pairs such runs by their config); version 1 wrote a bare digest.
    ORDER_VERSION = 2

    def __init__(self, ids: np.ndarray, batch_size: int, block_size: int, seed: int, rank: int = 0,
                 world_size: int = 1):
        self.ids, self.batch_size, self.block_size = ids, batch_size, block_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.generator = torch.Generator().manual_seed(seed)

    def order_key(self, grad_accum: int, train_split: str) -> str:
        """summary.json's `data_order`: runs with equal keys draw the same windows at every step.

        What fixes the windows: the seed, the windows per draw (batch x world size: N ranks of batch B
        draw what one process of N x B draws), the draws per step (grad_accum), the context, where windows
        start, and the train split (`train_split`: its content and tokenizer, tinyx.rundir.data_record.train_identity).
        Model and optimizer do not.
        """
        parts = json.dumps(self.order_parts(grad_accum, train_split), sort_keys=True)
        return f"{self.ORDER_VERSION}:{hashlib.sha256(parts.encode()).hexdigest()[:16]}"

    def order_parts(self, grad_accum: int, train_split: str) -> dict:
        return {"seed": self.seed, "windows_per_draw": self.batch_size * self.world_size, "grad_accum": grad_accum,
                "block_size": self.block_size, "window_start": self.window_start, "train": train_split}

    def next_batch(self) -> torch.Tensor:
        return sample_windows(self.ids, self.batch_size, self.block_size, self.generator, self.rank,
                              self.world_size)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def to_device(windows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if device.type == "cuda":
        windows = windows.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        windows = windows.to(device)
    return windows[:, :-1], windows[:, 1:]


def fixed_eval_windows(ids: np.ndarray, n_batches: int, batch_size: int, block_size: int) -> list[torch.Tensor]:
    """The same validation windows for every run, whatever its seed, so evaluations compare."""
    g = torch.Generator().manual_seed(0)
    return [sample_windows(ids, batch_size, block_size, g) for _ in range(n_batches)]


def sequential_windows(ids: np.ndarray, batch_size: int, block_size: int) -> list[torch.Tensor]:
    """The whole split as back-to-back windows of block_size + 1 tokens (each token predicted once), batched.

    The last batch may be smaller; the tail shorter than one window is left out.
    """
    n_windows = (len(ids) - 1) // block_size
    starts = np.arange(n_windows) * block_size
    return [torch.from_numpy(ids[starts[i:i + batch_size, None] + np.arange(block_size + 1)].astype(np.int64))
            for i in range(0, n_windows, batch_size)]
