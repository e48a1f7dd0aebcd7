"""Every source for real, on tiny local files: the tokens tinyx caches equal a reference tokenization.

Reference: each document tokenized alone with the tokenizer's own library, documents sent to val by
the documented rule (document i when floor((i+1) f) > floor(i f)), joined with the separator (EOT).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import tiktoken
from helpers import CORPUS

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data import HFTokenizer, load_tokens, tokenizer_from_dict
from tinyx.data.splits import is_val_document

GPT2 = tiktoken.get_encoding("gpt2")


@pytest.fixture(scope="module")
def documents() -> list[str]:
    """40 small documents of Tiny Shakespeare's paragraphs (some with non-ASCII text, one with the literal
    text of the end-of-text token), in a fixed order."""
    paragraphs = [p.strip("\n") for p in CORPUS.read_text().split("\n\n") if p.strip()][:40]
    paragraphs[3] += " — café ünïcödé ✓"
    paragraphs[5] += " <|endoftext|> as text"  # text, not the separator: tiktoken encodes it as ordinary text
    return paragraphs


def reference(docs: list[str], encode, eot: int | None, val_fraction: float = 0.1) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"train": [], "val": []}
    for i, doc in enumerate(docs):
        split = "val" if is_val_document(i, val_fraction) else "train"
        if out[split] and eot is not None:
            out[split].append(eot)
        out[split].extend(encode(doc))
    return out


def assert_tokens(data, expected: dict[str, list[int]]) -> None:
    assert data.train.tolist() == expected["train"]
    assert data.val.tolist() == expected["val"]


def cfg(tmp_path, **kw) -> DataConfig:
    return DataConfig(**{"cache_dir": str(tmp_path / "cache"), **kw})


def test_text_folder_a_document_per_file(tmp_path, documents):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for i, doc in enumerate(documents):  # sorted by path: zero-padded names, some in a subfolder
        (folder / ("sub" if i >= 30 else "") / f"{i:03d}.txt").write_text(doc)
    (folder / "notes.json").write_text("{}")  # not a text suffix: left out
    data = load_tokens(cfg(tmp_path, source="text", path=str(folder), split_documents="file", tokenizer="tiktoken"))
    assert_tokens(data, reference(documents, GPT2.encode_ordinary, GPT2.eot_token))
    assert data.eot == GPT2.eot_token and len(data.doc_starts) == 36
    assert all(data.train[s - 1] == GPT2.eot_token for s in data.doc_starts[1:])
    glob_data = load_tokens(cfg(tmp_path, source="text", path=f"{folder}/**/*.txt", split_documents="file",
                                tokenizer="tiktoken"))
    assert np.array_equal(glob_data.train, data.train)


def test_text_paragraphs_with_characters(tmp_path, documents):
    path = tmp_path / "one.txt"
    path.write_text("\n\n\n".join(documents) + "\n")
    data = load_tokens(cfg(tmp_path, source="text", path=str(path), split_documents="paragraph"))
    alphabet = sorted(set("".join(documents)))
    assert data.tokenizer.to_dict() == {"kind": "char", "chars": alphabet} and data.eot is None
    assert_tokens(data, reference(documents, lambda d: [alphabet.index(c) for c in d], None))
    assert data.doc_starts.tolist()[:2] == [0, len(documents[0])]


def test_jsonl_field(tmp_path, documents):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": i, "body": d}) + "\n" for i, d in enumerate(documents)) + "\n")
    data = load_tokens(cfg(tmp_path, source="jsonl", path=str(path), field="body", tokenizer="tiktoken"))
    assert_tokens(data, reference(documents, GPT2.encode_ordinary, GPT2.eot_token))


def test_parquet_column(tmp_path, documents):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in range(2):  # two files of a folder, read in name order
        pq.write_table(pa.table({"text": documents[part * 20:(part + 1) * 20], "n": list(range(20))}),
                       tmp_path / f"part-{part}.parquet", row_group_size=7)
    data = load_tokens(cfg(tmp_path, source="parquet", path=str(tmp_path), tokenizer="tiktoken"))
    assert_tokens(data, reference(documents, GPT2.encode_ordinary, GPT2.eot_token))


def test_hf_save_to_disk_dataset_dict_and_caps(tmp_path, documents):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"story": documents}),
                          "test": datasets.Dataset.from_dict({"story": ["other"]})}).save_to_disk(tmp_path / "saved")
    data = load_tokens(cfg(tmp_path, source="hf", path=str(tmp_path / "saved"), field="story", tokenizer="tiktoken"))
    assert_tokens(data, reference(documents, GPT2.encode_ordinary, GPT2.eot_token))
    capped = load_tokens(cfg(tmp_path, source="hf", path=str(tmp_path / "saved"), field="story", tokenizer="tiktoken",
                             max_documents=12))
    assert_tokens(capped, reference(documents[:12], GPT2.encode_ordinary, GPT2.eot_token))
    # max_tokens: stop at the first document start once the cache holds that many tokens
    limit = len(data.train) // 2
    by_tokens = load_tokens(cfg(tmp_path, source="hf", path=str(tmp_path / "saved"), field="story",
                                tokenizer="tiktoken", max_tokens=limit))
    n = next(k for k in range(len(documents) + 1)
             if sum(map(len, reference(documents[:k], GPT2.encode_ordinary, GPT2.eot_token).values())) >= limit)
    assert_tokens(by_tokens, reference(documents[:n], GPT2.encode_ordinary, GPT2.eot_token))


def test_hf_hub_name_not_available_offline_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="data.name=nobody/no-such-dataset .* is not available here"):
        load_tokens(cfg(tmp_path, source="hf", name="nobody/no-such-dataset", tokenizer="tiktoken"))
    assert not list((tmp_path / "cache").rglob("*.bin"))


@pytest.fixture(scope="module")
def hf_tokenizer_dir(tmp_path_factory, documents):
    """A small byte-level BPE tokenizer trained here with `tokenizers`, saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(documents, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    folder = tmp_path_factory.mktemp("hf_tokenizer")
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_hf_tokenizer_from_a_local_folder(tmp_path, documents, hf_tokenizer_dir):
    from tokenizers import Tokenizer

    reference_tok = Tokenizer.from_file(str(hf_tokenizer_dir / "tokenizer.json"))
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in documents))
    data = load_tokens(cfg(tmp_path, source="jsonl", path=str(path), tokenizer="hf",
                           tokenizer_path=str(hf_tokenizer_dir)))
    eot = reference_tok.token_to_id("<|endoftext|>")
    assert data.eot == eot == 0
    assert_tokens(data, reference(documents, lambda d: reference_tok.encode(d, add_special_tokens=False).ids, eot))
    again = tokenizer_from_dict(json.loads(json.dumps(data.tokenizer.to_dict())))  # as the run directory keeps it
    assert isinstance(again, HFTokenizer) and again.decode(again.encode(documents[3])) == documents[3]


