"""Every block switch: causality, equivalences, sinks, RoPE, parameter counts, and that each one trains."""

import itertools
import math

import pytest
import torch
from helpers import compose, micro_config

from tinyx.common.errors import ConfigError
from tinyx.config import ModelConfig, to_run_config
from tinyx.nn.gpt import GPT
from tinyx.nn.layers import apply_rope, default_d_ff, rope_tables

MICRO_MODEL = dict(vocab_size=40, n_layer=2, n_head=4, d_model=32, block_size=16)


def closed_form_params(c: ModelConfig) -> int:
    d, hd, L = c.d_model, c.d_model // c.n_head, c.n_layer
    kv = c.n_kv_head or c.n_head
    norm = d * (2 if c.norm == "layernorm" and c.bias else 1)
    d_ff = c.d_ff or default_d_ff(c)
    attn = d * (c.n_head + 2 * kv) * hd + d * d + (((c.n_head + 2 * kv) * hd + d) if c.bias else 0)
    attn += 2 * hd if c.qk_norm else 0
    attn += {"none": 0, "logit": c.n_head, "token": 2 * kv * c.n_sink_tokens * hd}[c.attn_sink]
    mlp = d * d_ff * (3 if c.mlp == "swiglu" else 2) + ((d_ff * (2 if c.mlp == "swiglu" else 1) + d) if c.bias else 0)
    embeddings = c.vocab_size * d * (1 if c.tie_embeddings else 2) + (c.block_size * d if c.pos == "learned" else 0)
    return embeddings + L * (attn + mlp + 2 * norm) + norm


@pytest.mark.parametrize("preset, vocab, millions", [
    ("nano", 65, 0.41), ("tiny", 65, 0.80), ("small", 65, 10.7), ("medium", 65, 25.3), ("llama_tiny", 65, 0.80),
    ("gpt2", 50257, 124.4),
])
def test_preset_parameter_counts(preset, vocab, millions):
    cfg = to_run_config(compose([f"model={preset}"])).model
    cfg.vocab_size = vocab
    with torch.device("meta"):  # counts only: no memory for gpt2's weights
        n = GPT(cfg).num_params()
    assert n == closed_form_params(cfg)
    assert round(n / 1e6, 1) == pytest.approx(millions, abs=0.06)


def test_gpt2_preset_is_exactly_gpt2_small():
    cfg = to_run_config(compose(["model=gpt2"])).model
    cfg.vocab_size = 50257
    with torch.device("meta"):
        assert GPT(cfg).num_params() == 124_439_808


SWITCHES = dict(norm=["layernorm", "rmsnorm"], pos=["learned", "rope", "none"], mlp=["gelu", "swiglu", "relu2"],
                n_kv_head=[None, 2, 1], qk_norm=[False, True], attn_sink=["none", "logit", "token"])


def all_combinations():
    keys = list(SWITCHES)
    for values in itertools.product(*SWITCHES.values()):
        yield dict(zip(keys, values))


def test_every_combination_is_causal_and_counts_its_parameters():
    idx = torch.randint(40, (2, 16), generator=torch.Generator().manual_seed(0))
    changed = idx.clone()
    changed[:, 9:] = (idx[:, 9:] + 7) % 40
    for combo in all_combinations():
        torch.manual_seed(0)
        cfg = ModelConfig(**MICRO_MODEL, **combo, bias=combo["norm"] == "layernorm", n_sink_tokens=2)
        model = GPT(cfg).eval()
        assert model.num_params() == closed_form_params(cfg), combo
        with torch.no_grad():
            a, _ = model(idx, targets=idx)
            b, _ = model(changed, targets=changed)
        assert torch.allclose(a[:, :9], b[:, :9], atol=1e-5), combo
        assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-5), combo


def reference_attention(q, k, v, sink_logit=None):
    """Attention written out: causal softmax(q k^T / sqrt(d)) v, with the sink in the denominator."""
    t, d = q.shape[-2], q.shape[-1]
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
    v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    weights = scores.exp()
    denominator = weights.sum(-1, keepdim=True)
    if sink_logit is not None:
        denominator = denominator + sink_logit.exp().view(1, -1, 1, 1)
    return (weights / denominator) @ v


