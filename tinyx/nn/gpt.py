"""A decoder-only transformer with every ablation switch of `ModelConfig`.

Defaults reproduce the GPT-2 block (pre-LayerNorm, learned positions, GELU MLP,
multi-head causal attention, tied LM head). The switches: norm (layernorm, rmsnorm),
pos (learned, rope, none), mlp (gelu, swiglu, relu2), grouped-query attention
(n_kv_head), QK-norm, attention sinks (logit, token), tying, init.

Here: the block, the model (embeddings, init, tying, parameter counts and FLOPs per token, the forward with or
without a KV cache). The attention and its cache are tinyx.nn.attention; norms, rotary tables and the MLP
tinyx.nn.layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinyx.config import ModelConfig
from tinyx.nn.attention import CausalSelfAttention, KVCache, LayerKV
from tinyx.nn.layers import MLP, make_norm, rope_tables
from tinyx.nn.mup import width_mult


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
        # model.parametrization=mup: logits times 1/m (tinyx.nn.mup); None under sp and at m = 1, so those
        # forwards are the same operations as ever.
        self.logit_mult = None if width_mult(cfg) == 1.0 else 1.0 / width_mult(cfg)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GPT-2 init: N(0, init_std), residual output projections scaled down by depth (or zero). Under mup the
        # blocks' linear weights (hidden matrices) by 1/sqrt(m) more; embeddings keep init_std.
        std = self.cfg.init_std
        hidden_std = std / math.sqrt(width_mult(self.cfg))
        proj_std = 0.0 if self.cfg.zero_init_proj else hidden_std / math.sqrt(2 * self.cfg.n_layer)
        hidden = {id(m.weight) for m in self.blocks.modules() if isinstance(m, nn.Linear)}
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") and proj_std == 0.0:
                nn.init.zeros_(p)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, proj_std)
            elif name.endswith("sink_logit"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, hidden_std if id(p) in hidden else std)
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
        logits = self.lm_head(x if targets is not None else x[:, -1:, :])
        if self.logit_mult is not None:
            logits = logits * self.logit_mult
        if targets is None:
            return logits, None
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
