"""The on-disk token cache: one folder per source + tokenizer + split settings, in llm.c's shard format.

<cache_dir>/tokens/<source>-<tokenizer>-<fingerprint>/
  train.bin, val.bin      llm.c shards (1024-byte header: magic 20240520 v1 uint16 tokens, or 20240801 v7
                          uint32 when the vocabulary exceeds 65,536; header[2] the count), readable by llm.c,
                          modded-nanogpt and tinyx's data=shards
  train_docs.bin, val_docs.bin   int64 token offsets where each document starts
  meta.json               tokenizer, fingerprint and what it was made of, token/document/byte counts, and
                          `content`: the sha256 of each split's token bytes and document offsets, taken as
                          they were written (what the data is, wherever it was read from: tinyx.rundir.data_record)

The fingerprint is the sha256 of: each source file's absolute path, size and mtime_ns (or a hub dataset's
name, config, split), the tokenizer, and the split settings (val_fraction, split_documents, field,
max_documents, max_tokens). A start whose fingerprint matches opens the files as memmaps without reading
the source; touching, editing or adding a file, or changing any of those keys, tokenizes again.
A cache is built in a temporary folder beside it and renamed into place whole: Ctrl-C, a kill, a full
disk or an error leave no folder a later run would use (a killed build's leftovers go at the next build).
Concurrent starts on one source build it once: a lock beside the folder (tinyx/data/lock.py).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyx.common.errors import DataError
from tinyx.data.shards import HEADER_BYTES, LLMC_FORMATS, llmc_header
from tinyx.data.tokenizers import tokenizer_identity

log = logging.getLogger(__name__)

CACHE_VERSION = 4  # 3: llm.c shard files, document offsets, fingerprint of path + size + mtime; 4: content digests
SPLITS = ("train", "val")


class TokenizationInterrupted(DataError):
    """Ctrl-C while the cache was being built: nothing of it is kept; exit as the shell does for SIGINT."""

    exit_code = 130


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def fingerprint(source, tokenizer: dict, settings: dict) -> tuple[str, dict]:
    """(hex digest, what it digests): see the module's doc."""
    files = []
    for path in source.files:
        st = path.stat()
        files.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    described = {"version": CACHE_VERSION, "source": source.kind, "files": files, "identity": source.identity,
                 "tokenizer": tokenizer_identity(tokenizer), "settings": settings}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:20]
    return digest, described


@dataclass
class CachedTokens:
    train: np.ndarray
    val: np.ndarray
    doc_starts: np.ndarray | None
    meta: dict
    val_doc_starts: np.ndarray | None = None


def _open_split(folder: Path, split: str, meta: dict) -> np.ndarray:
    n, dtype = meta[f"{split}_tokens"], np.dtype(meta["dtype"])
    path = folder / f"{split}.bin"
    if path.stat().st_size != HEADER_BYTES + n * dtype.itemsize:
        raise ValueError(f"{path.name} has {path.stat().st_size} bytes, not {HEADER_BYTES + n * dtype.itemsize}")
    magic = int(np.fromfile(path, dtype="<i4", count=1)[0])
    if magic not in LLMC_FORMATS or LLMC_FORMATS[magic][1].itemsize != dtype.itemsize:
        raise ValueError(f"{path.name} has magic {magic}")
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(n,))


def _open_doc_starts(folder: Path, split: str, meta: dict) -> np.ndarray:
    docs, n_docs = folder / f"{split}_docs.bin", meta[f"{split}_documents"]
    if docs.stat().st_size != 8 * n_docs:
        raise ValueError(f"{docs.name} has {docs.stat().st_size} bytes, not {8 * n_docs}")
    return np.memmap(docs, dtype="<i8", mode="r", shape=(n_docs,)) if n_docs else np.zeros(0, np.int64)