def attention_inputs(attn, x):
    hd = attn.head_dim
    q, k, v = attn.qkv(x).split([attn.n_head * hd, attn.n_kv_head * hd, attn.n_kv_head * hd], dim=2)
    b, t, _ = x.shape
    return (q.view(b, t, -1, hd).transpose(1, 2), k.view(b, t, -1, hd).transpose(1, 2),
            v.view(b, t, -1, hd).transpose(1, 2))


@pytest.mark.parametrize("n_kv_head", [4, 2, 1])
def test_grouped_query_attention_matches_written_out_attention(n_kv_head):
    torch.manual_seed(0)
    cfg = ModelConfig(**MICRO_MODEL, n_kv_head=n_kv_head)
    attn = GPT(cfg).blocks[0].attn.eval()
    x = torch.randn(2, 16, 32)
    q, k, v = attention_inputs(attn, x)
    expected = attn.proj(reference_attention(q, k, v).transpose(1, 2).reshape(2, 16, 32))
    assert torch.allclose(attn(x, None), expected, atol=1e-5)
    assert attn.qkv.weight.shape == ((4 + 2 * n_kv_head) * 8, 32)


def test_multi_query_has_one_key_value_head():
    mha = GPT(ModelConfig(**MICRO_MODEL)).num_params()
    mqa = GPT(ModelConfig(**MICRO_MODEL, n_kv_head=1)).num_params()
    assert mha - mqa == 2 * 2 * (4 - 1) * 8 * 32  # layers x (K and V) x heads removed x head_dim x d_model


def test_logit_sink_follows_its_formula_and_vanishes_at_minus_infinity():
    torch.manual_seed(0)
    plain = GPT(ModelConfig(**MICRO_MODEL)).eval()
    sink = GPT(ModelConfig(**MICRO_MODEL, attn_sink="logit")).eval()
    missing, unexpected = sink.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and all(k.endswith("sink_logit") for k in missing)
    idx = torch.randint(40, (2, 16))
    attn = sink.blocks[0].attn
    with torch.no_grad():
        attn.sink_logit.copy_(torch.tensor([-1.0, 0.0, 1.0, 2.0]))
        x = torch.randn(2, 16, 32)
        q, k, v = attention_inputs(attn, x)
        expected = attn.proj(reference_attention(q, k, v, attn.sink_logit).transpose(1, 2).reshape(2, 16, 32))
        assert torch.allclose(attn(x, None), expected, atol=1e-5)
        for block in sink.blocks:
            block.attn.sink_logit.fill_(-1e4)
        assert torch.allclose(sink(idx, idx)[0], plain(idx, idx)[0], atol=1e-5)
        for block in sink.blocks:
            block.attn.sink_logit.fill_(2.0)
        assert not torch.allclose(sink(idx, idx)[0], plain(idx, idx)[0], atol=1e-3)


@pytest.mark.parametrize("kind", ["logit", "token"])
def test_sink_mass_is_a_fraction(kind):
    torch.manual_seed(0)
    model = GPT(ModelConfig(**MICRO_MODEL, attn_sink=kind, n_sink_tokens=2))
    masses = model.sink_mass(torch.randint(40, (2, 16)))
    assert sorted(masses) == ["attn/sink_mass/0", "attn/sink_mass/1"]
    assert all(0.0 < m < 1.0 for m in masses.values())
    if kind == "logit":
        for block in model.blocks:
            block.attn.sink_logit.data.fill_(-1e4)
        assert all(m < 1e-6 for m in model.sink_mass(torch.randint(40, (2, 16))).values())


def test_rope_scores_depend_only_on_relative_position():
    cos, sin = rope_tables(8, 64, 10000.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(m, n):
        qs = apply_rope(q.expand(1, 1, 64, 8), cos, sin)[0, 0, m]
        ks = apply_rope(k.expand(1, 1, 64, 8), cos, sin)[0, 0, n]
        return (qs @ ks).item()

    for m, n, shift in [(5, 2, 10), (30, 30, 7), (40, 1, 20)]:
        assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 4), abs=1e-3)


def test_zero_init_and_untied_embeddings():
    model = GPT(ModelConfig(**MICRO_MODEL, zero_init_proj=True, tie_embeddings=False))
    assert all(b.attn.proj.weight.abs().sum() == 0 and b.mlp.proj.weight.abs().sum() == 0 for b in model.blocks)
    assert model.lm_head.weight.data_ptr() != model.tok_emb.weight.data_ptr()


