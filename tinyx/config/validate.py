"""The checks a schema alone cannot express: ranges, choices (declared beside their fields) and cross-field rules.

Each message names the key, its value and a fix.
"""

from __future__ import annotations

from pathlib import Path

from tinyx.common.errors import ConfigError
from tinyx.config.choices import check_choices
from tinyx.config.dial import apply_dial
from tinyx.config.schema import (
    DEVICES,
    MUON_ONLY_KEYS,
    DataConfig,
    HardwareConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: RunConfig) -> None:
    """Cross-field checks that a schema alone cannot express; the model's as the size dial (model.depth) shapes it."""
    model = apply_dial(cfg.model)
    _check_sizes(model, cfg.train)
    _validate_model(model)
    _validate_optim(cfg.optim)
    _validate_data(cfg.data)
    _validate_hardware(cfg.hardware)
    _validate_train(cfg.train)


def _check_sizes(m: ModelConfig, t: TrainConfig) -> None:
    for key, value in [("model.n_layer", m.n_layer), ("model.n_head", m.n_head), ("model.d_model", m.d_model),
                       ("model.block_size", m.block_size), ("train.max_steps", t.max_steps),
                       ("train.batch_size", t.batch_size), ("train.grad_accum", t.grad_accum),
                       ("train.eval_every", t.eval_every), ("train.eval_batches", t.eval_batches),
                       ("train.eval_batch_size", t.eval_batch_size),
                       ("train.log_every", t.log_every), ("train.ckpt_every", t.ckpt_every),
                       ("train.keep_checkpoints", t.keep_checkpoints),
                       ("train.max_nonfinite_steps", t.max_nonfinite_steps)]:
        _check(value >= 1, f"{key}={value} must be a positive integer.")


def _validate_model(m: ModelConfig) -> None:
    _check(m.d_model % m.n_head == 0,
           f"model.d_model={m.d_model} is not divisible by model.n_head={m.n_head}: "
           f"pick d_model as a multiple of n_head (e.g. model.d_model={m.n_head * max(1, round(m.d_model / m.n_head))}).")
    _check(0.0 <= m.dropout < 1.0, f"model.dropout={m.dropout} must be in [0, 1).")
    check_choices(m, "model.")
    head_dim = m.d_model // m.n_head
    _check(m.pos != "rope" or head_dim % 2 == 0,
           f"model.pos=rope needs an even head dimension, but d_model/n_head = {m.d_model}/{m.n_head} = {head_dim}: "
           f"change model.d_model or model.n_head (e.g. model.d_model={m.n_head * (head_dim + 1)}).")
    if m.n_kv_head is not None:
        _check(m.n_kv_head >= 1 and m.n_head % m.n_kv_head == 0,
               f"model.n_kv_head={m.n_kv_head} does not divide model.n_head={m.n_head}: use a divisor of n_head "
               f"({', '.join(str(k) for k in range(1, m.n_head + 1) if m.n_head % k == 0)}) or null for n_head.")
    _check(m.attn_sink != "token" or m.n_sink_tokens >= 1,
           f"model.n_sink_tokens={m.n_sink_tokens} with model.attn_sink=token: use at least 1 sink token.")
    _check(m.d_ff is None or m.d_ff >= 1, f"model.d_ff={m.d_ff} must be positive or null (the default width).")
    _check(m.norm_eps > 0 and m.init_std > 0 and m.rope_theta > 0,
           "model.norm_eps, model.init_std and model.rope_theta must be > 0.")
    _check(m.init_from is None or (m.init_from.startswith("hf:") and Path(m.init_from[3:]).expanduser().is_dir()),
           f"model.init_from={m.init_from} is not hf:<an existing folder>: pass model.init_from=hf:<a folder "
           f"written by `tinyx export` or transformers' save_pretrained>.")
    _check(m.vocab_size is None or m.vocab_size >= 1, f"model.vocab_size={m.vocab_size} must be positive or null.")
    _check(m.depth is None or m.init_from is None,
           f"model.depth={m.depth} with model.init_from={m.init_from}: the folder's weights fix the shape; "
           f"use model.depth=null.")
    _check(m.base_width >= 1, f"model.base_width={m.base_width} must be a positive integer (e.g. 128).")


