"""Pre-tokenized shards, written with small writers that mirror nanoGPT's prepare.py and llm.c's
write_datafile, read by tinyx; and tinyx's own cache read back the way llm.c / modded-nanogpt read shards."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import tiktoken
from helpers import CORPUS, micro_config, nanogpt_prepare_char

from tinyx.common.errors import DataError
from tinyx.config import DataConfig
from tinyx.data import load_tokens

GPT2 = tiktoken.get_encoding("gpt2")


# ---- the reference formats, written as those projects write them
def llmc_write_datafile(path, tokens, version: int = 1) -> None:
    """llm.c dev/data/data_common.py write_datafile: 256 int32 header (magic, version, count), then tokens."""
    header = np.zeros(256, dtype=np.int32)
    header[0] = {1: 20240520, 7: 20240801}[version]
    header[1] = version
    header[2] = len(tokens)
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(np.array(tokens, dtype=np.uint16 if version == 1 else np.uint32).tobytes())


def llmc_read_shard(path) -> np.ndarray:
    """modded-nanogpt's _load_data_shard, in numpy: check magic and version, read header[2] uint16 tokens."""
    header = np.fromfile(path, dtype=np.int32, count=256)
    assert header[0] == 20240520 and header[1] == 1
    with open(path, "rb") as f:
        f.seek(256 * 4)
        tokens = np.frombuffer(f.read(), dtype=np.uint16)
    assert len(tokens) == header[2]
    return tokens


@pytest.fixture(scope="module")
def text() -> str:
    return CORPUS.read_text()[:60_000]


def test_nanogpt_char_folder_read_as_written(tmp_path, text):
    nanogpt_prepare_char(tmp_path, text)
    data = load_tokens(DataConfig(source="shards", path=str(tmp_path), tokenizer="char",
                                  cache_dir=str(tmp_path / "cache")))
    assert data.train.tobytes() == (tmp_path / "train.bin").read_bytes()
    assert data.val.tobytes() == (tmp_path / "val.bin").read_bytes()
    assert data.tokenizer.decode(data.val.tolist()) == text[int(len(text) * 0.9):]
    # the same tokens as tinyx's own data=text on that text (the same nanoGPT split)
    (tmp_path / "t.txt").write_text(text)
    own = load_tokens(DataConfig(path=str(tmp_path / "t.txt"), cache_dir=str(tmp_path / "cache")))
    assert np.array_equal(own.train, data.train) and own.tokenizer.to_dict() == data.tokenizer.to_dict()


def test_nanogpt_bpe_train_bin_without_meta(tmp_path, text):
    ids = GPT2.encode_ordinary(text)
    np.array(ids[:9000], dtype=np.uint16).tofile(tmp_path / "train.bin")
    np.array(ids[9000:], dtype=np.uint16).tofile(tmp_path / "val.bin")
    data = load_tokens(DataConfig(source="shards", path=str(tmp_path / "train.bin"), tokenizer="tiktoken",
                                  cache_dir=str(tmp_path / "cache")))
    assert data.train.tolist() == ids[:9000] and data.val.tolist() == ids[9000:]


@pytest.mark.parametrize("version", [1, 7])
def test_llmc_shards_glob_with_documents(tmp_path, text, version):
    docs = [d for d in text.split("\n\n") if d][:60]
    shards = []
    for k in range(3):  # llm.c: every document starts with EOT
        shard = []
        for doc in docs[k * 20:(k + 1) * 20]:
            shard += [GPT2.eot_token, *GPT2.encode_ordinary(doc)]
        shards.append(shard)
    for k, name in enumerate(["mini_train_000001.bin", "mini_train_000002.bin", "mini_val_000000.bin"]):
        llmc_write_datafile(tmp_path / name, shards[k], version)
    data = load_tokens(DataConfig(source="shards", path=str(tmp_path / "mini_train_*.bin"), tokenizer="tiktoken",
                                  cache_dir=str(tmp_path / "cache")))
    assert data.train.tolist() == shards[0] + shards[1] and data.val.tolist() == shards[2]
    assert len(data.doc_starts) == 41  # the leading EOT, then each of the 40 documents after its EOT
    assert all(data.train[s - 1] == GPT2.eot_token for s in data.doc_starts[1:])


def test_a_single_llmc_shard_is_copied_byte_for_byte_and_tinyx_cache_reads_as_llmc(tmp_path, text):
    ids = GPT2.encode_ordinary(text)
    llmc_write_datafile(tmp_path / "x_train.bin", ids[:10000])
    llmc_write_datafile(tmp_path / "x_val.bin", ids[10000:])
    data = load_tokens(DataConfig(source="shards", path=str(tmp_path / "x_train.bin"), tokenizer="tiktoken",
                                  cache_dir=str(tmp_path / "cache")))
    assert (data.cache_dir / "train.bin").read_bytes() == (tmp_path / "x_train.bin").read_bytes()
    # tinyx's cache of a text corpus, read by llm.c's reader: the tokens of tinyx's TokenData
    (tmp_path / "t.txt").write_text(text)
    own = load_tokens(DataConfig(path=str(tmp_path / "t.txt"), tokenizer="tiktoken", cache_dir=str(tmp_path / "cache")))
    assert np.array_equal(llmc_read_shard(own.cache_dir / "train.bin"), own.train)
    assert llmc_read_shard(own.cache_dir / "val.bin").tolist() == GPT2.encode_ordinary(text[int(len(text) * 0.9):])