def test_token_byte_lengths_count_the_utf8_bytes_of_the_text(hf_tokenizer_dir, documents):
    # bits per byte = loss * tokens / bytes: every tokenizer's byte lengths must add up to the text's bytes.
    from tinyx.data import CharTokenizer, TiktokenTokenizer

    text = documents[3]
    for tok in (CharTokenizer.from_text(text), TiktokenTokenizer("gpt2"), HFTokenizer.from_path(str(hf_tokenizer_dir))):
        lengths = tok.token_byte_lengths()
        assert lengths.shape == (tok.vocab_size,)
        assert int(lengths[tok.encode(text)].sum()) == len(text.encode("utf-8")), tok.to_dict()["kind"]


@pytest.mark.slow  # starts real worker processes (seconds)
def test_parallel_workers_give_the_tokens_of_one_process(tmp_path, documents):
    # Real forkserver workers on a corpus cut into many batches (batch size lowered to a few documents).
    from tinyx.data import encode

    random.seed(0)
    docs = [random.choice(documents) for _ in range(300)]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    one = load_tokens(cfg(tmp_path, source="jsonl", path=str(path), tokenizer="tiktoken"))
    old = encode.BATCH_CHARS
    encode.BATCH_CHARS = 2000
    try:
        two = load_tokens(DataConfig(cache_dir=str(tmp_path / "cache2"), source="jsonl", path=str(path),
                                     tokenizer="tiktoken", workers=2))
    finally:
        encode.BATCH_CHARS = old
    assert json.loads((two.cache_dir / "meta.json").read_text())["workers"] == 2
    assert np.array_equal(one.train, two.train) and np.array_equal(one.val, two.val)
    assert np.array_equal(one.doc_starts, two.doc_starts)


