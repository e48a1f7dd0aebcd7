"""`load_tokens(cfg) -> TokenData`: what the trainer receives, from the cache or after building it."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data import cache
from tinyx.data.download import cache_root
from tinyx.data.lock import build_lock
from tinyx.data.tokenizers import CharTokenizer, HFTokenizer, TiktokenTokenizer, Tokenizer, tokenizer_from_dict

log = logging.getLogger(__name__)


@dataclass
class TokenData:
    train: np.ndarray  # token ids (a memmap of the cache: only the windows drawn are read)
    val: np.ndarray
    tokenizer: Tokenizer
    corpus_path: Path  # the source as named (a file, a folder, a glob, a hub dataset)
    cache_dir: Path
    cache_hit: bool
    fingerprint: str = ""
    doc_starts: np.ndarray | None = None  # token offsets in `train` where documents start
    eot: int | None = None  # the separator between documents (None: none, e.g. characters)
    val_doc_starts: np.ndarray | None = None  # token offsets in `val` where documents start (bits per byte)


def _named_tokenizer(cfg: DataConfig) -> Tokenizer | None:
    """The tokenizer data.* names; None for characters (their alphabet comes from the corpus)."""
    if cfg.tokenizer == "tiktoken":
        return TiktokenTokenizer(cfg.encoding)
    if cfg.tokenizer == "hf":
        return HFTokenizer.from_path(cfg.tokenizer_path)
    return None


def _settings(cfg: DataConfig) -> dict:
    return {"val_fraction": cfg.val_fraction, "split_documents": cfg.split_documents if cfg.source == "text" else None,
            "field": cfg.field if cfg.source in ("jsonl", "parquet", "hf") else None,
            "max_documents": cfg.max_documents, "max_tokens": cfg.max_tokens}


def _token_data(found: cache.CachedTokens, label: str, folder: Path, hit: bool, digest: str) -> TokenData:
    return TokenData(found.train, found.val, tokenizer_from_dict(found.meta["tokenizer"]), Path(label), folder, hit,
                     digest, found.doc_starts, found.meta.get("eot"), found.val_doc_starts)


def _text_tokens(cfg: DataConfig) -> TokenData:
    from tinyx.data.sources import describe_source
    from tinyx.data.splits import split_settings

    source = describe_source(cfg)
    tokenizer = _named_tokenizer(cfg)
    wanted = tokenizer.to_dict() if tokenizer else {"kind": "char"}
    digest, described = cache.fingerprint(source, wanted, {**_settings(cfg), **split_settings(cfg, source)})
    folder = cache_root(cfg) / "tokens" / f"{source.kind}-{_short_id(wanted)}-{digest}"

    def build() -> None:
        from tinyx.data.build import build_text_cache, char_alphabet

        tok = tokenizer or CharTokenizer(char_alphabet(cfg, source))
        build_text_cache(cfg, source, tok, folder, {"version": cache.CACHE_VERSION, "fingerprint": digest,
                                                    "made_from": described, "tokenizer": tok.to_dict()})

    return _open_or_build(folder, digest, source.label, build)


def _shard_tokens(cfg: DataConfig) -> TokenData:
    from tinyx.data.shards import find_shards
    from tinyx.data.sources import Source

    shard_set = find_shards(cfg)
    tokenizer = _shard_tokenizer(cfg, shard_set)
    source = Source(f"shards-{shard_set.format}", cfg.path, shard_set.train + shard_set.val,
                    {"train": [str(p) for p in shard_set.train], "val": [str(p) for p in shard_set.val]})
    digest, described = cache.fingerprint(source, tokenizer.to_dict(), {})
    folder = cache_root(cfg) / "tokens" / f"{source.kind}-{_short_id(tokenizer.to_dict())}-{digest}"

    def build() -> None:
        from tinyx.data.build import build_shard_cache

        build_shard_cache(shard_set, tokenizer, folder, {"version": cache.CACHE_VERSION, "fingerprint": digest,
                                                         "made_from": described, "tokenizer": tokenizer.to_dict()})

    return _open_or_build(folder, digest, cfg.path, build)


def _shard_tokenizer(cfg: DataConfig, shard_set) -> Tokenizer:
    """nanoGPT's meta.pkl fixes a character vocabulary (its itos); without one, the tokenizer data.* names.
    data=shards leaves data.tokenizer unset (None): meta.pkl's characters, else tiktoken data.encoding."""
    if shard_set.meta_pkl is None:
        if cfg.tokenizer is None:  # nanoGPT's BPE prepare.py writes no meta.pkl: gpt2 unless data.encoding says
            return TiktokenTokenizer(cfg.encoding)
        return _named_tokenizer(cfg) or _refuse_char(cfg)
    from tinyx.data.shards import read_meta_pkl

    itos = read_meta_pkl(shard_set.meta_pkl)["itos"]
    if cfg.tokenizer not in (None, "char"):
        raise DataError(f"{shard_set.meta_pkl} says these tokens were made with a character vocabulary of "
                        f"{len(itos)} symbols, but data.tokenizer={cfg.tokenizer} was given: leave data.tokenizer "
                        f"unset (or set it to char) to use meta.pkl's, or remove meta.pkl if {cfg.tokenizer} "
                        f"made them.")
    return CharTokenizer([str(itos[i]) for i in range(len(itos))])


