"""Throughput of hydra/launcher=parallel against Hydra's default (sequential) launcher, same threads per job.

    uv run scripts/bench_launcher.py                                  # 4 jobs, model=tiny, 400 steps, 2 at once, 1 thread each
    uv run scripts/bench_launcher.py --jobs 2 --steps 20 debug=micro  # a quick check (any train.py overrides after the options)

Runs the same `train.py -m seed=0,1,...` multirun twice, one job after another (Hydra's basic launcher)
and `--max-jobs` at once (the parallel launcher), every job with `--threads` torch threads, then job 0
once more on its own (a plain `train.py` run). Prints the wall time of each, the ratio (the issue's goal:
>= 1.25x for 4 jobs of the tiny model on 2 cores), and whether every job's final val loss and its
train-loss history are the same in both multiruns and alone. Writes the figures as JSON to --out.
Exit code 1 if any loss differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyx.rundir.contract import read_jsonl, read_summary  # noqa: E402


def _train(args: list[str]) -> float:
    """Wall seconds of `train.py <args>` (its output hidden unless it fails)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: train.py {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def _losses(run_dir: Path) -> tuple[float | None, list[float]]:
    summary = read_summary(run_dir)
    return summary.val_loss, [r["train/loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/loss" in r]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="jobs in the multirun (seeds 0..jobs-1)")
    parser.add_argument("--max-jobs", type=int, default=2, help="jobs at once with the parallel launcher")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every job, in both multiruns")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=None, help="JSON file (default outputs/bench/launcher_<time>.json)")
    opts, overrides = parser.parse_known_args(argv)
    overrides = ["model=tiny", f"train.max_steps={opts.steps}", f"train.eval_every={opts.steps}",
                 f"train.ckpt_every={opts.steps}", "train.sample_tokens=0", "logger=none",
                 f"hardware.threads={opts.threads}", *overrides]
    seeds = "seed=" + ",".join(str(s) for s in range(opts.jobs))
    with tempfile.TemporaryDirectory(prefix="bench_launcher_") as tmp:
        tmp = Path(tmp)
        print(f"{opts.jobs} jobs ({' '.join(overrides)}), {opts.threads} thread(s) each", flush=True)
        sequential = _train(["-m", *overrides, seeds, f"hydra.sweep.dir={tmp}/sequential"])
        print(f"sequential (hydra/launcher=basic): {sequential:.1f} s", flush=True)
        parallel = _train(["-m", "hydra/launcher=parallel", f"hydra.launcher.max_jobs={opts.max_jobs}",
                           f"hydra.launcher.threads_per_job={opts.threads}", *overrides, seeds,
                           f"hydra.sweep.dir={tmp}/parallel"])
        print(f"parallel   (hydra/launcher=parallel, {opts.max_jobs} at once): {parallel:.1f} s", flush=True)
        alone = _train([*overrides, "seed=0", f"hydra.run.dir={tmp}/alone"])
        jobs = []
        for j in range(opts.jobs):
            runs = {"sequential": tmp / "sequential" / str(j), "parallel": tmp / "parallel" / str(j)}
            if j == 0:
                runs["alone"] = tmp / "alone"
            found = {name: _losses(d) for name, d in runs.items()}
            same = len({json.dumps(v) for v in found.values()}) == 1
            jobs.append({"seed": j, "val_loss": {k: v[0] for k, v in found.items()}, "identical": same})
    ratio = sequential / parallel
    for job in jobs:
        losses = "  ".join(f"{k} {v:.6f}" for k, v in job["val_loss"].items())
        print(f"  seed {job['seed']}: final val loss {losses}  "
              f"{'identical (val loss and every train loss)' if job['identical'] else 'DIFFERENT'}")
    print(f"speed-up: {ratio:.2f}x (sequential {sequential:.1f} s / parallel {parallel:.1f} s; goal >= 1.25x); "
          f"job 0 alone: {alone:.1f} s")
    result = {"jobs": opts.jobs, "max_jobs": opts.max_jobs, "threads": opts.threads, "overrides": overrides,
              "sequential_s": sequential, "parallel_s": parallel, "alone_job0_s": alone, "speedup": ratio,
              "per_job": jobs}
    out = Path(opts.out or ROOT / "outputs" / "bench" / f"launcher_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"figures: {out}")
    return 0 if all(job["identical"] for job in jobs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