def open_cache(folder: Path, digest: str, warn: bool = True) -> CachedTokens | None:
    """The cache in `folder` if it is complete and made from this fingerprint; None (with a warning when
    something is there but wrong, unless `warn` is off) otherwise. Reads meta.json and maps the files."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            raise ValueError("meta.json is cut short or not JSON") from None
        if meta.get("version") != CACHE_VERSION:
            raise ValueError(f"cache version {meta.get('version')}, this tinyx writes {CACHE_VERSION}")
        if meta.get("fingerprint") != digest:
            raise ValueError("made from another source, tokenizer or settings")
        train, val = (_open_split(folder, split, meta) for split in SPLITS)
        train_docs, val_docs = (_open_doc_starts(folder, split, meta) for split in SPLITS)
        return CachedTokens(train, val, train_docs, meta, val_docs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if warn:
            log.warning("token cache %s is stale or damaged (%s); rebuilding it", folder, e)
        return None


class CacheWriter:
    """Appends tokens to the two split files of a cache being built, a separator between documents."""

    def __init__(self, folder: Path, dtype: np.dtype, eot: int | None):
        self.folder, self.dtype, self.eot = folder, dtype, eot
        self.files = {s: open(folder / f"{s}.bin", "wb") for s in SPLITS}
        self.doc_files = {s: open(folder / f"{s}_docs.bin", "wb") for s in SPLITS}
        for f in self.files.values():
            f.write(llmc_header(0, dtype))  # rewritten with the count at the end
        self.tokens = dict.fromkeys(SPLITS, 0)
        self.documents = dict.fromkeys(SPLITS, 0)
        self.bytes = dict.fromkeys(SPLITS, 0)
        # Digested as written: the data's identity costs no second pass over a cache larger than RAM.
        self.digests = {name: hashlib.sha256() for s in SPLITS for name in (s, f"{s}_documents")}

    def add(self, split: str, tokens: np.ndarray, starts_doc: bool, nbytes: int = 0) -> None:
        if starts_doc:
            if self.tokens[split] and self.eot is not None:
                self._write(split, np.array([self.eot]))
            self._write_doc_starts(split, np.array([self.tokens[split]]))
            self.documents[split] += 1
        self._write(split, tokens)
        self.bytes[split] += nbytes

    def add_pieces(self, split: str, tokens: np.ndarray, lengths: np.ndarray, starts_doc: np.ndarray,
                   nbytes: np.ndarray) -> None:
        """`add` for many pieces of one split at once (their tokens concatenated), vectorized: the main
        process must keep up with every worker together."""
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        # A separator before each document start but the split's first (no tokens yet: none were added).
        eot_at = starts_doc & (self.tokens[split] + offsets > 0) if self.eot is not None else starts_doc & False
        doc_positions = self.tokens[split] + offsets + np.cumsum(eot_at)
        self._write_doc_starts(split, doc_positions[starts_doc])
        self.documents[split] += int(starts_doc.sum())
        self._write(split, np.insert(tokens, offsets[eot_at], self.eot) if eot_at.any() else tokens)
        self.bytes[split] += int(nbytes.sum())

    def _write(self, split: str, tokens: np.ndarray) -> None:
        data = np.asarray(tokens).astype(self.dtype, copy=False).tobytes()
        self.files[split].write(data)
        self.digests[split].update(data)
        self.tokens[split] += len(tokens)

    def _write_doc_starts(self, split: str, offsets: np.ndarray) -> None:
        data = np.asarray(offsets).astype("<i8", copy=False).tobytes()
        self.doc_files[split].write(data)
        self.digests[f"{split}_documents"].update(data)

    def finish(self) -> dict:
        for split, f in self.files.items():
            f.seek(0)
            f.write(llmc_header(self.tokens[split], self.dtype))
        self.close()
        return {"dtype": self.dtype.name, **{f"{s}_tokens": self.tokens[s] for s in SPLITS},
                **{f"{s}_documents": self.documents[s] for s in SPLITS},
                **{f"{s}_bytes": self.bytes[s] for s in SPLITS},
                "content": {name: h.hexdigest() for name, h in self.digests.items()}}

    def close(self) -> None:
        for f in [*self.files.values(), *self.doc_files.values()]:
            f.close()


def read_content(folder: Path) -> dict | None:
    """meta.json's `content` (see the module's doc); None when the cache records none or cannot be read."""
    try:
        content = json.loads((folder / "meta.json").read_text()).get("content")
    except (OSError, ValueError, AttributeError):
        return None
    return content if isinstance(content, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_builds(folder: Path) -> None:
    """Temporary folders of builds whose process is gone (killed mid-build): never used, now deleted."""
    for tmp in folder.parent.glob(f".building-{folder.name}-*"):
        try:
            pid = int(tmp.name.rsplit("-", 2)[1])
        except ValueError:
            continue
        if not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def temporary_folder(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(folder)
    tmp = folder.parent / f".building-{folder.name}-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    return tmp


def install(tmp: Path, folder: Path) -> None:
    """Move a finished build into place. A valid cache of the same fingerprint already there (a concurrent
    build's where the file system could not lock: tinyx/data/lock.py) is kept and ours dropped, since a
    process may be reading it; a stale or damaged one is replaced."""
    if folder.exists():
        digest = json.loads((tmp / "meta.json").read_text())["fingerprint"]
        if open_cache(folder, digest, warn=False) is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        stale = folder.parent / f".stale-{folder.name}-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(folder, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def write_meta(tmp: Path, meta: dict) -> None:
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


def disk_full_error(e: OSError, folder: Path) -> DataError:
    return DataError(f"could not write the token cache {folder} ({e.strerror or e}): free space there or set "
                     f"data.cache_dir (or $TINYX_CACHE_DIR) to a disk with room; nothing was kept.")


def now() -> float:
    return time.perf_counter()