def _refuse_char(cfg: DataConfig):
    raise DataError(f"data.tokenizer=char needs nanoGPT's meta.pkl beside the shards ({cfg.path} has none): add "
                    f"it, or set data.tokenizer=tiktoken (data.encoding=...) or hf to the tokenizer they were made with.")


def _short_id(tokenizer: dict) -> str:
    from tinyx.data.tokenizers import tokenizer_identity

    return tokenizer_identity(tokenizer)


def _open_or_build(folder: Path, digest: str, label: str, build) -> TokenData:
    """The cache; built first when missing. Concurrent starts (a multirun's jobs, torchrun's ranks, nodes on
    one shared cache) take turns on a lock: the first builds, the others wait and then open its cache."""
    found = cache.open_cache(folder, digest)
    if found is not None:  # a hit takes no lock: a read-only cache opens
        return _token_data(found, label, folder, True, digest)
    with build_lock(folder):
        found = cache.open_cache(folder, digest, warn=False)  # built by the start this one waited for
        hit = found is not None
        if not hit:
            build()
            found = cache.open_cache(folder, digest)
            if found is None:
                raise DataError(f"the token cache {folder} could not be read back after building it: check the disk.")
    return _token_data(found, label, folder, hit, digest)


def load_tokens(cfg: DataConfig) -> TokenData:
    """Tokenised train/val splits of the source data.* names, from the cache when its fingerprint matches."""
    if cfg.source == "shards":
        return _shard_tokens(cfg)
    return _text_tokens(cfg)


def check_lengths(data: TokenData, block_size: int) -> None:
    """Both splits must hold at least one window of block_size + 1 tokens. A split short of it in a corpus that
    holds a window at that split's share is the split rule's doing: the message names the rule and its fix."""
    meta = _cache_meta(data.cache_dir)
    settings = meta.get("made_from", {}).get("settings", {})
    window, total = block_size + 1, len(data.train) + len(data.val)
    for split, ids in (("train", data.train), ("val", data.val)):
        if len(ids) >= window:
            continue
        f = settings.get("val_fraction")
        share = None if f is None else total * (f if split == "val" else 1 - f)
        if share is None or share < window:
            raise DataError(f"corpus {data.corpus_path} is too short: its {split} split has {len(ids)} tokens, "
                            f"fewer than one window of model.block_size+1={window}. "
                            f"Use a longer corpus or a smaller model.block_size.")
        raise DataError(f"corpus {data.corpus_path} holds {total:,} tokens, but its {split} split has {len(ids)} "
                        f"({meta.get(f'{split}_documents', 0)} documents), fewer than one window of "
                        f"model.block_size+1={window}, because of the split rule (val: {meta.get('val_rule')}): "
                        f"{_split_fix(split, meta, settings, window)}.")
    if "too few documents" in meta.get("val_rule", ""):
        log.info("val split: %s", meta["val_rule"])


def _split_fix(split: str, meta: dict, settings: dict, window: int) -> str:
    f, documents = settings["val_fraction"], meta.get("train_documents", 0) + meta.get("val_documents", 0)
    if split == "train" and settings.get("max_tokens"):
        return f"raise data.max_tokens={settings['max_tokens']} to at least {window}"
    if split == "train":
        return f"lower data.val_fraction={f:g}"
    fix = f"raise data.val_fraction={f:g}"
    if 1 < documents and math.floor(documents * f) < 1:
        enough = math.ceil(1000 / documents) / 1000  # rounded up: floor(documents * enough) must reach 1
        enough += 0.001 if math.floor(documents * enough) < 1 else 0
        fix += f" to at least {enough:g} (val then gets one of the {documents} documents)"
    if settings.get("max_tokens") or settings.get("max_documents"):
        fix += ", raise data.max_tokens / data.max_documents"
    if meta.get("made_from", {}).get("source") == "text" and settings.get("split_documents") != "none":
        fix += f", or set data.split_documents=none (val: the last {f:g} of the characters)"
    return fix


def _cache_meta(folder: Path) -> dict:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
