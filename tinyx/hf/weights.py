"""The weight names and layouts of a tinyx state dict in Hugging Face's architectures (tinyx.hf.architectures),
both ways.

tinyx's RoPE already rotates halves, as HF's `rotate_half` does, so q/k need no permutation. What GPT-2 in HF
always has and tinyx may switch off is written as its identity: zero biases when model.bias=false, a zero
position table when model.pos=none.
"""

from __future__ import annotations

from tinyx.config import ModelConfig
from tinyx.hf.architectures import GPT2, architecture, d_ff


# ---------------------------------------------------------------- weights: tinyx -> HF
def to_hf_state_dict(sd: dict, cfg: ModelConfig) -> dict:
    """HF's parameter names and layouts for a tinyx state dict (float32 copies; tied heads written once)."""
    import torch

    kind = architecture(cfg)
    sd = {k: v.detach().float().cpu() for k, v in sd.items()}
    out = {}
    per_layer = _gpt2_layer if kind == GPT2 else _llama_layer
    for i in range(cfg.n_layer):
        out.update(per_layer(sd, f"blocks.{i}.", i, cfg))
    if kind == GPT2:
        zeros = torch.zeros(cfg.d_model)
        out["transformer.wte.weight"] = sd["tok_emb.weight"]
        # pos=none adds nothing: a zero position table is that identity in GPT-2's form.
        out["transformer.wpe.weight"] = sd.get("pos_emb.weight", torch.zeros(cfg.block_size, cfg.d_model))
        out["transformer.ln_f.weight"] = sd["norm_f.weight"]
        out["transformer.ln_f.bias"] = sd.get("norm_f.bias", zeros)
    else:
        out["model.embed_tokens.weight"] = sd["tok_emb.weight"]
        out["model.norm.weight"] = sd["norm_f.weight"]
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["lm_head.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def _gpt2_layer(sd: dict, p: str, i: int, cfg: ModelConfig) -> dict:
    import torch

    h = f"transformer.h.{i}."
    d, ff = cfg.d_model, d_ff(cfg)

    def bias(name: str, size: int):  # GPT-2 in HF always has biases: zero ones when tinyx has none
        return sd.get(name, torch.zeros(size))

    # HF GPT-2's Conv1D stores (in, out): the transpose of nn.Linear's (out, in).
    return {h + "ln_1.weight": sd[p + "norm1.weight"], h + "ln_1.bias": bias(p + "norm1.bias", d),
            h + "attn.c_attn.weight": sd[p + "attn.qkv.weight"].t(),
            h + "attn.c_attn.bias": bias(p + "attn.qkv.bias", 3 * d),
            h + "attn.c_proj.weight": sd[p + "attn.proj.weight"].t(),
            h + "attn.c_proj.bias": bias(p + "attn.proj.bias", d),
            h + "ln_2.weight": sd[p + "norm2.weight"], h + "ln_2.bias": bias(p + "norm2.bias", d),
            h + "mlp.c_fc.weight": sd[p + "mlp.fc.weight"].t(), h + "mlp.c_fc.bias": bias(p + "mlp.fc.bias", ff),
            h + "mlp.c_proj.weight": sd[p + "mlp.proj.weight"].t(), h + "mlp.c_proj.bias": bias(p + "mlp.proj.bias", d)}


def _qkv_sizes(cfg: ModelConfig) -> list[int]:
    hd = cfg.d_model // cfg.n_head
    kv = (cfg.n_kv_head or cfg.n_head) * hd
    return [cfg.n_head * hd, kv, kv]


def _llama_layer(sd: dict, p: str, i: int, cfg: ModelConfig) -> dict:
    h = f"model.layers.{i}."
    out = {h + "input_layernorm.weight": sd[p + "norm1.weight"],
           h + "post_attention_layernorm.weight": sd[p + "norm2.weight"]}
    for suffix in ("weight", "bias") if cfg.bias else ("weight",):
        q, k, v = sd[f"{p}attn.qkv.{suffix}"].split(_qkv_sizes(cfg), dim=0)
        gate, up = sd[f"{p}mlp.fc.{suffix}"].chunk(2, dim=0)  # tinyx's MLP: silu(first half) * second half
        out.update({f"{h}self_attn.q_proj.{suffix}": q, f"{h}self_attn.k_proj.{suffix}": k,
                    f"{h}self_attn.v_proj.{suffix}": v, f"{h}self_attn.o_proj.{suffix}": sd[f"{p}attn.proj.{suffix}"],
                    f"{h}mlp.gate_proj.{suffix}": gate, f"{h}mlp.up_proj.{suffix}": up,
                    f"{h}mlp.down_proj.{suffix}": sd[f"{p}mlp.proj.{suffix}"]})
    if cfg.qk_norm:
        out[h + "self_attn.q_norm.weight"] = sd[p + "attn.q_norm.weight"]
        out[h + "self_attn.k_norm.weight"] = sd[p + "attn.k_norm.weight"]
    return out

# ---------------------------------------------------------------- weights: HF -> tinyx
def from_hf_state_dict(hf_sd: dict, cfg: ModelConfig, kind: str) -> dict:
    """A tinyx state dict (for `GPT(cfg)`) from an HF model's state dict; the inverse of to_hf_state_dict."""
    import torch

    sd = {}
    for i in range(cfg.n_layer):
        p = f"blocks.{i}."
        if kind == GPT2:
            h = f"transformer.h.{i}."
            pairs = {"norm1": "ln_1", "attn.qkv": "attn.c_attn", "attn.proj": "attn.c_proj", "norm2": "ln_2",
                     "mlp.fc": "mlp.c_fc", "mlp.proj": "mlp.c_proj"}
            for ours, theirs in pairs.items():
                weight = hf_sd[f"{h}{theirs}.weight"]
                sd[f"{p}{ours}.weight"] = weight if ours.startswith("norm") else weight.t()
                sd[f"{p}{ours}.bias"] = hf_sd[f"{h}{theirs}.bias"]
            continue
        h = f"model.layers.{i}."
        sd[p + "norm1.weight"] = hf_sd[h + "input_layernorm.weight"]
        sd[p + "norm2.weight"] = hf_sd[h + "post_attention_layernorm.weight"]
        for suffix in ("weight", "bias") if cfg.bias else ("weight",):
            sd[f"{p}attn.qkv.{suffix}"] = torch.cat([hf_sd[f"{h}self_attn.{n}_proj.{suffix}"] for n in "qkv"])
            sd[f"{p}attn.proj.{suffix}"] = hf_sd[f"{h}self_attn.o_proj.{suffix}"]
            sd[f"{p}mlp.fc.{suffix}"] = torch.cat([hf_sd[f"{h}mlp.gate_proj.{suffix}"],
                                                   hf_sd[f"{h}mlp.up_proj.{suffix}"]])
            sd[f"{p}mlp.proj.{suffix}"] = hf_sd[f"{h}mlp.down_proj.{suffix}"]
        if cfg.qk_norm:
            sd[p + "attn.q_norm.weight"] = hf_sd[h + "self_attn.q_norm.weight"]
            sd[p + "attn.k_norm.weight"] = hf_sd[h + "self_attn.k_norm.weight"]
    prefix = "transformer." if kind == GPT2 else "model."
    sd["tok_emb.weight"] = hf_sd[prefix + ("wte.weight" if kind == GPT2 else "embed_tokens.weight")]
    if kind == GPT2:
        sd["pos_emb.weight"] = hf_sd["transformer.wpe.weight"][: cfg.block_size]  # the run's context may be shorter
        sd["norm_f.weight"], sd["norm_f.bias"] = hf_sd["transformer.ln_f.weight"], hf_sd["transformer.ln_f.bias"]
    else:
        sd["norm_f.weight"] = hf_sd["model.norm.weight"]
    sd["lm_head.weight"] = sd["tok_emb.weight"] if cfg.tie_embeddings else hf_sd["lm_head.weight"]
    return {k: v.detach().float().contiguous() for k, v in sd.items()}
