"""Muon on the fused Q/K/V weight: one matrix (fused) or Q, K and V each (optim.muon_split_qkv), paired seeds.

    uv run scripts/muon_split.py                                # experiment=muon_tiny, 5 seeds, 2000 steps, 2 jobs at once
    uv run scripts/muon_split.py --seeds 5 --steps 300 --dir outputs/muon_split   # shorter; rerun to continue

Trains both arms with the same seeds as one multirun (hydra/launcher=parallel, `--max-jobs` at once),
then prints every seed's final val loss in each arm, the paired differences (split - fused), their mean
with a 95% confidence interval (Student's t over seeds), and the paired t-test's p (scipy.stats.ttest_rel).
The pairing holds because both arms draw the same windows seed for seed (summary.json's data_order,
checked here). Rerunning with the same --dir skips the runs already finished (train.resume=auto).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyx.rundir.contract import read_config, read_summary  # noqa: E402


def train_arms(sweep_dir: Path, seeds: int, steps: int, max_jobs: int, overrides: list[str]) -> None:
    args = [sys.executable, "train.py", "-m", "hydra/launcher=parallel", f"hydra.launcher.max_jobs={max_jobs}",
            "experiment=muon_tiny", f"train.max_steps={steps}", f"train.eval_every={steps}",
            "train.sample_tokens=0", "logger=none", "train.resume=auto", *overrides,
            "optim.muon_split_qkv=false,true", "seed=" + ",".join(map(str, range(seeds))),
            f"hydra.sweep.dir={sweep_dir}"]
    print(" ".join(args[1:]), flush=True)
    if subprocess.run(args, cwd=ROOT).returncode != 0:
        sys.exit("error: the multirun failed (its message is above); rerun the same command to continue it.")


def collect(sweep_dir: Path) -> dict[bool, dict[int, tuple[float, str]]]:
    """{split: {seed: (final val loss, data_order)}} over the sweep's completed runs."""
    arms: dict[bool, dict[int, tuple[float, str]]] = {False: {}, True: {}}
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        summary = read_summary(job)
        if summary is None or not summary.completed:
            continue
        cfg = read_config(job)
        arms[bool(cfg["optim"]["muon_split_qkv"])][int(cfg["seed"])] = (summary.val_loss, summary.data_order)
    return arms


def paired_statistics(fused: list[float], split: list[float]) -> dict:
    from scipy import stats

    deltas = [s - f for s, f in zip(split, fused)]
    n = len(deltas)
    mean = sum(deltas) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return {"n": n, "delta_mean": mean, "ci95": [mean - half, mean + half],
            "p_paired_t": float(stats.ttest_rel(split, fused).pvalue), "deltas": deltas}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--max-jobs", type=int, default=2, help="runs at once (hydra.launcher.max_jobs)")
    parser.add_argument("--dir", default=None, help="the sweep directory (default outputs/muon_split/<steps>)")
    opts, overrides = parser.parse_known_args(argv)
    if opts.seeds < 2:
        sys.exit(f"error: --seeds {opts.seeds}: a confidence interval needs at least 2 seeds (5 or more).")
    sweep_dir = Path(opts.dir or ROOT / "outputs" / "muon_split" / str(opts.steps)).resolve()
    train_arms(sweep_dir, opts.seeds, opts.steps, opts.max_jobs, overrides)
    arms = collect(sweep_dir)
    seeds = sorted(set(arms[False]) & set(arms[True]))
    if len(seeds) < 2:
        sys.exit(f"error: fewer than 2 seeds completed in both arms under {sweep_dir}: rerun to continue.")
    unpaired = [s for s in seeds if arms[False][s][1] != arms[True][s][1]]
    if unpaired:
        sys.exit(f"error: seeds {unpaired} drew different training windows in the two arms (data_order differs).")
    fused, split = [arms[False][s][0] for s in seeds], [arms[True][s][0] for s in seeds]
    result = paired_statistics(fused, split)
    print(f"\nfinal val loss, experiment=muon_tiny, {opts.steps} steps ({sweep_dir})")
    print(f"{'seed':>4}  {'fused':>8}  {'split':>8}  {'split-fused':>11}")
    for s, f, sp, d in zip(seeds, fused, split, result["deltas"]):
        print(f"{s:>4}  {f:8.4f}  {sp:8.4f}  {d:+11.4f}")
    lo, hi = result["ci95"]
    print(f"mean split-fused {result['delta_mean']:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}] over {result['n']} paired "
          f"seeds; paired t-test p = {result['p_paired_t']:.3g}")
    (sweep_dir / "muon_split.json").write_text(json.dumps({"steps": opts.steps, "seeds": seeds, "fused": fused,
                                                           "split": split, **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
