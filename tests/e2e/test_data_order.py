"""Paired seeds: the seed alone fixes the training windows, whatever the model and optimizer, resumed or not.

Two arms of an ablation (a GPT-2-style model with dropout and AdamW, a Llama-style one with Muon) trained
with one seed must draw the same windows at every step, so that compare may pair them seed for seed;
summary.json's `data_order` says when that holds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import micro_config

from tinyx.data import WindowSampler
from tinyx.data.windows import DocumentWindowSampler
from tinyx.rundir.contract import read_summary
from tinyx.training import train

STEPS = ["train.eval_every=100", "train.log_every=4", "train.sample_tokens=0", "train.ckpt_every=4"]
GPT2_ADAMW = ["experiment=baseline", "model.dropout=0.1", "optim=adamw"]
LLAMA_MUON = ["experiment=llama_tiny", "optim=muon"]


@pytest.fixture
def drawn(monkeypatch):
    """Every training batch the runs of this test draw, in order (the real sampler, watched)."""
    windows: list[torch.Tensor] = []
    draw = WindowSampler.next_batch

    def watched(self):
        batch = draw(self)
        windows.append(batch.clone())
        return batch

    monkeypatch.setattr(WindowSampler, "next_batch", watched)
    return windows


def _train(run_dir, drawn, *overrides) -> list[torch.Tensor]:
    start = len(drawn)
    train(micro_config(*STEPS, *overrides), run_dir, quiet=True)
    return drawn[start:]


def test_one_seed_draws_the_same_windows_for_two_architectures_and_optimizers(tmp_path, drawn):
    gpt2 = _train(tmp_path / "gpt2", drawn, *GPT2_ADAMW, "seed=3", "train.max_steps=4")
    llama = _train(tmp_path / "llama", drawn, *LLAMA_MUON, "seed=3", "train.max_steps=4")
    assert len(gpt2) == len(llama) == 4
    assert all(torch.equal(a, b) for a, b in zip(gpt2, llama))
    # ... and the models did differ: not one run twice
    assert read_summary(tmp_path / "gpt2").train_loss != read_summary(tmp_path / "llama").train_loss
    assert read_summary(tmp_path / "gpt2").data_order == read_summary(tmp_path / "llama").data_order


@pytest.mark.slow
def test_a_resumed_run_of_another_architecture_continues_the_same_windows(tmp_path, drawn):
    gpt2 = _train(tmp_path / "gpt2", drawn, *GPT2_ADAMW, "seed=3", "train.max_steps=8")
    first = _train(tmp_path / "resumed", drawn, *LLAMA_MUON, "seed=3", "train.max_steps=4")
    rest = _train(tmp_path / "resumed", drawn, *LLAMA_MUON, "seed=3", "train.max_steps=8", "train.resume=auto")
    assert len(first) == len(rest) == 4
    assert all(torch.equal(a, b) for a, b in zip(first + rest, gpt2))
    assert read_summary(tmp_path / "resumed").data_order == read_summary(tmp_path / "gpt2").data_order
    other_seed = _train(tmp_path / "seed4", drawn, *GPT2_ADAMW, "seed=4", "train.max_steps=1")
    assert not torch.equal(other_seed[0], gpt2[0])
    assert read_summary(tmp_path / "seed4").data_order != read_summary(tmp_path / "gpt2").data_order


def test_data_order_changes_with_what_changes_the_windows():
    ids = torch.arange(1000).numpy()

    def key(batch=4, block=32, seed=1, accum=1, world=1, train="train split a"):
        return WindowSampler(ids, batch, block, seed, rank=0, world_size=world).order_key(accum, train)

    base = key()
    assert key() == base and base.startswith("2:")  # the version of what it hashes (records compares alike)
    assert not torch.equal(WindowSampler(ids, 4, 32, 1).next_batch(), WindowSampler(ids, 4, 32, 2).next_batch())
    for changed in (key(batch=8), key(block=16), key(seed=2), key(accum=2), key(train="train split b")):
        assert changed != base
    # N ranks of batch B draw the windows one process of N x B draws (sample_windows): one key
    assert key(batch=2, world=2) == key(batch=4)
    a = WindowSampler(ids, 4, 32, seed=1)
    b0, b1 = WindowSampler(ids, 2, 32, seed=1, rank=0, world_size=2), WindowSampler(ids, 2, 32, 1, 1, 2)
    for _ in range(3):
        assert torch.equal(a.next_batch(), torch.cat([b0.next_batch(), b1.next_batch()]))


def test_data_order_changes_with_where_windows_start():
    # One seed, one split: data.window_start=random and =document draw other windows, and so do other documents.
    ids = torch.arange(1000).numpy()
    random = WindowSampler(ids, 4, 32, seed=1)
    document = DocumentWindowSampler(ids, np.array([0, 100, 300, 600]), 4, 32, seed=1)
    other_documents = DocumentWindowSampler(ids, np.array([0, 100, 300, 700]), 4, 32, seed=1)
    assert not torch.equal(random.next_batch(), document.next_batch())
    keys = [s.order_key(1, "train split a") for s in (random, document, other_documents)]
    assert len(set(keys)) == 3
    again = DocumentWindowSampler(ids, np.array([0, 100, 300, 600]), 4, 32, seed=1).order_key(1, "train split a")
    assert again == keys[1]
