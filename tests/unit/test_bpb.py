"""Bits per byte (val/bpb): the figure, checked against independent computations, and where runs record it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import CORPUS

from tinyx.config import HardwareConfig, ModelConfig
from tinyx.data import CharTokenizer, TiktokenTokenizer
from tinyx.nn.gpt import GPT
from tinyx.runtime.hardware import setup as hardware_setup
from tinyx.training.evaluation import score, target_byte_counts
from tinyx.training.state import LossCounters, TrainState

BLOCK = 16


def _model(vocab_size: int) -> GPT:
    torch.manual_seed(0)
    return GPT(ModelConfig(n_layer=1, n_head=2, d_model=16, block_size=BLOCK, vocab_size=vocab_size))


def _windows(ids: list[int], rows: int) -> list[torch.Tensor]:
    """Two batches of back-to-back windows of BLOCK + 1 tokens."""
    ids = torch.tensor(ids)
    per_batch = [ids[i * BLOCK:i * BLOCK + BLOCK + 1] for i in range(2 * rows)]
    return [torch.stack(per_batch[:rows]), torch.stack(per_batch[rows:])]


def _target_bytes(windows: list[torch.Tensor], table: np.ndarray) -> list[torch.Tensor]:
    """Each target token's bytes from a per-id table (these windows start no document)."""
    return target_byte_counts([torch.from_numpy(table[w.numpy()]) for w in windows])


def _independent_bpb(model: GPT, windows: list[torch.Tensor], bytes_of_token) -> float:
    """Summed negative log-likelihood (float64 log-softmax, nats) over summed bytes, token by token."""
    nats, n_bytes = 0.0, 0
    with torch.no_grad():
        for w in windows:
            logits, _ = model(w[:, :-1], w[:, 1:])
            logp = torch.log_softmax(logits.double(), dim=-1)
            for row, targets in zip(logp, w[:, 1:]):
                for position, target in enumerate(targets.tolist()):
                    if bytes_of_token(target):
                        nats -= row[position, target].item()
                        n_bytes += bytes_of_token(target)
    return nats / (math.log(2) * n_bytes)


def test_char_bpb_counts_the_utf8_bytes_of_multibyte_characters():
    text = "héllo wörld, 日本語 — ça va? " * 20
    tokenizer = CharTokenizer.from_text(text)
    model, hw = _model(tokenizer.vocab_size), hardware_setup(HardwareConfig(device="cpu"))
    windows = _windows(tokenizer.encode(text), rows=3)
    val = score(model, windows, _target_bytes(windows, tokenizer.token_byte_lengths()), hw)

    expected = _independent_bpb(model, windows, lambda i: len(tokenizer.chars[i].encode("utf-8")))
    assert val.bpb == pytest.approx(expected, rel=1e-6)
    # Several bytes per character here, so bits per byte is well below the loss in bits per token.
    assert val.bpb < 0.9 * val.loss / math.log(2)


def test_tiktoken_byte_lengths_spell_the_text_and_the_separator_counts_no_bytes():
    tokenizer = TiktokenTokenizer("gpt2")
    text = "Ünïcödé text, 日本語, and emoji 🙂 split across tokens."
    lengths = tokenizer.token_byte_lengths()
    assert lengths[tokenizer.encode(text)].sum() == len(text.encode("utf-8"))
    eot = tokenizer.enc.eot_token
    assert lengths[eot] == 0 and len(lengths) == tokenizer.vocab_size


def test_bpe_bpb_leaves_separator_tokens_out_of_both_sums():
    tokenizer = TiktokenTokenizer("gpt2")
    eot = tokenizer.enc.eot_token
    doc = tokenizer.encode("To be, or not to be, that is the question: ")
    ids = (doc + [eot]) * 20
    model, hw = _model(tokenizer.vocab_size), hardware_setup(HardwareConfig(device="cpu"))
    windows = _windows(ids, rows=2)
    assert any(eot in w[:, 1:].flatten().tolist() for w in windows)
    val = score(model, windows, _target_bytes(windows, tokenizer.token_byte_lengths()), hw)
    expected = _independent_bpb(model, windows,
                                lambda i: 0 if i == eot else len(tokenizer.enc.decode_single_token_bytes(i)))
    assert val.bpb == pytest.approx(expected, rel=1e-6)


