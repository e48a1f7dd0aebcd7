"""data.window_start=document: windows at document starts, seeded, resumable, split between torchrun ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import micro_config

from tinyx.common.errors import DataError
from tinyx.data import TokenData, WindowSampler
from tinyx.data.windows import DocumentWindowSampler, make_sampler
from tinyx.training.state import LossCounters, TrainState

BLOCK, BATCH = 8, 4


def _documents(seed: int = 0, n_docs: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Token ids equal to their own offset (so a window's first token says where it starts), and
    documents of 3 to 40 tokens."""
    lengths = np.random.default_rng(seed).integers(3, 40, n_docs)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.arange(lengths.sum(), dtype=np.uint16), starts


def _batches(sampler, n: int) -> list[torch.Tensor]:
    return [sampler.next_batch() for _ in range(n)]


def test_every_window_starts_at_a_document_start():
    ids, starts = _documents()
    batches = _batches(DocumentWindowSampler(ids, starts, BATCH, BLOCK, seed=1), 50)
    firsts = torch.cat([b[:, 0] for b in batches]).numpy()
    room = starts[starts <= len(ids) - BLOCK - 1]
    assert set(firsts) <= set(room)
    assert len(set(firsts)) > len(room) // 2  # spread over the documents, not a few of them
    assert all(b.shape == (BATCH, BLOCK + 1) and (b[:, 1:] - b[:, :-1] == 1).all() for b in batches)  # contiguous


def test_windows_are_fixed_by_the_seed():
    ids, starts = _documents()
    same = [_batches(DocumentWindowSampler(ids, starts, BATCH, BLOCK, seed=3), 5) for _ in range(2)]
    other = _batches(DocumentWindowSampler(ids, starts, BATCH, BLOCK, seed=4), 5)
    assert all(torch.equal(a, b) for a, b in zip(*same))
    assert not all(torch.equal(a, b) for a, b in zip(same[0], other))


def test_a_train_state_checkpoint_resumes_the_same_windows():
    ids, starts = _documents()

    def state(seed: int) -> TrainState:
        sampler = DocumentWindowSampler(ids, starts, BATCH, BLOCK, seed=seed)
        return TrainState(sampler, LossCounters(torch.device("cpu")))

    running = state(seed=5)
    _batches(running.sampler, 7)
    saved = running.state_dict()
    expected = _batches(running.sampler, 4)
    resumed = state(seed=99)  # the checkpoint's generator state wins over the new seed
    resumed.load_state_dict(saved)
    assert all(torch.equal(a, b) for a, b in zip(_batches(resumed.sampler, 4), expected))


def test_ranks_share_out_the_windows_one_process_draws():
    ids, starts = _documents()
    whole = _batches(DocumentWindowSampler(ids, starts, 2 * BATCH, BLOCK, seed=2), 3)
    ranks = [_batches(DocumentWindowSampler(ids, starts, BATCH, BLOCK, seed=2, rank=r, world_size=2), 3)
             for r in range(2)]
    for step, batch in enumerate(whole):
        assert torch.equal(torch.cat([ranks[0][step], ranks[1][step]]), batch)


def test_documents_too_close_to_the_end_are_left_out_and_none_left_is_an_error():
    ids = np.arange(100, dtype=np.uint16)
    sampler = DocumentWindowSampler(ids, np.array([0, 50, 95]), BATCH, BLOCK, seed=0)
    assert sampler.starts.tolist() == [0, 50]  # 95 + 9 tokens would run past the end
    # The last start that fits: its window of BLOCK + 1 tokens ends on the split's last token; one later does not fit.
    last_fit = len(ids) - BLOCK - 1
    sampler = DocumentWindowSampler(ids, np.array([0, last_fit, last_fit + 1]), BATCH, BLOCK, seed=0)
    assert sampler.starts.tolist() == [0, last_fit]
    windows = torch.cat(_batches(sampler, 10))
    assert windows[windows[:, 0] == last_fit].tolist()[0] == list(range(last_fit, len(ids)))
    with pytest.raises(DataError, match=r"data.window_start=document: none of the train split's 1 documents"):
        DocumentWindowSampler(ids, np.array([95]), BATCH, BLOCK, seed=0)


def _token_data(doc_starts) -> TokenData:
    ids, _ = _documents()
    return TokenData(ids, ids[:100], tokenizer=None, corpus_path=Path("synthetic"), cache_dir=Path("synthetic"),
                     cache_hit=False, doc_starts=doc_starts)


def test_make_sampler_follows_data_window_start():
    _, starts = _documents()
    cfg = micro_config("model.block_size=8")
    assert type(make_sampler(_token_data(None), cfg)) is WindowSampler
    document = micro_config("model.block_size=8", "data.window_start=document")
    assert isinstance(make_sampler(_token_data(starts), document), DocumentWindowSampler)
    for one_document in (None, np.array([0])):  # one document: every window would start at token 0
        with pytest.raises(DataError, match="data.window_start=document needs a source split into documents"):
            make_sampler(_token_data(one_document), document)