def test_a_cache_hit_reads_only_the_cache_and_a_changed_file_is_tokenized_again(tmp_path):
    import os

    path = tmp_path / "a.txt"
    path.write_text("abcdefgh\n" * 50)
    first = load_tokens(cfg(tmp_path, path=str(path)))
    st = path.stat()
    path.write_text("hgfedcba\n" * 50)  # same size and mtime: the fingerprint cannot tell, the source is not read
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    hit = load_tokens(cfg(tmp_path, path=str(path)))
    assert hit.cache_hit and np.array_equal(hit.train, first.train) and hit.fingerprint == first.fingerprint
    path.touch()  # a new mtime: tokenized again
    rebuilt = load_tokens(cfg(tmp_path, path=str(path)))
    assert not rebuilt.cache_hit and rebuilt.tokenizer.decode(rebuilt.train[:8].tolist()) == "hgfedcba"


@pytest.mark.parametrize("data, words", [
    (dict(source="csv"), "data.source='csv' is not one of text, jsonl, parquet, hf, shards"),
    (dict(tokenizer="hf"), "data.tokenizer=hf needs data.tokenizer_path"),
    (dict(source="jsonl"), "data.source=jsonl needs data.path"),
    (dict(source="hf", name=""), "data=hf needs data.name=<hub dataset> or data.path"),
    (dict(split_documents="lines"), "data.split_documents='lines' is not one of none, file, paragraph"),
    (dict(max_tokens=0), "data.max_tokens=0 must be a positive integer or null"),
], ids=["source", "hf-tokenizer-without-path", "jsonl-without-path", "hf-without-name", "split", "max-tokens"])
def test_data_keys_are_checked_before_anything_is_read(data, words):
    from tinyx.common.errors import ConfigError
    from tinyx.config import RunConfig, validate

    with pytest.raises(ConfigError) as e:
        validate(RunConfig(data=DataConfig(**data)))
    assert words in str(e.value)


@pytest.mark.slow  # imports transformers (seconds)
def test_hf_tokenizer_name_not_in_the_local_cache(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="data.tokenizer_path=nobody/no-such-model is neither a folder with "
                                        "tokenizer.json nor a model .* save_pretrained"):
        HFTokenizer.from_path("nobody/no-such-model")


@pytest.mark.slow  # load_dataset's builders: seconds each
@pytest.mark.parametrize("streaming", [True, False])
def test_hf_load_dataset_streaming_or_prepared(tmp_path, documents, streaming):
    # data.name goes to datasets.load_dataset: here a local folder of JSONL files (what a hub dataset is to
    # load_dataset once cached), read offline, streamed or prepared as Arrow files.
    folder = tmp_path / "hub_like"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in documents))
    data = load_tokens(cfg(tmp_path, source="hf", name=str(folder), split="train", streaming=streaming,
                           tokenizer="tiktoken", max_documents=30, cache_dir=str(tmp_path / f"cache{streaming}")))
    assert_tokens(data, reference(documents[:30], GPT2.encode_ordinary, GPT2.eot_token))
