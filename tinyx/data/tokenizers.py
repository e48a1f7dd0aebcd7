"""The tokenizers: characters, any tiktoken encoding, a Hugging Face `tokenizers` tokenizer from local files.

Each describes itself with `to_dict` (what the run directory and checkpoints keep, so `generate` and
`evaluate` decode without the corpus) and `tokenizer_from_dict` rebuilds it. `encode_batch` is what
the cache's workers call; `token_byte_lengths` gives the UTF-8 bytes each id stands for (bits per byte,
tinyx/data/token_bytes.py).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np

from tinyx.common.errors import DataError


class CharTokenizer:
    """One token per character of the corpus' alphabet (sorted, as nanoGPT). No separator token:
    documents are marked by `TokenData.doc_starts` only, so the vocabulary is the corpus' characters."""

    eot = None
    byte_token_ids: frozenset[int] = frozenset()  # none: each token is a whole character

    def __init__(self, chars: list[str]):
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.vocab_size = len(chars)
        self._codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        missing = sorted(set(text) - self.stoi.keys())
        if missing:
            raise DataError(f"characters {', '.join(map(repr, missing))} are not in this run's vocabulary "
                            f"(a character tokenizer knows only its corpus' characters): remove them from the prompt.")
        return [self.stoi[c] for c in text]

    def encode_corpus(self, text: str) -> np.ndarray:
        # Vectorised: code points -> positions in the sorted alphabet.
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return np.searchsorted(self._codepoints, cps)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        return [self.encode_corpus(t) for t in texts]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids if 0 <= i < self.vocab_size)

    def token_byte_lengths(self) -> np.ndarray:
        return np.array([len(c.encode("utf-8")) for c in self.chars], dtype=np.int64)

    def token_bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """(bytes inside a text, bytes as a text's first token): the same, a character is its bytes anywhere."""
        table = self.token_byte_lengths()
        return table, table

    def bytes_mismatch(self) -> str | None:
        return None  # every character is spelt by its token

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class TiktokenTokenizer:
    byte_token_ids: frozenset[int] = frozenset()  # none: bytes that make no character decode alone to U+FFFD

    def __init__(self, encoding: str):
        import tiktoken

        try:
            self.enc = tiktoken.get_encoding(encoding)
        except ValueError:
            raise DataError(f"data.encoding={encoding!r} is not a tiktoken encoding: use one of "
                            f"{', '.join(tiktoken.list_encoding_names())}.") from None
        except Exception as e:  # network errors come in many types
            raise DataError(f"could not load tiktoken encoding {encoding!r} ({type(e).__name__}). Without internet, set "
                            f"TIKTOKEN_CACHE_DIR to an absolute folder holding tiktoken's cache files "
                            f"(e.g. ../shared/tiktoken_cache).") from None
        self.encoding = encoding
        self.vocab_size = self.enc.n_vocab
        self.eot = self.enc.eot_token

    def encode(self, text: str) -> list[int]:
        return self.enc.encode_ordinary(text)

    def encode_corpus(self, text: str) -> np.ndarray:
        return np.array(self.enc.encode_ordinary(text), dtype=np.int64)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        # One thread per process (the cache's parallelism is its workers). encode_to_numpy with no special
        # tokens allowed or refused is encode_ordinary, without building a list of Python ints.
        if hasattr(self.enc, "encode_to_numpy"):
            return [self.enc.encode_to_numpy(t, allowed_special=set(), disallowed_special=()) for t in texts]
        return [np.array(self.enc.encode_ordinary(t), dtype=np.uint32) for t in texts]

    def decode(self, ids) -> str:
        return self.enc.decode([i for i in ids if 0 <= i < self.vocab_size])

    def token_byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes each token id decodes to (bits per byte divides by their sum); 0 for special tokens
        (<|endoftext|> between documents stands for no text)."""
        special = {self.enc.encode_single_token(t) for t in self.enc.special_tokens_set}
        lengths = np.zeros(self.vocab_size, dtype=np.int64)
        for i in range(self.vocab_size):
            if i in special:
                continue
            try:
                lengths[i] = len(self.enc.decode_single_token_bytes(i))
            except KeyError:  # a hole in the id range (some encodings have them)
                pass
        return lengths

    def token_bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """(bytes inside a text, bytes as a text's first token): the same, tiktoken adds nothing to a text."""
        table = self.token_byte_lengths()
        return table, table

    def bytes_mismatch(self) -> str | None:
        return None  # byte-level: every byte is spelt, nothing normalized

    def to_dict(self) -> dict:
        return {"kind": "tiktoken", "encoding": self.encoding}


# Names of the end-of-text token in common Hugging Face tokenizers, tried in this order.
_EOT_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eot_id|>", "[SEP]")


class HFTokenizer:
    """A `tokenizers` tokenizer (a tokenizer.json file, or a folder holding one, as `save_pretrained` writes).

    Its description embeds the whole tokenizer.json, so a run directory decodes without the folder.
    """

    def __init__(self, json_text: str, source: str):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_str(json_text)
        self.json_text, self.source = json_text, source
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)
        self.eot = next((i for i in map(self.tok.token_to_id, _EOT_NAMES) if i is not None), None)

    @classmethod
    def from_path(cls, path: str) -> "HFTokenizer":
        """A tokenizer.json, a folder holding one, or a model name already in the local Hugging Face cache
        (through transformers' AutoTokenizer, local files only: nothing is downloaded, no remote code)."""
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / "tokenizer.json"
        if not file.is_file():
            return cls(_cached_tokenizer_json(path), path)
        try:
            return cls(file.read_text(encoding="utf-8"), str(file))
        except Exception as e:  # tokenizers raises plain Exceptions on a malformed file
            raise DataError(f"data.tokenizer_path={path} is not a tokenizers tokenizer.json ({e}): pass the folder "
                            f"a tokenizer was saved to.") from None

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_corpus(self, text: str) -> np.ndarray:
        return np.array(self.encode(text), dtype=np.int64)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        encodings = self.tok.encode_batch(texts, add_special_tokens=False)
        return [np.array(e.ids, dtype=np.uint32) for e in encodings]

    def decode(self, ids) -> str:
        return self.tok.decode([i for i in ids if 0 <= i < self.vocab_size], skip_special_tokens=False)

    @cached_property
    def byte_token_ids(self) -> frozenset[int]:
        """The byte-fallback tokens (<0xNN>): a run of them decodes to U+FFFD for every byte when the run is not
        valid UTF-8 as a whole, so one's text depends on the byte tokens after it (tinyx.nn.decoding.TextStream)."""
        if not (json.loads(self.json_text).get("model") or {}).get("byte_fallback"):
            return frozenset()
        return frozenset(i for i in map(self.tok.token_to_id, (f"<0x{b:02X}>" for b in range(256))) if i is not None)

    def token_byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes each id stands for inside a text (tinyx.data.token_bytes: not from decoding it alone);
        0 for special tokens (separators stand for no text)."""
        return self.token_bytes()[0]

    def token_bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """(bytes inside a text, bytes as the first token of an encoded text): these differ where the tokenizer
        puts a space before every text it encodes (SentencePiece's '▁')."""
        return self._byte_counts

    @cached_property
    def _byte_counts(self) -> tuple[np.ndarray, np.ndarray]:
        from tinyx.data.token_bytes import hf_token_bytes

        return hf_token_bytes(self.tok, self.json_text)

    def bytes_mismatch(self) -> str | None:
        """None, or how this tokenizer's byte counts miss a probe text's bytes (tinyx.data.token_bytes)."""
        from tinyx.data.token_bytes import inexact_reason

        return inexact_reason(self, *self.token_bytes())

    def to_dict(self) -> dict:
        return {"kind": "hf", "source": self.source, "json": self.json_text}


def _cached_tokenizer_json(name: str) -> str:
    hint = (f"data.tokenizer_path={name} is neither a folder with tokenizer.json nor a model whose fast tokenizer "
            f"is in the local Hugging Face cache")
    try:
        from transformers import AutoTokenizer
    except ModuleNotFoundError:
        raise DataError(f"{hint}: pass a local folder (the hf extra adds transformers for names).") from None
    try:
        tok = AutoTokenizer.from_pretrained(name, local_files_only=True)  # no trust_remote_code: never runs code
        return tok.backend_tokenizer.to_str()
    except Exception:  # not cached, not a fast tokenizer, a bad name: transformers raises many types
        raise DataError(f"{hint}: save it once with save_pretrained and pass that folder.") from None


Tokenizer = CharTokenizer | TiktokenTokenizer | HFTokenizer


def tokenizer_from_dict(d: dict) -> Tokenizer:
    if d.get("kind") == "char":
        return CharTokenizer(list(d["chars"]))
    if d.get("kind") == "tiktoken":
        return TiktokenTokenizer(d["encoding"])
    if d.get("kind") == "hf":
        return HFTokenizer(d["json"], d.get("source", "?"))
    raise DataError(f"unknown tokenizer description {d!r}: the run directory's tokenizer.json is damaged.")


def tokenizer_identity(d: dict) -> str:
    """A short stable id of a tokenizer description, for cache keys (the char alphabet comes from the corpus)."""
    import hashlib

    if d["kind"] == "char":
        return "char"
    if d["kind"] == "tiktoken":
        return f"tiktoken-{d['encoding']}"
    return "hf-" + hashlib.sha256(json.dumps(d.get("json", "")).encode()).hexdigest()[:12]
