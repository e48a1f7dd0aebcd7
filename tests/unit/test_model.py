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


def _hand_counted_flops(vocab: int, d: int, n_layer: int, block: int) -> int:
    """6 x (the blocks' weights + final norm + LM head) + 12 L d T, LayerNorm without bias, GELU MLP (4d)."""
    block_weights = 2 * d + 3 * d * d + d * d + 4 * d * d + 4 * d * d  # two norms, qkv, attn proj, fc, mlp proj
    matmul_params = n_layer * block_weights + d + vocab * d  # + norm_f + lm_head; never the input embeddings
    return 6 * matmul_params + 12 * n_layer * d * block


def test_flops_per_token_counts_the_lm_head_but_not_the_embedding_lookups():
    small = dict(vocab_size=10, d_model=8, n_layer=1, n_head=2, block_size=4)
    assert _hand_counted_flops(10, 8, 1, 4) == 5616
    for tie in (True, False):
        for pos in ("learned", "rope"):
            assert GPT(ModelConfig(**small, tie_embeddings=tie, pos=pos)).flops_per_token() == 5616, (tie, pos)


def test_flops_per_token_of_the_tiny_model_with_untied_gpt2_bpe():
    # 6 x (787,456 block weights + 128 norm_f + 6,432,896 LM head) + 393,216 attention;
    # counting the 6,432,896-weight input embedding too gave 82,313,472 (1.88x).
    assert _hand_counted_flops(50257, 128, 4, 64) == 43_716_096
    assert GPT(ModelConfig(vocab_size=50257, tie_embeddings=False)).flops_per_token() == 43_716_096
