"""Typed schemas for every config group, and the cross-field checks.

The schemas are registered with Hydra's ConfigStore (as `train_schema`), so a
misspelt key or a wrong type fails while Hydra composes the config. The library
itself never imports Hydra: it takes a `RunConfig` (see `to_run_config`).
This module must stay cheap to import (no torch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from dataclasses import field as dataclass_field  # DataConfig has a key named `field`
from pathlib import Path
from typing import Any, Dict, List, Optional

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
    norm: str = "layernorm"  # layernorm | rmsnorm
    norm_eps: float = 1e-5
    pos: str = "learned"  # learned | rope | none
    rope_theta: float = 10000.0
    mlp: str = "gelu"  # gelu | swiglu | relu2
    d_ff: Optional[int] = None  # None: 4*d_model (swiglu: 8/3*d_model rounded up to a multiple of 64)
    n_kv_head: Optional[int] = None  # None: n_head (multi-head); 1: multi-query; else grouped-query
    qk_norm: bool = False  # RMS-normalise queries and keys per head before attention
    attn_sink: str = "none"  # none | logit | token
    n_sink_tokens: int = 1  # key/value slots for attn_sink=token
    tie_embeddings: bool = True
    init_std: float = 0.02
    zero_init_proj: bool = False  # residual output projections start at zero
    # hf:<folder>: start from a Hugging Face folder's weights and tokenizer (tinyx.export's, or a GPT-2/Llama/Qwen3
    # save_pretrained of this shape; docs/export.md). A resumed run continues from its checkpoint instead.
    init_from: Optional[str] = None


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
    # Muon (name=muon): `lr` above is Muon's, for the hidden matrices; AdamW takes everything else.
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5  # Newton-Schulz iterations
    adjust_lr: str = "original"  # original: sqrt(max(1, rows/cols)) | match_rms_adamw: 0.2*sqrt(max(rows, cols))
    ns_dtype: str = "auto"  # auto (float32 on CPU/MPS, bfloat16 on CUDA) | float32 | bfloat16
    muon_impl: str = "tinyx"  # tinyx (batched, ns_dtype) | torch (torch.optim.Muon, one matrix at a time, bfloat16)
    # Orthogonalise the fused attention weight's Q, K and V blocks separately (as modded-nanogpt), not as one
    # matrix: scripts/muon_split.py measures it (docs/optimizers.md).
    muon_split_qkv: bool = False
    adamw_lr: float = 3e-3
    adamw_betas: List[float] = field(default_factory=lambda: [0.9, 0.95])
    adamw_weight_decay: float = 0.0


# OptimConfig stays one flat schema, so `optim=muon` and `optim=adamw` compose and override alike and a
# checkpoint's config reads back into it whole; trackers leave these out of an AdamW run's config panel,
# where they would show settings that did nothing.
MUON_ONLY_KEYS = ("momentum", "nesterov", "ns_steps", "adjust_lr", "ns_dtype", "muon_impl", "muon_split_qkv",
                  "adamw_lr", "adamw_betas", "adamw_weight_decay")


@dataclass
class DataConfig:
    # The preset's label; for source=hf, the hub dataset's name (data.name=roneneldan/TinyStories).
    name: str = "shakespeare_char"
    # Where documents come from (docs/data.md): text (a file, folder or glob) | jsonl | parquet | hf (a hub
    # dataset, or a save_to_disk folder in data.path) | shards (nanoGPT train.bin/val.bin, llm.c shards).
    source: str = "text"
    # char | tiktoken | hf; None (data=shards' default): from the shards, char with nanoGPT's meta.pkl, else tiktoken.
    tokenizer: Optional[str] = "char"
    encoding: str = "gpt2"  # tiktoken encoding name (tokenizer=tiktoken)
    tokenizer_path: Optional[str] = None  # tokenizer=hf: a folder with tokenizer.json (or the file), local only
    # source=text: a file, a folder (its .txt/.md/.text files) or a glob. Unset: the named corpus below.
    path: Optional[str] = None
    # source=text, how files become documents: none (the whole text is one stream, split 90/10 by
    # characters as nanoGPT) | file (a document per file) | paragraph (a document per blank-line paragraph).
    split_documents: str = "none"
    field: str = "text"  # jsonl / parquet / hf: the column holding each document's text
    config: Optional[str] = None  # hf: the dataset's configuration (subset)
    split: str = "train"  # hf: the split read
    streaming: bool = False  # hf: stream from the local hub cache instead of preparing Arrow files
    max_documents: Optional[int] = None  # stop reading the source after this many documents
    max_tokens: Optional[int] = None  # stop after the document that brings the cache to this many tokens
    val_path: Optional[str] = None  # shards: the validation shard(s); unset: the train path with train -> val
    url: str = TINY_SHAKESPEARE_URL
    sha256: Optional[str] = TINY_SHAKESPEARE_SHA256
    size_bytes: Optional[int] = TINY_SHAKESPEARE_BYTES
    filename: str = "tinyshakespeare.txt"
    cache_dir: Optional[str] = None  # None: $TINYX_CACHE_DIR, else ~/.cache/tinyx
    # Folders searched for `filename` before downloading (offline mirrors): a machine setting, for
    # conf/local/default.yaml (see conf/local/example.yaml) or the command line.
    search_dirs: List[str] = dataclass_field(default_factory=list)
    val_fraction: float = 0.1
    workers: int = 0  # tokenizer processes; 0: one per CPU core for sources over 16 MB, none below; -1: none
    # Where training windows start: random (any token) | document (a document's first token, for sources
    # that have documents; tinyx/data/windows.py).
    window_start: str = "random"


@dataclass
class HardwareConfig:
    device: str = "auto"  # auto | cpu | cuda | mps (cuda:1 etc. also accepted)
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (autocast dtype)
    # torch.compile the model: auto = on for CUDA (where it wins), off on CPU and MPS (measured ~1.08x faster
    # steps on a 2-core CPU for ~30 s of compiling: a loss for runs of minutes); true | false force it.
    compile: str = "auto"
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
    # Without a progress bar (logs, pipes), one line early on says how long a run longer than this will take.
    long_run_seconds: float = 120.0
    wandb: WandbConfig = field(default_factory=WandbConfig)
    tensorboard: TensorboardConfig = field(default_factory=TensorboardConfig)


@dataclass
class TrainConfig:
    max_steps: int = 2000
    batch_size: int = 12
    grad_accum: int = 1  # an update is batch_size x grad_accum sequences
    eval_every: int = 250
    # eval_batches x eval_batch_size fixed validation windows, the same for every run whatever its seed;
    # independent of batch_size, so runs with different batch sizes score the same windows.
    eval_batches: int = 20
    eval_batch_size: int = 12
    log_every: int = 10
    ckpt_every: int = 500
    keep_checkpoints: int = 3  # the newest ones, plus the best by validation loss
    # auto: continue from the newest good checkpoint in this run's own directory (start fresh if none);
    # last: the newest run under the outputs root (train.py continues it in place, tinyx.rundir.last.resolve_last);
    # else a run directory or a checkpoint file to continue from.
    resume: Optional[str] = None
    max_nonfinite_steps: int = 5  # steps in a row with a NaN/inf loss or gradient (each skipped) before "diverged"
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


@dataclass
class SweepConfig:
    """sweep.py's own keys (`sweep.*`); the trials' keys are RunConfig's."""

    study_name: Optional[str] = None  # None: the search space's name (search_space=lr -> "lr")
    # None: an SQLite file outputs/sweeps/<study>/study.db. Also postgresql://..., mysql://...
    # (several machines) or journal:<file> (Optuna's journal file, for a shared file system).
    storage: Optional[str] = None
    root: str = "outputs/sweeps"  # each study's folder: trials/, report/, study.db
    n_trials: int = 20  # the study's size: a rerun adds trials until the study holds this many
    timeout: Optional[float] = None  # seconds: no new trial starts after this long (this process)
    # Trial loops at once on this machine, each a new process with its share of the cores or its GPU
    # (tinyx.launcher, the engine of hydra/launcher=parallel), all on this study's storage.
    workers: int = 1
    sampler: str = "tpe"  # tpe | random
    seed: int = 0
    startup_trials: int = 4  # TPE samples at random until this many trials finished
    pruner: str = "median"  # median | hyperband | none
    pruner_startup_trials: int = 3  # median: never prune before this many trials finished
    pruner_warmup_steps: int = 0  # median: never prune at or before this training step
    direction: str = "minimize"  # minimize | maximize
    # A summary.json figure: val/loss, val/loss_best, val/bpb, val/bpb_best (bits per byte: across tokenizers),
    # train/loss, tokens_per_second.
    metric: str = "val/loss"
    report_only: bool = False  # print the report and write its files, train nothing
    write_experiment: bool = False  # write <experiment_dir>/best_<study>.yaml for the best trial
    experiment_dir: str = "conf/experiment"
    # SQLite/PostgreSQL/MySQL: a worker records a heartbeat for its trial every heartbeat_interval seconds;
    # a trial without one for heartbeat_grace seconds (its worker was killed) is marked failed by the next
    # worker that starts a trial, and retried once. Integers: Optuna's heartbeat counts whole seconds.
    heartbeat_interval: int = 60
    heartbeat_grace: int = 180


