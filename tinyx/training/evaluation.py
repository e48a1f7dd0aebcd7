"""Validation during training: the loss on fixed windows, the sink mass, a text sample."""

from __future__ import annotations

import math
import time

import torch

from tinyx import faults, hardware
from tinyx.data import fixed_eval_windows, to_device
from tinyx.model import GPT


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


def sample_text(model: GPT, tokenizer, prompt_ids: list[int], n_tokens: int, seed: int, device) -> str:
    """The evaluation's text sample: the same rule and key/value cache as `tinyx.generate`'s defaults."""
    from tinyx.sampling import generate

    generator = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    out = generate(model, idx, n_tokens, temperature=0.8, top_k=50, generator=generator)
    return tokenizer.decode(out[0].tolist())


class Evaluator:
    """Scores the fixed validation windows (the same for every run, whatever its seed or batch size),
    and on the process that writes files adds the sink mass and a text sample."""

    def __init__(self, model: GPT, eval_model: torch.nn.Module, val_ids, cfg, tokenizer, hw: hardware.Hardware,
                 is_main: bool):
        tc = cfg.train
        self.model, self.eval_model, self.tokenizer, self.hw, self.is_main = model, eval_model, tokenizer, hw, is_main
        self.windows = fixed_eval_windows(val_ids, tc.eval_batches, tc.eval_batch_size, cfg.model.block_size)
        self.prompt_ids = tokenizer.encode(tc.sample_prompt) or [0]
        self.sample_tokens, self.seed = tc.sample_tokens, cfg.seed

    def run(self, step: int) -> tuple[float, dict[str, float], str | None, float]:
        """(val loss, metrics to log, sample text or None, seconds spent)."""
        started = time.perf_counter()
        loss = evaluate(self.eval_model, self.windows, self.hw)
        faults.pause_point("eval", step)
        if not self.is_main:  # every rank knows the loss (same weights, same windows); rank 0 reports it
            return loss, {}, None, time.perf_counter() - started
        metrics = {"val/loss": loss, "val/ppl": math.exp(min(loss, 50.0))}
        metrics.update(self.model.sink_mass(to_device(self.windows[0], self.hw.device)[0]))
        text = sample_text(self.model, self.tokenizer, self.prompt_ids, self.sample_tokens, self.seed,
                           self.hw.device) if self.sample_tokens else None
        return loss, metrics, text, time.perf_counter() - started
