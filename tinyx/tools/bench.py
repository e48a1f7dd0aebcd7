"""Training-throughput benchmark of the real training loop, optionally against a plain-PyTorch yardstick.

    uv run tinyx bench --steps 200 --repeats 3 -- hardware=cpu
    uv run tinyx bench --reference ../shared/bench/reference_gpt.py --repeats 5 -- hardware=cpu
    uv run tinyx bench --experiments baseline,llama_tiny,sink_logit,sink_token -- hardware=cpu

Runs `train()` with a log line per step (so every step is timed, as the yardstick times its own) and no
evaluation, and reports the median step over the timed steps. With --reference PATH it runs that yardstick
script at the same model size, batch and context, alternating with tinyx, and prints the tokens/s ratio.
With --experiments a,b,c it times each named experiment (conf/experiment/), alternating them round by round,
and prints a table of tokens/s relative to the first. Writes the figures as JSON to --out (default
outputs/bench/<date>_<time>.json).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

from tinyx.cli.args import add_overrides_help, split_overrides, tool_parser
from tinyx.cli.entry import CHECKOUT, load_env
from tinyx.common.errors import ConfigError, exit_on_user_error
from tinyx.rundir.contract import read_metrics, read_summary

ROOT = CHECKOUT


@dataclass
class BenchConfig:
    steps: int = 200  # timed steps
    warmup: int = 10  # untimed steps first
    repeats: int = 1  # alternating rounds of tinyx (and the yardstick); medians over rounds
    reference: Optional[str] = None  # the yardstick script to compare with (none: tinyx alone)
    experiments: Optional[str] = None  # comma-separated conf/experiment names, the first is the baseline
    out: Optional[str] = None


def parse_args(argv: list[str]) -> tuple[BenchConfig, list[str]]:
    """(the bench's options, the train.py overrides after `--`)."""
    own, overrides = split_overrides(argv)
    parser = tool_parser("bench", __doc__, overrides=True)
    parser.add_argument("--steps", type=int, default=BenchConfig.steps, help="timed steps (default 200)")
    parser.add_argument("--warmup", type=int, default=BenchConfig.warmup, help="untimed steps first (default 10)")
    parser.add_argument("--repeats", type=int, default=BenchConfig.repeats,
                        help="alternating rounds (of tinyx and the yardstick, or of the experiments); medians over "
                             "rounds (default 1)")
    parser.add_argument("--reference", metavar="PATH", help="a yardstick script to time alongside tinyx, e.g. "
                                                            "../shared/bench/reference_gpt.py (default: none)")
    parser.add_argument("--experiments", metavar="A,B,...", help="conf/experiment names to time against the first")
    parser.add_argument("--out", metavar="FILE", help="the JSON file (default outputs/bench/<date>_<time>.json)")
    add_overrides_help(parser, "every timed train() run")
    args = parser.parse_args(own)
    bench = BenchConfig(**{f.name: getattr(args, f.name) for f in fields(BenchConfig)})
    for name in ("steps", "repeats"):
        if getattr(bench, name) < 1:
            raise ConfigError(f"--{name} {getattr(bench, name)} must be >= 1.")
    if bench.warmup < 0:
        raise ConfigError(f"--warmup {bench.warmup} must be >= 0.")
    if bench.reference and not Path(bench.reference).is_file():
        raise ConfigError(f"--reference {bench.reference} does not exist: pass the yardstick script's path, e.g. "
                          f"../shared/bench/reference_gpt.py.")
    return bench, overrides


def measure_tinyx(overrides: list[str], bench: BenchConfig) -> dict:
    from tinyx.config import to_run_config
    from tinyx.hydra_glue.compose import compose_train
    from tinyx.training import train

    total = bench.warmup + bench.steps
    # Every step timed on its own and the median taken, as the yardstick does (a log row per step:
    # its one host sync stands for the yardstick's loss.item()).
    cfg = to_run_config(compose_train(overrides + [
        f"train.max_steps={total}", "train.log_every=1", f"train.eval_every={total + 1}",
        "train.eval_batches=1", f"train.ckpt_every={total + 1}", "train.sample_tokens=0", "logger.progress_bar=false",
        # A benchmark is not an experiment: no tracker runs, and no tracker time in the figures.
        "logger.wandb.enabled=false", "logger.tensorboard.enabled=false"]))
    import torch

    from tinyx.runtime.hardware import resolve_device

    device = resolve_device(cfg.hardware.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory() as run_dir:
        train(cfg, run_dir, quiet=True)
        # Read back from the run directory, as every tool reads a run: the contract, not train()'s return type.
        summary = read_summary(run_dir)
        rows = [r for r in read_metrics(run_dir) if "step_ms" in r and r["step"] > bench.warmup]
    step_ms = statistics.median(r["step_ms"] for r in rows)
    tokens_per_step = cfg.train.batch_size * cfg.train.grad_accum * cfg.model.block_size
    mfu = [r["mfu"] for r in rows if r.get("mfu") is not None]
    return {"step_ms_median": step_ms, "tokens_per_second": tokens_per_step / step_ms * 1e3,
            "mfu_median": statistics.median(mfu) if mfu else None, "peak_memory_mb": _peak_memory_mb(device),
            "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS",
            "params": summary.params, "tokens_per_step": tokens_per_step, "cfg": cfg}


def _peak_memory_mb(device) -> float:
    if device.type == "cuda":
        import torch

        # The run's own GPU: without the device, torch reads the current one, GPU 0 for hardware.device=cuda:N.
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure_reference(cfg, bench: BenchConfig) -> dict:
    """The yardstick at tinyx's model size, batch, context, threads, device, autocast dtype and compile setting."""
    from tinyx.runtime.hardware import resolve_compile, resolve_device, resolve_dtype

    m, t, h = cfg.model, cfg.train, cfg.hardware
    device = resolve_device(h.device)
    dtype = str(resolve_dtype(h.dtype, device)).removeprefix("torch.")
    cmd = [sys.executable, bench.reference, "--text", str(_corpus(cfg)), "--steps", str(bench.steps),
           "--warmup", str(bench.warmup), "--n-layer", str(m.n_layer), "--n-head", str(m.n_head),
           "--d-model", str(m.d_model), "--block-size", str(m.block_size),
           "--batch-size", str(t.batch_size * t.grad_accum), "--threads", str(h.threads),
           "--device", device.type, "--dtype", dtype if dtype == "bfloat16" else "float32",
           *(["--compile"] if resolve_compile(h.compile, device) else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _corpus(cfg) -> Path:
    from tinyx.data import resolve_corpus

    return resolve_corpus(cfg.data)


def compare_experiments(overrides: list[str], bench: BenchConfig) -> dict:
    names = [n.strip() for n in bench.experiments.split(",") if n.strip()]
    times: dict[str, list[float]] = {n: [] for n in names}
    params: dict[str, int] = {}
    for _ in range(bench.repeats):
        for name in names:
            row = measure_tinyx(overrides + [f"experiment={name}"], bench)
            times[name].append(row["tokens_per_second"])
            params[name] = row["params"]
    base = statistics.median(times[names[0]])
    table = [{"experiment": n, "params": params[n], "tokens_per_second": statistics.median(times[n]),
              "relative_to_baseline": statistics.median(times[n]) / base,
              "step_time_ratio": base / statistics.median(times[n])} for n in names]
    print(f"| experiment | params | tokens/s (median of {bench.repeats}) | x {names[0]} tokens/s | step time ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in table:
        print(f"| {r['experiment']} | {r['params']:,} | {r['tokens_per_second']:,.0f} | "
              f"{r['relative_to_baseline']:.2f} | {r['step_time_ratio']:.2f} |")
    return {"experiments": table}


@exit_on_user_error
def main(argv: list[str]) -> dict:
    bench, overrides = parse_args(argv)
    if bench.experiments:
        result = {"date": time.strftime("%Y-%m-%d %H:%M"), "overrides": overrides, "bench": asdict(bench),
                  **compare_experiments(overrides, bench)}
        return _write(result, bench)
    rounds = []
    for i in range(bench.repeats):
        row = measure_tinyx(overrides, bench)
        cfg = row.pop("cfg")
        line = (f"round {i + 1}/{bench.repeats}: tinyx {row['tokens_per_second']:,.0f} tokens/s "
                f"({row['step_ms_median']:.2f} ms/step"
                + (f", MFU {row['mfu_median']:.1%}" if row["mfu_median"] is not None else "")
                + f", peak memory {row['peak_memory_mb']:,.0f} MB)")
        if bench.reference:
            ref = measure_reference(cfg, bench)
            row["reference_tokens_per_second"] = ref["tok_per_s"]
            row["ratio"] = row["tokens_per_second"] / ref["tok_per_s"]
            line += f" | yardstick {ref['tok_per_s']:,.0f} tokens/s | ratio {row['ratio']:.3f}"
        rounds.append(row)
        print(line, flush=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "overrides": overrides, "bench": asdict(bench),
              "rounds": rounds,
              **{f"median_{k}": statistics.median(r[k] for r in rounds)
                 for k in ("tokens_per_second", "step_ms_median", "mfu_median", "peak_memory_mb",
                           "reference_tokens_per_second", "ratio")
                 if rounds[0].get(k) is not None}}
    return _write(result, bench)


def _write(result: dict, bench: BenchConfig) -> dict:
    import torch

    result.update(torch=torch.__version__, threads=torch.get_num_threads())
    out = Path(bench.out or ROOT / "outputs" / "bench" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k.startswith("median_")}
    print("bench:", json.dumps(summary), f"-> {out}", flush=True)
    return result


if __name__ == "__main__":
    load_env()
    main(sys.argv[1:])