@dataclass
class ParamSpec:
    """One search-space entry (conf/search_space/*.yaml): a config key and the values to try."""

    type: str  # float | int | categorical
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Optional[List[Any]] = None
    key: Optional[str] = None  # the config key set; None: the entry's name (e.g. optim.lr)
    # Only suggested when earlier entries took these values, e.g. {optim: muon}.
    when: Optional[Dict[str, Any]] = None


def to_run_config(cfg: DictConfig | dict | RunConfig) -> RunConfig:
    """Typed, validated config from a composed DictConfig, a plain dict, or a hand-built RunConfig
    (whose values are checked against the schema's types as a composed one's are)."""
    if isinstance(cfg, RunConfig):
        cfg = config_to_dict(cfg)
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
    # The typed config holds only plain values (to_run_config resolved them): a deep copy suffices.
    return asdict(cfg)


# ---------------------------------------------------------------- key roles
# Every config key is a hyperparameter (what is trained, and how it is measured) unless this table
# says otherwise; the longest matching prefix decides. compare and the sweep group and match runs by
# hyperparameters only, run names show only them, trackers publish everything but logging and secrets.
HYPERPARAMETER, MACHINE, LOGGING, RUN, SECRET = "hyperparameter", "machine", "logging", "run", "secret"
KEY_ROLES: dict[str, str] = {
    "hardware": MACHINE, "hardware.dtype": HYPERPARAMETER,  # precision changes the result
    "data.path": MACHINE, "data.search_dirs": MACHINE, "data.cache_dir": MACHINE, "data.url": MACHINE,
    "data.tokenizer_path": MACHINE, "data.val_path": MACHINE, "data.workers": MACHINE, "data.streaming": MACHINE,
    "logger": LOGGING,
    "train.resume": RUN, "train.log_every": RUN, "train.ckpt_every": RUN, "train.keep_checkpoints": RUN,
    "train.sample_tokens": RUN, "train.sample_prompt": RUN, "train.max_nonfinite_steps": RUN,
    "hydra": RUN,
}
# Exact names of keys whose values are secrets wherever they come from (an API key typed on the command line).
SECRET_KEYS = frozenset({"logger.wandb.api_key"})


