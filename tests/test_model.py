"""The GPT as a whole: size against the yardstick, generation."""

import torch

from tinyx.config import ModelConfig
from tinyx.model import GPT


def test_tiny_matches_the_reference_yardstick_size():
    # ../shared/bench/reference_gpt.py reports 804,096 parameters for the same model.
    assert GPT(ModelConfig(vocab_size=65)).num_params() == 804_096


def test_generate_extends_the_prompt_deterministically():
    model = GPT(ModelConfig(vocab_size=30, n_layer=1, n_head=2, d_model=16, block_size=8))
    prompt = torch.tensor([[1, 2, 3]])
    a = model.generate(prompt, 20, top_k=5, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 20, top_k=5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 23) and torch.equal(a, b) and torch.equal(a[:, :3], prompt)
