"""One optimizer step: accumulate gradients over micro-batches, clip, step unless non-finite, count.

`train_step` needs no run directory, logger or config file: a test builds a model, its optimizers
and a sampler, and calls it.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from tinyx.common import faults
from tinyx.data import WindowSampler, to_device
from tinyx.nn.optimizers import optimizer_step
from tinyx.runtime.hardware import Hardware
from tinyx.training.state import LossCounters


@dataclass
class Trainable:
    """The model and what updates it, as a training step needs them."""

    model: torch.nn.Module  # the plain model: parameters, evaluation, checkpoints
    optimizers: list[torch.optim.Optimizer]
    scaler: torch.amp.GradScaler
    hw: Hardware
    ddp_model: torch.nn.Module | None = None  # under torchrun: DDP around `model`
    step_model: torch.nn.Module | None = None  # what the forward pass runs (compiled, DDP, or `model`)
    params: list[torch.nn.Parameter] = field(init=False)

    def __post_init__(self):
        self.params = list(self.model.parameters())
        if self.step_model is None:
            self.step_model = self.ddp_model or self.model


def train_step(trainable: Trainable, sampler: WindowSampler, counters: LossCounters, step: int, grad_accum: int,
               grad_clip: float, injected: faults.Faults | None = None) -> torch.Tensor:
    """Train one step (1-based `step`) and return the gradient norm (before clipping), on the device.

    A step whose loss or gradients are not finite changes no weight and counts as skipped in
    `counters`; nothing here waits for the device.
    """
    injected = injected if injected is not None else faults.Faults()
    t, hw = trainable, trainable.hw
    step_loss = torch.zeros((), device=hw.device)
    for micro_step in range(grad_accum):
        x, y = to_device(sampler.next_batch(), hw.device)
        # DDP averages gradients across ranks on the last micro-step only.
        last = micro_step == grad_accum - 1
        with t.ddp_model.no_sync() if t.ddp_model is not None and not last else nullcontext():
            with hw.autocast():
                _, loss = t.step_model(x, y)
            if step in injected.nan_loss_steps:
                loss = loss * math.nan
            # Scaled so the accumulated gradient equals one batch of batch_size * grad_accum.
            t.scaler.scale(loss / grad_accum).backward()
        step_loss += loss.detach().float() / grad_accum
    if step in injected.inf_grad_steps:
        t.params[0].grad.view(-1)[0] = math.inf
    for opt in t.optimizers:
        t.scaler.unscale_(opt)
    grad_norm = (torch.nn.utils.clip_grad_norm_(t.params, grad_clip) if grad_clip > 0 else
                 torch.nn.utils.get_total_norm([p.grad for p in t.params if p.grad is not None]))
    faults.pause_point("step", step)
    # One finiteness test for both: a sum is finite only if its terms are (an overflow counts too).
    # Under float16 the scaler skips overflowing gradients itself; only a non-finite loss counts.
    finite = torch.isfinite(step_loss if t.scaler.is_enabled() else step_loss + grad_norm)
    step_unless_nonfinite(t.optimizers, t.scaler, (~finite).float())
    for opt in t.optimizers:
        opt.zero_grad(set_to_none=True)
    counters.add_step(step_loss, finite)
    return grad_norm


def step_unless_nonfinite(optimizers: list[torch.optim.Optimizer], scaler: torch.amp.GradScaler,
                          skip: torch.Tensor) -> None:
    """Step every optimizer, except when `skip` (a 0-d float tensor on the device) is 1: then nothing changes.

    Optimizers that take the AMP protocol's `found_inf` (fused AdamW, tinyx's Muon) skip on the
    device, so the loop never waits for the GPU; the others read `skip` on the host.
    """
    if scaler.is_enabled():  # float16: the scaler skips steps whose gradients overflow, as it must anyway
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        return
    for opt in optimizers:
        if getattr(opt, "_step_supports_amp_scaling", False):
            opt.grad_scale, opt.found_inf = None, skip
            optimizer_step(opt)
            del opt.grad_scale, opt.found_inf
        elif not skip.item():
            optimizer_step(opt)
