"""Tokenization benchmark (issue 17, acceptance 1-2): tinyx's token cache against plain tiktoken.

    uv run python scripts/bench_tokenize.py                       # 2 GB corpus (minutes)
    uv run python scripts/bench_tokenize.py --size-mb 20          # a quick check
    /usr/bin/time -v uv run python scripts/bench_tokenize.py --skip-baseline   # peak RSS of the whole run

1. Generates a corpus of --size-mb in a temporary folder: Tiny Shakespeare's lines shuffled (seeded) and
   repeated, a blank line (a document break) every 20-200 lines.
2. Builds tinyx's cache of it (data=text, split_documents=paragraph, gpt2) and prints wall time and MB/s.
3. Times single-threaded `tiktoken.get_encoding(gpt2).encode_ordinary` over the same text, in chunks cut at
   line starts (encoding only, reading excluded), and prints the speed-up.
4. Starts twice more in fresh processes, opening the 2 GB cache and Tiny Shakespeare's (both cache hits),
   and prints each start's seconds and peak RSS: the overhead of the large corpus is the difference.
5. With --train-steps N, trains the tiny model N steps from each cache and prints tokens/s of both.
Peak RSS of this process and of its children (the tokenizer workers) is printed at the end.

    uv run python scripts/bench_tokenize.py --paragraph-sizes 16,32,64   # split_documents=paragraph's table

prints instead, for each size in MB, the wall and CPU time and peak RSS of building a split_documents=paragraph
cache (gpt2, data.workers=-1: one process, so its CPU time and peak are the whole build's; CPU time is the figure
that holds on a busy machine) in a fresh process, for a file with no blank line (one paragraph: a document of
many fragments) and for prose (a blank line every 20-200 lines).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = (ROOT / ".." / "shared" / "data" / "tinyshakespeare.txt").resolve()


def generate(path: Path, size_bytes: int, seed: int = 0) -> None:
    lines = [line for line in CORPUS.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    written = 0
    with open(path, "w") as f:
        while written < size_bytes:
            block = "\n".join(rng.choice(lines) for _ in range(rng.randint(20, 200))) + "\n\n"
            f.write(block)
            written += len(block.encode())


def generate_without_blank_lines(path: Path, size_bytes: int, seed: int = 0) -> None:
    lines = [line for line in CORPUS.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    written = 0
    with open(path, "w") as f:
        while written < size_bytes:
            block = "\n".join(rng.choice(lines) for _ in range(1000)) + "\n"
            f.write(block)
            written += len(block.encode())


def data_config(corpus: Path, cache: Path, workers: int, encoding: str):
    from tinyx.config import DataConfig

    return DataConfig(source="text", path=str(corpus), split_documents="paragraph", tokenizer="tiktoken",
                      encoding=encoding, cache_dir=str(cache), workers=workers)


def baseline_seconds(corpus: Path, encoding: str) -> float:
    """Single-threaded encode_ordinary over the corpus, 16 MB at a time cut at line starts."""
    import tiktoken

    enc = tiktoken.get_encoding(encoding)
    seconds, carry = 0.0, ""
    with open(corpus, encoding="utf-8") as f:
        while block := f.read(16 << 20):
            text = carry + block
            cut = text.rfind("\n") + 1 or len(text)
            start = time.perf_counter()
            enc.encode_ordinary(text[:cut])
            seconds += time.perf_counter() - start
            carry = text[cut:]
    start = time.perf_counter()
    enc.encode_ordinary(carry)
    return seconds + time.perf_counter() - start


# Peak RSS from /proc (VmHWM: this process image's own), not getrusage: Linux carries ru_maxrss across
# exec, so a child started by a large parent would report the parent's peak.
START_PROBE = """
import json, sys, time
start = time.perf_counter()
from tinyx.config import DataConfig
from tinyx.data import load_tokens
loading, cpu = time.perf_counter(), time.process_time()
data = load_tokens(DataConfig(**json.loads(sys.argv[1])))
print(json.dumps({"seconds": time.perf_counter() - start, "load_seconds": time.perf_counter() - loading,
                  "load_cpu_seconds": time.process_time() - cpu,
                  "hit": data.cache_hit, "tokens": len(data.train),
                  "rss_mb": int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM"))) / 1024}))
"""


def start_in_fresh_process(cfg) -> dict:
    """Seconds and peak RSS of `load_tokens` in a new Python process (imports included)."""
    from dataclasses import asdict

    out = subprocess.run([sys.executable, "-c", START_PROBE, json.dumps(asdict(cfg))], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def train_tokens_per_second(cfg, steps: int, run_dir: Path) -> float:
    overrides = [f"data.{k}={v}" for k, v in (("source", cfg.source), ("path", cfg.path), ("tokenizer", cfg.tokenizer),
                                              ("split_documents", cfg.split_documents), ("cache_dir", cfg.cache_dir))
                 if v is not None]
    subprocess.run([sys.executable, "train.py", "logger=none", f"train.max_steps={steps}", "train.eval_every=100000",
                    "train.ckpt_every=100000", "train.sample_tokens=0", "logger.progress_bar=false", *overrides,
                    f"hydra.run.dir={run_dir}"], check=True, cwd=ROOT, capture_output=True)
    return json.loads((run_dir / "summary.json").read_text())["tokens_per_second"]


def paragraph_table(sizes_mb: list[float], folder: Path, encoding: str) -> None:
    """Build time and peak RSS of split_documents=paragraph caches, per size and kind of file."""
    print(f"{'file':<16} {'MB':>6} {'documents':>10} {'build s':>8} {'CPU s':>6} {'MB/s':>6} {'peak RSS MB':>12}")
    for size in sizes_mb:
        for kind, make in (("no blank lines", generate_without_blank_lines), ("prose", generate)):
            corpus = folder / f"{kind.replace(' ', '_')}_{size:g}.txt"
            make(corpus, int(size * 1e6))
            cache = folder / "paragraph_cache"
            shutil.rmtree(cache, ignore_errors=True)
            got = start_in_fresh_process(data_config(corpus, cache, -1, encoding))
            meta = json.loads(next(cache.glob("tokens/*/meta.json")).read_text())
            mb = corpus.stat().st_size / 1e6
            print(f"{kind:<16} {mb:>6.1f} {meta['train_documents'] + meta['val_documents']:>10,} "
                  f"{got['load_seconds']:>8.1f} {got['load_cpu_seconds']:>6.1f} {mb / got['load_seconds']:>6.1f} "
                  f"{got['rss_mb']:>12.0f}", flush=True)
            corpus.unlink()
            shutil.rmtree(cache, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="data.workers (0: one per core)")
    parser.add_argument("--encoding", default="gpt2")
    parser.add_argument("--dir", help="where the corpus and cache go (default: a temporary folder, removed)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--paragraph-sizes", help="comma-separated MB: print split_documents=paragraph's table only")
    args = parser.parse_args(argv)

    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_tokenize_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if args.paragraph_sizes:
            paragraph_table([float(x) for x in args.paragraph_sizes.split(",")], folder, args.encoding)
        else:
            run(args, folder)
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)


def run(args, folder: Path) -> None:
    from tinyx.data import load_tokens

    corpus = folder / "corpus.txt"
    if not corpus.is_file() or corpus.stat().st_size < args.size_mb * 1e6:
        generate(corpus, int(args.size_mb * 1e6))
    mb = corpus.stat().st_size / 1e6
    cfg = data_config(corpus, folder / "cache", args.workers, args.encoding)
    shutil.rmtree(folder / "cache", ignore_errors=True)
    start = time.perf_counter()
    data = load_tokens(cfg)
    seconds = time.perf_counter() - start
    meta = json.loads((data.cache_dir / "meta.json").read_text())
    print(f"corpus: {mb:,.1f} MB, {meta['train_documents'] + meta['val_documents']:,} documents, "
          f"{len(data.train) + len(data.val):,} tokens ({args.encoding})")
    print(f"tinyx cache build: {seconds:.1f} s, {mb / seconds:.1f} MB/s ({meta['workers']} workers)")
    if not args.skip_baseline:
        base = baseline_seconds(corpus, args.encoding)
        print(f"tiktoken encode_ordinary, one thread: {base:.1f} s, {mb / base:.1f} MB/s; "
              f"tinyx is {base / seconds:.2f}x")
    big = start_in_fresh_process(cfg)
    from tinyx.config import DataConfig

    small_cfg = DataConfig(path=str(CORPUS), tokenizer="tiktoken", cache_dir=str(folder / "cache"))
    start_in_fresh_process(small_cfg)  # builds Tiny Shakespeare's cache: the next start is a hit
    small = start_in_fresh_process(small_cfg)
    assert big["hit"] and small["hit"]
    print(f"second start (cache hit, fresh process): {big['seconds']:.2f} s (load_tokens {big['load_seconds']:.3f} s), "
          f"peak RSS {big['rss_mb']:.0f} MB; Tiny Shakespeare: {small['seconds']:.2f} s (load_tokens "
          f"{small['load_seconds']:.3f} s), {small['rss_mb']:.0f} MB; overhead {big['seconds'] - small['seconds']:+.2f} s "
          f"(load_tokens alone: {big['load_seconds'] - small['load_seconds']:+.3f} s)")
    if args.train_steps:
        big_tps = train_tokens_per_second(cfg, args.train_steps, folder / "run_big")
        small_tps = train_tokens_per_second(small_cfg, args.train_steps, folder / "run_small")
        print(f"training tokens/s ({args.train_steps} steps): {big_tps:,.0f} from this cache, "
              f"{small_tps:,.0f} from Tiny Shakespeare's")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MB, largest child {children:.0f} MB (with the baseline: its token "
          f"lists count here; --skip-baseline for tinyx's alone)")


if __name__ == "__main__":
    main()
