"""TrainState: everything about a run's progress that a checkpoint holds, besides weights and optimizers.

The one holder of it: the loop, the checkpointer, the signal handler and the summary read it here.

Its `state_dict()` is the one place the checkpoint schema is written; `load_state_dict()` the one
place it is read. The keys are flat and keep the names checkpoints have always used, so checkpoints
written before TrainState existed still resume.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tinyx.data import WindowSampler


def _zero(device: torch.device) -> torch.Tensor:
    return torch.zeros((), device=device)


@dataclass
class LossCounters:
    """Running sums on the device, read on the host only at log steps: the loop never waits for the GPU."""

    device: torch.device
    loss_sum: torch.Tensor = None  # finite step losses since the last log step
    loss_steps: torch.Tensor = None
    nonfinite_steps: torch.Tensor = None  # skipped steps, in the whole run
    nonfinite_streak: torch.Tensor = None  # skipped steps in a row, now
    longest_streak: torch.Tensor = None

    def __post_init__(self):
        for name in ("loss_sum", "loss_steps", "nonfinite_steps", "nonfinite_streak", "longest_streak"):
            if getattr(self, name) is None:
                setattr(self, name, _zero(self.device))

    def add_step(self, step_loss: torch.Tensor, finite: torch.Tensor) -> None:
        skip = (~finite).float()
        self.loss_sum += torch.where(finite, step_loss, 0.0)
        self.loss_steps += finite
        self.nonfinite_steps += skip
        self.nonfinite_streak.mul_(skip).add_(skip)  # +1 on a skipped step, back to 0 on a good one
        torch.maximum(self.longest_streak, self.nonfinite_streak, out=self.longest_streak)

    def mean_loss(self) -> torch.Tensor:
        return self.loss_sum / self.loss_steps

    def reset_interval(self) -> None:
        self.loss_sum.zero_()
        self.loss_steps.zero_()

    def state_dict(self) -> dict[str, Any]:
        return {"loss_sum": self.loss_sum.cpu(), "loss_steps": self.loss_steps.cpu(),
                "nonfinite": {"steps": self.nonfinite_steps.item(), "streak": self.nonfinite_streak.item(),
                              "longest": self.longest_streak.item()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_sum = state["loss_sum"].to(self.device).float()
        self.loss_steps = torch.as_tensor(state["loss_steps"], dtype=torch.float32).to(self.device)
        counters = state.get("nonfinite", {})
        for name, counter in (("steps", self.nonfinite_steps), ("streak", self.nonfinite_streak),
                              ("longest", self.longest_streak)):
            counter.fill_(float(counters.get(name, 0)))


@dataclass
class TrainState:
    """Where a run stands: its step (the last finished one), its best validation loss, its counters, clocks and
    random streams (the data sampler's generator among them), and the last checkpoint this process saved."""

    sampler: WindowSampler
    counters: LossCounters
    step: int = 0
    val_loss: float | None = None
    best_val_loss: float = math.inf
    best_step: int | None = None
    val_bpb: float | None = None  # bits per byte of the last evaluation
    best_val_bpb: float = math.inf  # the lowest of any evaluation (not necessarily at best_step)
    wall_offset: float = 0.0  # wall seconds of the run before this process took it over
    eval_seconds: float = 0.0  # of the wall time, spent in evaluations (with their samples)
    started: float = field(default_factory=time.perf_counter)
    # Not saved (a resumed process has written none yet): (step, path) of the newest checkpoint it wrote.
    last_saved: tuple[int, Path] | None = None

    def wall_seconds(self) -> float:
        return self.wall_offset + time.perf_counter() - self.started

    def record_eval(self, step: int, val_loss: float, val_bpb: float = math.nan) -> bool:
        """Note an evaluation's loss and bits per byte; True if its loss is the best so far."""
        self.val_loss, self.val_bpb = val_loss, val_bpb
        if val_bpb < self.best_val_bpb:
            self.best_val_bpb = val_bpb
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_step = val_loss, step
            return True
        return False

    def diverged(self, max_nonfinite_steps: int) -> bool:
        return self.counters.longest_streak.item() >= max_nonfinite_steps

    def state_dict(self) -> dict[str, Any]:
        device = self.counters.device
        return {
            "step": self.step, "val_loss": self.val_loss, "val_loss_best": self.best_val_loss,
            "val_loss_best_step": self.best_step, "val_bpb": self.val_bpb, "val_bpb_best": self.best_val_bpb,
            "wall_seconds": self.wall_seconds(),
            "eval_seconds": self.eval_seconds, **self.counters.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "batches": self.sampler.state_dict()["generator"],
                    "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.val_loss = state["step"], state.get("val_loss")
        self.best_val_loss, self.best_step = state["val_loss_best"], state.get("val_loss_best_step")
        # Checkpoints older than bits per byte have none: the next evaluation sets them.
        self.val_bpb, self.best_val_bpb = state.get("val_bpb"), state.get("val_bpb_best", math.inf)
        self.wall_offset, self.eval_seconds = state.get("wall_seconds", 0.0), state.get("eval_seconds", 0.0)
        self.started = time.perf_counter()
        self.counters.load_state_dict(state)
        torch.set_rng_state(state["rng"]["torch"])
        self.sampler.load_state_dict({"generator": state["rng"]["batches"]})
        if self.counters.device.type == "cuda" and state["rng"].get("cuda"):
            # A checkpoint saves every visible GPU's generator; resumed on fewer GPUs (a torchrun run on
            # one machine with less), the first ones are restored and the others have no device to go to.
            torch.cuda.set_rng_state_all(state["rng"]["cuda"][:torch.cuda.device_count()])
