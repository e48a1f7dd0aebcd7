"""Tokenizing a stream of pieces in parallel worker processes, in order, with bounded memory.

Pieces are grouped into batches of about 4 MB of text; at most two batches per worker are in flight,
so memory does not grow with the corpus. Workers start with spawn (never fork: the parent may
hold torch's threads; not forkserver: its server outlives a SIGKILLed parent) and ignore SIGINT, so
Ctrl-C reaches the parent alone, which stops them; on Linux they also end when the parent dies.
This module imports neither torch nor the tinyx.data package's heavier parts: workers start fast.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Iterator

import numpy as np

BATCH_CHARS = 4 << 20
PARALLEL_MIN_BYTES = 16 << 20  # below this, starting workers costs more than it saves

_worker_tokenizer = None


def _die_with_parent(parent: int) -> None:
    """Linux: end this worker when its parent (the tinyx process) ends, so a SIGKILLed run leaves no worker
    tokenizing for nobody; a parent that died while this worker was starting is checked for after."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(description: dict, parent: int) -> None:
    global _worker_tokenizer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    from tinyx.data.tokenizers import tokenizer_from_dict

    _worker_tokenizer = tokenizer_from_dict(description)


def encode_texts(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(all tokens as uint32, tokens per text, UTF-8 bytes per text): one array each, cheap to send back."""
    arrays = tokenizer.encode_batch(texts)
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    tokens = np.concatenate(arrays).astype(np.uint32, copy=False) if arrays else np.zeros(0, np.uint32)
    nbytes = np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64)
    return tokens, lengths, nbytes


def _encode_in_worker(texts: list[str]):
    return encode_texts(_worker_tokenizer, texts)


def _batches(pieces: Iterable) -> Iterator[list]:
    batch, size = [], 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece.text)
        if size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def worker_count(requested: int, source_bytes: int | None) -> int:
    """data.workers (-1: none, tokenize in this process), or for 0: none for small sources, one per CPU core
    for large ones."""
    if requested:
        return max(requested, 0)
    if source_bytes is not None and source_bytes < PARALLEL_MIN_BYTES:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 32)


def encoded_batches(pieces: Iterable, tokenizer, workers: int) -> Iterator[tuple[list, tuple]]:
    """(the batch's pieces without their text, (tokens, lengths, nbytes)) for each batch, in source order."""
    if workers == 0:
        for batch in _batches(pieces):
            yield [(p.split, p.starts_doc) for p in batch], encode_texts(tokenizer, [p.text for p in batch])
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(tokenizer.to_dict(), os.getpid()))
    pending: deque = deque()
    try:
        for batch in _batches(pieces):
            pending.append(([(p.split, p.starts_doc) for p in batch],
                            pool.submit(_encode_in_worker, [p.text for p in batch])))
            del batch
            while len(pending) >= 2 * workers:
                marks, future = pending.popleft()
                yield marks, future.result()
        while pending:
            marks, future = pending.popleft()
            yield marks, future.result()
    finally:  # also on Ctrl-C, an error, or a consumer that stopped early (data.max_tokens)
        pool.shutdown(wait=True, cancel_futures=True)
