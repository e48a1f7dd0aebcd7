"""Text sources: where documents come from, read in bounded pieces, each assigned to the train or val split.

A source yields `Piece`s: a stretch of text, the split it belongs to and whether it starts a document.
Text never has to fit in memory: files are read in blocks of about a megabyte, cut where a tokenizer
would cut anyway (after a newline followed by a non-space, a boundary every tiktoken pattern splits at),
so the tokens equal those of the whole text tokenized at once.

The validation split: a corpus read as one stream (data=text with split_documents=none, Tiny Shakespeare)
keeps nanoGPT's split, the last `val_fraction` of its characters. A corpus of documents sends document i
to val when floor((i + 1) * f) > floor(i * f), f = val_fraction: evenly spread, deterministic, the same
on every machine, and recorded in the cache's meta.json.
"""

from __future__ import annotations

import codecs
import glob
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from tinyx.config import DataConfig
from tinyx.errors import DataError

BLOCK_BYTES = 1 << 20
TEXT_SUFFIXES = (".txt", ".md", ".text", ".rst")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
_SAFE_CUT = re.compile(r"\n(?=\S)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass
class Piece:
    text: str
    split: str  # "train" | "val"
    starts_doc: bool


@dataclass
class Source:
    """What a run reads: its files (size and mtime make the cache's fingerprint), or a hub dataset's identity."""

    kind: str
    label: str  # shown in messages and recorded in the run directory
    files: list[Path] = field(default_factory=list)
    identity: dict = field(default_factory=dict)  # what else decides the documents (hub name, config, split)

    @property
    def nbytes(self) -> int | None:
        return sum(f.stat().st_size for f in self.files) if self.files and self.kind != "hf" else None


# ---------------------------------------------------------------- finding files
def expand_files(path: str, suffixes: tuple[str, ...], key: str = "data.path") -> list[Path]:
    """A file, a folder (its files with these suffixes, recursively) or a glob, sorted; errors name the fix."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        if not found:
            raise DataError(f"{key}={path} is a folder with no {'/'.join(suffixes)} files: put them there, or pass "
                            f"a glob that matches your files ({key}='{p}/**/*.<ext>').")
        return found
    if glob.has_magic(str(p)):
        found = sorted(Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
        if not found:
            raise DataError(f"{key}='{path}' matches nothing: check the pattern (quote it so the shell "
                            f"leaves it to tinyx).")
        return found
    raise DataError(f"{key}={path} does not exist: pass a UTF-8 text file, a folder or a glob.")


def text_source(cfg: DataConfig) -> Source:
    if cfg.path is None:
        from tinyx.data.download import resolve_corpus

        corpus = resolve_corpus(cfg)
        return Source("text", str(corpus), [corpus])
    files = expand_files(cfg.path, TEXT_SUFFIXES)
    return Source("text", cfg.path if len(files) > 1 else str(files[0]), files)


def describe_source(cfg: DataConfig) -> Source:
    """The source data.* names, checked to exist (nothing read yet)."""
    if cfg.source == "text":
        return text_source(cfg)
    if cfg.source in ("jsonl", "parquet"):
        files = expand_files(cfg.path, JSONL_SUFFIXES if cfg.source == "jsonl" else PARQUET_SUFFIXES)
        return Source(cfg.source, cfg.path, files, {"field": cfg.field})
    from tinyx.data.hub import hf_source

    return Source("hf", *hf_source(cfg))


# ---------------------------------------------------------------- reading text
def _decode_blocks(path: Path) -> Iterator[str]:
    """The file's text, a block at a time; a byte that is not UTF-8 names the file and offset."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while True:
            raw = f.read(BLOCK_BYTES)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                raise DataError(f"{path} is not UTF-8 text (bad byte at offset {offset + e.start}): convert it to "
                                f"UTF-8, or leave it out of data.path.") from None
            offset += len(raw)
            if text:
                yield text
            if not raw:
                return


def _safe_cut(text: str) -> int:
    """The last position in `text` where every tokenizer splits anyway; 0 when there is none."""
    tail_start = max(0, len(text) - (64 << 10))
    cut = 0
    for m in _SAFE_CUT.finditer(text, tail_start):
        cut = m.end()
    return cut


def file_fragments(path: Path) -> Iterator[str]:
    """A file's text in fragments of about a megabyte, cut only at safe places (see the module's doc)."""
    carry = ""
    for block in _decode_blocks(path):
        text = carry + block
        cut = _safe_cut(text)
        if cut == 0 and len(text) < 8 * BLOCK_BYTES:
            carry = text  # no safe place yet: read on (a pathological file is cut at 8 MB regardless)
            continue
        cut = cut or len(text)
        yield text[:cut]
        carry = text[cut:]
    if carry:
        yield carry


def file_paragraphs(path: Path) -> Iterator[str]:
    """A file's blank-line separated paragraphs (stripped, the empty ones left out)."""
    carry = ""
    for block in _decode_blocks(path):
        parts = _PARAGRAPH_BREAK.split(carry + block)
        carry = parts.pop()
        yield from (p.strip("\n") for p in parts if p.strip())
    if carry.strip():
        yield carry.strip("\n")


def count_chars(files: list[Path]) -> int:
    """Characters in these UTF-8 files (bytes that do not continue a multi-byte character), without decoding."""
    n = 0
    for path in files:
        with open(path, "rb") as f:
            while raw := f.read(BLOCK_BYTES * 16):
                n += int(np.count_nonzero((np.frombuffer(raw, dtype=np.uint8) & 0xC0) != 0x80))
    return n


# ---------------------------------------------------------------- documents and splits
def is_val_document(index: int, val_fraction: float) -> bool:
    return math.floor((index + 1) * val_fraction) > math.floor(index * val_fraction)


def _stream_pieces(files: list[Path], val_fraction: float) -> Iterator[Piece]:
    """The files as one stream, its last val_fraction of characters the validation split (nanoGPT's split)."""
    n_train = int(count_chars(files) * (1 - val_fraction))
    seen, first_val = 0, True
    for i, path in enumerate(files):
        for j, text in enumerate(file_fragments(path)):
            starts = i == 0 and j == 0
            if seen + len(text) <= n_train:
                yield Piece(text, "train", starts)
            elif seen >= n_train:
                yield Piece(text, "val", first_val)
                first_val = False
            else:
                head = n_train - seen
                if head:
                    yield Piece(text[:head], "train", starts)
                yield Piece(text[head:], "val", True)
                first_val = False
            seen += len(text)


def _documents(cfg: DataConfig, source: Source) -> Iterator[Iterable[str]]:
    """Each document as an iterable of its fragments."""
    if source.kind == "text" and cfg.split_documents == "file":
        yield from (file_fragments(path) for path in source.files)
    elif source.kind == "text":
        yield from ([p] for path in source.files for p in file_paragraphs(path))
    elif source.kind == "jsonl":
        yield from ([doc] for doc in jsonl_documents(source.files, cfg.field))
    elif source.kind == "parquet":
        yield from ([doc] for doc in parquet_documents(source.files, cfg.field))
    else:
        from tinyx.data.hub import hf_documents

        yield from ([doc] for doc in hf_documents(cfg))


def pieces(cfg: DataConfig, source: Source) -> Iterator[Piece]:
    """Every piece of the source in order, each with its split (see the module's doc)."""
    if source.kind == "text" and cfg.split_documents == "none":
        yield from _stream_pieces(source.files, cfg.val_fraction)
        return
    for index, fragments in enumerate(_documents(cfg, source)):
        if cfg.max_documents is not None and index >= cfg.max_documents:
            return
        split = "val" if is_val_document(index, cfg.val_fraction) else "train"
        for j, text in enumerate(fragments):
            yield Piece(text, split, j == 0)


# ---------------------------------------------------------------- JSONL and Parquet
def jsonl_documents(files: list[Path], field_name: str) -> Iterator[str]:
    for path in files:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise DataError(f"{path}:{lineno} is not JSON ({getattr(e, 'msg', e)}): fix or remove that "
                                    f"line (data=jsonl reads one JSON object per line).") from None
                yield _field(row, field_name, f"{path}:{lineno}")


def _field(row, field_name: str, where: str) -> str:
    value = row.get(field_name) if isinstance(row, dict) else None
    if not isinstance(value, str):
        keys = ", ".join(map(str, row)) if isinstance(row, dict) else type(row).__name__
        raise DataError(f"{where} has no text in data.field={field_name!r} (it has: {keys}): set data.field to "
                        f"the key that holds each document's text.")
    return value


def parquet_documents(files: list[Path], field_name: str) -> Iterator[str]:
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise DataError("data=parquet needs pyarrow: install the hf extra (uv sync --extra hf).") from None
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
        except Exception as e:  # pyarrow's errors for a file that is not Parquet
            raise DataError(f"{path} is not a Parquet file ({e}): leave it out of data.path.") from None
        names = parquet.schema_arrow.names
        if field_name not in names:
            raise DataError(f"Parquet file {path} has no column data.field={field_name!r} (its columns: "
                            f"{', '.join(names)}): set data.field to the column holding the text.")
        for batch in parquet.iter_batches(columns=[field_name], batch_size=1024):
            for value in batch.column(0).to_pylist():
                if value is not None:
                    yield str(value)
