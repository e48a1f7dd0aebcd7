"""One run, one directory: runs started at once never share one, and a directory holding a run is
never overwritten silently."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import MICRO, ROOT, compose, micro_config

from tinyx.rundir.claims import claim_new_dir
from tinyx.rundir.contract import read_jsonl, read_summary


@pytest.mark.slow
def test_three_runs_started_at_once_get_three_directories_and_three_histories(tmp_path):
    # One name for all three, as three runs started in the same second get from the default
    # `${now:...}` name (conf/hydra/default.yaml claims it through the same resolver).
    name = f"hydra.run.dir=${{tinyx_new_dir:{tmp_path}/runs/same-second}}"
    procs = [subprocess.Popen([sys.executable, "train.py", *MICRO, "train.max_steps=20", name, f"seed={seed}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name for d in dirs] == ["same-second", "same-second_1", "same-second_2"]
    seeds = set()
    for run_dir in dirs:
        summary = read_summary(run_dir)
        assert summary.status == "completed" and summary.step == 20
        assert [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/loss" in r] == [5, 10, 15, 20]
        seeds.add(read_jsonl(run_dir / "metrics.jsonl")[0]["train/loss"])
    assert len(seeds) == 3  # each directory holds its own run's history


def test_the_default_run_and_sweep_directories_are_claimed(tmp_path, monkeypatch):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from tinyx.hydra_glue.compose import register_configs

    register_configs()  # the schemas train.yaml names (when this test runs first in its process)
    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path))
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        hydra = hydra_compose(config_name="train", return_hydra_config=True).hydra
        first, sweep, second = str(hydra.run.dir), str(hydra.sweep.dir), str(hydra.run.dir)
    assert first.startswith(f"{tmp_path}/runs/") and sweep.startswith(f"{tmp_path}/multirun/")
    assert first == second  # one run, one directory, however often its name is read
    assert claim_new_dir(tmp_path / "runs" / "x") != claim_new_dir(tmp_path / "runs" / "y")


def test_reusing_a_run_directory_without_resuming_is_refused_and_changes_nothing(trained_run, tmp_path, capsys):
    from tinyx.hydra_glue.train_main import run_train

    source, _ = trained_run
    run_dir = tmp_path / "long2"
    shutil.copytree(source, run_dir)
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_info:
        run_train(compose(MICRO + ["train.max_steps=20"]), run_dir)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"run directory {run_dir} already holds a run (completed at step 40)" in err
    assert "train.resume=auto" in err
    assert {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_train_py_refuses_before_hydra_rewrites_the_run(trained_run, tmp_path):
    source, _ = trained_run
    run_dir = tmp_path / "again"
    shutil.copytree(source, run_dir)
    hydra_config = (run_dir / ".hydra" / "config.yaml") if (run_dir / ".hydra").exists() else None
    result = subprocess.run([sys.executable, "train.py", *MICRO, "train.max_steps=20", f"hydra.run.dir={run_dir}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "already holds a run" in result.stderr and "Traceback" not in result.stderr
    assert hydra_config is None or hydra_config.read_text() == (source / ".hydra" / "config.yaml").read_text()
    assert len(read_jsonl(run_dir / "metrics.jsonl")) == len(read_jsonl(source / "metrics.jsonl"))


def test_a_resume_with_new_optimizer_settings_trains_with_them(trained_run, tmp_path):
    from tinyx.rundir.checkpoints import find_checkpoint, load_checkpoint
    from tinyx.training import train

    source, _ = trained_run
    checkpoint = find_checkpoint(source)
    lines: list[str] = []

    class Said:
        def log_metrics(self, step, metrics):
            lines.append((step, metrics.get("lr")))

        def log_sample(self, step, text):
            pass

        def finish(self, summary):
            pass

    cfg = micro_config(f"train.resume={checkpoint}", "train.max_steps=50", "optim.lr=0.003",
                       "optim.weight_decay=0.0")
    summary = train(cfg, tmp_path / "resumed", quiet=True, extra_loggers=[Said()])
    assert summary.status == "completed" and load_checkpoint(checkpoint)["step"] == 40
    saved = load_checkpoint(find_checkpoint(tmp_path / "resumed"))
    groups = saved["optimizers"][0]["param_groups"]
    assert [g["base_lr"] for g in groups] == [0.003, 0.003] and groups[0]["weight_decay"] == 0.0
    assert all(lr <= 0.003 for _, lr in lines if lr is not None)
