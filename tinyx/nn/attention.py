"""Causal self-attention with every ablation switch of `ModelConfig` that acts inside it: grouped-query
attention (n_kv_head), QK-norm, rotary positions, attention sinks (logit, token); and the KV cache that
decoding fills one token at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinyx.config import ModelConfig
from tinyx.nn.layers import RMSNorm, apply_rope


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

