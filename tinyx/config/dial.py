"""The size dial: one integer, model.depth, sets the model's shape (nanochat's `--depth`).

n_layer = depth, d_model = depth * aspect_ratio, n_head = d_model / head_dim, and n_kv_head keeps the preset's
grouping (query heads per kv head). Pure: no torch, so train.py's validation can run it before importing torch;
the run's length under the dial is tinyx.training.budget's.
"""

from __future__ import annotations

from dataclasses import replace

from tinyx.common.errors import ConfigError
from tinyx.config.schema import ModelConfig


def apply_dial(model: ModelConfig) -> ModelConfig:
    """`model` with n_layer, d_model, n_head and n_kv_head from model.depth (unchanged when depth is None).

    Applying it twice gives what applying it once does, so a saved, dialed config reads back to the same shape.
    """
    if model.depth is None:
        return model
    depth, aspect, head_dim = model.depth, model.aspect_ratio, model.head_dim
    if depth < 1:
        raise ConfigError(f"model.depth={depth} must be a positive integer (the number of layers), or null to "
                          f"turn the size dial off.")
    if aspect < 1 or head_dim < 1:
        raise ConfigError(f"model.aspect_ratio={aspect} and model.head_dim={head_dim} must be positive integers "
                          f"(e.g. model.aspect_ratio=32 model.head_dim=16).")
    d_model = depth * aspect
    if d_model % head_dim:
        fit = -(-aspect // head_dim) * head_dim
        raise ConfigError(f"model.depth={depth} with model.aspect_ratio={aspect} gives d_model {d_model}, which "
                          f"model.head_dim={head_dim} does not divide: use model.aspect_ratio={fit} (a multiple of "
                          f"head_dim) or a model.head_dim that divides {d_model}.")
    if model.pos == "rope" and head_dim % 2:
        raise ConfigError(f"model.pos=rope needs an even model.head_dim, but it is {head_dim}: use "
                          f"model.head_dim={head_dim + 1}.")
    n_head = d_model // head_dim
    n_kv_head = None
    if model.n_kv_head is not None:
        group = max(1, model.n_head // max(1, model.n_kv_head))  # the preset's query heads per kv head
        if n_head % group:
            raise ConfigError(f"model.depth={depth} gives n_head {n_head}, which the preset's {group} query heads "
                              f"per kv head (model.n_head={model.n_head}, model.n_kv_head={model.n_kv_head}) do "
                              f"not divide: use model.depth={_next_depth(model, group)} or model.n_kv_head=null.")
        n_kv_head = n_head // group
    return replace(model, n_layer=depth, d_model=d_model, n_head=n_head, n_kv_head=n_kv_head)


def _next_depth(model: ModelConfig, group: int) -> int:
    """The smallest depth above model.depth whose head count the kv grouping divides."""
    depth = model.depth + 1
    while (depth * model.aspect_ratio) % (model.head_dim * group):
        depth += 1
    return depth
