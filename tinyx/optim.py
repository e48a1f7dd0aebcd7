"""Optimizers with their parameter groups, and the learning-rate schedule.

The trainer drives a list of optimizers, each param group carrying its own
`base_lr`; the schedule is one multiplier applied to all of them.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from tinyx.config import OptimConfig


def _fused_ok(cfg: OptimConfig, device: torch.device) -> bool:
    if cfg.fused is not None:
        return cfg.fused
    return device.type in ("cuda", "cpu")


def build_optimizers(model: nn.Module, cfg: OptimConfig, device: torch.device) -> list[torch.optim.Optimizer]:
    # Matrices (linear weights, embeddings) decay; biases and norm gains do not.
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay, "base_lr": cfg.lr},
              {"params": no_decay, "weight_decay": 0.0, "base_lr": cfg.lr}]
    adamw = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                              fused=_fused_ok(cfg, device))
    return [adamw]


def lr_factor(step: int, cfg: OptimConfig, max_steps: int) -> float:
    """Multiplier of base_lr at `step` (0-based): linear warmup, then cosine or constant."""
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    if cfg.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, max_steps - cfg.warmup_steps))
    return cfg.min_lr_ratio + 0.5 * (1.0 - cfg.min_lr_ratio) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizers: list[torch.optim.Optimizer], factor: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor
