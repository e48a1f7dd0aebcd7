"""sweep.py and tinyx.sweep: search spaces, pruning, failures, resume after a kill, parallel workers, bad input."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import CORPUS, MICRO, ROOT, compose, leet
from omegaconf import OmegaConf

from tinyx.common.errors import ConfigError
from tinyx.config import SweepConfig, to_run_config
from tinyx.hydra_glue.compose import compose_train
from tinyx.rundir.contract import read_config
from tinyx.sweep import run_study
from tinyx.sweep.main import run_sweep

LR_SPACE = {"optim.lr": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True}}
# Trials of a study in tests: the micro model, 40 steps, evaluated every 10, no samples.
TRIAL = MICRO + ["train.eval_every=10", "train.sample_tokens=0"]


def study(tmp_path: Path, space: dict = LR_SPACE, overrides: list[str] = TRIAL, **sweep_keys) -> dict:
    lines: list[str] = []
    sweep = SweepConfig(**{"study_name": "s", "root": str(tmp_path / "sweeps"), "n_trials": 4, **sweep_keys})
    report = run_study(sweep, space, list(overrides), compose_train, say=lines.append)
    report["lines"] = lines
    return report


def without(*keys: str) -> list[str]:
    """The trial overrides minus some keys, so a search space can vary them."""
    return [o for o in TRIAL if not o.startswith(keys)]


def trials_csv(report: dict) -> list[dict]:
    with open(report["files"]["trials_csv"]) as f:
        return list(csv.DictReader(f))


def test_sweep_config_is_train_config_plus_sweep_and_search_space():
    swept = OmegaConf.to_container(compose(["optim=muon", "train.max_steps=300"], config_name="sweep"), resolve=True)
    trained = OmegaConf.to_container(compose(["optim=muon", "train.max_steps=300"]), resolve=True)
    assert swept.pop("sweep")["n_trials"] == 20
    assert swept.pop("search_space")["optim"]["choices"] == ["adamw", "muon"]  # the default: arch_lr
    assert swept == trained


def test_a_study_runs_trials_as_run_directories_and_reports_the_best(tmp_path):
    report = study(tmp_path, pruner="none")
    rows = trials_csv(report)
    assert [r["state"] for r in rows] == ["complete"] * 4 and report["states"] == {"complete": 4}
    assert report["steps_trained"] == 4 * 40 == sum(int(r["steps_trained"]) for r in rows)
    for row in rows:  # each trial is a normal run directory
        run_dir = Path(row["run_dir"])
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["val/loss"] == pytest.approx(float(row["value"]))
        assert int(row["model_params"]) == summary["params"]  # the model's size, for studies that vary it
        assert (run_dir / "metrics.jsonl").is_file() and (run_dir / "config.json").is_file()
    best = report["best"]
    assert best["value"] == min(float(r["value"]) for r in rows)
    study_json = json.loads((tmp_path / "sweeps" / "s" / "report" / "study.json").read_text())
    assert study_json["best"]["number"] == best["number"]
    for plot in ("history", "importances", "intermediate_values"):
        assert Path(report["files"][plot]).stat().st_size > 1000
    # fANOVA over 4 trials is noise, and the report says so beside the figures.
    assert study_json["importances"]["trials"] == 4 and "too few to trust" in study_json["importances"]["caveat"]
    assert any(line.startswith("importances (") and "too few to trust" in line for line in report["lines"])
    # The printed command trains exactly the best trial again.
    command = shlex.split(best["command"])
    assert command[:3] == ["uv", "run", "train.py"] and command[-1].startswith("optim.lr=")
    from tinyx.training import train
    again = train(to_run_config(compose_train(command[3:])), tmp_path / "again", quiet=True)
    assert again.val_loss == best["value"]


@pytest.mark.slow
def test_a_study_can_optimise_bits_per_byte_and_its_pruner_sees_them(tmp_path):
    import optuna

    from tinyx.rundir.contract import read_jsonl

    report = study(tmp_path, overrides=without("train.max_steps") + ["train.max_steps=20"], n_trials=2,
                   metric="val/bpb", pruner_startup_trials=1)
    rows = trials_csv(report)
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'sweeps' / 's' / 'study.db'}").trials
    for row, trial in zip(rows, trials):
        run_dir = Path(row["run_dir"])
        summary = json.loads((run_dir / "summary.json").read_text())
        logged = {r["step"]: r["val/bpb"] for r in read_jsonl(run_dir / "metrics.jsonl") if "val/bpb" in r}
        assert trial.intermediate_values == logged and logged  # the pruner compares bits per byte
        if row["state"] == "complete":
            assert float(row["value"]) == summary["val/bpb"] != summary["val/loss"] and len(logged) == 2
    assert report["best"]["value"] == min(float(r["value"]) for r in rows if r["state"] == "complete")


@pytest.mark.slow
def test_best_trial_experiment_file_reproduces_its_config(tmp_path):
    space = {"optim": {"type": "categorical", "choices": ["adamw", "muon"]},
             "muon_lr": {"key": "optim.lr", "type": "float", "low": 5e-3, "high": 5e-2, "log": True,
                         "when": {"optim": "muon"}}}
    report = study(tmp_path, space, n_trials=2, pruner="none", write_experiment=True,
                   experiment_dir=str(tmp_path / "conf" / "experiment"))
    path = Path(report["files"]["experiment"])
    assert path.name == "best_s.yaml" and path.read_text().startswith("# @package _global_")
    # Machine and logging settings stay out of the experiment file: the user's command gives them.
    machine = [f"data.path={CORPUS}", "hardware=cpu", "logger=none", "logger.progress_bar=false"]
    from_file = compose(machine + [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "experiment=best_s"])
    best_dir = Path(report["best"]["run_dir"])
    trained = read_config(best_dir)
    trained["model"]["vocab_size"] = None  # config.json holds the size the tokenizer gave
    assert to_run_config(from_file) == to_run_config(trained)


def test_median_pruner_stops_bad_trials_early(tmp_path):
    report = study(tmp_path, n_trials=6, pruner="median", pruner_startup_trials=1)
    rows = trials_csv(report)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned and all(int(r["steps_trained"]) < 40 and r["reason"].startswith("pruned at step") for r in pruned)
    for row in pruned:
        summary = json.loads((Path(row["run_dir"]) / "summary.json").read_text())
        assert summary["status"] == "pruned" and summary["step"] == int(row["steps_trained"])
    assert report["steps_trained"] < 6 * 40


@pytest.mark.slow
def test_hyperband_pruner_runs_a_study(tmp_path):
    report = study(tmp_path, n_trials=5, pruner="hyperband")
    rows = trials_csv(report)
    assert len(rows) == 5 and {r["state"] for r in rows} <= {"complete", "pruned"}
    # Hyperband prunes (2 of 5 with the default sweep.seed); a pruner that never prunes fails here.
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned and report["states"].get("pruned") == len(pruned)
    assert all(int(r["steps_trained"]) < 40 for r in pruned)
    assert report["best"]["value"] == min(float(r["value"]) for r in rows if r["state"] == "complete")


def test_impossible_combinations_are_pruned_not_fatal(tmp_path):
    space = {"model.n_head": {"type": "categorical", "choices": [2, 3]}}  # d_model=32: 3 heads is impossible
    report = study(tmp_path, space, without("model.n_head="), n_trials=4, pruner="none", sampler="random")
    rows = trials_csv(report)
    assert len(rows) == 4
    for row in rows:
        if row["model.n_head"] == "3":
            assert row["state"] == "pruned" and "not divisible by model.n_head=3" in row["reason"]
            assert row["steps_trained"] == "0"
        else:
            assert row["state"] == "complete"


def test_a_trial_that_raises_is_recorded_failed_and_the_study_completes(tmp_path):
    binary = tmp_path / "corpus.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    space = {"data.path": {"type": "categorical", "choices": [str(CORPUS), str(binary)]}}
    # The base config finds the corpus in a search folder; the trials name it, or a binary file.
    base = without("data.path=") + [f"data.search_dirs=[{CORPUS.parent}]"]
    report = study(tmp_path, space, base, n_trials=4, pruner="none", sampler="random", seed=3)
    rows = trials_csv(report)
    assert len(rows) == 4 and {r["state"] for r in rows} == {"complete", "fail"}
    for row in rows:
        if row["state"] == "fail":
            assert row["data.path"] == str(binary)
            assert row["reason"].startswith("DataError") and "UTF-8" in row["reason"]
            assert "DataError" in (Path(row["run_dir"]) / "error.txt").read_text()
        else:
            assert row["data.path"] == str(CORPUS) and float(row["value"]) < 4.5
    assert any(line.startswith(f"trial {rows[0]['number']}") for line in report["lines"])


def test_a_study_continues_only_with_the_same_settings(tmp_path):
    study(tmp_path, n_trials=1, pruner="none")
    report = study(tmp_path, n_trials=2, pruner="none")  # continued: one more trial
    assert report["trials"] == 2
    with pytest.raises(ConfigError, match=r"study 's' was started with other settings .*train.max_steps=20"):
        study(tmp_path, overrides=TRIAL + ["train.max_steps=20"], n_trials=3)
    # Machine settings may differ between workers.
    assert study(tmp_path, overrides=TRIAL + ["hardware.threads=1"], n_trials=2, pruner="none")["trials"] == 2


@pytest.mark.slow
def test_trials_are_wandb_runs_grouped_under_the_study(tmp_path):
    overrides = MICRO + TRIAL[len(MICRO):] + ["logger=wandb", "train.max_steps=10"]
    report = study(tmp_path, overrides=overrides, n_trials=2, pruner="none")
    for row in trials_csv(report):
        (run,) = (Path(row["run_dir"]) / "wandb").glob("offline-run-*")
        view = json.loads(leet("--summary", str(run)))
        record = next(r["run"] for r in map(json.loads, leet(str(run)).splitlines()) if r["type"] == "run")
        assert view["name"].startswith(f"s/{row['number']}: optim.lr=") and record["run_group"] == "s"
        assert record["job_type"] == "sweep" and record["config"]["update"]["arm"].startswith("optim.lr=")
        assert "study=s" in view["tags"] and view["state"] == "finished"


@pytest.mark.slow
def test_report_only_trains_nothing(tmp_path):
    study(tmp_path, n_trials=1, pruner="none")
    report = study(tmp_path, n_trials=5, report_only=True)
    assert report["trials"] == 1 and report["best"]["number"] == 0


# ---------------------------------------------------------------------------------------------------------
# Bad input: one message naming the value and the fix, exit 2, and no study created.

BAD_SPACES = [
    ({"optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}, "type 'loguniform' is not a search-space type"),
    ({"optim.lr": {"type": "float", "low": 1e-2, "high": 1e-4}}, "low=0.01 is greater than high=0.0001: swap them"),
    ({"model.n_layr": {"type": "int", "low": 1, "high": 4}}, "model.n_layr=1 does not compose"),
    ({"optim": {"type": "categorical", "choices": ["adamw", "sgd"]}}, "optim=sgd does not compose"),
    ({"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "lgo": True}}, "field 'lgo' is not valid"),
    ({"optim.lr": {"type": "float", "low": 0, "high": 1e-2, "log": True}}, "log: true needs low > 0"),
    ({"model.n_layer": {"type": "int", "low": 1.5, "high": 4}}, "low=1.5 is not an integer"),
    ({"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "when": {"optim.nme": "muon"}}},
     "when: optim.nme is neither an entry of the search space nor a config key"),
]


@pytest.mark.parametrize("space,message", BAD_SPACES, ids=[f"space{i}" for i in range(len(BAD_SPACES))])
def test_bad_search_space_fails_before_any_study_exists(tmp_path, space, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        study(tmp_path, space)
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.parametrize("overrides,message", [
    (["sweep.storage=postgresql://tinyx:secret@127.0.0.1:9/tinyx"],
     "sweep.storage=postgresql://tinyx:***@127.0.0.1:9/tinyx cannot be opened"),
    (["sweep.storage=sqlite:////proc/no/study.db"], "sweep.storage=sqlite:////proc/no/study.db cannot be opened"),
    (["sweep.storage=outputs/study.db"], "is not a storage URL: use sqlite:///"),
    (["sweep.pruner=asha"], "sweep.pruner='asha' is not one of median, hyperband, none"),
    (["sweep.metric=val/accuracy"], "sweep.metric='val/accuracy' is not one of"),
    (["sweep.study_name=a/b"], "sweep.study_name='a/b' may hold only"),
    (["sweep.heartbeat_interval=0"], "sweep.heartbeat_interval=0 must be >= 1 second"),
    (["sweep.heartbeat_grace=60"], "sweep.heartbeat_grace=60 must be greater than sweep.heartbeat_interval=60"),
    (["sweep.workers=0"], "sweep.workers=0 must be >= 1"),
    (["model.d_model=31"], "model.d_model=31 is not divisible by model.n_head=2"),
])
def test_bad_sweep_settings_exit_2_with_one_message(tmp_path, capsys, overrides, message):
    root = tmp_path / "sweeps"
    cfg = compose(TRIAL + [f"sweep.root={root}", "search_space=lr"] + overrides, config_name="sweep")
    with pytest.raises(SystemExit) as exit_info:
        run_sweep(cfg, TRIAL + overrides, "lr")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "secret" not in err and "Traceback" not in err
    assert not root.exists()


# ---------------------------------------------------------------------------------------------------------
# Through sweep.py itself: a killed and an interrupted sweep continue; two workers share one study.

SLOW_TRIAL = [o for o in TRIAL if not o.startswith("train.max_steps")] + ["train.max_steps=150", "hardware.threads=1"]


def sweep_cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "sweep.py", "search_space=lr", "sweep.study_name=k", f"sweep.root={root}",
            "sweep.pruner=none", *SLOW_TRIAL, *extra]


def load_trials(storage: str, name: str = "k"):
    import optuna
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def wait_until(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Return once `condition()` holds; fail, with the process's output, if it exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"exited ({proc.returncode}) before {what}:\n" + proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.05)


def start_and_stop(cmd: list[str], trials_dir: Path, started: int, sig: int) -> subprocess.Popen:
    """Start a sweep and send `sig` once trial number `started - 1` is training (its metrics.jsonl exists)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = trials_dir / f"{started - 1:04d}" / "metrics.jsonl"
    wait_until(metrics.is_file, proc, f"trial {started - 1} training")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc


