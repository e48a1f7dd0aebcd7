"""Documents and the validation split: every piece of a source in order, each assigned to train or val.

A `Piece` is a stretch of text, its split and whether it starts a document (a long document comes as several
fragments, tinyx.data.text). The split follows one of two rules, recorded in the cache's meta.json
(`val_rule`) and its fingerprint:
- by document: document i goes to val when floor((i + 1) * f) > floor(i * f), f = val_fraction: evenly spread,
  deterministic, the same on every machine;
- by characters: the last f of the characters (nanoGPT's split), for text read as one stream
  (split_documents=none) and for text files too few to give val a document under the first rule (a single
  file, the commonest corpus: document i is never val for i < 1/f - 1). Files still start documents there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

from tinyx.config import DataConfig
from tinyx.data.cuts import CUT_VERSION, Cutter
from tinyx.data.sources import Source, jsonl_documents, parquet_documents
from tinyx.data.text import count_chars, file_fragments

SPLITS = ("train", "val")


@dataclass
class Piece:
    text: str
    split: str  # "train" | "val"
    starts_doc: bool


def is_val_document(index: int, val_fraction: float) -> bool:
    return math.floor((index + 1) * val_fraction) > math.floor(index * val_fraction)


def _text_files(cfg: DataConfig, source: Source) -> list:
    return source.files if cfg.split_documents == "none" else source.files[:cfg.max_documents]


def splits_by_characters(cfg: DataConfig, source: Source) -> bool:
    """True for a text stream, and for text files too few for the document rule to give val one of them."""
    if source.kind != "text" or cfg.split_documents == "paragraph":
        return False
    n_files = len(_text_files(cfg, source))
    return cfg.split_documents == "none" or not any(is_val_document(i, cfg.val_fraction) for i in range(n_files))


def val_rule(cfg: DataConfig, source: Source) -> str:
    """The rule in words, as the cache's meta.json and the log say it."""
    f = cfg.val_fraction
    if not splits_by_characters(cfg, source):
        return f"document i when floor((i+1)*{f:g}) > floor(i*{f:g})"
    if cfg.split_documents == "none":
        return f"the last {f:g} of the characters (nanoGPT's split)"
    n = len(_text_files(cfg, source))
    return (f"the last {f:g} of the characters ({'one file' if n == 1 else f'{n} files'}: too few documents to "
            f"split by document)")


def split_settings(cfg: DataConfig, source: Source) -> dict:
    """What decides the tokens beyond the data.* keys: the split rule chosen and the cut rule's version."""
    return {"split": "characters" if splits_by_characters(cfg, source) else "documents", "cuts": CUT_VERSION}


def pieces(cfg: DataConfig, source: Source, tokenizer=None, splits: tuple[str, ...] = SPLITS) -> Iterator[Piece]:
    """Every piece of the source in order (those of `splits`), text cut only where `tokenizer` gives the
    tokens of the whole text (None: for characters)."""
    cutter = Cutter(tokenizer)
    if splits_by_characters(cfg, source):
        yield from _character_split(cfg, source, cutter, splits)
        return
    index = -1
    for text, starts in _fragments(cfg, source, cutter):
        if starts:
            index += 1
            if cfg.max_documents is not None and index >= cfg.max_documents:
                return
        split = "val" if is_val_document(index, cfg.val_fraction) else "train"
        if split in splits:
            yield Piece(text, split, starts)


def _fragments(cfg: DataConfig, source: Source, cutter: Cutter) -> Iterator[tuple[str, bool]]:
    """(text, starts a document) for every fragment of every document."""
    if source.kind == "text":
        for path in source.files:
            yield from file_fragments(path, cutter, paragraphs=cfg.split_documents == "paragraph")
    elif source.kind == "jsonl":
        yield from ((doc, True) for doc in jsonl_documents(source.files, cfg.field))
    elif source.kind == "parquet":
        yield from ((doc, True) for doc in parquet_documents(source.files, cfg.field))
    else:
        from tinyx.data.hub import hf_documents

        yield from ((doc, True) for doc in hf_documents(cfg))


def _character_split(cfg: DataConfig, source: Source, cutter: Cutter, splits: tuple[str, ...]) -> Iterator[Piece]:
    """The files in order, the last val_fraction of their characters the validation split (the piece holding
    the boundary is cut there, each side tokenized apart, as nanoGPT does). One stream: one document; else
    each file starts one, and so does the validation split."""
    one_stream = cfg.split_documents == "none"
    files = _text_files(cfg, source)
    n_train = int(count_chars(files) * (1 - cfg.val_fraction))
    seen = 0
    for i, path in enumerate(files):
        for text, starts in file_fragments(path, cutter):
            starts = starts and (i == 0 or not one_stream)
            head = min(max(n_train - seen, 0), len(text))
            if head and "train" in splits:
                yield Piece(text[:head], "train", starts)
            if head < len(text) and "val" in splits:
                yield Piece(text[head:], "val", starts or seen <= n_train)
            seen += len(text)
            if seen >= n_train and "val" not in splits:
                return
