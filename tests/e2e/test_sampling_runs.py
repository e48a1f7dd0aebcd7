"""Training on document windows resumes exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import CORPUS, micro_config


@pytest.fixture
def speeches(monkeypatch):
    """Tiny Shakespeare as documents: each speech (after a blank line) starts one. Tiny Shakespeare itself has
    no documents, so training's data loader is handed the real tokens with the speeches' offsets added."""
    import dataclasses

    from tinyx.data import load_tokens
    from tinyx.training import setup

    def with_speeches(cfg):
        data = load_tokens(cfg)
        text = data.tokenizer.decode(data.train.tolist())  # a character per token: offsets are token offsets
        starts = np.array([0] + [i + 2 for i in range(len(text)) if text.startswith("\n\n", i)])
        return dataclasses.replace(data, doc_starts=starts)

    monkeypatch.setattr(setup, "load_tokens", with_speeches)


def test_training_on_document_windows_resumes_exactly(speeches, tmp_path):
    import json

    from tinyx.rundir.contract import read_jsonl
    from tinyx.training import train

    settings = ["data.window_start=document", "train.max_steps=12", "train.log_every=2", "train.ckpt_every=6",
                "train.eval_every=12", "train.sample_tokens=0", "hardware.threads=1"]
    full = train(micro_config(*settings), tmp_path / "full", quiet=True)
    ckpt = tmp_path / "full" / "checkpoints" / "ckpt_000006.pt"
    resumed = train(micro_config(*settings, f"train.resume={ckpt}"), tmp_path / "resumed", quiet=True)

    def losses(run):
        return [(r["step"], r["train/loss"]) for r in read_jsonl(tmp_path / run / "metrics.jsonl") if "train/loss" in r]

    assert losses("resumed") == losses("full") and len(losses("full")) == 6
    assert resumed.val_loss == full.val_loss
    provenance = json.loads((tmp_path / "full" / "provenance.json").read_text())["data"]
    text = CORPUS.read_text()
    blank_lines = len(re.findall("(?=\n\n)", text[:int(len(text) * 0.9)]))  # overlapping: "\n\n\n" holds two
    assert provenance["documents"] == blank_lines + 1 and provenance["tokenizer"] == "char (65 characters)"