class WritesOpen:
    """Unpickling this opens (creates) a file: proof that a load ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_planted_meta_pkl_runs_nothing(tmp_path, text):
    nanogpt_prepare_char(tmp_path, text)
    with open(tmp_path / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": 65, "itos": {0: "a"}, "payload": WritesOpen(tmp_path / "pwned")}, f)
    with pytest.raises(DataError, match=r"meta.pkl refers to code \(io.open\), not plain data: tinyx will not unpickle"):
        load_tokens(DataConfig(source="shards", path=str(tmp_path), tokenizer="char", cache_dir=str(tmp_path / "c")))
    assert not (tmp_path / "pwned").exists()
    with open(tmp_path / "meta.pkl", "rb") as f:
        pickle.load(f)  # what trusting the file would have done
    assert (tmp_path / "pwned").exists()


def _shard_error(tmp_path, tokenizer="tiktoken") -> str:
    with pytest.raises(DataError) as e:
        load_tokens(DataConfig(source="shards", path=str(tmp_path / "s_train.bin"), tokenizer=tokenizer,
                               cache_dir=str(tmp_path / "cache")))
    assert not list((tmp_path / "cache").rglob("*.bin")), "nothing half-written"
    return str(e.value)


@pytest.mark.parametrize("damage, words", [
    (lambda raw: b"\x01\x02\x03\x04" + raw[4:], ["has magic 67305985", "llm.c"]),
    (lambda raw: raw[:4] + np.int32(7).tobytes() + raw[8:], ["has version 7", "goes with version 1"]),
    (lambda raw: raw[:2000], ["is cut short", "promises 1,000 tokens"]),
    (lambda raw: raw[:500], ["is cut short", "1024-byte llm.c header"]),
], ids=["wrong-magic", "wrong-version", "cut-short", "no-header"])
def test_damaged_llmc_shards(tmp_path, damage, words):
    llmc_write_datafile(tmp_path / "s_train.bin", list(range(1000)))
    llmc_write_datafile(tmp_path / "s_val.bin", list(range(100)))
    (tmp_path / "s_train.bin").write_bytes(damage((tmp_path / "s_train.bin").read_bytes()))
    message = _shard_error(tmp_path)
    assert "s_train.bin" in message and all(w in message for w in words), message


def test_shard_ids_outside_the_vocabulary(tmp_path):
    llmc_write_datafile(tmp_path / "s_train.bin", [5, 50257, 7], version=7)
    llmc_write_datafile(tmp_path / "s_val.bin", [1, 2], version=7)
    assert "holds token id 50257, outside the tokenizer's vocabulary of 50257" in _shard_error(tmp_path)


def test_meta_pkl_with_another_tokenizer_given(tmp_path, text):
    nanogpt_prepare_char(tmp_path, text)
    with pytest.raises(DataError) as e:
        load_tokens(DataConfig(source="shards", path=str(tmp_path), tokenizer="tiktoken", cache_dir=str(tmp_path)))
    assert str(e.value) == (f"{tmp_path / 'meta.pkl'} says these tokens were made with a character vocabulary of "
                            f"{len(set(text))} symbols, but data.tokenizer=tiktoken was given: leave data.tokenizer "
                            f"unset (or set it to char) to use meta.pkl's, or remove meta.pkl if tiktoken made them.")


def test_an_unset_tokenizer_is_for_shards_only():
    from tinyx.common.errors import ConfigError
    from tinyx.config import RunConfig, validate

    validate(RunConfig(data=DataConfig(source="shards", path="train.bin", tokenizer=None)))  # the shards say
    with pytest.raises(ConfigError, match="data.tokenizer=None is not one of char, tiktoken, hf"):
        validate(RunConfig(data=DataConfig(source="text", tokenizer=None)))  # a text has no tokenizer of its own


def _shards_group(folder, *overrides: str) -> DataConfig:
    """data.* as `train.py data=shards data.path=<folder>` composes it."""
    return micro_config("data=shards", f"data.path={folder}", *overrides).data


def test_nanogpt_char_folder_needs_no_tokenizer_setting(tmp_path, text):
    # nanoGPT's data/shakespeare_char after its prepare.py: the ids are meta.pkl's characters.
    nanogpt_prepare_char(tmp_path, text)
    data = load_tokens(_shards_group(tmp_path))
    assert data.tokenizer.to_dict() == {"kind": "char", "chars": sorted(set(text))}
    assert data.tokenizer.decode(data.val.tolist()) == text[int(len(text) * 0.9):]


def test_nanogpt_bpe_folder_without_meta_pkl_is_gpt2_by_default(tmp_path, text):
    # nanoGPT's data/shakespeare (BPE) prepare.py writes train.bin and val.bin only.
    ids = GPT2.encode_ordinary(text)
    np.array(ids[:9000], dtype=np.uint16).tofile(tmp_path / "train.bin")
    np.array(ids[9000:], dtype=np.uint16).tofile(tmp_path / "val.bin")
    data = load_tokens(_shards_group(tmp_path))
    assert data.tokenizer.to_dict() == {"kind": "tiktoken", "encoding": "gpt2"}
    assert data.val.tolist() == ids[9000:]
