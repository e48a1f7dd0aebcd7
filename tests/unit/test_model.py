"""The GPT as a whole: size against the yardstick, generation, device workarounds in attention."""

import torch

from tinyx.config import ModelConfig
from tinyx.nn.gpt import GPT


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


def _sink_model(sink: str, **kw) -> GPT:
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=50, n_layer=2, n_head=4, d_model=32, block_size=64, attn_sink=sink,
                            n_sink_tokens=1, **kw)).eval()
    for name, p in model.named_parameters():  # sinks start at zero: give them values that matter
        if "sink" in name:
            p.data.normal_(0.0, 1.0)
    return model


def test_the_sink_mask_is_padded_to_16_columns_and_gives_the_same_logits():
    # A (64, 65) buffer sliced to (t, t + 1) has rows 65 elements apart: fused CUDA kernels under
    # torch.compile refuse that bias ("attn_bias is not correctly aligned").
    idx = torch.randint(0, 50, (2, 64))
    for sink in ("token", "logit"):
        model = _sink_model(sink)
        attns = [block.attn for block in model.blocks]
        assert all(a.sink_mask.shape == (64, 80) for a in attns), sink
        assert not attns[0].sink_mask[:, 65:].any()  # the padding is never attended to
        padded = model(idx)[0]
        for a in attns:  # the buffer as it was: exactly block_size + n_sink columns
            a.sink_mask = torch.ones(64, 65, dtype=torch.bool).tril(1)
        assert torch.equal(model(idx)[0], padded), sink


def test_the_zero_value_column_for_mps_leaves_the_logit_sink_unchanged():
    # pytorch#176767: on MPS in torch 2.9-2.11, attention is wrong when v's head size is not q's, as
    # with the logit sink's extra q/k dimension; the workaround pads v with zeros and slices the output.
    idx = torch.randint(0, 50, (2, 40))
    for kv in (None, 2):
        model = _sink_model("logit", n_kv_head=kv)
        plain = model(idx, idx)
        for block in model.blocks:
            block.attn.pad_value = True
        padded = model(idx, idx)
        torch.testing.assert_close(padded[0], plain[0], rtol=0, atol=1e-6)
        padded[1].backward()  # and it still trains
        assert model.blocks[0].attn.sink_logit.grad is not None
