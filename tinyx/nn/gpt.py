"""A decoder-only transformer with every ablation switch of `ModelConfig`.

Defaults reproduce the GPT-2 block (pre-LayerNorm, learned positions, GELU MLP,
multi-head causal attention, tied LM head). The switches: norm (layernorm, rmsnorm),
pos (learned, rope, none), mlp (gelu, swiglu, relu2), grouped-query attention
(n_kv_head), QK-norm, attention sinks (logit, token), tying, init.
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


def _mps_value_dim_bug() -> bool:
    """torch 2.9-2.11 on a machine with MPS: attention with v's head size unlike q's is wrong there."""
    version = tuple(int(n) for n in torch.__version__.split("+")[0].split(".")[:2])
    mps = getattr(torch.backends, "mps", None)
    return (2, 9) <= version < (2, 12) and mps is not None and mps.is_available()


def _mask_after_cache(t: int, n_keys: int, device) -> torch.Tensor | None:
    """The causal mask of t new queries over n_keys keys (sink slots and cached positions first), aligned
    bottom-right: query i sees every key up to its own position. None for one query, which sees them all."""
    if t == 1:
        return None
    return torch.ones(t, n_keys, dtype=torch.bool, device=device).tril(n_keys - t)


class KVCache:
    """The keys and values of the tokens a model has seen, per layer, for generating one token at a time.

    Holds at most `max_len` positions (the model's block_size); keys are stored after QK-norm and RoPE, with
    n_kv_head heads (GQA shares them as the uncached path does). The model's forward appends a call's tokens
    and advances `length`; the sink slots are parameters, added at attention time as without a cache.
    """

    def __init__(self, n_layer: int, max_len: int):
        self.max_len, self.length = max_len, 0
        self.layers = [LayerKV(self) for _ in range(n_layer)]


class LayerKV:
    """One layer's slice of a `KVCache`: buffers allocated at the first call, in the keys' own dtype."""

    def __init__(self, cache: KVCache):
        self.cache = cache
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H_kv, t, D) after the cached positions; return every position's keys and values."""
        start, end = self.cache.length, self.cache.length + k.shape[2]
        if end > self.cache.max_len:
            raise ValueError(f"the KV cache holds {self.cache.max_len} positions (block_size), not {end}")
        if self.k is None or self.k.shape[0] != k.shape[0]:
            shape = (k.shape[0], k.shape[1], self.cache.max_len, k.shape[3])
            self.k, self.v = k.new_empty(shape), v.new_empty(shape)
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.n_kv_head = cfg.n_head, cfg.n_kv_head or cfg.n_head
        self.head_dim = cfg.d_model // cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.q_norm = RMSNorm(self.head_dim, eps=cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, eps=cfg.norm_eps) if cfg.qk_norm else None
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.sink = cfg.attn_sink
        self.n_sink = {"none": 0, "logit": 1, "token": cfg.n_sink_tokens}[cfg.attn_sink]
        if self.sink == "logit":
            # One learned logit per head joins the softmax denominator (the gpt-oss sink).
            self.sink_logit = nn.Parameter(torch.zeros(self.n_head))
        elif self.sink == "token":
            # Learned key/value slots every query sees besides its causal window (StreamingLLM's sink token).
            self.sink_k = nn.Parameter(torch.zeros(self.n_kv_head, self.n_sink, self.head_dim))
            self.sink_v = nn.Parameter(torch.zeros(self.n_kv_head, self.n_sink, self.head_dim))
        if self.n_sink:
            # The sink slots come first: query i sees them and keys 0..i (causal, aligned bottom-right).
            # Columns are padded to a multiple of 16 (never sliced in: t + n_sink <= block_size + n_sink), so
            # the sliced mask's row stride stays 16-aligned, as the fused CUDA kernels require of an attention
            # bias under torch.compile ("attn_bias is not correctly aligned" with a (64, 65) buffer).
            width = -(-(cfg.block_size + self.n_sink) // 16) * 16
            mask = torch.ones(cfg.block_size, width, dtype=torch.bool).tril(self.n_sink)
            self.register_buffer("sink_mask", mask, persistent=False)
        # The logit sink gives q and k one more dimension than v; MPS attention in torch 2.9-2.11 returns
        # wrong values then (pytorch#176767, fixed in 2.12), so where MPS is there v gets a zero column too
        # (set on the machine, not per call: a few extra multiply-adds, and one code path for the model).
        self.pad_value = self.sink == "logit" and _mps_value_dim_bug()
        self.record_sink_mass = False
        self.sink_mass: torch.Tensor | None = None  # set when record_sink_mass: mean attention on the sink

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None,
                kv: LayerKV | None = None) -> torch.Tensor:
        b, t, d = x.shape
        hd = self.head_dim
        q, k, v = self.qkv(x).split([self.n_head * hd, self.n_kv_head * hd, self.n_kv_head * hd], dim=2)
        q = q.view(b, t, self.n_head, hd).transpose(1, 2)
        k = k.view(b, t, self.n_kv_head, hd).transpose(1, 2)
        v = v.view(b, t, self.n_kv_head, hd).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if kv is not None:
            k, v = kv.update(k, v)
        # Queries after cached positions need a mask aligned to the end; without any (training, a prompt's
        # first pass) the uncached kernels run, so a prompt's logits are the uncached ones bit for bit.
        after_cache = k.shape[2] > t
        scale = 1.0 / math.sqrt(hd)
        gqa = self.n_kv_head != self.n_head
        dropout_p = self.dropout if self.training else 0.0
        if self.n_sink == 0 and not after_cache:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p, enable_gqa=gqa)
        elif self.n_sink == 0:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=_mask_after_cache(t, k.shape[2], q.device),
                                               dropout_p=dropout_p, enable_gqa=gqa)
        else:
            q, k, v = self._with_sink_slots(q, k, v, scale)
            mask = (_mask_after_cache(t, k.shape[2], q.device) if after_cache
                    else self.sink_mask[:t, : t + self.n_sink])
            if self.pad_value:
                v = F.pad(v, (0, q.shape[-1] - hd))  # zero columns: the first hd outputs are unchanged
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale,
                                               enable_gqa=gqa)[..., :hd]
            if self.record_sink_mass:
                self.sink_mass = self._sink_mass(q, k, mask, scale).detach()
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, d)))

    def _with_sink_slots(self, q, k, v, scale):
        b = q.shape[0]
        if self.sink == "token":
            sink_k = self.sink_k.to(k.dtype).expand(b, -1, -1, -1)
            sink_v = self.sink_v.to(v.dtype).expand(b, -1, -1, -1)
            return q, torch.cat([sink_k, k], dim=2), torch.cat([sink_v, v], dim=2)
        # logit: one extra key with a zero value whose score is the head's sink logit for every query.
        # A constant 1 appended to each query and the logit (divided by the scale) to the sink key give
        # exactly s_h; real keys get a 0 there, so their scores are unchanged.
        hq, hk = self.n_head, self.n_kv_head
        q = torch.cat([q, q.new_ones(b, hq, q.shape[2], 1)], dim=-1)
        k = torch.cat([k, k.new_zeros(b, hk, k.shape[2], 1)], dim=-1)
        if hk != hq:  # each query head has its own sink logit: give every query head its own keys
            k, v = k.repeat_interleave(hq // hk, dim=1), v.repeat_interleave(hq // hk, dim=1)
        sink_k = torch.cat([k.new_zeros(hq, 1, q.shape[-1] - 1), (self.sink_logit / scale).to(k.dtype).view(hq, 1, 1)],
                           dim=-1)
        k = torch.cat([sink_k.expand(b, -1, -1, -1), k], dim=2)
        v = torch.cat([v.new_zeros(b, hq, 1, v.shape[-1]), v], dim=2)
        return q, k, v

    def _sink_mass(self, q, k, mask, scale) -> torch.Tensor:
        """Mean attention probability on the sink slots (diagnostic, evaluation only)."""
        if k.shape[1] != q.shape[1]:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        scores = (q @ k.transpose(-2, -1)).float() * scale
        probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return probs[..., : self.n_sink].sum(dim=-1).mean()


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


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = make_norm(cfg, cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = make_norm(cfg, cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, rope, kv: LayerKV | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope, kv)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.vocab_size is None:
            raise ValueError("ModelConfig.vocab_size must be set (from the tokenizer) before building the model")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.d_model) if cfg.pos == "learned" else None
        if cfg.pos == "rope":
            cos, sin = rope_tables(cfg.d_model // cfg.n_head, cfg.block_size, cfg.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = make_norm(cfg, cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GPT-2 init: N(0, init_std), residual output projections scaled down by depth (or zero).
        std = self.cfg.init_std
        proj_std = 0.0 if self.cfg.zero_init_proj else std / math.sqrt(2 * self.cfg.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") and proj_std == 0.0:
                nn.init.zeros_(p)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, proj_std)
            elif name.endswith("sink_logit"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def num_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.pos_emb.weight.numel() if non_embedding and self.pos_emb is not None else n

    def matmul_params(self) -> int:
        """The weights a token multiplies through: the blocks, the final norm and the LM head.

        The input token and position embeddings are lookups (no multiply-adds), so they are left out
        whether or not the head shares the token embedding's weight.
        """
        return (sum(p.numel() for p in self.blocks.parameters()) + sum(p.numel() for p in self.norm_f.parameters())
                + self.lm_head.weight.numel())

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6N for the weights plus the attention scores (PaLM appendix B)."""
        c = self.cfg
        return 6 * self.matmul_params() + 12 * c.n_layer * c.d_model * c.block_size

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, kv_cache: KVCache | None = None):
        """Logits of the last position (all positions and the loss with targets).

        With a `kv_cache`, idx continues the cached tokens: its positions start at the cache's length.
        """
        t = idx.shape[1]
        start = 0 if kv_cache is None else kv_cache.length
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start, start + t, device=idx.device))
        x = self.drop(x)
        rope = (self.rope_cos[start:], self.rope_sin[start:]) if self.cfg.pos == "rope" else None
        for i, block in enumerate(self.blocks):
            x = block(x, rope, None if kv_cache is None else kv_cache.layers[i])
        if kv_cache is not None:
            kv_cache.length += t
        x = self.norm_f(x)
        if targets is None:
            return self.lm_head(x[:, -1:, :]), None
        logits = self.lm_head(x)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))

    @torch.no_grad()
    def sink_mass(self, idx: torch.Tensor) -> dict[str, float]:
        """Mean attention mass on the sink per layer for a batch (empty without sinks)."""
        if self.cfg.attn_sink == "none":
            return {}
        attns = [block.attn for block in self.blocks]
        was_training = self.training
        self.eval()
        for a in attns:
            a.record_sink_mass = True
        try:
            self(idx)
            return {f"attn/sink_mass/{i}": a.sink_mass.item() for i, a in enumerate(attns)}
        finally:
            for a in attns:
                a.record_sink_mass = False
            self.train(was_training)

    def new_kv_cache(self) -> KVCache:
        return KVCache(self.cfg.n_layer, self.cfg.block_size)

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None, top_p: float | None = None,
                 kv_cache: bool = True) -> torch.Tensor:
        """idx (B, T) followed by max_new_tokens sampled tokens (see `tinyx.nn.decoding.generate`)."""
        from tinyx.nn.decoding import generate

        return generate(self, idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                        generator=generator, kv_cache=kv_cache)
