"""Sampling text from a GPT: the next-token rule (temperature, top-k, top-p), the decoding loop with a
key/value cache, and incremental decoding for streaming to a terminal.

Used by `tinyx generate` and by the samples written during training (`training/evaluation.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from tinyx.common.errors import ConfigError


def python_keyword(key: str, value) -> str:
    return f"{key}={value}"


def check_sampling(temperature: float, top_k: int | None, top_p: float | None, spell=python_keyword) -> None:
    """The sampling rule's values; `spell(key, value)` writes a setting as the caller's user types it
    (`top_p=0.9` in Python, `--top-p 0.9` on tinyx generate's command line)."""
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ConfigError(f"{spell('top_p', top_p)} is outside (0, 1]: the nucleus keeps the likeliest tokens whose "
                          f"probabilities add up to top_p; use e.g. {spell('top_p', 0.9)} (1 or none turns it off).")
    if top_k is not None and top_k < 0:
        raise ConfigError(f"{spell('top_k', top_k)} must be >= 0: use e.g. {spell('top_k', 50)} (0 or none turns "
                          f"it off).")


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """logits with every token outside the nucleus set to -inf (B, V).

    The nucleus is the smallest set of likeliest tokens whose probabilities add up to at least top_p: a token
    stays if the tokens likelier than it add up to less than top_p (so the likeliest always stays).
    """
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = F.softmax(sorted_logits.float(), dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop_sorted = mass_before >= top_p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The next token (B, 1) from the last position's logits (B, V): argmax when temperature <= 0, else a
    draw after temperature, then top-k, then top-p (the order Hugging Face's generate applies them)."""
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    probs = F.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)


@torch.inference_mode()
def stream_tokens(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                  kv_cache: bool = True) -> Iterator[torch.Tensor]:
    """Yield max_new_tokens next tokens (B, 1) one at a time, each sampled from the model given idx (B, T)
    and the tokens before it.

    The model sees at most its block_size last tokens. With kv_cache the tokens already seen are not
    recomputed while the sequence fits the context. Past it the window slides, which shifts every position
    and changes every layer's keys, so no cached key stays valid: each step recomputes the window, as
    without a cache (the same tokens, at the uncached speed there).
    """
    check_sampling(temperature, top_k, top_p)
    was_training = model.training
    model.eval()
    block_size = model.cfg.block_size
    cache = model.new_kv_cache() if kv_cache else None
    try:
        for _ in range(max_new_tokens):
            if cache is not None and idx.shape[1] <= block_size:
                logits, _ = model(idx[:, cache.length:], kv_cache=cache)  # the tokens not cached yet
            else:
                logits, _ = model(idx[:, -block_size:])
            nxt = next_token(logits[:, -1, :], temperature, top_k, top_p, generator)
            idx = torch.cat([idx, nxt], dim=1)
            yield nxt
    finally:
        model.train(was_training)


def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, generator: torch.Generator | None = None,
             kv_cache: bool = True) -> torch.Tensor:
    """idx (B, T) followed by its max_new_tokens sampled tokens (B, T + max_new_tokens)."""
    new = list(stream_tokens(model, idx, max_new_tokens, temperature, top_k, top_p, generator, kv_cache))
    return torch.cat([idx, *new], dim=1)


class TextStream:
    """Turns tokens into text as they come, printing exactly what the tokenizer's `decode` of the whole sequence
    gives, never a broken glyph.

    A token's text depends on its neighbours (a SentencePiece '▁' is a space except at a text's start; a byte
    token or a BPE token holding part of a character makes a character only with the next ones), so tokens are
    not decoded alone: each push decodes the tokens since the last printed piece's start (`window`, a few
    tokens) and prints what that adds to the text of the window's printed part, once it does not end inside a
    character (U+FFFD) nor with a byte-fallback token (a run of those decodes as a whole: U+FFFD for each
    byte when the run is not valid UTF-8, so a later byte token can change the text of an earlier one).
    `context`: the ids already printed (the prompt), so the first token reads in place.
    """

    def __init__(self, tokenizer, context: list[int] = ()):
        self.tokenizer = tokenizer
        self.window = list(context)
        self.printed = len(self.window)  # the window's first `printed` tokens are on the screen
        self.printed_text = tokenizer.decode(self.window)

    def push(self, token: int) -> str:
        self.window.append(token)
        if token in self.tokenizer.byte_token_ids:
            return ""  # the run of byte tokens may go on
        text = self.tokenizer.decode(self.window)
        if len(text) <= len(self.printed_text) or text.endswith("\ufffd"):
            return ""  # no whole character yet
        return self._print(text)

    def finish(self) -> str:
        """What is left (a sequence that ends inside a character shows U+FFFD, as decode does)."""
        text = self.tokenizer.decode(self.window)
        return self._print(text) if len(text) > len(self.printed_text) else ""

    def _print(self, text: str) -> str:
        # Only the tokens printed by this piece stay as the next window's context: decoding stays linear.
        new_text = text[len(self.printed_text):]
        self.window = self.window[self.printed:]
        self.printed = len(self.window)
        self.printed_text = self.tokenizer.decode(self.window)
        return new_text
