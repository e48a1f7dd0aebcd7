"""The commands a user types, run as subprocesses (few: each pays torch's import)."""

import json

import pytest
from helpers import MICRO, run_cli

from tinyx.rundir.contract import read_jsonl


def test_multirun_makes_one_directory_per_job(tmp_path):
    result = run_cli("train.py", "-m", *MICRO, "train.max_steps=10", "train.ckpt_every=10", "train.eval_every=10",
                     "optim.lr=1e-3,3e-4", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    job_dirs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and (p / ".hydra").is_dir())
    assert [p.name for p in job_dirs] == ["0", "1"]
    lrs = []
    for job in job_dirs:
        summary = json.loads((job / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["step"] == 10
        assert [r["step"] for r in read_jsonl(job / "metrics.jsonl") if "train/loss" in r] == [5, 10]
        lrs.append(read_jsonl(job / "metrics.jsonl")[0]["lr"])
    assert lrs[0] > lrs[1]  # each job trained with its own lr


def test_generate_from_a_run(trained_run):
    run_dir, _ = trained_run
    result = run_cli("-m", "tinyx.tools.generate", str(run_dir), "--prompt", "ROMEO:", "--max-new-tokens", "40",
                     "--temperature", "0.8", "--top-k", "50")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ROMEO:") and len(result.stdout.rstrip("\n")) >= 40


@pytest.mark.slow
def test_submitit_local_launcher_makes_normal_run_directories(tmp_path):
    """`hydra/launcher=submitit_local`: the launcher the SLURM presets (conf/hydra/launcher/) build on."""
    result = run_cli("train.py", "-m", "hydra/launcher=submitit_local", *MICRO, "hardware.threads=1",
                     "train.max_steps=10", "train.eval_every=10", "seed=0,1", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    losses = []
    for job in ("0", "1"):
        summary = json.loads((tmp_path / job / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["step"] == 10
        assert (tmp_path / job / ".hydra" / "config.yaml").is_file() and (tmp_path / job / "metrics.jsonl").is_file()
        losses.append(summary["val/loss"])
    assert losses[0] != losses[1]  # each job ran its own seed
    assert (tmp_path / ".submitit").is_dir()  # submitit's job logs, beside the run directories
