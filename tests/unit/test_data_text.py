"""Reading text files: the ~1 MB cuts keep the tokens of the whole text, paragraphs stream in bounded fragments,
and the validation split of a text corpus is never empty by accident (one file, data.max_tokens).

Block sizes are lowered (text.BLOCK_BYTES) so that a few kilobytes of text are cut many times. Reference
tokens: the tokenizer's own library on the whole text.
"""

from __future__ import annotations

import json
import logging
import random
import re

import numpy as np
import pytest
import tiktoken
from helpers import CORPUS

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data import check_lengths, load_tokens, text
from tinyx.data.sources import describe_source
from tinyx.data.splits import pieces


@pytest.fixture(scope="module")
def prose() -> str:
    """Markdown-like prose: one-line paragraphs and verse, blank lines (some several, some holding spaces),
    headings, lists, indented code, numbers, trailing spaces: every shape of whitespace around a cut."""
    lines = [line.strip() for line in CORPUS.read_text().splitlines() if line.strip()]
    rng = random.Random(0)
    parts = []
    for i in range(160):
        shape = i % 6
        chosen = [rng.choice(lines) for _ in range(rng.randint(1, 5))]
        if shape == 0:
            parts.append(f"# {chosen[0]}")
        elif shape == 1:
            parts.append("\n".join(f"- {c} {rng.randint(0, 99999)}" for c in chosen))
        elif shape == 2:
            parts.append("\n".join("    " + c for c in chosen) + "  ")
        elif shape == 3:
            parts.append("\n".join(chosen))
        else:
            parts.append(" ".join(chosen))
        parts.append(rng.choice(["\n\n", "\n\n", "\n\n\n", "\n \n", "\n"]))
    return "".join(parts)


def cfg(tmp_path, **kw) -> DataConfig:
    return DataConfig(**{"cache_dir": str(tmp_path / "cache"), "source": "text", **kw})


@pytest.mark.parametrize("encoding", ["gpt2", "cl100k_base"])
def test_cut_text_gives_the_tokens_of_the_whole_text(tmp_path, monkeypatch, prose, encoding):
    # 10 files, a document each (document 9 validates): every file is cut every ~2 KB, and each document's
    # tokens must be encode_ordinary of the whole file. A cut after "\n\n" once gave 628 for 198, 198.
    monkeypatch.setattr(text, "BLOCK_BYTES", 2048)
    enc = tiktoken.get_encoding(encoding)
    folder = tmp_path / "corpus"
    folder.mkdir()
    docs = [prose[i * 1000:] + prose[:i * 1000] for i in range(10)]
    for i, doc in enumerate(docs):
        (folder / f"{i}.md").write_text(doc)
    data = load_tokens(cfg(tmp_path, path=str(folder), split_documents="file", tokenizer="tiktoken",
                           encoding=encoding))
    train = [t for doc in docs[:9] for t in [*enc.encode_ordinary(doc), enc.eot_token]][:-1]
    assert data.train.tolist() == train
    assert data.val.tolist() == enc.encode_ordinary(docs[9])


