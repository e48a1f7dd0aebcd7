"""Generation speed with the key/value cache against without it: tokens/s, batch 1, greedy.

    uv run python scripts/bench_generate.py                                  # model=small and model=tiny, 500 tokens
    uv run python scripts/bench_generate.py --models small --new-tokens 200 --repeats 3 --threads 2

For each model preset it times `tinyx.nn.decoding.generate` from a one-token prompt with kv_cache=true and
kv_cache=false (alternating, --repeats rounds, medians), checks both gave the same tokens, and prints a
Markdown table. Weights are random (speed does not depend on them; no run needed) and the vocabulary is
Tiny Shakespeare's 65 characters. Two rows per model: at the preset's own block_size, where a sequence
longer than the context makes the cache recompute the sliding window each step (so the uncached and cached
tokens agree), and with block_size raised to hold prompt + new tokens ("fits"), the cache's own speed-up.
Writes the figures as JSON to --out (default outputs/bench/generate_<date>_<time>.json).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAR_VOCAB = 65  # Tiny Shakespeare's characters: the vocabulary of model=small and model=tiny runs


@dataclass
class GenerateBenchConfig:
    models: str = "small,tiny"  # conf/model presets, comma-separated
    new_tokens: int = 500
    repeats: int = 1
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    fits: bool = True  # also time each model with block_size raised to hold the whole sequence
    out: str | None = None


def build_model(preset: str, block_size: int | None):
    import torch

    from tinyx.config import to_run_config
    from tinyx.hydra_glue.compose import compose_train
    from tinyx.nn.gpt import GPT

    cfg = to_run_config(compose_train([f"model={preset}"])).model
    cfg.vocab_size = CHAR_VOCAB
    if block_size is not None:
        cfg.block_size = block_size
    torch.manual_seed(0)
    return GPT(cfg).eval()


def time_generation(model, new_tokens: int, kv_cache: bool):
    import torch

    from tinyx.nn.decoding import generate

    prompt = torch.zeros(1, 1, dtype=torch.long)
    started = time.perf_counter()
    out = generate(model, prompt, new_tokens, temperature=0, kv_cache=kv_cache)
    return new_tokens / (time.perf_counter() - started), out


def measure(preset: str, block_size: int | None, bench: GenerateBenchConfig) -> dict:
    model = build_model(preset, block_size)
    speeds: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    for _ in range(bench.repeats):
        for kv_cache in (True, False):
            tokens_per_second, outputs[kv_cache] = time_generation(model, bench.new_tokens, kv_cache)
            speeds[kv_cache].append(tokens_per_second)
    cached, uncached = statistics.median(speeds[True]), statistics.median(speeds[False])
    return {"model": preset, "params": model.num_params(), "block_size": model.cfg.block_size,
            "context": "fits" if block_size else "preset", "new_tokens": bench.new_tokens,
            "cached_tokens_per_second": cached, "uncached_tokens_per_second": uncached,
            "speedup": cached / uncached, "same_tokens": bool((outputs[True] == outputs[False]).all())}


def parse_args(argv: list[str]) -> GenerateBenchConfig:
    from tinyx.cli.args import tool_parser

    d = GenerateBenchConfig()
    parser = tool_parser("bench_generate", __doc__, prog="scripts/bench_generate.py")
    parser.add_argument("--models", default=d.models, help="conf/model presets, comma-separated (default small,tiny)")
    parser.add_argument("--new-tokens", type=int, default=d.new_tokens, help="tokens generated (default 500)")
    parser.add_argument("--repeats", type=int, default=d.repeats, help="alternating rounds; medians (default 1)")
    parser.add_argument("--threads", type=int, default=d.threads, help="torch intra-op threads (default 0: torch's)")
    parser.add_argument("--no-fits", dest="fits", action="store_false",
                        help="time each model at its preset's block_size only")
    parser.add_argument("--out", default=d.out, help="the JSON file (default outputs/bench/generate_<date>_<time>.json)")
    return GenerateBenchConfig(**vars(parser.parse_args(argv)))


def main(argv: list[str]) -> list[dict]:
    import torch

    bench = parse_args(argv)
    if bench.threads:
        torch.set_num_threads(bench.threads)
    rows = []
    print("| model | params | block_size | context | cached tokens/s | uncached tokens/s | speed-up | same tokens |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    for preset in [m.strip() for m in bench.models.split(",") if m.strip()]:
        for block_size in [None] + ([1 + bench.new_tokens] if bench.fits else []):
            r = measure(preset, block_size, bench)
            rows.append(r)
            print(f"| {r['model']} | {r['params']:,} | {r['block_size']} | {r['context']} | "
                  f"{r['cached_tokens_per_second']:,.1f} | {r['uncached_tokens_per_second']:,.1f} | "
                  f"{r['speedup']:.1f}x | {'yes' if r['same_tokens'] else 'NO'} |", flush=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "bench": asdict(bench), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "rows": rows}
    out = Path(bench.out or ROOT / "outputs" / "bench" / f"generate_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
