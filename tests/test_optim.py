"""Parameter groups and the learning-rate schedule."""

import math

import pytest
import torch

from tinyx.config import ModelConfig, OptimConfig
from tinyx.model import GPT
from tinyx.optim import build_optimizers, lr_factor


def test_no_weight_decay_on_biases_and_norms():
    model = GPT(ModelConfig(vocab_size=40, n_layer=2, n_head=2, d_model=16, block_size=8, bias=True))
    (opt,) = build_optimizers(model, OptimConfig(weight_decay=0.1), torch.device("cpu"))
    by_decay = {g["weight_decay"]: g["params"] for g in opt.param_groups}
    assert all(p.dim() >= 2 for p in by_decay[0.1]) and all(p.dim() == 1 for p in by_decay[0.0])
    n_in_groups = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_in_groups == model.num_params()  # every parameter exactly once (the tied head counted once)


def test_cosine_schedule_warms_up_then_decays_to_min():
    cfg = OptimConfig(warmup_steps=10, min_lr_ratio=0.1)
    f = [lr_factor(s, cfg, 100) for s in range(100)]
    assert f[0] == pytest.approx(1 / 11) and f[9] == pytest.approx(10 / 11)
    assert f[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert lr_factor(100, cfg, 100) == pytest.approx(0.1)
    assert lr_factor(55, cfg, 100) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 0.5)))


def test_constant_schedule():
    cfg = OptimConfig(warmup_steps=0, schedule="constant")
    assert {lr_factor(s, cfg, 50) for s in range(50)} == {1.0}
