"""hydra/launcher=parallel as a user runs it: `train.py -m` with jobs at once, each as if run alone."""

from __future__ import annotations

import pytest
from helpers import MICRO, compose, run_cli

from tinyx.rundir.contract import read_config, read_jsonl, read_summary


@pytest.mark.slow
def test_a_job_of_a_parallel_multirun_ends_as_the_same_job_run_alone(tmp_path):
    from tinyx.hydra_glue.train_main import run_train

    steps = ["train.max_steps=20", "train.eval_every=20", "train.ckpt_every=20"]
    sweep = tmp_path / "multirun"
    result = run_cli("train.py", "-m", "hydra/launcher=parallel", "hydra.launcher.max_jobs=2", *MICRO, *steps,
                     "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Launching 2 jobs, 2 at once, 1 thread(s) each" in result.stderr + result.stdout
    assert any(line.startswith("[#0] step ") for line in result.stdout.splitlines())  # whose line it is
    assert any(line.startswith("[#1] step ") for line in result.stdout.splitlines())
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]  # one directory per job

    # The launcher gave each job its threads (cores / jobs, here 1): the same job alone with 1 thread.
    job = sweep / "1"
    assert read_config(job)["hardware"]["threads"] == 1 and read_config(job)["seed"] == 1
    alone = tmp_path / "alone"
    run_train(compose(MICRO + steps + ["seed=1", "hardware.threads=1"]), alone)
    assert read_summary(job).status == "completed"
    assert read_summary(job).val_loss == read_summary(alone).val_loss
    losses = [[r["train/loss"] for r in read_jsonl(d / "metrics.jsonl") if "train/loss" in r] for d in (job, alone)]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    assert read_summary(sweep / "0").val_loss != read_summary(job).val_loss  # the two jobs are two runs



@pytest.mark.slow
def test_ctrl_c_stops_every_running_job_with_a_checkpoint_and_exit_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import ROOT

    sweep = tmp_path / "multirun"
    # Its own session, so that the signal goes to the multirun's process group as a terminal's Ctrl-C does.
    proc = subprocess.Popen([sys.executable, "train.py", "-m", "hydra/launcher=parallel", "hydra.launcher.max_jobs=2",
                             *MICRO, "train.max_steps=100000", "train.log_every=1", "seed=0,1,2",
                             f"hydra.sweep.dir={sweep}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not all((sweep / j / "metrics.jsonl").exists() for j in ("0", "1")) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err[-3000:]
    assert "Continue the multirun with the same command plus train.resume=auto" in err
    for job in ("0", "1"):
        summary = read_summary(sweep / job)
        assert summary.status == "interrupted" and summary.step > 0
        assert list((sweep / job / "checkpoints").glob("ckpt_*.pt"))
    assert not (sweep / "2").exists()  # the third job never started


@pytest.mark.slow
def test_sweep_workers_run_at_once_each_in_a_new_process_with_its_threads(tmp_path):
    import optuna
    from optuna.trial import TrialState

    root = tmp_path / "sweeps"
    result = run_cli("sweep.py", "search_space=lr", "sweep.study_name=w", f"sweep.root={root}", "sweep.pruner=none",
                     "sweep.n_trials=3", "sweep.workers=2", *MICRO, "train.max_steps=20", "train.eval_every=20")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 workers at once, each a new process with 1 thread(s)" in result.stdout
    trials = optuna.load_study(study_name="w", storage=f"sqlite:///{root / 'w' / 'study.db'}").get_trials()
    # Each worker checks the count before it starts a trial, so both may start the last one: 3 or 4.
    assert 3 <= len(trials) <= 4 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # two processes, neither the launching one
    assert all(read_config(t.user_attrs["run_dir"])["hardware"]["threads"] == 1 for t in trials)
    assert (root / "w" / "report" / "trials.csv").is_file()  # one report, written once the workers are done
