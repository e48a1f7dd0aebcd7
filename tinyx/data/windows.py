"""Where training windows start: anywhere (`data.window_start=random`) or at documents' first tokens
(`data.window_start=document`), for sources whose TokenData knows where its documents start.

Both samplers draw from one seeded generator whose state is the checkpoint's (TrainState saves
`sampler.state_dict()`), so a run resumes onto exactly the windows it would have drawn, and split each
global batch between torchrun ranks the same way (tinyx.data.sample_windows).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from tinyx.common.errors import DataError
from tinyx.config import RunConfig
from tinyx.data.batches import WindowSampler
from tinyx.data.load import TokenData


class DocumentWindowSampler(WindowSampler):
    """Windows of block_size + 1 tokens, each starting at a document start of the train split.

    Every document that leaves room for a whole window is equally likely to be drawn, whatever its
    length; a document shorter than the window runs on into the next one (past its separator), as a
    random window would.
    """

    window_start = "document"

    def __init__(self, ids: np.ndarray, doc_starts: np.ndarray, batch_size: int, block_size: int, seed: int,
                 rank: int = 0, world_size: int = 1):
        super().__init__(ids, batch_size, block_size, seed, rank, world_size)
        starts = np.asarray(doc_starts, dtype=np.int64)
        self.starts = starts[(starts >= 0) & (starts <= len(ids) - block_size - 1)]
        if len(self.starts) == 0:
            raise DataError(f"data.window_start=document: none of the train split's {len(starts)} documents starts "
                            f"at least model.block_size+1={block_size + 1} tokens before its end: use "
                            f"data.window_start=random or a smaller model.block_size.")

    def order_parts(self, grad_accum: int, train_split: str) -> dict:
        # The starts drawn from: the split's documents that leave room for a window (the context is in the key).
        starts = hashlib.sha256(np.ascontiguousarray(self.starts, dtype="<i8").tobytes()).hexdigest()
        return {**super().order_parts(grad_accum, train_split), "document_starts": starts}

    def next_batch(self) -> torch.Tensor:
        # As sample_windows: every rank draws the whole global batch and gathers its own slice.
        picks = torch.randint(len(self.starts), (self.batch_size * self.world_size,), generator=self.generator)
        picks = picks[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].numpy()
        windows = self.ids[self.starts[picks][:, None] + np.arange(self.block_size + 1)]
        return torch.from_numpy(windows.astype(np.int64))


def make_sampler(data: TokenData, cfg: RunConfig, rank: int = 0, world_size: int = 1) -> WindowSampler:
    """The training sampler `data.window_start` asks for."""
    batch_size, block_size = cfg.train.batch_size, cfg.model.block_size
    if cfg.data.window_start == "random":
        return WindowSampler(data.train, batch_size, block_size, cfg.seed, rank, world_size)
    if data.doc_starts is None or len(data.doc_starts) < 2:  # one document: every window would start at 0
        raise DataError(f"data.window_start=document needs a source split into documents, but data.name="
                        f"{cfg.data.name} is one unbroken text: use data.window_start=random, or a source with "
                        f"documents (data=text, jsonl, parquet, hf).")
    return DocumentWindowSampler(data.train, data.doc_starts, batch_size, block_size, cfg.seed, rank, world_size)