def test_sentencepiece_bpb_over_the_whole_split_divides_by_the_texts_bytes():
    """Metaspace with byte fallback: '▁the' stands for 4 bytes inside a text, a document's first word for its own
    (no space), '<0xE2>' for 1 byte; the separators between documents for none, and they leave both sums."""
    from hf_tokenizers import shakespeare_tokenizer

    from tinyx.data.token_bytes import split_bytes
    from tinyx.tools.evaluate import validation_score

    tokenizer = shakespeare_tokenizer("metaspace")
    docs = [p for p in CORPUS.read_text()[60_000:62_000].split("\n\n") if p] + ["Café — “quoted” 日本語 🙂"]
    ids, starts = [], []
    for doc in docs:
        ids += [tokenizer.eot] if ids else []
        starts.append(len(ids))
        ids += tokenizer.encode(doc)
    ids += [tokenizer.eot] * (-(len(ids) - 1) % BLOCK)  # whole windows: every token after the first is a target
    ids = np.array(ids)
    model, hw = _model(tokenizer.vocab_size), hardware_setup(HardwareConfig(device="cpu"))
    loss, bpb, _ = validation_score(model, ids, split_bytes(tokenizer, ids, np.array(starts)), BLOCK, 16, None, hw)

    first_token_end = tokenizer.tok.encode(docs[0], add_special_tokens=False).offsets[0][1]
    text_bytes = sum(len(d.encode("utf-8")) for d in docs) - len(docs[0][:first_token_end].encode("utf-8"))
    nats = 0.0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, BLOCK):
            window = torch.from_numpy(ids[start:start + BLOCK + 1]).long()[None]
            logits, _ = model(window[:, :-1], window[:, 1:])
            targets = window[0, 1:]
            token_logp = torch.log_softmax(logits[0].double(), dim=-1)[torch.arange(BLOCK), targets]
            nats -= token_logp[targets != tokenizer.eot].sum().item()
    assert bpb == pytest.approx(nats / (math.log(2) * text_bytes), rel=1e-6)


def test_train_state_keeps_the_best_bpb_through_a_checkpoint():
    from tinyx.data import WindowSampler

    def state() -> TrainState:
        return TrainState(WindowSampler(np.arange(100), 2, 8, seed=0), LossCounters(torch.device("cpu")))

    before = state()
    before.record_eval(10, 2.0, 2.9)
    before.record_eval(20, 2.1, 2.8)  # a worse loss, a better bpb: bpb's best is its own
    after = state()
    after.load_state_dict(before.state_dict())
    assert (after.val_bpb, after.best_val_bpb, after.best_val_loss) == (2.8, 2.8, 2.0)
    older = {k: v for k, v in before.state_dict().items() if not k.startswith("val_bpb")}
    after.load_state_dict(older)  # a checkpoint from before bits per byte
    assert after.val_bpb is None and after.best_val_bpb == math.inf


def test_the_sweep_accepts_bits_per_byte_as_its_metric():
    from tinyx.config import SweepConfig, validate_sweep
    from tinyx.rundir.contract import RunSummary
    from tinyx.sweep.objective import metric_value

    for metric in ("val/bpb", "val/bpb_best"):
        validate_sweep(SweepConfig(metric=metric))  # a val/ figure: the default median pruner may prune on it
    summary = RunSummary.from_dict({"val/loss": 1.9, "val/bpb": 2.74, "val/bpb_best": 2.7})
    assert (metric_value(summary, "val/bpb"), metric_value(summary, "val/bpb_best")) == (2.74, 2.7)
