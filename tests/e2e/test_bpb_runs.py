"""Bits per byte in real runs: logged beside every val loss, and equal between training's evaluation and tinyx evaluate."""

from __future__ import annotations

import math

import pytest
from helpers import CORPUS, micro_config

from tinyx.rundir.contract import read_jsonl, read_summary


@pytest.mark.slow  # a training run and an evaluation (seconds)
def test_a_sentencepiece_run_and_evaluate_count_the_same_bytes(tmp_path):
    """Training's evaluation and tinyx.tools.evaluate both count out the space a Metaspace tokenizer puts before each
    validation document (the cache's val_docs.bin): the logged bpb and evaluate's agree."""
    from hf_tokenizers import shakespeare_tokenizer

    from tinyx.tools.evaluate import main
    from tinyx.training import train

    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer.json").write_text(shakespeare_tokenizer("metaspace").json_text)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS.read_text()[:40_000])
    cfg = micro_config(f"data.path={corpus}", "data.split_documents=paragraph", "data.tokenizer=hf",
                       f"data.tokenizer_path={tmp_path / 'tokenizer'}", "train.max_steps=2", "train.eval_every=2",
                       "train.sample_tokens=0", "data.val_fraction=0.5")
    train(cfg, tmp_path / "run", quiet=True)
    logged = [r["val/bpb"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "val/bpb" in r]
    scores = main([str(tmp_path / "run"), "--eval-batches", "2", "--out", str(tmp_path)])
    assert scores[0].val_bpb == pytest.approx(logged[-1], rel=1e-6)


def test_a_char_run_logs_bpb_beside_every_val_loss(trained_run):
    """Tiny Shakespeare is ASCII: one byte per character token, so bits per byte = loss / ln 2."""
    run_dir, summary = trained_run
    assert max(CORPUS.read_bytes()) < 128
    evals = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "val/loss" in row]
    assert [row["step"] for row in evals] == [20, 40]
    for row in evals:
        assert row["val/bpb"] == pytest.approx(row["val/loss"] / math.log(2), rel=1e-5)
    on_disk = read_summary(run_dir)
    assert on_disk.val_bpb == evals[-1]["val/bpb"] == summary.val_bpb
    assert on_disk.val_bpb_best == min(row["val/bpb"] for row in evals)


def test_evaluate_with_training_batches_reproduces_the_logged_bpb(trained_run, tmp_path):
    from tinyx.tools.evaluate import main

    run_dir, _ = trained_run
    logged = {r["step"]: r["val/bpb"] for r in read_jsonl(run_dir / "metrics.jsonl") if "val/bpb" in r}
    scores = main([str(run_dir), "--eval-batches", "2", "--out", str(tmp_path)])
    assert scores[0].val_bpb == pytest.approx(logged[40], rel=1e-6)


def test_on_eval_can_receive_bits_per_byte(tmp_path):
    from tinyx.training import train

    seen = []
    cfg = micro_config("train.max_steps=20", "train.eval_every=10", "train.sample_tokens=0")
    train(cfg, tmp_path, quiet=True, on_eval=lambda step, value: seen.append((step, value)), on_eval_metric="val/bpb")
    logged = [(r["step"], r["val/bpb"]) for r in read_jsonl(tmp_path / "metrics.jsonl") if "val/bpb" in r]
    assert seen == logged and len(seen) == 2
