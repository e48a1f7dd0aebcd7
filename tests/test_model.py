"""The GPT: parameter counts, causality, generation."""

import pytest
import torch

from conftest import compose
from tinyx.config import ModelConfig, to_run_config
from tinyx.model import GPT


def closed_form_params(c: ModelConfig) -> int:
    d, L = c.d_model, c.n_layer
    per_block = 4 * d * d + 8 * d * d + 2 * d * (2 if c.bias else 1)  # attention, MLP, two norms
    if c.bias:
        per_block += 3 * d + d + 4 * d + d
    return c.vocab_size * d + c.block_size * d + L * per_block + d * (2 if c.bias else 1)


@pytest.mark.parametrize("preset, expected_m", [("tiny", 0.80), ("small", 10.7)])
def test_preset_parameter_counts(preset, expected_m):
    cfg = to_run_config(compose([f"model={preset}"])).model
    cfg.vocab_size = 65
    n = GPT(cfg).num_params()
    assert n == closed_form_params(cfg)
    assert abs(n / 1e6 - expected_m) < 0.05 * expected_m


def test_tiny_matches_the_reference_yardstick_size():
    # ../shared/bench/reference_gpt.py reports 804,096 parameters for the same model.
    assert GPT(ModelConfig(vocab_size=65)).num_params() == 804_096


def test_bias_adds_the_expected_parameters():
    cfg = ModelConfig(vocab_size=65, bias=True, n_layer=2, d_model=32, n_head=2)
    assert GPT(cfg).num_params() == closed_form_params(cfg)


def test_causal_future_tokens_do_not_change_past_logits():
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=32, block_size=16)).eval()
    idx = torch.randint(50, (2, 16))
    changed = idx.clone()
    changed[:, 9:] = torch.randint(50, (2, 7))
    logits_a, _ = model(idx, targets=idx)  # with targets the model returns logits at every position
    logits_b, _ = model(changed, targets=changed)
    assert torch.allclose(logits_a[:, :9], logits_b[:, :9], atol=1e-6)
    assert not torch.allclose(logits_a[:, 9:], logits_b[:, 9:], atol=1e-6)


def test_generate_extends_the_prompt_deterministically():
    model = GPT(ModelConfig(vocab_size=30, n_layer=1, n_head=2, d_model=16, block_size=8))
    prompt = torch.tensor([[1, 2, 3]])
    a = model.generate(prompt, 20, top_k=5, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 20, top_k=5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 23) and torch.equal(a, b) and torch.equal(a[:, :3], prompt)
