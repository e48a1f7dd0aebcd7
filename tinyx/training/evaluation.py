"""Validation during training: the loss and bits per byte on fixed windows, the sink mass, a text sample."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tinyx.common import faults
from tinyx.data import fixed_eval_windows, to_device
from tinyx.data.token_bytes import split_bytes
from tinyx.nn.gpt import GPT
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS, VAL_PPL
from tinyx.runtime import hardware


@torch.inference_mode()
def evaluate(model: torch.nn.Module, windows: list[torch.Tensor], hw: hardware.Hardware) -> float:
    """The mean loss of `model` over `windows` (each a batch of block_size + 1 token windows)."""
    model.eval()
    losses = []
    for w in windows:
        x, y = to_device(w, hw.device)
        with hw.autocast():
            _, loss = model(x, y)
        losses.append(loss.float())
    model.train()
    return torch.stack(losses).mean().item()


@dataclass
class ValScore:
    """A model's score on validation windows."""

    loss: float  # the mean of the batches' mean token losses (nats): val/loss, computed as it always was
    nll_nats: float  # summed over the target tokens that stand for text (bytes > 0)
    target_bytes: int  # the UTF-8 bytes those target tokens decode to

    @property
    def bpb(self) -> float:
        """Bits per byte: comparable across tokenizers, since every tokenizer spells the same bytes."""
        return self.nll_nats / (math.log(2) * self.target_bytes) if self.target_bytes else math.nan


def target_byte_counts(byte_windows: list[torch.Tensor]) -> list[torch.Tensor]:
    """The bytes of each target token (a window's tokens after the first), from windows of byte counts cut as the
    token windows are (`fixed_eval_windows(split_bytes(...), ...)`: tinyx.data.token_bytes.SplitBytes)."""
    return [w[:, 1:] for w in byte_windows]


@torch.inference_mode()
def score(model: torch.nn.Module, windows: list[torch.Tensor], target_bytes: list[torch.Tensor],
          hw: hardware.Hardware) -> ValScore:
    """The loss and the bits per byte of `model` over `windows` (target_byte_counts gives `target_bytes`).

    Target tokens that decode to no bytes (a separator like <|endoftext|>) count in val/loss but not in
    bits per byte, whose numerator and denominator both leave them out.
    """
    model.eval()
    losses, nll_sums = [], []
    for w, nbytes in zip(windows, target_bytes, strict=True):
        x, y = to_device(w, hw.device)
        with hw.autocast():
            logits, loss = model(x, y)
        losses.append(loss.float())
        token_nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        counted = nbytes.to(hw.device).flatten() > 0
        nll_sums.append(torch.where(counted, token_nll, 0.0).sum())
    model.train()
    return ValScore(loss=torch.stack(losses).mean().item(), nll_nats=torch.stack(nll_sums).cpu().double().sum().item(),
                    target_bytes=int(sum(int(b.sum()) for b in target_bytes)))


def sample_text(model: GPT, tokenizer, prompt_ids: list[int], n_tokens: int, seed: int, device) -> str:
    """The evaluation's text sample: the same rule and key/value cache as `tinyx generate`'s defaults."""
    from tinyx.nn.decoding import generate

    generator = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    out = generate(model, idx, n_tokens, temperature=0.8, top_k=50, generator=generator)
    return tokenizer.decode(out[0].tolist())


class Evaluator:
    """Scores the fixed validation windows (the same for every run, whatever its seed or batch size),
    and on the process that writes files adds the sink mass and a text sample."""

    def __init__(self, model: GPT, eval_model: torch.nn.Module, val_ids, cfg, tokenizer, hw: hardware.Hardware,
                 is_main: bool, val_doc_starts=None):
        tc = cfg.train
        self.model, self.eval_model, self.tokenizer, self.hw, self.is_main = model, eval_model, tokenizer, hw, is_main
        self.windows = fixed_eval_windows(val_ids, tc.eval_batches, tc.eval_batch_size, cfg.model.block_size)
        val_bytes = split_bytes(tokenizer, val_ids, val_doc_starts)
        self.target_bytes = target_byte_counts(fixed_eval_windows(val_bytes, tc.eval_batches, tc.eval_batch_size,
                                                                  cfg.model.block_size))
        # Encoded only when sampling: a corpus without the prompt's characters (no "\n") trains with no samples.
        self.prompt_ids = (tokenizer.encode(tc.sample_prompt) or [0]) if tc.sample_tokens else []
        self.sample_tokens, self.seed = tc.sample_tokens, cfg.seed

    def run(self, step: int) -> tuple[ValScore, dict[str, float], str | None, float]:
        """(val score, metrics to log, sample text or None, seconds spent)."""
        started = time.perf_counter()
        val = score(self.eval_model, self.windows, self.target_bytes, self.hw)
        faults.pause_point("eval", step)
        if not self.is_main:  # every rank knows the score (same weights, same windows); rank 0 reports it
            return val, {}, None, time.perf_counter() - started
        metrics = {VAL_LOSS: val.loss, VAL_PPL: math.exp(min(val.loss, 50.0)), VAL_BPB: val.bpb}
        metrics.update(self.model.sink_mass(to_device(self.windows[0], self.hw.device)[0]))
        text = sample_text(self.model, self.tokenizer, self.prompt_ids, self.sample_tokens, self.seed,
                           self.hw.device) if self.sample_tokens else None
        return val, metrics, text, time.perf_counter() - started
