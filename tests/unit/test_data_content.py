"""What a run records its data *is*: a digest of the tokens (taken while the token cache is written) and of the
tokenizer, the same for a corpus moved to another folder, another for another corpus or tokenizer. compare tells
arms apart by it, and the data order (which runs pair) hashes the train split's part of it."""

from __future__ import annotations

import shutil

import numpy as np

from tinyx.config import DataConfig
from tinyx.data import cache, load_tokens
from tinyx.rundir.data_record import data_content, data_record, train_identity

TEXT_A = "".join(f"First Citizen {i}:\nBefore we proceed any further, hear me speak.\n\n" for i in range(300))
TEXT_B = TEXT_A.replace("speak", "talk")


def _load(path, tmp_path, **keys):
    return load_tokens(DataConfig(path=str(path), cache_dir=str(tmp_path / "cache"), **keys))


def test_a_corpus_moved_is_the_same_data_and_another_corpus_or_tokenizer_is_not(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "a.txt").write_text(TEXT_A)
    shutil.copy(tmp_path / "one" / "a.txt", tmp_path / "two" / "a.txt")
    (tmp_path / "one" / "b.txt").write_text(TEXT_B)
    a, moved, b = (_load(tmp_path / p, tmp_path) for p in ("one/a.txt", "two/a.txt", "one/b.txt"))
    assert moved.cache_dir != a.cache_dir  # two caches (their fingerprint is the path's), one content
    assert data_content(a) == data_content(moved) != data_content(b)
    assert train_identity(a) == train_identity(moved) != train_identity(b)
    assert data_record(moved)["content"] == data_content(a)
    gpt2 = _load(tmp_path / "one" / "a.txt", tmp_path, tokenizer="tiktoken")
    assert data_content(gpt2) not in (data_content(a), None)
    assert train_identity(gpt2) != train_identity(a)


def test_the_content_digest_does_not_depend_on_how_the_tokens_were_written(tmp_path):
    # Piece by piece (shards, --max_tokens) or in vectorized batches (the parallel tokenizer): one digest.
    pieces = [np.array([5, 6, 7]), np.array([8, 9]), np.array([1, 2, 3, 4])]
    starts = np.array([True, False, True])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    writer = cache.CacheWriter(tmp_path / "a", np.dtype("<u2"), eot=0)
    for tokens, start in zip(pieces, starts):
        writer.add("train", tokens, start)
    batched = cache.CacheWriter(tmp_path / "b", np.dtype("<u2"), eot=0)
    batched.add_pieces("train", np.concatenate(pieces), np.array([3, 2, 4]), starts, np.zeros(3, dtype=np.int64))
    a, b = writer.finish(), batched.finish()
    assert a["content"] == b["content"] and a["train_tokens"] == b["train_tokens"] == 10
    assert (tmp_path / "a" / "train.bin").read_bytes() == (tmp_path / "b" / "train.bin").read_bytes()
