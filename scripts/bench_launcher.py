"""Throughput of hydra/launcher=parallel against what a user runs without it: Hydra's default launcher.

    uv run scripts/bench_launcher.py                           # 4 jobs, model=tiny, 400 steps, 3 rounds
    uv run scripts/bench_launcher.py --steps 100 --rounds 1    # a quick check
    uv run scripts/bench_launcher.py --jobs 2 --steps 10 --max-jobs default,2 debug=micro   # train.py overrides last

Runs the same `train.py -m seed=0,1,...` multirun under each configuration: `basic` (Hydra's default launcher:
one job after another in one process, torch's default threads, as a user runs it without the launcher), then
`hydra/launcher=parallel` as shipped (`default`) and with each `--max-jobs` value (threads per job left to the
launcher: cores / jobs). The configurations alternate within each of `--rounds` rounds, so that a drift in
the machine's load hits them all alike. Prints per configuration the median wall time and its speed against
`basic` (the issue's goal for the default: >= 1.25x, 4 jobs of the tiny model on 2 cores), each job's
threads, and how far its final val losses are from `basic`'s (equal threads: bit for bit; other thread
counts: the last digits). Writes the figures as JSON to --out. Exit code 1 if a configuration's losses
changed between rounds (a run that is not reproducible).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyx.rundir.contract import read_config, read_summary  # noqa: E402
from tinyx.rundir.last import OUTPUTS_ENV  # noqa: E402

BASELINE = "basic"


def _configurations(max_jobs: str) -> dict[str, list[str]]:
    """Each configuration's launcher overrides, by name: `basic` first (the baseline), then the parallel ones."""
    configs = {BASELINE: []}
    for value in max_jobs.split(","):
        value = value.strip()
        if value == "default":
            configs["parallel default"] = ["hydra/launcher=parallel"]
        elif value.isdigit() and int(value) >= 1:
            configs[f"parallel max_jobs={value}"] = ["hydra/launcher=parallel", f"hydra.launcher.max_jobs={value}"]
        else:
            sys.exit(f"error: --max-jobs {max_jobs!r}: {value!r} is not `default` or a whole number >= 1 "
                     f"(e.g. --max-jobs default,1,2,4).")
    return configs


def _multirun(args: list[str], outputs: Path) -> float:
    """Wall seconds of `train.py -m <args>` (its output hidden unless it fails); every default path under `outputs`."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "train.py", "-m", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, OUTPUTS_ENV: str(outputs)})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: train.py -m {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def _jobs(sweep_dir: Path, jobs: int) -> dict[str, list]:
    """Each job's torch threads (hardware.threads as the run recorded it; 0: torch's default) and final val loss."""
    runs = [sweep_dir / str(j) for j in range(jobs)]
    return {"threads": [read_config(d)["hardware"]["threads"] for d in runs],
            "val_loss": [read_summary(d).val_loss for d in runs]}


def _measure(configs: dict[str, list[str]], common: list[str], opts, tmp: Path) -> dict[str, dict]:
    """Every configuration once per round, in turn: wall times, and each round's per-job figures."""
    found = {name: {"wall_s": [], "rounds": []} for name in configs}
    for r in range(opts.rounds):
        for name, launcher in configs.items():
            sweep_dir = tmp / f"round{r}" / re.sub(r"\W+", "_", name)  # `=` is not allowed in an override's value
            seconds = _multirun([*launcher, *common, f"hydra.sweep.dir={sweep_dir}"], tmp / "outputs")
            found[name]["wall_s"].append(seconds)
            found[name]["rounds"].append(_jobs(sweep_dir, opts.jobs))
            print(f"round {r + 1}/{opts.rounds}  {name:<22} {seconds:7.1f} s", flush=True)
    return found


def _summarise(found: dict[str, dict]) -> dict[str, dict]:
    """Per configuration: median wall time, ratio to the baseline, threads, val-loss distance, reproducibility."""
    base = statistics.median(found[BASELINE]["wall_s"])
    base_losses = found[BASELINE]["rounds"][0]["val_loss"]
    result = {}
    for name, f in found.items():
        median = statistics.median(f["wall_s"])
        first = f["rounds"][0]
        result[name] = {"wall_s": f["wall_s"], "median_s": median, "speed_vs_basic": base / median,
                        "threads": first["threads"], "val_loss": first["val_loss"],
                        "max_abs_diff_vs_basic": max(abs(a - b) for a, b in zip(first["val_loss"], base_losses)),
                        "reproducible": all(r == first for r in f["rounds"])}
    return result


def _report(result: dict[str, dict]) -> None:
    for name, r in result.items():
        threads = ",".join(str(t or "default") for t in sorted(set(r["threads"])))
        print(f"{name:<22} median {r['median_s']:7.1f} s  {r['speed_vs_basic']:.2f}x basic  threads/job {threads:<8}"
              f"max |val loss - basic| {r['max_abs_diff_vs_basic']:.2e}"
              f"{'' if r['reproducible'] else '  NOT REPRODUCIBLE across rounds'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="jobs in the multirun (seeds 0..jobs-1)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--max-jobs", default="default,1,2,4",
                        help="the parallel configurations: `default` (as shipped) and max_jobs values, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="times each configuration runs (the median is kept)")
    parser.add_argument("--out", default=None, help="JSON file (default outputs/bench/launcher_<time>.json)")
    opts, overrides = parser.parse_known_args(argv)
    if opts.jobs < 1 or opts.steps < 1 or opts.rounds < 1:
        sys.exit(f"error: --jobs {opts.jobs}, --steps {opts.steps}, --rounds {opts.rounds}: each must be >= 1.")
    configs = _configurations(opts.max_jobs)
    common = ["model=tiny", f"train.max_steps={opts.steps}", f"train.eval_every={opts.steps}",
              f"train.ckpt_every={opts.steps}", "train.sample_tokens=0", "logger=none", *overrides,
              "seed=" + ",".join(str(s) for s in range(opts.jobs))]
    print(f"{opts.jobs} jobs ({' '.join(common)}), {os.cpu_count()} cores, {opts.rounds} round(s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_launcher_") as tmp:
        result = _summarise(_measure(configs, common, opts, Path(tmp)))
    _report(result)
    figures = {"jobs": opts.jobs, "steps": opts.steps, "rounds": opts.rounds, "cores": os.cpu_count(),
               "overrides": common, "configurations": result}
    out = Path(opts.out or ROOT / "outputs" / "bench" / f"launcher_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures: {out}")
    return 0 if all(r["reproducible"] for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
