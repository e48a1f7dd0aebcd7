"""The run's typed schemas, one dataclass per config group (conf/<group>/), and the built-in corpus.

Registered with Hydra's ConfigStore (as `train_schema`), so a misspelt key or a wrong type fails while
Hydra composes the config. A field with a fixed set of values declares them here, once (`one_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import field as dataclass_field  # DataConfig has a key named `field`
from typing import List, Optional

from tinyx.config.choices import one_of

# The default corpus (data=shakespeare_char): where it is downloaded from, and what it must be.
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
    norm: str = one_of("layernorm", ("layernorm", "rmsnorm"))
    norm_eps: float = 1e-5
    pos: str = one_of("learned", ("learned", "rope", "none"))
    rope_theta: float = 10000.0
    mlp: str = one_of("gelu", ("gelu", "swiglu", "relu2"))
    d_ff: Optional[int] = None  # None: 4*d_model (swiglu: 8/3*d_model rounded up to a multiple of 64)
    n_kv_head: Optional[int] = None  # None: n_head (multi-head); 1: multi-query; else grouped-query
    qk_norm: bool = False  # RMS-normalise queries and keys per head before attention
    attn_sink: str = one_of("none", ("none", "logit", "token"))
    n_sink_tokens: int = 1  # key/value slots for attn_sink=token
    tie_embeddings: bool = True
    init_std: float = 0.02
    zero_init_proj: bool = False  # residual output projections start at zero
    # hf:<folder>: start from a Hugging Face folder's weights and tokenizer (`tinyx export`'s, or a GPT-2/Llama/Qwen3
    # save_pretrained of this shape; docs/export.md). A resumed run continues from its checkpoint instead.
    init_from: Optional[str] = None
    # The size dial (tinyx.config.dial): set depth and the shape follows from it, n_layer = depth,
    # d_model = depth * aspect_ratio, n_head = d_model / head_dim (n_kv_head keeps the preset's query heads per
    # kv head), and with train.tokens_per_param or train.flops_budget the run's length too. None: the shape above.
    depth: Optional[int] = None
    aspect_ratio: int = 32  # d_model per layer under the dial (nanochat uses 64)
    head_dim: int = 16  # the head dimension under the dial, fixed across sizes
    # sp: standard parametrization. mup: maximal update (Tensor Programs V, Adam table): hidden matrices start
    # with std / sqrt(m) and take AdamW's lr / m, logits are multiplied by 1/m, m = d_model / base_width; so a
    # learning rate tuned at base_width carries over to wider models (tinyx.nn.mup).
    parametrization: str = one_of("sp", ("sp", "mup"))
    base_width: int = 128  # the d_model at which mup equals sp (model=tiny's width)


@dataclass
class OptimConfig:
    name: str = one_of("adamw", ("adamw", "muon"))
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: List[float] = field(default_factory=lambda: [0.9, 0.99])
    eps: float = 1e-8
    grad_clip: float = 1.0  # 0 turns clipping off
    warmup_steps: int = 100
    schedule: str = one_of("cosine", ("cosine", "constant"))
    min_lr_ratio: float = 0.1  # cosine ends at lr * min_lr_ratio
    fused: Optional[bool] = None  # None: fused kernels where the device has them
    # Muon (name=muon): `lr` above is Muon's, for the hidden matrices; AdamW takes everything else.
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5  # Newton-Schulz iterations
    # original: sqrt(max(1, rows/cols)); match_rms_adamw: 0.2*sqrt(max(rows, cols)).
    adjust_lr: str = one_of("original", ("original", "match_rms_adamw"))
    ns_dtype: str = one_of("auto", ("auto", "float32", "bfloat16"))  # auto: float32 on CPU/MPS, bfloat16 on CUDA
    # tinyx: batched, in ns_dtype; torch: torch.optim.Muon, one matrix at a time, in bfloat16.
    muon_impl: str = one_of("tinyx", ("tinyx", "torch"))
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
    # Where documents come from (docs/data.md): text is a file, folder or glob; hf a hub dataset, or a
    # save_to_disk folder in data.path; shards nanoGPT's train.bin/val.bin or llm.c's shards.
    source: str = one_of("text", ("text", "jsonl", "parquet", "hf", "shards"))
    # None (data=shards' default): from the shards, char with nanoGPT's meta.pkl, else tiktoken.
    tokenizer: Optional[str] = one_of("char", ("char", "tiktoken", "hf"))
    encoding: str = "gpt2"  # tiktoken encoding name (tokenizer=tiktoken)
    tokenizer_path: Optional[str] = None  # tokenizer=hf: a folder with tokenizer.json (or the file), local only
    # source=text: a file, a folder (its .txt/.md/.text files) or a glob. Unset: the named corpus below.
    path: Optional[str] = None
    # source=text, how files become documents: none: the whole text is one stream, split 90/10 by
    # characters as nanoGPT; file: a document per file; paragraph: a document per blank-line paragraph.
    split_documents: str = one_of("none", ("none", "file", "paragraph"))
    field: str = "text"  # jsonl / parquet / hf: the column holding each document's text
    config: Optional[str] = None  # hf: the dataset's configuration (subset)
    split: str = "train"  # hf: the split read
    streaming: bool = False  # hf: stream from the local hub cache instead of preparing Arrow files
    max_documents: Optional[int] = None  # stop reading the source after this many documents
    max_tokens: Optional[int] = None  # stop after the document that brings the cache to this many tokens
    val_path: Optional[str] = None  # shards: the validation shard(s); unset: the train path with train -> val
    url: Optional[str] = TINY_SHAKESPEARE_URL  # None: a corpus made on this machine (build_command says how)
    sha256: Optional[str] = TINY_SHAKESPEARE_SHA256
    size_bytes: Optional[int] = TINY_SHAKESPEARE_BYTES
    filename: str = "tinyshakespeare.txt"
    build_command: Optional[str] = None  # url unset: the command that makes `filename`, named when it is missing
    cache_dir: Optional[str] = None  # None: $TINYX_CACHE_DIR, else ~/.cache/tinyx
    # Folders searched for `filename` before downloading (offline mirrors): a machine setting, for
    # conf/local/default.yaml (see conf/local/example.yaml) or the command line.
    search_dirs: List[str] = dataclass_field(default_factory=list)
    val_fraction: float = 0.1
    workers: int = 0  # tokenizer processes; 0: one per CPU core for sources over 16 MB, none below; -1: none
    # Where training windows start: random: any token; document: a document's first token, for sources
    # that have documents (tinyx/data/windows.py).
    window_start: str = one_of("random", ("random", "document"))


# hardware.device: these, or cuda:N for one GPU of several.
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class HardwareConfig:
    device: str = "auto"  # one of DEVICES, or cuda:N (validate checks it: not a plain choice)
    dtype: str = one_of("auto", ("auto", "float32", "bfloat16", "float16"))  # the autocast dtype
    # torch.compile the model: auto = on for CUDA (where it wins), off on CPU and MPS (measured ~1.08x faster
    # steps on a 2-core CPU for ~30 s of compiling: a loss for runs of minutes); true and false force it.
    # A str, not a bool, so that `auto` fits; any case of true/false reads the same.
    compile: str = one_of("auto", ("auto", "true", "false"), normalise=lambda v: str(v).lower())
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
    # None: train (train.py's runs), sweep (a study's trials); tinyx ablate sets tuning; compare's run: compare.
    job_type: Optional[str] = None
    # None: the overrides that differ but the seed (set by train.py); tinyx ablate sets each run's arm.
    arm: Optional[str] = None
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
    # Only with model.depth set, the run's length follows from its size (tinyx.training.budget):
    # tokens = flops_budget / flops_per_token when flops_budget is set, else tokens_per_param * N (N: the weights a
    # token multiplies through, embeddings left out); max_steps = ceil(tokens / tokens per step). tokens_per_param
    # null (and no flops_budget): max_steps as given. Without model.depth both do nothing.
    tokens_per_param: Optional[float] = 20.0
    flops_budget: Optional[float] = None


@dataclass
class RunConfig:
    seed: int = 1337
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