def key_role(key: str) -> str:
    """The role of a flat config key (`optim.lr` -> hyperparameter, `hardware.device` -> machine)."""
    if key in SECRET_KEYS:
        return SECRET
    parts = key.replace("/", ".").split(".")  # a group override (`hydra/launcher=...`) counts as its key
    for n in range(len(parts), 0, -1):
        role = KEY_ROLES.get(".".join(parts[:n]))
        if role:
            return role
    return HYPERPARAMETER


def is_hyperparameter(key: str) -> bool:
    return key_role(key) == HYPERPARAMETER


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


def _validate_data(d: DataConfig) -> None:
    _choice("data.source", d.source, ("text", "jsonl", "parquet", "hf", "shards"))
    if d.tokenizer is not None or d.source != "shards":  # only shards say which tokenizer made them
        _choice("data.tokenizer", d.tokenizer, ("char", "tiktoken", "hf"))
    _choice("data.split_documents", d.split_documents, ("none", "file", "paragraph"))
    _choice("data.window_start", d.window_start, ("random", "document"))
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


def validate(cfg: RunConfig) -> None:
    """Cross-field checks that a schema alone cannot express."""
    m, o, t, d, h = cfg.model, cfg.optim, cfg.train, cfg.data, cfg.hardware
    for key, value in [("model.n_layer", m.n_layer), ("model.n_head", m.n_head), ("model.d_model", m.d_model),
                       ("model.block_size", m.block_size), ("train.max_steps", t.max_steps),
                       ("train.batch_size", t.batch_size), ("train.grad_accum", t.grad_accum),
                       ("train.eval_every", t.eval_every), ("train.eval_batches", t.eval_batches),
                       ("train.eval_batch_size", t.eval_batch_size),
                       ("train.log_every", t.log_every), ("train.ckpt_every", t.ckpt_every),
                       ("train.keep_checkpoints", t.keep_checkpoints),
                       ("train.max_nonfinite_steps", t.max_nonfinite_steps)]:
        _check(value >= 1, f"{key}={value} must be a positive integer.")
    _check(m.d_model % m.n_head == 0,
           f"model.d_model={m.d_model} is not divisible by model.n_head={m.n_head}: "
           f"pick d_model as a multiple of n_head (e.g. model.d_model={m.n_head * max(1, round(m.d_model / m.n_head))}).")
    _check(0.0 <= m.dropout < 1.0, f"model.dropout={m.dropout} must be in [0, 1).")
    _choice("model.norm", m.norm, ("layernorm", "rmsnorm"))
    _choice("model.pos", m.pos, ("learned", "rope", "none"))
    _choice("model.mlp", m.mlp, ("gelu", "swiglu", "relu2"))
    _choice("model.attn_sink", m.attn_sink, ("none", "logit", "token"))
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
           f"written by tinyx.export or transformers' save_pretrained>.")
    _check(m.vocab_size is None or m.vocab_size >= 1, f"model.vocab_size={m.vocab_size} must be positive or null.")
    _choice("optim.name", o.name, ("adamw", "muon"))
    _check(o.lr > 0, f"optim.lr={o.lr} must be > 0 (e.g. optim.lr={'0.02' if o.name == 'muon' else '1e-3'}).")
    if o.name == "muon":
        _check(o.ns_steps >= 1, f"optim.ns_steps={o.ns_steps} must be >= 1 (5 is the usual).")
        _choice("optim.adjust_lr", o.adjust_lr, ("original", "match_rms_adamw"))
        _choice("optim.ns_dtype", o.ns_dtype, ("auto", "float32", "bfloat16"))
        _choice("optim.muon_impl", o.muon_impl, ("tinyx", "torch"))
        _check(not (o.muon_split_qkv and o.muon_impl == "torch"),
               "optim.muon_split_qkv=true needs optim.muon_impl=tinyx (torch.optim.Muon orthogonalises whole "
               "matrices).")
        _check(0 <= o.momentum < 1, f"optim.momentum={o.momentum} must be in [0, 1).")
        _check(o.adamw_lr > 0, f"optim.adamw_lr={o.adamw_lr} must be > 0 (e.g. optim.adamw_lr=3e-3).")
        _check(o.adamw_weight_decay >= 0, f"optim.adamw_weight_decay={o.adamw_weight_decay} must be >= 0.")
        _check(len(o.adamw_betas) == 2 and all(0 <= b < 1 for b in o.adamw_betas),
               f"optim.adamw_betas={list(o.adamw_betas)} must be two numbers in [0, 1).")
    _check(o.weight_decay >= 0, f"optim.weight_decay={o.weight_decay} must be >= 0.")
    _check(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
           f"optim.betas={list(o.betas)} must be two numbers in [0, 1), e.g. optim.betas=[0.9,0.99].")
    _check(o.grad_clip >= 0, f"optim.grad_clip={o.grad_clip} must be >= 0 (0 turns clipping off).")
    _check(o.warmup_steps >= 0, f"optim.warmup_steps={o.warmup_steps} must be >= 0.")
    _choice("optim.schedule", o.schedule, ("cosine", "constant"))
    _check(0 <= o.min_lr_ratio <= 1, f"optim.min_lr_ratio={o.min_lr_ratio} must be in [0, 1].")
    _validate_data(d)
    _check(h.device in ("auto", "cpu", "mps", "cuda") or h.device.startswith("cuda:"),
           f"hardware.device={h.device!r} is not one of auto, cpu, cuda, cuda:N, mps.")
    _choice("hardware.dtype", h.dtype, ("auto", "float32", "bfloat16", "float16"))
    _choice("hardware.compile", str(h.compile).lower(), ("auto", "true", "false"))
    _check(h.threads >= 0, f"hardware.threads={h.threads} must be >= 0 (0 keeps torch's default).")
    _check(t.sample_tokens >= 0, f"train.sample_tokens={t.sample_tokens} must be >= 0.")
    _check(t.resume in (None, "auto", "last") or Path(t.resume).expanduser().exists(),
           f"train.resume={t.resume} does not exist: pass train.resume=auto (this run directory's newest "
           f"checkpoint), train.resume=last (the newest run), a run directory or a checkpoint file.")
