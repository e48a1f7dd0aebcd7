"""Generation: the key/value cache gives the uncached tokens for every block switch, top-p, seeds, streaming."""

import itertools

import pytest
import torch

from tinyx.common.errors import ConfigError
from tinyx.config import ModelConfig
from tinyx.data import CharTokenizer, TiktokenTokenizer
from tinyx.nn.decoding import TextStream, generate, next_token, top_p_filter
from tinyx.nn.gpt import GPT

BLOCK = 16
SWITCHES = dict(norm=["layernorm", "rmsnorm"], pos=["learned", "rope", "none"], mlp=["gelu", "swiglu", "relu2"],
                n_kv_head=[None, 2, 1], qk_norm=[False, True], attn_sink=["none", "logit", "token"],
                bias=[False, True], tie_embeddings=[True, False])
# Each switch's values on the default block, then the combinations the presets and experiments use.
ONE_SWITCH = [{key: value} for key, values in SWITCHES.items() for value in values[1:]]
COMBINED = [dict(norm="rmsnorm", pos="rope", mlp="swiglu", n_kv_head=2),  # llama_tiny
            dict(norm="rmsnorm", pos="rope", mlp="relu2", qk_norm=True, n_kv_head=1),
            dict(pos="rope", attn_sink="token", n_sink_tokens=3, n_kv_head=2, qk_norm=True),
            dict(pos="rope", attn_sink="logit", n_kv_head=2, norm="rmsnorm")]


def random_model(seed: int = 0, **switches) -> GPT:
    """A tiny model whose every weight (the zero-initialised sinks too) is random and large enough that the
    greedy continuation wanders over the vocabulary instead of repeating one token."""
    torch.manual_seed(seed)
    model = GPT(ModelConfig(vocab_size=48, n_layer=2, n_head=4, d_model=32, block_size=BLOCK, **switches))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.4)
    return model.eval()


def config_id(switches: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in switches.items()) or "default"


@pytest.mark.parametrize("switches", [{}] + ONE_SWITCH + COMBINED, ids=config_id)
def test_greedy_tokens_are_the_same_with_and_without_the_cache(switches):
    model = random_model(**switches)
    prompt = torch.tensor([[5, 1, 7, 3, 9]])
    # 40 new tokens: past block_size (16), where the window slides and the cache must recompute it.
    cached = generate(model, prompt, 40, temperature=0, kv_cache=True)
    uncached = generate(model, prompt, 40, temperature=0, kv_cache=False)
    assert torch.equal(cached, uncached), config_id(switches)
    assert len(set(cached[0, 5:].tolist())) >= 3  # a continuation that could have differed


@pytest.mark.slow
def test_greedy_tokens_are_the_same_with_and_without_the_cache_for_every_combination():
    keys = [k for k in SWITCHES if k not in ("bias", "tie_embeddings")]
    for values in itertools.product(*(SWITCHES[k] for k in keys)):
        switches = dict(zip(keys, values))
        model = random_model(**switches)
        prompt = torch.tensor([[5, 1, 7]])
        assert torch.equal(generate(model, prompt, 24, temperature=0),
                           generate(model, prompt, 24, temperature=0, kv_cache=False)), config_id(switches)


@pytest.mark.parametrize("switches", [{}, COMBINED[2], COMBINED[3]], ids=config_id)
def test_cached_logits_match_the_full_forward_at_every_position(switches):
    model = random_model(**switches)
    tokens = torch.randint(0, 48, (2, BLOCK), generator=torch.Generator().manual_seed(1))
    cache = model.new_kv_cache()
    with torch.no_grad():
        full, _ = model(tokens, tokens)  # with targets: the logits of every position
        prefill, _ = model(tokens[:, :6], kv_cache=cache)
        steps = [model(tokens[:, i:i + 1], kv_cache=cache)[0] for i in range(6, BLOCK)]
    assert cache.length == BLOCK
    torch.testing.assert_close(prefill[:, -1], full[:, 5], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.cat(steps, dim=1), full[:, 6:], atol=1e-4, rtol=1e-4)


def test_the_cache_feeds_each_token_once_while_the_sequence_fits_the_context():
    model = random_model()
    fed = []
    model.tok_emb.register_forward_hook(lambda module, args, out: fed.append(args[0].shape[1]))
    generate(model, torch.tensor([[1, 2, 3, 4]]), 10, temperature=0)
    assert fed == [4] + [1] * 9
    fed.clear()
    generate(model, torch.tensor([[1, 2, 3, 4]]), 10, temperature=0, kv_cache=False)
    assert fed == list(range(4, 14))
    fed.clear()
    # Past the context every step recomputes the last block_size tokens, as the uncached path does.
    generate(model, torch.tensor([list(range(BLOCK))]), 3, temperature=0)
    assert fed == [BLOCK] * 3


# ---------------------------------------------------------------- the next-token rule
PROBS = torch.tensor([0.15, 0.05, 0.5, 0.1, 0.2])  # sorted: 0.5 (2), 0.2 (4), 0.15 (0), 0.1 (3), 0.05 (1)


