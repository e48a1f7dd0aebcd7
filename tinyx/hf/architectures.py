"""Which Hugging Face architecture computes what a tinyx model computes, and its config.json both ways.

    GPT-2 block (LayerNorm, learned or no positions, GELU or ReLU² MLP, multi-head)  -> GPT2LMHeadModel
    Llama-style block (RMSNorm, RoPE, SwiGLU, any n_kv_head)                         -> LlamaForCausalLM
    the Llama-style block with QK-norm                                                -> Qwen3ForCausalLM

Each mapping is exact: the same operations in the same order (F.gelu is the erf GELU, HF's "gelu"; the
weights, tinyx.hf.weights). Any other combination of switches has no HF equivalent: `architecture` names the
first switch in the way and what would export.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from tinyx.common.errors import ExportError
from tinyx.config import ModelConfig

GPT2, LLAMA, QWEN3 = "gpt2", "llama", "qwen3"
TINYX_MODEL_FILE = "tinyx_model.json"  # an export's tinyx ModelConfig: bias=false and pos=none survive the round trip
ARCHITECTURES = {GPT2: "GPT2LMHeadModel", LLAMA: "LlamaForCausalLM", QWEN3: "Qwen3ForCausalLM"}
# The keys that fix a model's shape and computation (what a folder's config.json decides), for import's check.
SHAPE_KEYS = ("n_layer", "n_head", "n_kv_head", "d_model", "d_ff", "vocab_size", "bias", "norm", "norm_eps", "pos",
              "rope_theta", "mlp", "qk_norm", "attn_sink", "tie_embeddings")
_WOULD_EXPORT = ("what exports: the GPT-2 block (model.norm=layernorm model.pos=learned|none "
                 "model.mlp=gelu|relu2, no n_kv_head, no qk_norm), the Llama-style block (model.norm=rmsnorm "
                 "model.pos=rope model.mlp=swiglu, any n_kv_head, optionally model.qk_norm=true), neither with "
                 "attention sinks")


def architecture(cfg: ModelConfig) -> str:
    """gpt2 | llama | qwen3 for a model config, or an ExportError naming the switch with no HF equivalent."""
    if cfg.norm == "layernorm":
        kind, blockers = GPT2, [
            (cfg.pos == "rope", "model.pos=rope with model.norm=layernorm", "GPT-2 has learned positions"),
            (cfg.mlp == "swiglu", "model.mlp=swiglu with model.norm=layernorm", "GPT-2's MLP has no gate"),
            (cfg.n_kv_head not in (None, cfg.n_head), f"model.n_kv_head={cfg.n_kv_head} with model.norm=layernorm",
             "GPT-2 is multi-head"),
            (cfg.qk_norm, "model.qk_norm=true with model.norm=layernorm", "GPT-2 has no QK-norm")]
    else:
        kind, blockers = QWEN3 if cfg.qk_norm else LLAMA, [
            (cfg.pos != "rope", f"model.pos={cfg.pos} with model.norm=rmsnorm", "Llama and Qwen3 use RoPE"),
            (cfg.mlp != "swiglu", f"model.mlp={cfg.mlp} with model.norm=rmsnorm", "Llama and Qwen3 use SwiGLU"),
            (cfg.qk_norm and cfg.bias, "model.bias=true with model.qk_norm=true", "Qwen3's MLP has no biases")]
    # Sinks first: whatever the block, nothing in transformers computes them.
    blockers.insert(0, (cfg.attn_sink != "none", f"model.attn_sink={cfg.attn_sink}",
                        "no transformers architecture has tinyx's sinks"))
    blockers.insert(0, (cfg.parametrization == "mup" and cfg.d_model != cfg.base_width,
                        f"model.parametrization=mup at model.d_model={cfg.d_model} (base_width {cfg.base_width})",
                        "its logits are scaled by base_width/d_model, which no transformers head does"))
    for blocked, switch, why in blockers:
        if blocked:
            raise ExportError(f"{switch} has no Hugging Face equivalent ({why}): {_WOULD_EXPORT}.")
    return kind


def d_ff(cfg: ModelConfig) -> int:
    from tinyx.nn.layers import default_d_ff

    return cfg.d_ff or default_d_ff(cfg)


def hf_config(cfg: ModelConfig, bos_eos: int | None = None) -> dict[str, Any]:
    """The config.json (as keyword arguments of the architecture's config class) for a tinyx model."""
    kind = architecture(cfg)
    common = {"architectures": [ARCHITECTURES[kind]], "model_type": kind, "vocab_size": cfg.vocab_size,
              "tie_word_embeddings": cfg.tie_embeddings, "initializer_range": cfg.init_std,
              "bos_token_id": bos_eos, "eos_token_id": bos_eos, "torch_dtype": "float32"}
    if kind == GPT2:
        return {**common, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.d_model,
                "n_positions": cfg.block_size, "n_inner": d_ff(cfg),
                # F.gelu (tinyx) is the exact erf GELU: HF's "gelu", not GPT-2's own tanh "gelu_new".
                "activation_function": "gelu" if cfg.mlp == "gelu" else "relu2",
                "layer_norm_epsilon": cfg.norm_eps, "resid_pdrop": cfg.dropout, "embd_pdrop": cfg.dropout,
                "attn_pdrop": cfg.dropout, "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                "reorder_and_upcast_attn": False}
    out = {**common, "num_hidden_layers": cfg.n_layer, "num_attention_heads": cfg.n_head,
           "num_key_value_heads": cfg.n_kv_head or cfg.n_head, "hidden_size": cfg.d_model,
           "head_dim": cfg.d_model // cfg.n_head, "intermediate_size": d_ff(cfg), "hidden_act": "silu",
           "max_position_embeddings": cfg.block_size, "rms_norm_eps": cfg.norm_eps,
           "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
           "attention_bias": cfg.bias, "attention_dropout": cfg.dropout}
    if kind == LLAMA:
        out["mlp_bias"] = cfg.bias
    else:
        out.update(use_sliding_window=False, sliding_window=None)
    return out

# ---------------------------------------------------------------- config.json -> tinyx
def model_config_from_hf(hf: dict[str, Any], where: str) -> dict[str, Any]:
    """The ModelConfig shape keys a folder's config.json describes; ExportError for one tinyx cannot load."""
    kind = hf.get("model_type")
    if kind == GPT2:
        return _gpt2_shape(hf, where)
    if kind in (LLAMA, QWEN3):
        return _llama_shape(hf, where, kind)
    raise ExportError(f"{where}: model_type={kind!r} is not one tinyx loads: a GPT-2 (gpt2), Llama (llama) or "
                      f"Qwen3 (qwen3) folder is.")


def _unsupported(where: str, key: str, value, wanted: str) -> ExportError:
    return ExportError(f"{where}: config.json has {key}={value!r}, which tinyx's blocks do not compute ({wanted}).")


def _gpt2_shape(hf: dict, where: str) -> dict[str, Any]:
    act = hf.get("activation_function", "gelu_new")
    # GPT-2's own checkpoints use the tanh approximation ("gelu_new"); tinyx computes the exact GELU, a
    # difference of < 1e-3 per activation: fine to start training from, so it loads (import says so).
    mlp = {"gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "relu2": "relu2"}.get(act)
    if mlp is None:
        raise _unsupported(where, "activation_function", act, "gelu, gelu_new or relu2")
    for key in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
        if hf.get(key):
            raise _unsupported(where, key, hf[key], "false")
    if hf.get("scale_attn_weights") is False:
        raise _unsupported(where, "scale_attn_weights", False, "true")
    d = hf.get("n_embd", 768)
    return {"n_layer": hf.get("n_layer", 12), "n_head": hf.get("n_head", 12), "n_kv_head": None, "d_model": d,
            "d_ff": hf.get("n_inner") or 4 * d, "vocab_size": hf.get("vocab_size", 50257), "bias": True,
            "norm": "layernorm", "norm_eps": hf.get("layer_norm_epsilon", 1e-5), "pos": "learned",
            "rope_theta": ModelConfig.rope_theta, "mlp": mlp, "qk_norm": False, "attn_sink": "none",
            "tie_embeddings": hf.get("tie_word_embeddings", True), "max_positions": hf.get("n_positions", 1024)}


def _llama_shape(hf: dict, where: str, kind: str) -> dict[str, Any]:
    d, heads = hf["hidden_size"], hf["num_attention_heads"]
    if hf.get("hidden_act", "silu") != "silu":
        raise _unsupported(where, "hidden_act", hf["hidden_act"], "silu")
    if hf.get("head_dim") not in (None, d // heads):
        raise _unsupported(where, "head_dim", hf["head_dim"], f"hidden_size/num_attention_heads = {d // heads}")
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise _unsupported(where, "rope_type", rope.get("rope_type", rope.get("type")), "default")
    theta = rope.get("rope_theta", hf.get("rope_theta", 10000.0))
    attn_bias, mlp_bias = bool(hf.get("attention_bias", False)), bool(hf.get("mlp_bias", False))
    if attn_bias != mlp_bias:
        raise _unsupported(where, "attention_bias/mlp_bias", (attn_bias, mlp_bias), "both the same")
    if kind == QWEN3 and (hf.get("use_sliding_window") or attn_bias):
        raise _unsupported(where, "use_sliding_window/attention_bias", True, "false")
    kv = hf.get("num_key_value_heads") or heads
    return {"n_layer": hf["num_hidden_layers"], "n_head": heads, "n_kv_head": None if kv == heads else kv,
            "d_model": d, "d_ff": hf["intermediate_size"], "vocab_size": hf["vocab_size"], "bias": attn_bias,
            "norm": "rmsnorm", "norm_eps": hf.get("rms_norm_eps", 1e-6), "pos": "rope", "rope_theta": float(theta),
            "mlp": "swiglu", "qk_norm": kind == QWEN3, "attn_sink": "none",
            "tie_embeddings": hf.get("tie_word_embeddings", False),
            "max_positions": hf.get("max_position_embeddings")}

def shape_of(cfg: ModelConfig) -> dict[str, Any]:
    """cfg's SHAPE_KEYS with the defaults filled in (d_ff, n_kv_head), comparable with model_config_from_hf."""
    names = {f.name for f in fields(ModelConfig)}
    shape = {k: getattr(cfg, k) for k in SHAPE_KEYS if k in names}
    shape["d_ff"] = d_ff(cfg)
    shape["n_kv_head"] = None if cfg.n_kv_head in (None, cfg.n_head) else cfg.n_kv_head
    return shape
