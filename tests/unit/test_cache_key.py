"""The token cache's key (tinyx.data.cache.fingerprint): whatever changes the tokens changes the key, so a run
never opens tokens another tokenizer, dataset or split setting made."""

import os

from tinyx.data.cache import fingerprint
from tinyx.data.sources import Source

SETTINGS = {"val_fraction": 0.1, "split_documents": None, "field": "text", "max_documents": None, "max_tokens": None}
GPT2 = {"kind": "tiktoken", "encoding": "gpt2"}


def key(source: Source, tokenizer: dict = GPT2, **settings) -> str:
    return fingerprint(source, tokenizer, {**SETTINGS, **settings})[0]


def test_the_same_inputs_give_the_same_key(tmp_path):
    (tmp_path / "a.txt").write_text("some text\n")
    source = Source("text", "a.txt", [tmp_path / "a.txt"])
    assert key(source) == key(source) and len(key(source)) == 20


def test_another_tokenizer_gives_another_key(tmp_path):
    (tmp_path / "a.txt").write_text("some text\n")
    source = Source("text", "a.txt", [tmp_path / "a.txt"])
    keys = {key(source, GPT2), key(source, {"kind": "tiktoken", "encoding": "cl100k_base"}),
            key(source, {"kind": "hf", "json": '{"model": 1}'}), key(source, {"kind": "hf", "json": '{"model": 2}'})}
    assert len(keys) == 4


def test_another_split_setting_gives_another_key(tmp_path):
    (tmp_path / "a.txt").write_text("some text\n")
    source = Source("text", "a.txt", [tmp_path / "a.txt"])
    keys = {key(source), key(source, val_fraction=0.2), key(source, max_documents=100), key(source, max_tokens=10**6),
            key(source, field="body")}
    assert len(keys) == 5


def test_another_hub_dataset_or_split_gives_another_key():
    """A hub dataset has no files of its own to stat: its name, config and split are what tell it apart."""
    name = {"name": "roneneldan/TinyStories", "config": None, "split": "train", "field": "text"}
    keys = {key(Source("hf", "hub", [], name)), key(Source("hf", "hub", [], {**name, "split": "validation"})),
            key(Source("hf", "hub", [], {**name, "name": "Salesforce/wikitext"}))}
    assert len(keys) == 3


def test_an_edited_or_added_file_gives_another_key(tmp_path):
    (tmp_path / "a.txt").write_text("some text\n")
    before = key(Source("text", "a", [tmp_path / "a.txt"]))
    os.utime(tmp_path / "a.txt", ns=(1, 1))  # touched: same size, another mtime
    touched = key(Source("text", "a", [tmp_path / "a.txt"]))
    (tmp_path / "b.txt").write_text("more\n")
    added = key(Source("text", "a", [tmp_path / "a.txt", tmp_path / "b.txt"]))
    assert len({before, touched, added}) == 3