def paused_sweep(cmd: list[str], ready: Path) -> subprocess.Popen:
    """Start a sweep whose first trial pauses in step 3 (tinyx.common.faults) and return once it is paused there:
    the trial is RUNNING in the study and its run directory has no summary.json yet."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TINYX_FAULTS": "pause@step:3", "TINYX_FAULTS_READY": str(ready)})
    wait_until(lambda: ready.is_file() and ready.read_text().startswith("step 3 "), proc, "pause in step 3")
    return proc


@pytest.mark.slow
def test_killed_then_interrupted_sweep_continues_the_same_study(tmp_path):
    from optuna.trial import TrialState

    root = tmp_path / "sweeps"
    storage = f"sqlite:///{root / 'k' / 'study.db'}"
    trials_dir = root / "k" / "trials"
    cmd = sweep_cmd(root, "sweep.n_trials=4")

    killed = start_and_stop(cmd, trials_dir, started=2, sig=signal.SIGKILL)  # trial 0 done, trial 1 running
    assert killed.returncode == -signal.SIGKILL
    after_kill = load_trials(storage)
    assert after_kill[0].state == TrialState.COMPLETE and after_kill[-1].state == TrialState.RUNNING

    interrupted = start_and_stop(cmd, trials_dir, started=len(after_kill) + 1, sig=signal.SIGINT)
    out = interrupted.stdout.read()
    assert interrupted.returncode == 130, out[-3000:]
    assert "rerun the same command" in out and "Traceback" not in out
    after_interrupt = load_trials(storage)
    stopped = after_interrupt[len(after_kill)]
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["fail_reason"] == "interrupted"

    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    final = load_trials(storage)
    assert len(final) > len(after_interrupt) > len(after_kill)
    assert [t.number for t in final] == list(range(len(final)))
    assert final[0].value == after_kill[0].value and final[0].params == after_kill[0].params  # intact
    retry = next(t for t in final if t.user_attrs.get("retry_of") == stopped.number)
    assert retry.params == stopped.params and retry.state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in final) == 4


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # heartbeats, retried_trial_number
def test_a_killed_workers_trial_is_failed_after_the_grace_and_retried_once_by_another(tmp_path):
    import optuna
    from optuna.trial import TrialState

    from tinyx.sweep import open_storage

    root, grace = tmp_path / "sweeps", 2
    storage = f"sqlite:///{root / 'k' / 'study.db'}"
    cmd = sweep_cmd(root, "sweep.n_trials=2", "train.max_steps=20", "sweep.heartbeat_interval=1",
                    f"sweep.heartbeat_grace={grace}")
    killed = paused_sweep(cmd, tmp_path / "ready")
    killed.kill()
    killed.wait(timeout=60)
    killed_at = time.monotonic()
    [orphan] = load_trials(storage)
    assert killed.returncode == -signal.SIGKILL and orphan.state == TrialState.RUNNING
    # Within its grace a trial is left alone: a worker with an hour's grace does not touch it.
    patient = optuna.load_study(study_name="k", storage=open_storage(storage, root / "k", 1, 3600))
    optuna.storages.fail_stale_trials(patient)
    assert patient.trials[0].state == TrialState.RUNNING
    # Its last heartbeat came before the kill; SQLite's clock counts whole seconds, hence one second more.
    time.sleep(max(0.0, killed_at + grace + 1 - time.monotonic()))

    rescuer = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rescuer.returncode == 0, rescuer.stdout[-3000:] + rescuer.stderr[-3000:]
    trials = load_trials(storage)
    assert trials[0].state == TrialState.FAIL and "fail_reason" not in trials[0].user_attrs  # not counted
    retries = [t for t in trials if optuna.storages.RetryFailedTrialCallback.retried_trial_number(t) == 0]
    assert [t.number for t in retries] == [1]  # retried once, before any new trial, with the same parameters
    assert retries[0].params == orphan.params and retries[0].state == TrialState.COMPLETE
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")  # ask()
def test_a_stale_trial_is_retried_only_once(tmp_path):
    """The retry of a killed worker's trial, killed in turn, is failed and not retried again (a trial that
    kills its worker, e.g. out of memory, must not take every worker down one after another)."""
    import optuna
    from optuna.trial import TrialState

    from tinyx.sweep import open_storage

    grace = 1
    study_ = optuna.create_study(study_name="s", storage=open_storage(None, tmp_path, 1, grace))
    for _ in range(2):  # the original, then its retry: each "killed" (its heartbeat stops) while running
        trial = study_.ask()
        trial.suggest_float("optim.lr", 1e-4, 1e-2, log=True)
        study_._storage.record_heartbeat(trial._trial_id)
        time.sleep(grace + 1.1)  # past the grace; SQLite's clock counts whole seconds
        optuna.storages.fail_stale_trials(study_)
    trials = study_.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert trials[1].params == trials[0].params
    assert optuna.storages.RetryFailedTrialCallback.retried_trial_number(trials[1]) == 0


@pytest.mark.slow
def test_a_sweep_stopped_by_sigterm_exits_143_and_the_rerun_continues_it(tmp_path):
    from optuna.trial import TrialState

    root = tmp_path / "sweeps"
    storage = f"sqlite:///{root / 'k' / 'study.db'}"
    cmd = sweep_cmd(root, "sweep.n_trials=2", "train.max_steps=20")
    stopped = paused_sweep(cmd, tmp_path / "ready")
    stopped.send_signal(signal.SIGTERM)  # as a scheduler preempting the job does
    out = stopped.communicate(timeout=120)[0]
    assert stopped.returncode == 143, out[-3000:]
    assert "rerun the same command" in out and "Traceback" not in out
    trial, queued = load_trials(storage)
    assert trial.state == TrialState.FAIL and trial.user_attrs["fail_reason"] == "interrupted"
    assert queued.state == TrialState.WAITING and queued.system_attrs["fixed_params"] == trial.params  # queued
    assert trial.user_attrs["steps_trained"] == 3  # it finished the step it was in

    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = load_trials(storage)
    assert final[1].user_attrs.get("retry_of") == 0 and final[1].params == trial.params  # its parameters first
    assert [t.state for t in final] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "journal", "postgresql"])
def test_two_workers_share_one_study(tmp_path, request, backend):
    """SQLite (the default storage, in the study's folder) is the documented set-up on one machine."""
    import optuna
    from optuna.trial import TrialState

    root = tmp_path / "sweeps"
    if backend == "sqlite":
        url, storage = None, f"sqlite:///{root / 'k' / 'study.db'}"
    elif backend == "journal":
        from optuna.storages.journal import JournalFileBackend
        url = f"journal:{tmp_path / 'journal.log'}"
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    else:
        url = storage = request.getfixturevalue("postgres_url")
    cmd = sweep_cmd(root, "sweep.n_trials=6", "train.max_steps=40", *([f"sweep.storage={url}"] if url else []))
    workers = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    for worker, out in zip(workers, outputs):
        assert worker.returncode == 0, out[-3000:]
    trials = optuna.load_study(study_name="k", storage=storage).get_trials()
    numbers = [t.number for t in trials]
    # Each worker checks the count before it starts a trial, so two may start the last one: 6 or 7.
    assert len(numbers) == len(set(numbers)) and 6 <= len(numbers) <= 7
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers trained trials
    assert len({tuple(t.params.items()) for t in trials}) == len(trials)  # no duplicate work
    assert all("error" not in out.lower() for out in outputs)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # run_study says it once
def test_workers_opening_a_new_storage_at_once_all_succeed(tmp_path, request, backend):
    """Workers started together on a fresh database all race to create Optuna's tables; before the retry,
    all but one failed with "already exists" or a unique violation (PostgreSQL's pg_type index)."""
    import threading
    import uuid

    import optuna

    from tinyx.sweep import open_storage

    for round_ in range(3):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        else:
            import psycopg
            server = request.getfixturevalue("postgres_url")
            name = f"race_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            url = f"{server.rsplit('/', 1)[0]}/{name}"
        start, storages, errors = threading.Barrier(4), [], []

        def open_it():
            start.wait()
            try:
                storages.append(open_storage(url, tmp_path))
            except ConfigError as e:
                errors.append(str(e))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == [] and len(storages) == 4
        # One schema, usable by every worker: a study made through one is seen through the others.
        study_id = storages[0].create_new_study([optuna.study.StudyDirection.MINIMIZE], "shared")
        assert all(s.get_study_id_from_name("shared") == study_id for s in storages)


def finished_study(n_trials: int):
    """An in-memory study of `n_trials` complete trials, as a worker's report sees it (no training)."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    study = optuna.create_study(study_name="s")
    for number in range(n_trials):
        lr = 1e-4 * (1 + number)
        study.add_trial(create_trial(
            params={"optim.lr": lr}, distributions={"optim.lr": FloatDistribution(1e-4, 1.0, log=True)},
            value=3.0 + number / n_trials,
            user_attrs={"overrides": [f"optim.lr={lr!r}"], "train_overrides": TRIAL + [f"optim.lr={lr!r}"],
                        "steps_trained": 40, "run_dir": f"trials/{number:04d}"}))
    return study


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_workers_writing_one_report_at_once_all_succeed(tmp_path):
    """Workers that finish together all write the study's report; through one fixed temporary name
    (report/trials.csv.tmp, best_<study>.yaml.tmp) a writer lost its file to another's rename and failed."""
    import threading

    from tinyx.sweep import write_report

    n_trials, n_writers = 300, 6
    study_ = finished_study(n_trials)
    sweep = SweepConfig(study_name="s", root=str(tmp_path / "sweeps"), write_experiment=True,
                        experiment_dir=str(tmp_path / "experiment"))
    study_dir = tmp_path / "sweeps" / "s"

    def compose_overrides(overrides):  # Hydra's global state is one per process; the report only needs values
        return OmegaConf.from_dotlist([o for o in overrides if o.startswith("optim.")])

    for _ in range(3):
        start, reports, errors = threading.Barrier(n_writers), [], []

        def write():
            start.wait()
            try:
                reports.append(write_report(study_, sweep, study_dir, compose_overrides, say=lambda line: None))
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")

        writers = [threading.Thread(target=write) for _ in range(n_writers)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=300)
        assert errors == [] and len(reports) == n_writers
        rows = trials_csv(reports[0])
        assert [int(r["number"]) for r in rows] == list(range(n_trials)) and rows[-1]["run_dir"] == "trials/0299"
        assert json.loads((study_dir / "report" / "study.json").read_text())["best"]["number"] == 0
        experiment = (tmp_path / "experiment" / "best_s.yaml").read_text()
        assert experiment.startswith("# @package _global_") and experiment.endswith("lr: 0.0001\n")
        assert not [p.name for p in (study_dir / "report").iterdir() if p.name.endswith(".tmp")]
        assert not list((tmp_path / "experiment").glob("*.tmp"))
