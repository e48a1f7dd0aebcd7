"""The maximal-update parametrization (muP, Tensor Programs V, the Adam table) as a width multiplier, and the
per-layer activation RMS a coordinate check measures.

With m = d_model / base_width: hidden matrices (the blocks' linear weights) start with init_std / sqrt(m) and
take AdamW's lr / m; embeddings keep their init and lr; the logits are multiplied by 1/m (which works with a tied
head, as Cerebras-GPT and nanoGPT-mup do); the head dimension is fixed under the size dial, so attention keeps
1/sqrt(head_dim). Muon's hidden matrices already get spectral scaling (the spectral condition for feature
learning), so under mup its lr is not divided by m. Written out here rather than with the `mup` library, which
needs MuReadout layers, set_base_shapes from base and delta models and its own MuAdam, and has no Muon.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from tinyx.config import ModelConfig


def width_mult(cfg: ModelConfig) -> float:
    """m: 1.0 under sp (and under mup at base_width), d_model / base_width under mup."""
    return cfg.d_model / cfg.base_width if cfg.parametrization == "mup" else 1.0


@torch.no_grad()
def activation_rms(model: nn.Module, idx: torch.Tensor) -> dict[str, float]:
    """{"block/<i>": RMS of block i's output, "logits": RMS of the logits} for token ids `idx` (B, T), in eval mode."""
    rms: dict[str, float] = {}

    def record(name):
        return lambda module, inputs, output: rms.__setitem__(name, output.float().pow(2).mean().sqrt().item())

    hooks = [block.register_forward_hook(record(f"block/{i}")) for i, block in enumerate(model.blocks)]
    was_training = model.training
    model.eval()
    try:
        logits, _ = model(idx, idx)  # targets: the logits of every position
        rms["logits"] = logits.float().pow(2).mean().sqrt().item()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return rms
