"""tinyx.tools.evaluate: validation loss of checkpoints along a run and probe cases (bad input: test_bad_inputs.py)."""

import csv
import math

import pytest
from helpers import CORPUS, ROOT

from tinyx.rundir.contract import read_jsonl
from tinyx.tools.evaluate import main

PROBES = ROOT / "conf" / "probes" / "shakespeare.yaml"


def test_checkpoints_of_one_run_show_val_loss_falling_and_probe_results(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    # A glob picking two of the run's checkpoints (it keeps 20, 30 and 40).
    scores = main([str(run_dir / "checkpoints" / "ckpt_0000[24]0.pt"), "--probes", str(PROBES),
                   "--out", str(tmp_path)])
    out = capsys.readouterr().out

    assert [s.step for s in scores] == [20, 40]
    assert scores[-1].val_loss < scores[0].val_loss - 0.05  # the model learns between steps 20 and 40
    # The whole validation split in back-to-back windows of the model's context (32 tokens).
    text = CORPUS.read_text()
    val_tokens = len(text) - int(len(text) * 0.9)  # one token per character; the last 10% validates
    assert all(s.val_tokens == (val_tokens - 1) // 32 * 32 for s in scores)
    assert all(s.val_ppl == pytest.approx(math.exp(s.val_loss)) for s in scores)
    # Tiny Shakespeare is ASCII: a byte per character token, so bits per byte is the loss in bits.
    assert all(s.val_bpb == pytest.approx(s.val_loss / math.log(2), rel=1e-5) for s in scores)

    names = [p.name for p in scores[0].probes]
    assert names == ["speaker_line_ends_with_colon_newline", "new_speech_after_blank_line", "courtesy_my_lord",
                     "thou_art", "first_line_memorised"]
    for s in scores:
        for p in s.probes:
            assert p.logprob < 0 and 1 <= p.rank <= 65 and p.in_top_k == (p.rank <= 5)
    # Probe table: one row per probe and checkpoint.
    assert sum(1 for line in out.splitlines() if line.startswith("| thou_art |")) == 2

    with open(tmp_path / "evaluation.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [20, 40]
    assert [float(r["val_loss"]) for r in rows] == [s.val_loss for s in scores]
    assert [float(r["val_bpb"]) for r in rows] == [s.val_bpb for s in scores]
    assert [int(r["probe:thou_art:rank"]) for r in rows] == [s.probes[3].rank for s in scores]


def test_eval_batches_reproduces_the_logged_val_loss(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    logged = {r["step"]: r["val/loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "val/loss" in r}
    scores = main([str(run_dir / "checkpoints" / "ckpt_000020.pt"), str(run_dir), "--eval-batches", "2",
                   "--out", str(tmp_path)])
    assert [(s.step, s.val_tokens) for s in scores] == [(20, 2 * 12 * 32), (40, 2 * 12 * 32)]
    for s in scores:
        assert s.val_loss == pytest.approx(logged[s.step], abs=1e-6)


def test_probe_logprob_is_the_teacher_forced_sum_of_the_expected_tokens(trained_run):
    import torch

    from tinyx.tools.probes import Probe, score_probe
    from tinyx.tools.run_model import load_model

    run_dir, _ = trained_run
    run = load_model(run_dir, "cpu")
    model, tokenizer = run.model, run.tokenizer
    for prompt, expected in [("my good ", "lord"), ("First Citizen:\n", "Before we proceed"), ("th", "ou art")]:
        prompt_ids, expected_ids = tokenizer.encode(prompt), tokenizer.encode(expected)
        # Independently: the model on prompt + expected; the token at position i is predicted by the logits
        # at position i - 1, so expected token j (at len(prompt) + j) by the logits at len(prompt) + j - 1.
        ids = torch.tensor([prompt_ids + expected_ids])
        with torch.no_grad():
            logits, _ = model(ids, ids)
        logp = torch.log_softmax(logits[0].float(), dim=-1)
        per_token = [logp[len(prompt_ids) + j - 1, t].item() for j, t in enumerate(expected_ids)]
        want_rank = max(1 + int((logp[len(prompt_ids) + j - 1] > logp[len(prompt_ids) + j - 1, t]).sum())
                        for j, t in enumerate(expected_ids))

        got = score_probe(model, tokenizer, Probe("p", prompt, expected), top_k=5, device="cpu")
        assert got.tokens == len(expected_ids)
        assert got.logprob == pytest.approx(sum(per_token), abs=1e-4), (prompt, expected)
        assert got.rank == want_rank and got.in_top_k == (want_rank <= 5)
