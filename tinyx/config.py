"""Typed schemas for every config group, and the cross-field checks.

The schemas are registered with Hydra's ConfigStore (as `train_schema`), so a
misspelt key or a wrong type fails while Hydra composes the config. The library
itself never imports Hydra: it takes a `RunConfig` (see `to_run_config`).
This module must stay cheap to import (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tinyx.errors import ConfigError

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_BYTES = 1_115_394


@dataclass
class ModelConfig:
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = False
    # Filled from the tokenizer when None; set it only to pad the vocabulary.
    vocab_size: Optional[int] = None


@dataclass
class OptimConfig:
    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: List[float] = field(default_factory=lambda: [0.9, 0.99])
    eps: float = 1e-8
    grad_clip: float = 1.0  # 0 turns clipping off
    warmup_steps: int = 100
    schedule: str = "cosine"  # cosine | constant
    min_lr_ratio: float = 0.1  # cosine ends at lr * min_lr_ratio
    fused: Optional[bool] = None  # None: fused kernels where the device has them


@dataclass
class DataConfig:
    name: str = "shakespeare_char"
    tokenizer: str = "char"  # char | tiktoken
    encoding: str = "gpt2"  # tiktoken encoding name (tokenizer=tiktoken)
    path: Optional[str] = None  # a local UTF-8 text file; skips cache and download
    url: str = TINY_SHAKESPEARE_URL
    sha256: Optional[str] = TINY_SHAKESPEARE_SHA256
    size_bytes: Optional[int] = TINY_SHAKESPEARE_BYTES
    filename: str = "tinyshakespeare.txt"
    cache_dir: Optional[str] = None  # None: $TINYX_CACHE_DIR, else ~/.cache/tinyx
    # Folders searched for `filename` before downloading (offline mirrors).
    search_dirs: List[str] = field(default_factory=lambda: ["../shared/data"])
    val_fraction: float = 0.1


@dataclass
class HardwareConfig:
    device: str = "auto"  # auto | cpu | cuda | mps (cuda:1 etc. also accepted)
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (autocast dtype)
    compile: bool = False
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    # Peak FLOP/s of the device for the MFU estimate; None: a built-in table.
    peak_flops: Optional[float] = None


@dataclass
class WandbConfig:
    enabled: bool = False
    project: Optional[str] = None  # None: $WANDB_PROJECT, else "tinyx"
    entity: Optional[str] = None  # None: $WANDB_ENTITY, else your default entity
    # None: the experiment or multirun sweep the run belongs to (set by train.py).
    group: Optional[str] = None
    # None: the command-line overrides that differ (set by train.py), e.g. "optim.lr=0.003,seed=1".
    name: Optional[str] = None
    job_type: str = "train"
    tags: List[str] = field(default_factory=list)
    notes: Optional[str] = None


@dataclass
class TensorboardConfig:
    enabled: bool = False


@dataclass
class LoggerConfig:
    # Console and metrics.jsonl are always on; wandb and TensorBoard are switched on by
    # logger=wandb, logger=tensorboard or both (logger=[wandb,tensorboard]).
    progress_bar: bool = True
    wandb: WandbConfig = field(default_factory=WandbConfig)
    tensorboard: TensorboardConfig = field(default_factory=TensorboardConfig)


@dataclass
class TrainConfig:
    max_steps: int = 2000
    batch_size: int = 12
    grad_accum: int = 1
    eval_every: int = 250
    eval_batches: int = 20
    # Independent of batch_size, so runs with different batch sizes score the same windows.
    eval_batch_size: int = 12
    log_every: int = 10
    ckpt_every: int = 500
    keep_checkpoints: int = 3
    resume: Optional[str] = None  # a run directory or a checkpoint file
    sample_tokens: int = 200  # generated at each evaluation; 0 turns samples off
    sample_prompt: str = "\n"


@dataclass
class RunConfig:
    seed: int = 1337
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def register_configs() -> None:
    """Make `train_schema` available to Hydra's defaults lists."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=RunConfig)


def to_run_config(cfg: DictConfig | dict) -> RunConfig:
    """Typed, validated config from a composed DictConfig (or a plain dict)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
        cfg.pop("hydra", None)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), cfg)
        run_cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        first = str(e).splitlines()[0]
        raise ConfigError(f"config key '{key}': {first}. Check its spelling and type in conf/ or on the command line.") from None
    validate(run_cfg)
    return run_cfg


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config as flat `a.b.c` keys (lists stay values), the names overrides use."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"{key}={value!r} is not one of {', '.join(choices)}: set {key} to one of them.")


def validate(cfg: RunConfig) -> None:
    """Cross-field checks that a schema alone cannot express."""
    m, o, t, d, h = cfg.model, cfg.optim, cfg.train, cfg.data, cfg.hardware
    for key, value in [("model.n_layer", m.n_layer), ("model.n_head", m.n_head), ("model.d_model", m.d_model),
                       ("model.block_size", m.block_size), ("train.max_steps", t.max_steps),
                       ("train.batch_size", t.batch_size), ("train.grad_accum", t.grad_accum),
                       ("train.eval_every", t.eval_every), ("train.eval_batches", t.eval_batches),
                       ("train.eval_batch_size", t.eval_batch_size),
                       ("train.log_every", t.log_every), ("train.ckpt_every", t.ckpt_every),
                       ("train.keep_checkpoints", t.keep_checkpoints)]:
        _check(value >= 1, f"{key}={value} must be a positive integer.")
    _check(m.d_model % m.n_head == 0,
           f"model.d_model={m.d_model} is not divisible by model.n_head={m.n_head}: "
           f"pick d_model as a multiple of n_head (e.g. model.d_model={m.n_head * max(1, round(m.d_model / m.n_head))}).")
    _check(0.0 <= m.dropout < 1.0, f"model.dropout={m.dropout} must be in [0, 1).")
    _check(m.vocab_size is None or m.vocab_size >= 1, f"model.vocab_size={m.vocab_size} must be positive or null.")
    _choice("optim.name", o.name, ("adamw",))
    _check(o.lr > 0, f"optim.lr={o.lr} must be > 0 (e.g. optim.lr=1e-3).")
    _check(o.weight_decay >= 0, f"optim.weight_decay={o.weight_decay} must be >= 0.")
    _check(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
           f"optim.betas={list(o.betas)} must be two numbers in [0, 1), e.g. optim.betas=[0.9,0.99].")
    _check(o.grad_clip >= 0, f"optim.grad_clip={o.grad_clip} must be >= 0 (0 turns clipping off).")
    _check(o.warmup_steps >= 0, f"optim.warmup_steps={o.warmup_steps} must be >= 0.")
    _choice("optim.schedule", o.schedule, ("cosine", "constant"))
    _check(0 <= o.min_lr_ratio <= 1, f"optim.min_lr_ratio={o.min_lr_ratio} must be in [0, 1].")
    _choice("data.tokenizer", d.tokenizer, ("char", "tiktoken"))
    _check(0 < d.val_fraction < 1, f"data.val_fraction={d.val_fraction} must be in (0, 1).")
    _check(h.device in ("auto", "cpu", "mps", "cuda") or h.device.startswith("cuda:"),
           f"hardware.device={h.device!r} is not one of auto, cpu, cuda, cuda:N, mps.")
    _choice("hardware.dtype", h.dtype, ("auto", "float32", "bfloat16", "float16"))
    _check(h.threads >= 0, f"hardware.threads={h.threads} must be >= 0 (0 keeps torch's default).")
    _check(t.sample_tokens >= 0, f"train.sample_tokens={t.sample_tokens} must be >= 0.")
