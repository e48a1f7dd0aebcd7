"""tinyx.rundir and tinyx.tools.run_model: finding runs and checkpoints, reading a run, and what importing them costs."""

import json
import subprocess
import sys

import pytest
from helpers import ROOT

from tinyx.common.errors import RunDirError
from tinyx.rundir.checkpoints import CKPT_DIR
from tinyx.rundir.contract import (
    CONFIG_FILE,
    HYDRA_CONFIG_FILE,
    git_commit,
    read_jsonl,
    read_summary,
)
from tinyx.rundir.find import find_checkpoints, find_runs, run_dir_of
from tinyx.rundir.last import resolve_last
from tinyx.tools.run_model import load_model


def _run(path, hydra=False, checkpoint=None):
    path.mkdir(parents=True)
    config = path / (HYDRA_CONFIG_FILE if hydra else CONFIG_FILE)
    config.parent.mkdir(exist_ok=True)
    config.write_text("{}")
    if checkpoint is not None:
        (path / CKPT_DIR).mkdir()
        (path / CKPT_DIR / checkpoint).write_bytes(b"")
    return path


def test_find_runs_takes_both_kinds_of_run_and_does_not_walk_into_one(tmp_path):
    python_run = _run(tmp_path / "sweep" / "0")
    hydra_run = _run(tmp_path / "sweep" / "1", hydra=True)
    _run(python_run / "wandb" / "nested")  # inside a run: not a run of its own
    (tmp_path / "sweep" / "not_a_run").mkdir()
    assert find_runs([tmp_path / "sweep"]) == [python_run.resolve(), hydra_run.resolve()]
    assert find_runs([str(tmp_path / "sweep" / "[01]"), str(python_run)]) == [python_run.resolve(),
                                                                             hydra_run.resolve()]


@pytest.mark.parametrize("arg, message", [
    ("nope", "nope does not exist: pass a run directory, a multirun directory"),
    ("nothing*", "matches nothing: check it, or pass the run or multirun directory itself."),
    ("empty", f"(a run directory holds {CONFIG_FILE} or {HYDRA_CONFIG_FILE})"),
])
def test_find_runs_errors_name_the_path_and_the_fix(tmp_path, arg, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError) as e:
        find_runs([str(tmp_path / arg)])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_find_checkpoints_takes_files_runs_and_folders_of_runs(tmp_path):
    run_a = _run(tmp_path / "runs" / "a", checkpoint="ckpt_000010.pt")
    run_b = _run(tmp_path / "runs" / "b", checkpoint="ckpt_000020.pt")
    loose = tmp_path / "loose.pt"
    loose.write_bytes(b"")
    found = find_checkpoints([str(tmp_path / "runs"), str(loose)])
    assert found == [run_a / CKPT_DIR / "ckpt_000010.pt", run_b / CKPT_DIR / "ckpt_000020.pt", loose.resolve()]
    assert [run_dir_of(p) for p in found] == [run_a, run_b, tmp_path]
    (tmp_path / "no_checkpoints").mkdir()
    with pytest.raises(RunDirError, match="no checkpoints in"):
        find_checkpoints([str(tmp_path / "no_checkpoints")])


def test_summary_and_provenance_read_as_written_or_not_at_all(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"status": "completed", "val/loss": 1.5, "extra": 1}))
    summary = read_summary(tmp_path)
    assert summary.completed and summary.val_loss == 1.5
    (tmp_path / "summary.json").write_text('{"status": "compl')  # cut short by a crash
    assert read_summary(tmp_path) is None and git_commit(tmp_path) is None
    (tmp_path / "provenance.json").write_text(json.dumps({"git": {"commit": "abc", "dirty": True}}))
    assert git_commit(tmp_path) == "abc"


def test_read_jsonl_skips_and_reports_a_line_cut_short(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"step": 1}\n{"step": 2, "lo\n[1]\n\n{"step": 3}\n')
    bad = []
    assert read_jsonl(tmp_path / "m.jsonl", lambda n, line: bad.append(n)) == [{"step": 1}, {"step": 3}]
    assert bad == [2, 3]


def _trained(path):
    """A directory holding a run: a config and a logged step."""
    _run(path)
    (path / "metrics.jsonl").write_text('{"step": 5, "train/loss": 4.1}\n')
    return path


def test_last_is_the_newest_run_or_sweep_by_start_time(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path))
    _trained(tmp_path / "runs" / "2026-01-02" / "23-59-59")
    sweep = tmp_path / "multirun" / "2026-01-03" / "00-00-01"
    jobs = [_trained(sweep / str(n)) for n in (0, 2, 10)]
    _run(tmp_path / "runs" / "2026-01-03" / "09-00-00", hydra=True)  # a start that failed: no run in it
    assert resolve_last() == jobs[-1]  # one run: a multirun's newest job (10 after 2)
    assert resolve_last(whole_sweep=True) == sweep  # what compare reads: the whole sweep
    assert sorted(find_runs(["last"])) == sorted(job.resolve() for job in jobs)
    newer = _trained(tmp_path / "runs" / "2026-01-03" / "00-00-01_1")  # the second run started in that second
    assert resolve_last() == newer == resolve_last(whole_sweep=True)


def test_last_without_any_run_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path))
    _run(tmp_path / "runs" / "2026-01-03" / "09-00-00", hydra=True)  # Hydra's files only
    for find in (lambda: resolve_last(), lambda: find_runs(["last"]), lambda: find_checkpoints(["last"]),
                 lambda: load_model("last")):
        with pytest.raises(RunDirError) as e:
            find()
        assert str(e.value) == (f"`last`: no run in {tmp_path}/runs or {tmp_path}/multirun yet: train one first, "
                                f"or pass a run directory (TINYX_OUTPUTS sets where runs are written).")


def test_compare_and_rundir_import_without_torch():
    code = ("import sys, tinyx.rundir.contract, tinyx.rundir.claims, tinyx.rundir.find, tinyx.tools.run_model, tinyx.compare; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_what_the_docs_examples_write_is_ignored_by_git():
    paths = ["runs/long/metrics.jsonl", "reports/comparison.md", "conf/experiment/best_lr-muon.yaml",
             "outputs/runs/2026-01-01/00-00-00/train.log", "conf/local/default.yaml"]
    result = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == paths
    kept = subprocess.run(["git", "check-ignore", "conf/experiment/baseline.yaml", "tinyx/rundir/contract.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert kept.stdout == ""
