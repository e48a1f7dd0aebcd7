"""The bytes each token stands for (what val/bpb divides by): a document's tokens add up to its UTF-8 length,
for every kind of tokenizer tinyx reads, and the validation split's to the bytes the token cache read."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from helpers import CORPUS
from hf_tokenizers import shakespeare_tokenizer

from tinyx.config import DataConfig
from tinyx.data import (
    CharTokenizer,
    TiktokenTokenizer,
    fixed_eval_windows,
    load_tokens,
    sequential_windows,
)
from tinyx.data.token_bytes import split_bytes

ADDED = ("<think>", "naïveté")
DOCUMENTS = ["First Citizen:\nBefore we proceed any further, hear me speak.\n",
             "Café — “quoted” naïveté,\tcurly ‘quotes’ 日本語 and 🙂!",
             "ROMEO:\nTwo  spaces,\n\na blank line and a trailing space ",
             "Let me <think> about naïveté, now<think>."]
# tokenizer kind -> the HF tokenizer (None: characters or tiktoken); each counts every document exactly.
EXACT = {"char": None, "tiktoken gpt2": None, "byte-level BPE": ("byte_level", ()),
         "byte-level BPE, prefix space": ("byte_level_prefix_space", ()), "Metaspace first": ("metaspace", ()),
         "Metaspace always": ("metaspace_always", ()), "Llama 2 layout": ("llama2", ()),
         "byte-level BPE, added tokens": ("byte_level", ADDED), "Metaspace, added tokens": ("metaspace", ADDED)}


def _tokenizer(kind: str):
    if kind == "char":
        return CharTokenizer.from_text("".join(DOCUMENTS))
    if kind == "tiktoken gpt2":
        return TiktokenTokenizer("gpt2")
    return shakespeare_tokenizer(*EXACT[kind])


def _joined(tokenizer, docs: list[str]) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """(ids, document starts, each document's slice) as the token cache lays documents out: the separator between."""
    ids, starts, spans = [], [], []
    for doc in docs:
        if ids and tokenizer.eot is not None:
            ids.append(tokenizer.eot)
        starts.append(len(ids))
        ids.extend(tokenizer.encode(doc))
        spans.append(slice(starts[-1], len(ids)))
    return np.array(ids), np.array(starts), spans


@pytest.mark.parametrize("kind", ["Metaspace first", "Llama 2 layout", "Metaspace, added tokens",
                                  "byte-level BPE, added tokens"])
def test_inside_a_text_each_token_counts_the_bytes_it_adds(kind):
    # Not from decoding it alone: '▁is' is ' is' (4 bytes) after a word, '<0xE2>' one byte, an added token its text.
    tokenizer = _tokenizer(kind)
    for doc in DOCUMENTS:
        encoding = tokenizer.tok.encode(doc, add_special_tokens=False)
        after_first = doc[encoding.offsets[0][1]:]
        assert tokenizer.token_byte_lengths()[encoding.ids[1:]].sum() == len(after_first.encode("utf-8")), doc


@pytest.mark.parametrize("kind", list(EXACT))
def test_a_documents_tokens_add_up_to_its_utf8_bytes(kind, caplog):
    tokenizer = _tokenizer(kind)
    docs = DOCUMENTS if "added" in kind else DOCUMENTS[:3]
    ids, starts, spans = _joined(tokenizer, docs)
    with caplog.at_level(logging.WARNING):
        counts = split_bytes(tokenizer, ids, starts)
    assert [int(counts[np.arange(s.start, s.stop)].sum()) for s in spans] == [len(d.encode("utf-8")) for d in docs]
    separators = np.flatnonzero(ids == tokenizer.eot) if tokenizer.eot is not None else np.zeros(0, np.int64)
    assert counts[separators].sum() == 0  # a special token stands for no text
    assert counts.total() == sum(len(d.encode("utf-8")) for d in docs)
    assert not caplog.records  # exact: no warning


@pytest.mark.parametrize("kind, added", [("wordpiece", ()), ("metaspace_always", ADDED),
                                         ("byte_level_prefix_space", ADDED)])
def test_a_tokenizer_whose_tokens_cannot_spell_the_text_says_so_in_one_warning(kind, added, caplog):
    # WordPiece lower-cases and drops whitespace; 'always' and add_prefix_space put a space after each added token.
    tokenizer = shakespeare_tokenizer(kind, added)
    ids, starts, _ = _joined(tokenizer, DOCUMENTS[:1])
    with caplog.at_level(logging.WARNING):
        split_bytes(tokenizer, ids, starts)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == \
        [f"val/bpb is approximate with the tokenizer {kind} trained in the tests"]


@pytest.fixture(scope="module")
def metaspace_corpus(tmp_path_factory):
    """A corpus of paragraphs, some non-ASCII, cached with the Metaspace tokenizer (data=text, a document each)."""
    folder = tmp_path_factory.mktemp("metaspace_corpus")
    paragraphs = CORPUS.read_text(encoding="utf-8")[:30_000].split("\n\n")
    paragraphs[7::10] = [p + " — “café” 日本語" for p in paragraphs[7::10]]
    (folder / "corpus.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    (folder / "tokenizer.json").write_text(shakespeare_tokenizer("metaspace").json_text, encoding="utf-8")
    return load_tokens(DataConfig(source="text", path=str(folder / "corpus.txt"), split_documents="paragraph",
                                  tokenizer="hf", tokenizer_path=str(folder), val_fraction=0.2,
                                  cache_dir=str(folder / "cache")))


def test_each_split_counts_the_bytes_the_token_cache_read(metaspace_corpus):
    data = metaspace_corpus
    meta = json.loads((data.cache_dir / "meta.json").read_text())
    assert meta["val_documents"] > 10 and data.eot is not None
    assert split_bytes(data.tokenizer, data.val, data.val_doc_starts).total() == meta["val_bytes"]
    assert split_bytes(data.tokenizer, data.train, data.doc_starts).total() == meta["train_bytes"]
    # Counted per token from its id alone, each document's first word has a space it does not hold.
    table = data.tokenizer.token_byte_lengths()
    assert table[np.asarray(data.val)].sum() == meta["val_bytes"] + meta["val_documents"]


@pytest.mark.parametrize("cut", [lambda ids: fixed_eval_windows(ids, 3, 4, 32),
                                 lambda ids: sequential_windows(ids, 4, 32)])
def test_windows_of_byte_counts_line_up_with_the_token_windows(metaspace_corpus, cut):
    # Evaluations cut the byte windows as they cut the token windows: where windows start depends on the length alone.
    data = metaspace_corpus
    counts = split_bytes(data.tokenizer, data.val, data.val_doc_starts)
    positions = cut(np.arange(len(data.val)))
    assert any(np.isin(w, data.val_doc_starts[1:]).any() for w in positions)  # some window holds a document start
    for token_window, byte_window, where in zip(cut(data.val), cut(counts), positions, strict=True):
        assert np.array_equal(token_window.numpy(), np.asarray(data.val)[where.numpy()])
        assert np.array_equal(byte_window.numpy(), counts[where.numpy()])
