"""Corpus resolution, download with checksum, tokenizers, the token cache, batches."""

import functools
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest
import torch
from helpers import CORPUS

from tinyx.common.errors import DataError
from tinyx.config import TINY_SHAKESPEARE_URL, DataConfig
from tinyx.data import (
    CharTokenizer,
    TiktokenTokenizer,
    check_lengths,
    load_tokens,
    resolve_corpus,
    sample_windows,
)


def test_char_tokens_split_90_10_and_cache_hit(tmp_path):
    cfg = DataConfig(path=str(CORPUS), cache_dir=str(tmp_path))
    first = load_tokens(cfg)
    text = CORPUS.read_text()
    assert first.tokenizer.vocab_size == 65 and not first.cache_hit
    assert len(first.train) == int(len(text) * 0.9) and len(first.train) + len(first.val) == len(text)
    assert first.tokenizer.decode(first.val[:20].tolist()) == text[int(len(text) * 0.9):][:20]
    second = load_tokens(cfg)
    assert second.cache_hit and second.train.dtype == np.uint16
    assert np.array_equal(first.train, second.train) and np.array_equal(first.val, second.val)


def _set_meta(folder, **changes):
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, **changes}))


def _truncate(path, size):
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize("damage, reason", [
    (lambda folder: _truncate(folder / "train.bin", 3000), "bytes, not"),
    (lambda folder: _truncate(folder / "train_docs.bin", 0), "train_docs.bin has 0 bytes"),
    (lambda folder: _set_meta(folder, version=2), "cache version 2"),
    (lambda folder: _set_meta(folder, fingerprint="0" * 20), "another source, tokenizer or settings"),
    (lambda folder: (folder / "meta.json").write_text('{"version": 3, "dty'), "meta.json is cut short"),
], ids=["truncated", "docs-truncated", "older-version", "other-fingerprint", "meta-cut-short"])
def test_damaged_or_stale_token_cache_is_rebuilt(tmp_path, caplog, damage, reason):
    # A cache is trusted by its meta.json, sizes and headers, not by hashing it (a start must stay fast
    # whatever the corpus size): damage that keeps every size is not detected (docs/data.md says so).
    cfg = DataConfig(path=str(CORPUS), cache_dir=str(tmp_path))
    first = load_tokens(cfg)
    train, val = np.array(first.train), np.array(first.val)  # copies: the damage truncates the mapped file
    del first.train, first.val
    damage(first.cache_dir)
    again = load_tokens(cfg)
    assert not again.cache_hit and np.array_equal(again.train, train) and np.array_equal(again.val, val)
    assert f"token cache {first.cache_dir} is stale or damaged" in caplog.text and reason in caplog.text
    assert load_tokens(cfg).cache_hit  # rebuilt whole


def test_bpe_tokenizer_offline_roundtrip(tmp_path):
    tok = TiktokenTokenizer("gpt2")
    assert tok.vocab_size == 50257
    assert tok.decode(tok.encode("ROMEO: wherefore art thou")) == "ROMEO: wherefore art thou"
    data = load_tokens(DataConfig(tokenizer="tiktoken", path=str(CORPUS), cache_dir=str(tmp_path)))
    assert data.train.dtype == np.uint16 and 250_000 < len(data.train) < 350_000


def test_unknown_tiktoken_encoding():
    with pytest.raises(DataError, match="gpt3_not_real"):
        TiktokenTokenizer("gpt3_not_real")


def test_char_tokenizer_refuses_unknown_characters():
    tok = CharTokenizer.from_text("abc\n")
    assert tok.decode(tok.encode("cab")) == "cab"
    with pytest.raises(DataError, match="'z'"):
        tok.encode("zebra")


def test_windows_are_shifted_targets():
    ids = np.arange(1000, dtype=np.uint16)
    w = sample_windows(ids, 8, 16, torch.Generator().manual_seed(0))
    assert w.shape == (8, 17) and w.dtype == torch.int64
    assert torch.equal(w[:, 1:] - w[:, :-1], torch.ones(8, 16, dtype=torch.int64))


