"""Hugging Face tokenizers of the kinds tinyx reads, trained here in-process on a little text (nothing downloaded).

- `byte_level_bpe`: GPT-2 style (ByteLevel pre-tokenizer and decoder; every byte is a token).
- `metaspace_bpe`: SentencePiece style (Metaspace: a space is '▁', glued to the word after it, and one is put
  before each text encoded), with byte fallback: a character outside the vocabulary is spelt `<0xNN>` tokens.
- `llama2_bpe`: the Llama 2 / Mistral tokenizer.json layout (a Prepend('▁') + Replace normalizer, a
  Replace / ByteFallback / Fuse / Strip decoder), with byte fallback.
- `wordpiece`: BERT style (lower-cased, whitespace dropped, '##' continuations): its tokens cannot spell the text.
"""

from __future__ import annotations

import json
from functools import lru_cache, partial

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def byte_level_bpe(texts: list[str], vocab_size: int = 400, add_prefix_space: bool = False) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _with_byte_fallback(trained: Tokenizer) -> Tokenizer:
    """`trained`'s BPE model with the 256 byte tokens in its vocabulary (the trainer does not add them)."""
    model = json.loads(trained.to_str())["model"]
    vocab = {"</s>": 0, **{t: i + 1 for i, t in enumerate(BYTE_TOKENS)}}
    for token in sorted(model["vocab"], key=model["vocab"].get):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True))
    tok.add_special_tokens(["</s>"])
    return tok


def metaspace_bpe(texts: list[str], vocab_size: int = 500, prepend_scheme: str = "first") -> Tokenizer:
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=prepend_scheme)
    trained.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["</s>"]))
    tok = _with_byte_fallback(trained)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=prepend_scheme)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme=prepend_scheme)])
    return tok


def llama2_bpe(texts: list[str], vocab_size: int = 500) -> Tokenizer:
    normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trained = Tokenizer(models.BPE())
    trained.normalizer = normalizer
    trained.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    trained.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["</s>"]))
    tok = _with_byte_fallback(trained)
    tok.normalizer = normalizer
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    return tok


def wordpiece(texts: list[str], vocab_size: int = 500) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["[UNK]", "[SEP]"]))
    return tok


BUILDERS = {"byte_level": byte_level_bpe, "byte_level_prefix_space": partial(byte_level_bpe, add_prefix_space=True),
            "metaspace": metaspace_bpe, "metaspace_always": partial(metaspace_bpe, prepend_scheme="always"),
            "llama2": llama2_bpe, "wordpiece": wordpiece}


@lru_cache(maxsize=None)
def shakespeare_tokenizer(kind: str, added: tuple[str, ...] = ()):
    """A tinyx HFTokenizer of `kind` (BUILDERS) trained on Tiny Shakespeare's first 50 KB, with `added` as added
    (non-special) tokens; trained once per test session."""
    from helpers import CORPUS

    from tinyx.data.tokenizers import HFTokenizer

    tok = BUILDERS[kind](CORPUS.read_text(encoding="utf-8")[:50_000].split("\n\n"))
    tok.add_tokens(list(added))
    return HFTokenizer(tok.to_str(), f"{kind} trained in the tests")
