"""What a run records about its data, and the check that a checkpoint's tokenizer is the data's.

The run directory keeps the tokenizer whole (tokenizer.json, and in every checkpoint: what generate and
evaluate decode with) and provenance.json's `data` says which tokens trained it (`data_record`), with `content`:
what the data is, whatever folder it was read from (`data_content`), by which compare tells corpora and
tokenizers apart. Resuming a run or evaluating a checkpoint on data whose tokenizer differs would read token ids
as other text: `tokenizer_mismatch` words the refusal, naming both tokenizers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def describe_tokenizer(tokenizer: dict[str, Any]) -> str:
    """A tokenizer description (`to_dict()`) in a few words: `tiktoken gpt2`, `char (65 characters)`."""
    kind = tokenizer.get("kind")
    if kind == "char":
        return f"char ({len(tokenizer.get('chars') or [])} characters)"
    if kind == "tiktoken":
        return f"tiktoken {tokenizer.get('encoding')}"
    # Other kinds (a Hugging Face tokenizer): whatever names it, without its (long) vocabulary.
    named = [str(tokenizer[k]) for k in ("name", "path", "encoding") if tokenizer.get(k)]
    return " ".join([str(kind), *named[:1]])


def _char_difference(trained: dict[str, Any], current: dict[str, Any]) -> str:
    """Which characters two character vocabularies do not share (a few of each), e.g. `'é' only in the data's`."""
    before, now = set(trained.get("chars") or []), set(current.get("chars") or [])
    parts = []
    for chars, whose in ((before - now, "the checkpoint's"), (now - before, "the data's")):
        if chars:
            shown = ", ".join(map(repr, sorted(chars)[:5])) + (", ..." if len(chars) > 5 else "")
            parts.append(f"{shown} only in {whose}")
    return f" ({'; '.join(parts)})" if parts else " (same characters, in another order)"


def tokenizer_mismatch(trained: dict[str, Any], current: dict[str, Any]) -> str | None:
    """None when the checkpoint's tokenizer is the data's; else `tokenizer X, but the data gives Y` to
    build a one-line message on."""
    if trained == current:
        return None
    said_before, said_now = describe_tokenizer(trained), describe_tokenizer(current)
    detail = _char_difference(trained, current) if trained.get("kind") == current.get("kind") == "char" else ""
    if said_before == said_now and not detail:
        detail = " (the same name, another vocabulary)"
    return f"tokenizer {said_before}, but this data gives {said_now}{detail}"


def data_settings(config: dict[str, Any]) -> str:
    """The data keys of a run's config that choose its tokens, as overrides to pass again."""
    data = config.get("data") or {}
    keys = ["tokenizer"] + (["encoding"] if data.get("tokenizer") == "tiktoken" else []) + ["path"]
    # data.name is the data group's option (conf/data/<name>.yaml): passed as data=<name>.
    group = [f"data={data['name']}"] if data.get("name") else []
    return " ".join(group + [f"data.{k}={data[k]}" for k in keys if data.get(k) is not None])


def _digest(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _tokenizer_content(tokenizer: dict[str, Any]) -> dict[str, Any]:
    # Where a tokenizer was read from is not what it is: a Hugging Face tokenizer's folder is left out.
    return {k: v for k, v in tokenizer.items() if k != "source"}


def data_content(data) -> str | None:
    """What the data is (a TokenData): a digest of the tokens and document starts of both splits, as the token
    cache digested them while writing them (its meta.json), and of the tokenizer that reads the ids as text.
    The same corpus moved to another folder gives the same digest; another corpus or tokenizer another.
    None for a cache that records no content."""
    from tinyx.data.cache import read_content

    content = read_content(data.cache_dir)
    if content is None:
        return None
    return _digest({"splits": content, "tokenizer": _tokenizer_content(data.tokenizer.to_dict())})


def train_identity(data) -> str:
    """The train split's identity (a TokenData), what WindowSampler.order_key hashes: its tokens and document
    starts as the cache digested them, and the tokenizer. Without that record (a cache older than it) the
    split is known by its length and its first and last 64 tokens."""
    from tinyx.data.cache import read_content

    content = read_content(data.cache_dir) or {}
    if "train" in content:
        split = {"train": content["train"], "train_documents": content.get("train_documents")}
    else:
        split = {"train_tokens": len(data.train), "ends": [int(t) for t in [*data.train[:64], *data.train[-64:]]]}
    return _digest({**split, "tokenizer": _tokenizer_content(data.tokenizer.to_dict())})


def data_record(data) -> dict[str, Any]:
    """provenance.json's `data`: where the tokens came from, what made them and what they are (a TokenData)."""
    return {"corpus": str(data.corpus_path), "tokens": data.cache_dir.name, "fingerprint": data.fingerprint,
            "content": data_content(data),
            "tokenizer": describe_tokenizer(data.tokenizer.to_dict()), "vocab_size": data.tokenizer.vocab_size,
            "train_tokens": len(data.train), "val_tokens": len(data.val),
            "documents": None if data.doc_starts is None else len(data.doc_starts)}