@pytest.mark.parametrize("content, words", [
    (None, ["does not exist"]),
    (b"", ["is empty"]),
    (b"\xff\xfe\x00bad bytes", ["not UTF-8"]),
])
def test_bad_corpus_files(tmp_path, content, words):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_tokens(DataConfig(path=str(path), cache_dir=str(tmp_path / "cache")))
    assert str(path) in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_corpus_shorter_than_a_window(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("To be, or not to be: that is the question.\n" * 2)
    data = load_tokens(DataConfig(path=str(path), cache_dir=str(tmp_path / "cache")))
    with pytest.raises(DataError, match="block_size"):
        check_lengths(data, 64)


@pytest.fixture()
def local_server(tmp_path):
    """A real HTTP server on loopback serving a folder."""
    (tmp_path / "www").mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path / "www", f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_checksum(tmp_path, local_server):
    www, url = local_server
    (www / "input.txt").write_bytes(CORPUS.read_bytes())
    cfg = DataConfig(url=f"{url}/input.txt", cache_dir=str(tmp_path / "cache"), search_dirs=[])
    path = resolve_corpus(cfg)
    assert path == tmp_path / "cache" / "corpora" / "tinyshakespeare.txt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == cfg.sha256

    (www / "bad.txt").write_bytes(CORPUS.read_bytes()[:-1] + b"X")
    bad = DataConfig(url=f"{url}/bad.txt", cache_dir=str(tmp_path / "cache2"), search_dirs=[])
    with pytest.raises(DataError, match="sha256"):
        resolve_corpus(bad)
    assert not list((tmp_path / "cache2").rglob("*.txt*")), "nothing half-written"


def test_failed_download_says_where_to_put_the_file(tmp_path, local_server):
    _, url = local_server
    cfg = DataConfig(url=f"{url}/missing.txt", cache_dir=str(tmp_path), search_dirs=[])
    with pytest.raises(DataError) as e:
        resolve_corpus(cfg)
    assert "missing.txt" in str(e.value) and "data.path=" in str(e.value)
    assert str(tmp_path / "corpora" / "tinyshakespeare.txt") in str(e.value)


def test_search_dirs_find_an_offline_copy(tmp_path):
    cfg = DataConfig(cache_dir=str(tmp_path), search_dirs=[str(CORPUS.parent)], url="http://127.0.0.1:9/none")
    assert resolve_corpus(cfg) == CORPUS


@pytest.mark.parametrize("url, shown", [
    ("https://tok-123@host.org/a.txt", "https://***@host.org/a.txt"),
    ("http://user:p%40ss@127.0.0.1:8000/a.txt", "http://***@127.0.0.1:8000/a.txt"),
    ("https://host/a.txt?access_token=abc&page=2&X-Amz-Signature=f00&api_key=k&Password=pw&sig=s",
     "https://host/a.txt?access_token=***&page=2&X-Amz-Signature=***&api_key=***&Password=***&sig=***"),
    ("https://host/a.txt?client_secret=abc#part", "https://host/a.txt?client_secret=***#part"),
    (TINY_SHAKESPEARE_URL, TINY_SHAKESPEARE_URL),
])
def test_urls_are_shown_without_their_credentials(url, shown):
    from tinyx.data import redact_url

    assert redact_url(url) == shown


@pytest.mark.parametrize("url, shown", [
    ("http://user:p4ss@host/a b.txt?token=s3cret", "http://***@host/a b.txt?token=***"),  # urllib quotes the query
    ("http//host/a.txt?token=s3cret", "http//host/a.txt?token=***"),  # urllib quotes the whole URL
])
def test_an_error_about_a_url_holds_none_of_its_credentials(tmp_path, url, shown):
    with pytest.raises(DataError) as e:
        resolve_corpus(DataConfig(url=url, cache_dir=str(tmp_path), search_dirs=[]))
    assert f"from {shown} (" in str(e.value)
    assert "p4ss" not in str(e.value) and "s3cret" not in str(e.value)


def test_the_token_cache_appears_whole_or_not_at_all(tmp_path):
    # Built in a temporary folder, renamed into place once complete: no leftovers beside it.
    data = load_tokens(DataConfig(path=str(CORPUS), cache_dir=str(tmp_path)))
    assert sorted(p.name for p in data.cache_dir.iterdir()) == ["meta.json", "train.bin", "train_docs.bin", "val.bin",
                                                                "val_docs.bin"]
    assert [p.name for p in data.cache_dir.parent.iterdir()] == [data.cache_dir.name]
    assert load_tokens(DataConfig(path=str(CORPUS), cache_dir=str(tmp_path))).cache_hit
