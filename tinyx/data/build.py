"""Building a token cache: tokenize a text source (in parallel, streaming) or copy pre-tokenized shards,
into a temporary folder that becomes the cache only once complete (tinyx/data/cache.py)."""

from __future__ import annotations

import errno
import functools
import logging
import shutil
from contextlib import closing
from pathlib import Path

import numpy as np

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data import cache
from tinyx.data.encode import encoded_batches, worker_count
from tinyx.data.sources import Source
from tinyx.data.splits import pieces, splits_by_characters, val_rule

log = logging.getLogger(__name__)

SHARD_CHUNK = 1 << 24  # tokens copied (and checked against the vocabulary) at a time


def _progress(label: str, total: int | None):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    console = Console(stderr=True)
    return Progress(TextColumn(f"tokenizing {label}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TextColumn("{task.fields[docs]:,} docs, {task.fields[tokens]:,} tokens"), TimeRemainingColumn(),
                    console=console, disable=not console.is_terminal)


def _tokenize(writer: cache.CacheWriter, cfg: DataConfig, source: Source, tokenizer, workers: int) -> None:
    """Every piece of the source, tokenized in order into the writer. data.max_tokens: text split by characters
    keeps its first max_tokens train tokens and its whole val split (the same val as without the cap, so val
    losses compare across caps); any other source stops at the first document start past the cap."""
    with _progress(source.label, source.nbytes) as progress:
        task = progress.add_task("", total=source.nbytes, docs=0, tokens=0)

        def fill(stream, add) -> None:
            with closing(encoded_batches(stream, tokenizer, workers)) as batches:  # closing: stops the workers
                for marks, (tokens, lengths, nbytes) in batches:
                    if add(marks, tokens, lengths, nbytes):
                        return
                    progress.update(task, advance=int(nbytes.sum()), docs=sum(writer.documents.values()),
                                    tokens=sum(writer.tokens.values()))

        add_all = functools.partial(_add_batch, writer)
        if not cfg.max_tokens:
            fill(pieces(cfg, source, tokenizer), add_all)
        elif splits_by_characters(cfg, source):
            fill(pieces(cfg, source, tokenizer, ("train",)),
                 functools.partial(_add_train_until, writer, cfg.max_tokens, tokenizer))
            fill(pieces(cfg, source, tokenizer, ("val",)), add_all)
        else:
            fill(pieces(cfg, source, tokenizer), functools.partial(_add_until, writer, cfg.max_tokens))


def _add_batch(writer: cache.CacheWriter, marks: list, tokens, lengths, nbytes) -> bool:
    is_val = np.array([split == "val" for split, _ in marks], dtype=bool)
    starts = np.array([starts_doc for _, starts_doc in marks], dtype=bool)
    token_is_val = np.repeat(is_val, lengths)
    for split, chosen, token_chosen in (("train", ~is_val, ~token_is_val), ("val", is_val, token_is_val)):
        if chosen.any():
            writer.add_pieces(split, tokens[token_chosen], lengths[chosen], starts[chosen], nbytes[chosen])
    return False


def _add_until(writer: cache.CacheWriter, max_tokens: int, marks: list, tokens, lengths, nbytes) -> bool:
    """Piece by piece, stopping at the first document start once the cache holds max_tokens; True: stopped."""
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i, (split, starts_doc) in enumerate(marks):
        if starts_doc and sum(writer.tokens.values()) >= max_tokens:
            return True
        writer.add(split, tokens[offsets[i]:offsets[i + 1]], starts_doc, int(nbytes[i]))
    return False


def _add_train_until(writer: cache.CacheWriter, max_tokens: int, tokenizer, marks: list, tokens, lengths,
                     nbytes) -> bool:
    """Train pieces until the train split holds exactly max_tokens tokens (the last piece cut short, its bytes
    those its kept tokens decode to); True: the cap is reached."""
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i, (split, starts_doc) in enumerate(marks):
        piece = tokens[offsets[i]:offsets[i + 1]]
        room = max_tokens - writer.tokens[split]  # > 0: the call that fills train returns True
        if len(piece) >= room:
            kept = piece[:room]
            writer.add(split, kept, starts_doc, int(tokenizer.token_byte_lengths()[kept].sum()))
            return True
        writer.add(split, piece, starts_doc, int(nbytes[i]))
    return False


def char_alphabet(cfg: DataConfig, source: Source) -> list[str]:
    """A character tokenizer's vocabulary: every character of the source, sorted (a first pass over it)."""
    chars: set[str] = set()
    for piece in pieces(cfg, source):
        chars.update(piece.text)
    return sorted(chars)


def build_text_cache(cfg: DataConfig, source: Source, tokenizer, folder: Path, meta: dict) -> None:
    workers = worker_count(cfg.workers, source.nbytes)

    def fill(writer: cache.CacheWriter) -> None:
        start = cache.now()
        _tokenize(writer, cfg, source, tokenizer, workers)
        if not any(writer.tokens.values()):
            raise DataError(f"corpus {source.label} is empty: point data.path at a file with text in it.")
        seconds = cache.now() - start
        mb = sum(writer.bytes.values()) / 1e6
        log.info("tokenized %s: %.1f MB, %d documents, %d tokens in %.1f s (%.1f MB/s, %d workers)", source.label, mb,
                 sum(writer.documents.values()), sum(writer.tokens.values()), seconds, mb / max(seconds, 1e-9),
                 workers)

    _build(folder, cache.token_dtype(tokenizer.vocab_size), tokenizer.eot, fill,
           {**meta, "workers": workers, "val_rule": val_rule(cfg, source)})


def build_shard_cache(shard_set, tokenizer, folder: Path, meta: dict) -> None:
    """Copy shards into one cache (checking every id against the tokenizer's vocabulary); a separator token
    in them (llm.c puts EOT before each document) marks the document starts."""

    def fill(writer: cache.CacheWriter) -> None:
        for split, paths in (("train", shard_set.train), ("val", shard_set.val)):
            for path in paths:
                _copy_shard(writer, split, path, shard_set.open(path), tokenizer)

    _build(folder, cache.token_dtype(tokenizer.vocab_size), None, fill,
           {**meta, "val_rule": "the source's own val shards"})


def _copy_shard(writer: cache.CacheWriter, split: str, path: Path, ids: np.ndarray, tokenizer) -> None:
    for start in range(0, len(ids), SHARD_CHUNK):
        chunk = np.asarray(ids[start:start + SHARD_CHUNK])
        top = int(chunk.max()) if len(chunk) else 0
        if top >= tokenizer.vocab_size:
            raise DataError(f"shard {path} holds token id {top}, outside the tokenizer's vocabulary of "
                            f"{tokenizer.vocab_size} ({tokenizer.to_dict().get('encoding', tokenizer.to_dict()['kind'])}): "
                            f"set data.tokenizer/data.encoding to the one the shards were made with.")
        # A document starts after each separator (llm.c writes EOT before every document).
        after = np.flatnonzero(chunk == tokenizer.eot) + 1 if tokenizer.eot is not None else np.zeros(0, np.int64)
        bounds = [0, *after[after < len(chunk)].tolist(), len(chunk)]
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            writer.add(split, chunk[a:b], starts_doc=i > 0 or writer.tokens[split] == 0)


def _build(folder: Path, dtype: np.dtype, eot: int | None, fill, meta: dict) -> None:
    """Run `fill(writer)` into a temporary folder, then install it; nothing is left on any failure."""
    try:
        tmp = cache.temporary_folder(folder)
    except OSError as e:
        raise cache.disk_full_error(e, folder) from None
    try:
        writer = cache.CacheWriter(tmp, dtype, eot)
        try:
            fill(writer)
            counts = writer.finish()
        finally:
            writer.close()
        cache.write_meta(tmp, {**meta, **counts, "eot": eot})
        cache.install(tmp, folder)
    except KeyboardInterrupt:
        raise cache.TokenizationInterrupted(f"interrupted while tokenizing into {folder}: the partial cache was "
                                            f"removed; run the same command again to start it over.") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES):
            raise cache.disk_full_error(e, folder) from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
