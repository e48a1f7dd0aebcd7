"""How long a run of the size dial trains (model.depth with train.tokens_per_param or train.flops_budget), and a
size's figures for planning without training (a scaling ladder prints one line per size).

The model is built on the meta device: its parameter count and FLOPs per token come without allocating it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from tinyx.config import RunConfig, TrainConfig
from tinyx.config.dial import apply_dial
from tinyx.nn.gpt import GPT


@dataclass
class SizeFigures:
    depth: int | None  # model.depth (None: the dial is off)
    n_layer: int
    d_model: int
    n_head: int
    params: int  # every parameter (a tied head counted once)
    flops_per_token: float  # training FLOPs per token: 6 * matmul params + attention
    tokens: int  # the tokens the run trains on: steps * tokens per step
    steps: int  # train.max_steps as the run resolves it
    flops: float  # flops_per_token * tokens


def tokens_per_step(cfg: RunConfig, world_size: int = 1) -> int:
    tc = cfg.train
    return tc.batch_size * tc.grad_accum * cfg.model.block_size * world_size


def budget_steps(train: TrainConfig, matmul_params: int, flops_per_token: float, step_tokens: int) -> int:
    """train.max_steps under the dial: ceil(tokens / step_tokens), tokens = flops_budget / flops_per_token when
    flops_budget is set, else tokens_per_param * matmul_params; max_steps as given when both are null."""
    if train.flops_budget is not None:
        tokens = train.flops_budget / flops_per_token
    elif train.tokens_per_param is not None:
        tokens = train.tokens_per_param * matmul_params
    else:
        return train.max_steps
    return max(1, math.ceil(tokens / step_tokens))


def size_figures(cfg: RunConfig, vocab_size: int, world_size: int = 1) -> SizeFigures:
    """The shape, parameters, FLOPs per token, steps and tokens of `cfg`'s run (the dial and budget applied) with a
    tokenizer of `vocab_size` on `world_size` processes."""
    model_cfg = replace(apply_dial(cfg.model), vocab_size=cfg.model.vocab_size or vocab_size)
    with torch.device("meta"):
        model = GPT(model_cfg)
    step_tokens = tokens_per_step(cfg, world_size)
    flops_per_token = model.flops_per_token()
    steps = (budget_steps(cfg.train, model.matmul_params(), flops_per_token, step_tokens)
             if cfg.model.depth is not None else cfg.train.max_steps)
    return SizeFigures(cfg.model.depth, model_cfg.n_layer, model_cfg.d_model, model_cfg.n_head, model.num_params(),
                       flops_per_token, steps * step_tokens, steps, flops_per_token * steps * step_tokens)


def with_size_budget(cfg: RunConfig, world_size: int = 1) -> RunConfig:
    """`cfg` (its vocab_size set) with the dialed shape and the budgeted train.max_steps, as the run's config records
    them; unchanged without model.depth."""
    if cfg.model.depth is None:
        return cfg
    figures = size_figures(cfg, cfg.model.vocab_size, world_size)
    return replace(cfg, model=apply_dial(cfg.model), train=replace(cfg.train, max_steps=figures.steps))
