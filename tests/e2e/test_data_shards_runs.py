"""A run on nanoGPT's shakespeare_char folder trains with the tokenizer its meta.pkl gives."""

from __future__ import annotations

import json
import math

import pytest
from helpers import CORPUS, micro_config, nanogpt_prepare_char


@pytest.fixture(scope="module")
def text() -> str:
    return CORPUS.read_text()[:60_000]


@pytest.mark.slow
def test_a_run_on_the_nanogpt_char_folder_trains_and_records_its_tokenizer(tmp_path, text):
    from tinyx.training import train

    folder = tmp_path / "shakespeare_char"
    folder.mkdir()
    nanogpt_prepare_char(folder, text)
    summary = train(micro_config("data=shards", f"data.path={folder}", "train.max_steps=5", "train.eval_every=5",
                                 "train.sample_tokens=0"), tmp_path / "run", quiet=True)
    assert summary.status == "completed" and summary.val_loss < math.log(len(set(text)))  # below chance: it learned
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["tokenizer"] == "char" and config["model"]["vocab_size"] == len(set(text))
