"""Generate text from a trained run.

    uv run tinyx generate outputs/runs/2026-11-21/01-04-15 --prompt "ROMEO:" --max-new-tokens 300 --top-k 50
    uv run tinyx generate last --prompt "ROMEO:" --temperature 1.0 --top-k none --top-p 0.9

RUN is a run directory (its latest checkpoint), a checkpoint file, or `last`. Text is printed as it is
generated; a key/value cache keeps each new token's cost flat (--no-kv-cache recomputes every step).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import Optional

from tinyx.cli.args import add_device, add_run, float_or_none, int_or_none, tool_parser
from tinyx.cli.entry import load_env
from tinyx.common.errors import ConfigError, exit_on_user_error
from tinyx.tools.run_model import load_model


@dataclass
class GenerateConfig:
    run: Optional[str] = None
    prompt: str = "\n"
    max_new_tokens: int = 300
    temperature: float = 0.8  # 0: greedy
    top_k: Optional[int] = 50  # 0 or none: off
    top_p: Optional[float] = None  # nucleus sampling, in (0, 1]; 1 or none: off
    num_samples: int = 1
    seed: int = 1337
    device: str = "auto"
    kv_cache: bool = True  # false: recompute the whole context for every token (same tokens, slower)


def parse_args(argv: list[str]) -> GenerateConfig:
    d = GenerateConfig()
    parser = tool_parser("generate", __doc__)
    add_run(parser)
    parser.add_argument("--prompt", default=d.prompt, help="the text to continue (default: a newline)")
    parser.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="tokens to sample (default 300)")
    parser.add_argument("--temperature", type=float, default=d.temperature, help="0: greedy (default 0.8)")
    parser.add_argument("--top-k", type=int_or_none, default=d.top_k, metavar="K|none",
                        help="sample from the K likeliest tokens; 0 or none: off (default 50)")
    parser.add_argument("--top-p", type=float_or_none, default=d.top_p, metavar="P|none",
                        help="nucleus sampling, P in (0, 1]; 1 or none: off (default: off)")
    parser.add_argument("--num-samples", type=int, default=d.num_samples, help="samples to print (default 1)")
    parser.add_argument("--seed", type=int, default=d.seed, help="of the sampling (default 1337)")
    add_device(parser, d.device)
    parser.add_argument("--no-kv-cache", dest="kv_cache", action="store_false",
                        help="recompute the whole context for every token (same tokens, slower)")
    args = parser.parse_args(argv)
    return GenerateConfig(**{f.name: getattr(args, f.name) for f in fields(GenerateConfig)})


@exit_on_user_error
def main(argv: list[str]) -> None:
    cfg = parse_args(argv)
    if cfg.max_new_tokens < 1 or cfg.num_samples < 1:
        raise ConfigError(f"max_new_tokens={cfg.max_new_tokens} and num_samples={cfg.num_samples} must both be >= 1.")
    from tinyx.nn.decoding import check_sampling

    check_sampling(cfg.temperature, cfg.top_k, cfg.top_p, spell=lambda key, value: f"--{key.replace('_', '-')} {value}")
    import torch

    from tinyx.runtime.hardware import resolve_device

    device = resolve_device(cfg.device)
    run = load_model(cfg.run, device)
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
