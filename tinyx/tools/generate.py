"""Generate text from a trained run.

    uv run python -m tinyx.tools.generate run=<run dir> prompt="ROMEO:" max_new_tokens=300 temperature=0.8 top_k=50
    uv run python -m tinyx.tools.generate run=<run dir> prompt="ROMEO:" temperature=1.0 top_k=null top_p=0.9

`run` takes a run directory (its latest checkpoint) or a checkpoint file. Text is printed as it is
generated; a key/value cache keeps each new token's cost flat (kv_cache=false recomputes every step).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tinyx.cli.entry import exit_on_help, load_env
from tinyx.common.errors import ConfigError, exit_on_user_error
from tinyx.tools.run_model import load_model


@dataclass
class GenerateConfig:
    run: Optional[str] = None
    prompt: str = "\n"
    max_new_tokens: int = 300
    temperature: float = 0.8  # 0: greedy
    top_k: Optional[int] = 50  # 0 or null: off
    top_p: Optional[float] = None  # nucleus sampling, in (0, 1]; 1 or null: off
    num_samples: int = 1
    seed: int = 1337
    device: str = "auto"
    kv_cache: bool = True  # false: recompute the whole context for every token (same tokens, slower)


def parse_args(argv: list[str], schema):
    """key=value arguments checked against a dataclass schema (the same syntax as Hydra overrides)."""
    values = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"argument {arg!r} is not key=value: write e.g. run=outputs/runs/<date>/<time>.")
        # Values stay strings (a prompt like "ROMEO:" is text, not YAML); the schema converts types.
        values[key] = None if value.lower() in ("null", "none") else value
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        where = f"{key}={values[key]}: " if key in values else ""
        raise ConfigError(f"{where}{str(e).splitlines()[0]}. Valid keys: "
                          f"{', '.join(schema.__dataclass_fields__)}.") from None


@exit_on_user_error
def main(argv: list[str]) -> None:
    exit_on_help(argv, __doc__, GenerateConfig)
    cfg = parse_args(argv, GenerateConfig)
    if not cfg.run:
        raise ConfigError("no run given: pass run=<run directory or checkpoint file>.")
    if cfg.max_new_tokens < 1 or cfg.num_samples < 1:
        raise ConfigError(f"max_new_tokens={cfg.max_new_tokens} and num_samples={cfg.num_samples} must both be >= 1.")
    from tinyx.nn.decoding import check_sampling

    check_sampling(cfg.temperature, cfg.top_k, cfg.top_p)
    import torch

    from tinyx.runtime.hardware import resolve_device

    device = resolve_device(cfg.device)
    run = load_model(cfg.run, device, key="run")
    prompt_ids = run.tokenizer.encode(cfg.prompt) or [0]
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    for i in range(cfg.num_samples):
        if cfg.num_samples > 1:
            print(f"--- sample {i + 1} ---")
        print_sample(run.model, run.tokenizer, prompt_ids, cfg, generator)


def print_sample(model, tokenizer, prompt_ids: list[int], cfg: GenerateConfig, generator) -> None:
    """Print the prompt, then each piece of text as soon as its tokens are sampled."""
    import torch

    from tinyx.nn.decoding import TextStream, stream_tokens

    idx = torch.tensor([prompt_ids], dtype=torch.long, device=next(model.parameters()).device)
    text = TextStream(tokenizer, prompt_ids)  # the prompt is printed: the first token reads after it
    sys.stdout.write(tokenizer.decode(prompt_ids))
    for token in stream_tokens(model, idx, cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                               top_p=cfg.top_p, generator=generator, kv_cache=cfg.kv_cache):
        piece = text.push(token.item())
        if piece:
            sys.stdout.write(piece)
            sys.stdout.flush()
    sys.stdout.write(text.finish() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    load_env()  # e.g. TIKTOKEN_CACHE_DIR, which decoding a BPE run offline needs
    main(sys.argv[1:])