@pytest.mark.parametrize("top_p, kept", [
    (0.3, {2}), (0.6, {2, 4}), (0.8, {2, 4, 0}), (0.84, {2, 4, 0}), (0.9, {2, 4, 0, 3}), (0.94, {2, 4, 0, 3}),
    (0.96, {0, 1, 2, 3, 4}), (1.0, {0, 1, 2, 3, 4}),
])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
    logits = PROBS.log().repeat(2, 1)
    logits[1] = logits[1].flip(0)  # another order in the second row: the set follows the tokens
    filtered = top_p_filter(logits, top_p)
    assert set(torch.isfinite(filtered[0]).nonzero().flatten().tolist()) == kept
    assert set((4 - torch.isfinite(filtered[1]).nonzero().flatten()).tolist()) == kept
    torch.testing.assert_close(filtered[torch.isfinite(filtered)], logits[torch.isfinite(filtered)])


def test_top_p_samples_only_the_nucleus_in_its_renormalised_proportions():
    logits = PROBS.log().repeat(20_000, 1)
    draws = next_token(logits, temperature=1.0, top_p=0.8, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws.flatten(), minlength=5) / 20_000
    torch.testing.assert_close(counts, torch.tensor([0.15, 0, 0.5, 0, 0.2]) / 0.85, atol=0.015, rtol=0)


def test_a_fixed_seed_reproduces_the_sample_and_another_seed_changes_it():
    model = random_model()
    prompt = torch.tensor([[1, 2, 3]])

    def sample(seed, kv_cache=True):
        return generate(model, prompt, 30, temperature=1.0, top_k=20, top_p=0.9, kv_cache=kv_cache,
                        generator=torch.Generator().manual_seed(seed))

    assert torch.equal(sample(7), sample(7))
    assert torch.equal(sample(7), sample(7, kv_cache=False))
    assert not torch.equal(sample(7), sample(8))


@pytest.mark.parametrize("top_p", [0.0, -0.5, 1.01])
def test_top_p_outside_zero_one_is_refused(top_p):
    with pytest.raises(ConfigError, match=rf"top_p={top_p} is outside \(0, 1\]"):
        generate(random_model(), torch.tensor([[1]]), 2, top_p=top_p)


# ---------------------------------------------------------------- streaming
def test_streaming_prints_whole_characters_and_the_same_text_as_decode():
    tokenizer = TiktokenTokenizer("gpt2")
    text = "Fair Verona — où l'on dit «adieu» 日本語 🎭 ROMEO:"
    ids = tokenizer.encode(text)
    stream = TextStream(tokenizer)
    pieces = [stream.push(i) for i in ids] + [stream.finish()]
    assert "".join(pieces) == tokenizer.decode(ids) == text
    assert "" in pieces[:-1]  # some token ended inside a character and printed nothing yet
    assert all("\ufffd" not in p for p in pieces)


STREAMED = "ROMEO:\n“What is this, my lord?” — ‘Nay’, café, 日本語 🎭\n  JULIET: Good  night!"


def _stream_tokenizer(kind: str):
    from hf_tokenizers import shakespeare_tokenizer

    if kind == "char":
        return CharTokenizer.from_text(STREAMED)
    return TiktokenTokenizer("gpt2") if kind == "tiktoken" else shakespeare_tokenizer(kind)


def _streamed(tokenizer, ids: list[int], context: list[int] = ()) -> list[str]:
    stream = TextStream(tokenizer, context) if context else TextStream(tokenizer)
    return [stream.push(i) for i in ids] + [stream.finish()]


@pytest.mark.parametrize("kind", ["char", "tiktoken", "byte_level", "metaspace", "llama2"])
def test_the_stream_prints_what_decode_of_the_whole_sequence_gives(kind):
    # A SentencePiece '▁' is a space only after another token; curly quotes and CJK are split across byte tokens.
    tokenizer = _stream_tokenizer(kind)
    ids = tokenizer.encode(STREAMED)
    pieces = _streamed(tokenizer, ids)
    assert "".join(pieces) == tokenizer.decode(ids)
    assert not any("\ufffd" in p for p in pieces)
    # After a prompt of the first `cut` tokens, as tinyx.tools.generate prints it (a prompt encoded from text ends with
    # a whole character).
    for cut in [c for c in range(1, len(ids)) if "\ufffd" not in tokenizer.decode(ids[:c])]:
        assert tokenizer.decode(ids[:cut]) + "".join(_streamed(tokenizer, ids[cut:], ids[:cut])) == \
            tokenizer.decode(ids)


@pytest.mark.parametrize("kind", ["tiktoken", "byte_level", "metaspace", "llama2"])
def test_the_stream_of_any_sampled_ids_is_their_decoding(kind):
    # A model samples any sequence: byte tokens that make no character, separators, ids past the vocabulary.
    tokenizer = _stream_tokenizer(kind)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        ids = torch.randint(tokenizer.vocab_size + 2, (40,), generator=generator).tolist()
        pieces = _streamed(tokenizer, ids)
        assert "".join(pieces) == tokenizer.decode(ids)
        if "\ufffd" not in tokenizer.decode(ids):
            assert not any("\ufffd" in p for p in pieces)


def test_streaming_a_character_tokenizer():
    tokenizer = CharTokenizer.from_text("ab\nc")
    stream = TextStream(tokenizer)
    assert [stream.push(i) for i in tokenizer.encode("cab\n")] == ["c", "a", "b", "\n"]
