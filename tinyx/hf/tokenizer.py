"""tinyx tokenizers as Hugging Face `tokenizers` files, and the tinyx tokenizer of a folder.

A tiktoken encoding becomes a byte-level BPE built from its own mergeable ranks (no download): the
merges are recovered by running tiktoken's BPE on each token with only the ranks below its own, which
ends in exactly the two parts that merged into it. The character tokenizer becomes a WordLevel model
over its characters, a pre-tokenizer that isolates every character and a decoder that joins them, so
encoding and decoding round-trip any text of its alphabet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyx.common.errors import ExportError

TINYX_TOKENIZER_FILE = "tinyx_tokenizer.json"  # the tinyx tokenizer's to_dict: import recovers it exactly
GPT2_VOCAB = 50257


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (byte-level BPE's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def _split_in_two(ranks: dict[bytes, int], token: bytes, max_rank: int) -> tuple[bytes, bytes]:
    """tiktoken's BPE on `token` with only ranks below `max_rank`: the last merge's two parts."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best, at = None, None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best):
                best, at = rank, i
        if at is None:
            break
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    if len(parts) != 2:
        raise ExportError(f"token {token!r} is not a merge of two tokens: this tiktoken encoding cannot be written "
                          f"as a BPE tokenizer.json.")
    return parts[0], parts[1]


def tiktoken_to_tokenizer(encoding_name: str):
    """A `tokenizers.Tokenizer` that encodes exactly as tiktoken's `encoding_name` (encode_ordinary)."""
    import tiktoken
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    enc = tiktoken.get_encoding(encoding_name)
    ranks: dict[bytes, int] = enc._mergeable_ranks
    byte_char = _bytes_to_unicode()

    def text(token: bytes) -> str:
        return "".join(byte_char[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            left, right = _split_in_two(ranks, token, rank)
            merges.append((text(left), text(right)))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    # tiktoken's own split regex, then the bytes as byte-level characters (ByteLevel's regex off: the split did it).
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(enc._pat_str), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(name, special=True, normalized=False)
                                  for name, _ in sorted(enc._special_tokens.items(), key=lambda item: item[1])])
    return tokenizer


def char_to_tokenizer(chars: list[str]):
    """A `tokenizers.Tokenizer` with one token per character of `chars` (ids as tinyx's CharTokenizer)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel(vocab={c: i for i, c in enumerate(chars)}, unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # join the characters with nothing between them
    return tokenizer


def write_tokenizer(tinyx_tokenizer, folder: Path) -> int | None:
    """tokenizer.json, tokenizer_config.json and tinyx_tokenizer.json into folder; returns the end-of-text id."""
    info = tinyx_tokenizer.to_dict()
    eos_id, eos = None, None
    if info["kind"] == "char":
        tokenizer = char_to_tokenizer(info["chars"])
    elif info["kind"] == "tiktoken":
        tokenizer = tiktoken_to_tokenizer(info["encoding"])
        special = tinyx_tokenizer.enc._special_tokens
        if "<|endoftext|>" in special:
            eos, eos_id = "<|endoftext|>", special["<|endoftext|>"]
    elif info["kind"] == "hf":  # a tokenizers tokenizer already: its own tokenizer.json, as trained with
        tokenizer = None
        (folder / "tokenizer.json").write_text(info["json"], encoding="utf-8")
        eos_id = getattr(tinyx_tokenizer, "eot", None)
        eos = tinyx_tokenizer.tok.id_to_token(eos_id) if eos_id is not None else None
    else:
        raise ExportError(f"tokenizer kind {info['kind']!r} has no Hugging Face form in this tinyx: export a run "
                          f"trained with data.tokenizer=char, tiktoken or hf.")
    if tokenizer is not None:
        tokenizer.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": None,
              # tinyx decodes text as it was: no "cleaning" of spaces before punctuation.
              "clean_up_tokenization_spaces": False, "add_bos_token": False, "add_eos_token": False}
    if eos:
        config.update(bos_token=eos, eos_token=eos, unk_token=eos)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": eos, "eos_token": eos, "unk_token": eos} if eos else {}, indent=2) + "\n")
    (folder / TINYX_TOKENIZER_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return eos_id


def folder_tokenizer(folder: Path, vocab_size: int) -> dict[str, Any] | None:
    """The tinyx tokenizer (to_dict form) of an HF folder: tinyx's own record, else tiktoken gpt2 for a
    GPT-2 vocabulary; None when neither fits (such a folder needs data.tokenizer=hf)."""
    own = folder / TINYX_TOKENIZER_FILE
    if own.is_file():
        return json.loads(own.read_text())
    if vocab_size == GPT2_VOCAB and _is_gpt2_vocab(folder):
        return {"kind": "tiktoken", "encoding": "gpt2"}
    return None


def _is_gpt2_vocab(folder: Path) -> bool:
    """Whether the folder's tokenizer has GPT-2's tokens at GPT-2's ids (checked on a few of them)."""
    vocab = None
    if (folder / "vocab.json").is_file():
        vocab = json.loads((folder / "vocab.json").read_text())
    elif (folder / "tokenizer.json").is_file():
        vocab = json.loads((folder / "tokenizer.json").read_text()).get("model", {}).get("vocab")
    if not isinstance(vocab, dict):
        return False
    # GPT-2: "!" is 0, "Ġthe" (" the") is 262, "<|endoftext|>" is 50256.
    return vocab.get("!") == 0 and vocab.get("Ġthe") == 262 and vocab.get("<|endoftext|>", 50256) == 50256