@pytest.mark.parametrize("overrides, words", [
    (["model.n_kv_head=3"], ["model.n_kv_head=3", "model.n_head=2", "1, 2"]),
    (["model.pos=rope", "model.d_model=30", "model.n_head=2"], ["model.pos=rope", "15", "model.d_model=32"]),
    (["model.mlp=geglu"], ["model.mlp='geglu'", "swiglu"]),
    (["model.norm=batchnorm"], ["model.norm='batchnorm'", "rmsnorm"]),
    (["model.attn_sink=register"], ["model.attn_sink='register'", "logit"]),
    (["model.attn_sink=token", "model.n_sink_tokens=0"], ["model.n_sink_tokens=0", "at least 1"]),
])
def test_bad_architecture_values(overrides, words):
    with pytest.raises(ConfigError) as e:
        micro_config(*overrides)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_experiments_compose():
    cfg = to_run_config(compose(["experiment=llama_tiny"])).model
    assert (cfg.norm, cfg.pos, cfg.mlp, cfg.n_kv_head) == ("rmsnorm", "rope", "swiglu", 2)
    assert to_run_config(compose(["experiment=sink_token"])).model.attn_sink == "token"
    assert to_run_config(compose(["experiment=baseline"])).model == to_run_config(compose([])).model


def test_speedrun_recipes_compose():
    # The README's time-to-quality figures were measured with exactly these settings.
    short = to_run_config(compose(["experiment=speedrun_cpu"]))
    assert (short.model.pos, short.model.mlp, short.optim.name, short.optim.lr, short.optim.adamw_lr) == \
        ("rope", "swiglu", "muon", 0.02, 4e-3)
    assert (short.train.max_steps, short.train.batch_size, short.model.block_size) == (450, 16, 64)
    long = to_run_config(compose(["experiment=speedrun_cpu_long"]))
    assert (long.train.max_steps, long.train.batch_size, long.model.block_size) == (2400, 8, 128)
    assert long.optim == short.optim


def test_attention_module_matches_reference_for_the_default_block():
    # tinyx's attention module itself (not torch's SDPA called here) against the written-out attention.
    torch.manual_seed(0)
    attn = GPT(ModelConfig(**MICRO_MODEL)).blocks[0].attn.eval()
    x = torch.randn(1, 16, 32)
    q, k, v = attention_inputs(attn, x)
    expected = attn.proj(reference_attention(q, k, v).transpose(1, 2).reshape(1, 16, 32))
    with torch.no_grad():
        got = attn(x, None)
    assert torch.allclose(got, expected, atol=1e-5)


def test_rope_is_a_rotation_and_identity_at_position_zero():
    cos, sin = rope_tables(8, 16, 10000.0)
    x = torch.randn(2, 3, 16, 8)
    rotated = apply_rope(x, cos, sin)
    assert torch.allclose(rotated[:, :, 0], x[:, :, 0])
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    # Pair (x_0, x_4) at position 1 turns by angle 1 rad (frequency theta^0 = 1).
    c, s = math.cos(1.0), math.sin(1.0)
    assert rotated[0, 0, 1, 0].item() == pytest.approx(x[0, 0, 1, 0].item() * c - x[0, 0, 1, 4].item() * s, abs=1e-5)
    assert rotated[0, 0, 1, 4].item() == pytest.approx(x[0, 0, 1, 4].item() * c + x[0, 0, 1, 0].item() * s, abs=1e-5)


def test_rmsnorm_matches_torch_in_value_and_gradient():
    from tinyx.nn.layers import RMSNorm

    torch.manual_seed(0)
    ours, ref = RMSNorm(32, eps=1e-5), torch.nn.RMSNorm(32, eps=1e-5)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(32))
        ref.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 32, requires_grad=True)
    g = torch.randn(3, 5, 32)
    a, b = ours(x), ref(x)
    grads_a = torch.autograd.grad(a, (x, ours.weight), g)
    grads_b = torch.autograd.grad(b, (x, ref.weight), g)
    assert torch.allclose(a, b, atol=1e-6)
    for ga, gb in zip(grads_a, grads_b):
        assert torch.allclose(ga, gb, atol=1e-5)
    xd = torch.randn(2, 3, 8, dtype=torch.float64, requires_grad=True)
    wd = torch.randn(8, dtype=torch.float64, requires_grad=True)
    from tinyx.nn.layers import _RMSNormFunction
    assert torch.autograd.gradcheck(lambda a, b: _RMSNormFunction.apply(a, b, 1e-5), (xd, wd))