def _validate_optim(o: OptimConfig) -> None:
    # An AdamW run never reads Muon's keys: their values, whatever they are, do nothing.
    check_choices(o, "optim.", skip=() if o.name == "muon" else MUON_ONLY_KEYS)
    _check(o.lr > 0, f"optim.lr={o.lr} must be > 0 (e.g. optim.lr={'0.02' if o.name == 'muon' else '1e-3'}).")
    if o.name == "muon":
        _validate_muon(o)
    _check(o.weight_decay >= 0, f"optim.weight_decay={o.weight_decay} must be >= 0.")
    _check(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
           f"optim.betas={list(o.betas)} must be two numbers in [0, 1), e.g. optim.betas=[0.9,0.99].")
    _check(o.grad_clip >= 0, f"optim.grad_clip={o.grad_clip} must be >= 0 (0 turns clipping off).")
    _check(o.warmup_steps >= 0, f"optim.warmup_steps={o.warmup_steps} must be >= 0.")
    _check(0 <= o.min_lr_ratio <= 1, f"optim.min_lr_ratio={o.min_lr_ratio} must be in [0, 1].")


def _validate_muon(o: OptimConfig) -> None:
    _check(o.ns_steps >= 1, f"optim.ns_steps={o.ns_steps} must be >= 1 (5 is the usual).")
    _check(not (o.muon_split_qkv and o.muon_impl == "torch"),
           "optim.muon_split_qkv=true needs optim.muon_impl=tinyx (torch.optim.Muon orthogonalises whole "
           "matrices).")
    _check(0 <= o.momentum < 1, f"optim.momentum={o.momentum} must be in [0, 1).")
    _check(o.adamw_lr > 0, f"optim.adamw_lr={o.adamw_lr} must be > 0 (e.g. optim.adamw_lr=3e-3).")
    _check(o.adamw_weight_decay >= 0, f"optim.adamw_weight_decay={o.adamw_weight_decay} must be >= 0.")
    _check(len(o.adamw_betas) == 2 and all(0 <= b < 1 for b in o.adamw_betas),
           f"optim.adamw_betas={list(o.adamw_betas)} must be two numbers in [0, 1).")


def _validate_data(d: DataConfig) -> None:
    # Only shards say which tokenizer made them: elsewhere a tokenizer must be named.
    check_choices(d, "data.", skip=("tokenizer",) if d.tokenizer is None and d.source == "shards" else ())
    _check(0 < d.val_fraction < 1, f"data.val_fraction={d.val_fraction} must be in (0, 1).")
    _check(d.tokenizer != "hf" or bool(d.tokenizer_path),
           "data.tokenizer=hf needs data.tokenizer_path=<folder with tokenizer.json>: set it.")
    _check(d.source in ("text", "hf") or bool(d.path),
           f"data.source={d.source} needs data.path=<file, folder or glob>: set it.")
    _check(d.source != "hf" or bool(d.path) or bool(d.name),
           "data=hf needs data.name=<hub dataset> or data.path=<folder saved with save_to_disk>: set one.")
    for key, value in (("data.max_documents", d.max_documents), ("data.max_tokens", d.max_tokens)):
        _check(value is None or value >= 1, f"{key}={value} must be a positive integer or null (no cap).")
    _check(d.workers >= -1, f"data.workers={d.workers} must be >= -1 (0: one per CPU core for large sources, "
                            f"-1: none).")


def _validate_hardware(h: HardwareConfig) -> None:
    _check(h.device in DEVICES or h.device.startswith("cuda:"),
           f"hardware.device={h.device!r} is not one of "
           f"{', '.join(c + ', cuda:N' if c == 'cuda' else c for c in DEVICES)}.")
    check_choices(h, "hardware.")
    _check(h.threads >= 0, f"hardware.threads={h.threads} must be >= 0 (0 keeps torch's default).")


def _validate_train(t: TrainConfig) -> None:
    _check(t.sample_tokens >= 0, f"train.sample_tokens={t.sample_tokens} must be >= 0.")
    _check(t.resume in (None, "auto", "last") or Path(t.resume).expanduser().exists(),
           f"train.resume={t.resume} does not exist: pass train.resume=auto (this run directory's newest "
           f"checkpoint), train.resume=last (the newest run), a run directory or a checkpoint file.")
    for key, value in (("train.tokens_per_param", t.tokens_per_param), ("train.flops_budget", t.flops_budget)):
        _check(value is None or value > 0,
               f"{key}={value} must be > 0, or null (e.g. train.tokens_per_param=20, Chinchilla's ratio).")
