"""The layers a block is built from besides attention: the norms (torch's LayerNorm; torch's RMSNorm with a
faster float32 backward on CPU), the rotary position tables and their rotate-half application (learned and no
positions live in the GPT itself), and the MLP with its activations and default hidden width.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinyx.config import ModelConfig


class _RMSNormFunction(torch.autograd.Function):
    """torch's fused RMSNorm forward with a hand-written backward.

    On CPU torch has a fused forward kernel but differentiates RMSNorm through its
    decomposition (~15 small ops); this backward takes 7 and measured ~1.6x faster per norm.
    """

    @staticmethod
    def forward(ctx, x, weight, eps):
        out, rstd = torch.ops.aten._fused_rms_norm(x, [x.shape[-1]], weight, eps)
        ctx.save_for_backward(x, weight, rstd)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, rstd = ctx.saved_tensors
        x_hat = x * rstd
        grad_scaled = grad_out * weight
        grad_x = rstd * torch.addcmul(grad_scaled, x_hat, (grad_scaled * x_hat).mean(-1, keepdim=True), value=-1)
        grad_weight = (grad_out * x_hat).reshape(-1, x.shape[-1]).sum(0)
        return grad_x, grad_weight, None


class RMSNorm(nn.RMSNorm):
    """torch.nn.RMSNorm (same parameters and results) with a faster backward for float32 on CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type == "cpu" and x.dtype == torch.float32 and self.weight is not None
                and torch.is_grad_enabled() and not torch.compiler.is_compiling()):
            return _RMSNormFunction.apply(x, self.weight, self.eps if self.eps is not None else 1e-6)
        return super().forward(x)


def make_norm(cfg: ModelConfig, dim: int) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return RMSNorm(dim, eps=cfg.norm_eps)
    return nn.LayerNorm(dim, eps=cfg.norm_eps, bias=cfg.bias)


def rope_tables(head_dim: int, block_size: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin tables (T, head_dim) for `apply_rope`'s rotate-half form."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(block_size, dtype=torch.float32), inv_freq)  # (T, head_dim/2)
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([cos, cos], dim=-1), torch.cat([-sin, sin], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+D/2}) of each head by position-dependent angles. x: (B, H, T, D).

    Written as x*cos + swap_halves(x)*sin (sin's first half negated) so it costs four ops, not seven.
    """
    t = x.shape[-2]
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos[:t].to(x.dtype) + torch.cat([x2, x1], dim=-1) * sin[:t].to(x.dtype)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.kind = cfg.mlp
        d_ff = cfg.d_ff or default_d_ff(cfg)
        self.fc = nn.Linear(cfg.d_model, 2 * d_ff if self.kind == "swiglu" else d_ff, bias=cfg.bias)
        self.proj = nn.Linear(d_ff, cfg.d_model, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        if self.kind == "swiglu":
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        elif self.kind == "relu2":
            h = F.relu(h).square()
        else:
            h = F.gelu(h)
        return self.dropout(self.proj(h))


def default_d_ff(cfg: ModelConfig) -> int:
    """4*d_model; for SwiGLU 8/3*d_model rounded up to a multiple of 64, so parameter counts stay comparable."""
    if cfg.mlp == "swiglu":
        return 64 * math.ceil(8 * cfg.d_model / 3 / 64)
    return 4 * cfg.d_model