def _prepending_tokenizer(folder, prose: str, kind: str):
    """A tokenizer that adds something before every text it encodes: Metaspace ("▁", sentencepiece style),
    ByteLevel with add_prefix_space (a space), or the older layout whose normalizer prepends "▁" and replaces
    spaces (Llama 2's tokenizer.json)."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    tok = Tokenizer(models.BPE())
    alphabet = []
    if kind == "legacy":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    elif kind == "metaspace":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder, alphabet = decoders.ByteLevel(), pre_tokenizers.ByteLevel.alphabet()
    tok.train_from_iterator(prose.split("\n\n"), trainers.BpeTrainer(vocab_size=300, special_tokens=["</s>"],
                                                                     initial_alphabet=alphabet))
    tok.save(str(folder / "tokenizer.json"))
    return tok


@pytest.mark.parametrize("kind", ["metaspace", "bytelevel-prefix-space"])
def test_a_hugging_face_tokenizer_is_cut_only_where_its_tokens_stay_those_of_the_whole_text(tmp_path, monkeypatch,
                                                                                          prose, caplog, kind):
    # Metaspace puts "▁" (ByteLevel with add_prefix_space a space) before every text it encodes: a piece
    # starting "\n..." would gain one, so the cut goes before a space, which is what it would have added.
    monkeypatch.setattr(text, "BLOCK_BYTES", 2048)
    tok = _prepending_tokenizer(tmp_path, prose, kind)
    path = tmp_path / "one.txt"
    path.write_text(prose)
    data = load_tokens(cfg(tmp_path, path=str(path), split_documents="none", tokenizer="hf",
                           tokenizer_path=str(tmp_path)))
    n_train = int(len(prose) * 0.9)
    assert data.train.tolist() == tok.encode(prose[:n_train], add_special_tokens=False).ids
    assert data.val.tolist() == tok.encode(prose[n_train:], add_special_tokens=False).ids
    assert "may differ" not in caplog.text


def test_a_tokenizer_no_cut_suits_is_cut_anyway_and_says_so(tmp_path, monkeypatch, prose, caplog):
    monkeypatch.setattr(text, "BLOCK_BYTES", 1024)
    _prepending_tokenizer(tmp_path, prose, "legacy")  # every piece gains a "▁": no cut is exact
    path = tmp_path / "one.txt"
    path.write_text(prose)
    with caplog.at_level(logging.WARNING):
        data = load_tokens(cfg(tmp_path, path=str(path), split_documents="none", tokenizer="hf",
                               tokenizer_path=str(tmp_path)))
    assert len(data.train) > 0
    assert caplog.text.count("the tokens next to those cuts may differ") == 1  # said once per source
    assert f"{path}: no place in 8192 characters where the tokenizer {tmp_path}" in caplog.text


def test_paragraphs_are_those_of_a_blank_line_split(tmp_path, monkeypatch, prose):
    # Blocks of 7 bytes: breaks (blank lines holding spaces, several newlines) straddle every block boundary.
    monkeypatch.setattr(text, "BLOCK_BYTES", 7)
    path = tmp_path / "p.txt"
    body = "\n\n  lead\n" + prose + "\n \t\n\nlast line\n\n\n"
    path.write_text(body)
    expected = [p.strip("\n") for p in re.split(r"\n[ \t]*\n\s*", body) if p.strip()]
    got: list[str] = []
    for fragment, starts in text.file_fragments(path, paragraphs=True):
        if starts:
            got.append("")
        got[-1] += fragment
    assert got == expected


def test_a_file_without_blank_lines_read_by_paragraph_comes_in_bounded_fragments(tmp_path, monkeypatch, prose):
    # Once one piece of the whole file, re-split at every block (time and memory growing with the file).
    monkeypatch.setattr(text, "BLOCK_BYTES", 2048)
    body = "\n".join(line for line in prose.splitlines() if line.strip())
    path = tmp_path / "lines.txt"
    path.write_text(body)
    data_cfg = cfg(tmp_path, path=str(path), split_documents="paragraph", tokenizer="tiktoken")
    got = list(pieces(data_cfg, describe_source(data_cfg)))
    assert len(got) >= len(body) // 4096 > 2 and max(len(p.text) for p in got) <= 2 * 2048
    assert [p.starts_doc for p in got] == [True] + [False] * (len(got) - 1)
    assert "".join(p.text for p in got) == body
    enc = tiktoken.get_encoding("gpt2")
    data = load_tokens(data_cfg)
    assert data.train.tolist() == enc.encode_ordinary(body) and len(data.val) == 0


@pytest.mark.parametrize("n_files", [1, 3])
def test_text_files_too_few_for_a_val_document_validate_on_their_last_characters(tmp_path, caplog, n_files):
    # data=text's default (a document per file) on one file: the whole corpus was one train document and the
    # run stopped with "too short". Now: the last 0.1 of the characters, files still starting documents.
    corpus = CORPUS.read_text()
    size = len(corpus) // n_files
    docs = [corpus[i * size:(i + 1) * size] for i in range(n_files)]
    for i, doc in enumerate(docs):
        (tmp_path / f"{i}.txt").write_text(doc)
    path = tmp_path / "0.txt" if n_files == 1 else tmp_path
    data = load_tokens(cfg(tmp_path, path=str(path), split_documents="file", tokenizer="tiktoken"))
    enc = tiktoken.get_encoding("gpt2")
    whole = "".join(docs)
    n_train = int(len(whole) * 0.9)
    bounds = np.cumsum([0, *map(len, docs)])
    train_texts = [whole[a:min(b, n_train)] for a, b in zip(bounds[:-1], bounds[1:]) if a < n_train]
    assert data.train.tolist() == [t for doc in train_texts for t in [*enc.encode_ordinary(doc), enc.eot_token]][:-1]
    assert data.val.tolist() == enc.encode_ordinary(whole[n_train:])
    assert len(data.doc_starts) == n_files  # the file boundaries stay document starts
    meta = json.loads((data.cache_dir / "meta.json").read_text())
    files = "one file" if n_files == 1 else "3 files"
    assert meta["val_rule"] == f"the last 0.1 of the characters ({files}: too few documents to split by document)"
    assert meta["made_from"]["settings"]["split"] == "characters"  # in the fingerprint: other tokens, other cache
    with caplog.at_level(logging.INFO):
        check_lengths(data, 64)
    assert f"val split: {meta['val_rule']}" in caplog.text


def test_max_tokens_on_one_stream_caps_train_and_keeps_val(tmp_path):
    # Tiny Shakespeare (one stream, split 90/10 by characters): the cap once stopped before the val split.
    whole = load_tokens(cfg(tmp_path, path=str(CORPUS)))
    capped = load_tokens(cfg(tmp_path, path=str(CORPUS), max_tokens=100_000))
    assert capped.train.tolist() == whole.train[:100_000].tolist()
    assert np.array_equal(capped.val, whole.val)  # val losses compare across caps
    check_lengths(capped, 64)
    meta = json.loads((capped.cache_dir / "meta.json").read_text())
    assert meta["train_bytes"] == 100_000 and meta["val_bytes"] == len(whole.val)


def test_a_val_split_empty_by_the_split_rule_is_not_called_too_short(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": CORPUS.read_text()[i * 5000:(i + 1) * 5000]}) + "\n"
                            for i in range(5)))
    data = load_tokens(cfg(tmp_path, source="jsonl", path=str(path), tokenizer="tiktoken"))
    with pytest.raises(DataError) as e:
        check_lengths(data, 64)
    message = str(e.value)
    assert "too short" not in message
    assert f"corpus {path} holds {len(data.train):,} tokens, but its val split has 0 (0 documents)" in message
    assert "val: document i when floor((i+1)*0.1) > floor(i*0.1)" in message
    assert "raise data.val_fraction=0.1 to at least 0.2 (val then gets one of the 5 documents)" in message


@pytest.mark.parametrize("encoding", ["gpt2", "r50k_base", "cl100k_base"])
def test_every_place_the_cut_rule_offers_is_exact_for_tiktoken_without_the_check(encoding):
    # The proof in tinyx/data/cuts.py, tried on random text of letters (accented, CJK), digits, punctuation,
    # contractions, combining marks and every kind of whitespace: no place the rule offers needs the check.
    from tinyx.data.cuts import _CANDIDATE

    enc = tiktoken.get_encoding(encoding)
    alphabet = [*"abcXYZé漢ß0129.,;:!?'\"()-/_*#", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u3000",
                "\x1c", "\u2028", "'s", "'ll", " 's", "\u0301"]
    rng = random.Random(0)
    cuts = 0
    for _ in range(1000):
        sample = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        whole = enc.encode_ordinary(sample)
        for m in _CANDIDATE.finditer(sample):
            assert enc.encode_ordinary(sample[:m.start()]) + enc.encode_ordinary(sample[m.start():]) == whole, sample
            cuts += 1
    assert cuts > 1500
