"""`compare --wandb`: the comparison logged as a wandb run of its own, read back with wandb's own offline reader."""

import json
import os

import pytest
from helpers import leet

from tinyx.compare import main


def records(run_dir):
    return [json.loads(line) for line in leet(str(run_dir)).splitlines()]


@pytest.mark.slow  # wandb.init and two reads by `wandb leet`: ~20 s on 2 busy cores
def test_compare_logs_table_curves_and_statistics_in_the_sweeps_group(tracked_multirun, tmp_path, capsys,
                                                                      monkeypatch):
    sweep, _ = tracked_multirun
    # As a user runs it with a .env copied from .env.example: empty WANDB_* values mean "not set" (wandb would
    # refuse an empty WANDB_MODE), and without an API key the comparison is written offline.
    for key in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.setenv(key, "")
    monkeypatch.setenv("NETRC", str(tmp_path / "no_netrc"))
    comparison = main([str(sweep), "--out", str(tmp_path), "--wandb"])
    assert "wandb: offline comparison run" in capsys.readouterr().out
    assert "WANDB_MODE" not in os.environ
    compare_run = tmp_path / "wandb" / "latest-run"
    logged = records(compare_run)
    (run,) = [r["run"] for r in logged if r["type"] == "run"]
    group = "/".join(sweep.parts[-3:])  # the study group of a sweep directory outside the outputs root
    assert run["job_type"] == "compare" and run["run_group"] == group

    # The training jobs are in the same group and carry the arm a dashboard groups their seeds by.
    (job_run,) = [r["run"] for r in records(sweep / "0" / "wandb" / "latest-run") if r["type"] == "run"]
    assert job_run["run_group"] == group and job_run["job_type"] == "train"
    job_config = job_run["config"]["update"]
    assert job_config["arm"] == "optim.lr=0.001" and job_run["display_name"] == "optim.lr=0.001 seed=1337"

    summary = json.loads(leet("--summary", str(compare_run)))["summary"]
    base, variant = comparison.arms
    assert summary["baseline"] == base.name == "optim.lr=0.001"
    assert summary[f"{base.name}/mean"] == pytest.approx(base.estimate.mean, abs=1e-12)
    assert summary[f"{variant.name}/delta"] == pytest.approx(variant.difference.delta, abs=1e-12)
    assert summary[f"{variant.name}/verdict"] == "undecided" and summary[f"{variant.name}/n"] == 1
    assert summary["comparison"]["_type"] == "table-file"

    files = [f["path"] for r in logged if r["type"] == "files" for f in r["files"]["files"]]
    (table_file,) = [f for f in files if f.startswith("media/table/comparison_")]
    table = json.loads((compare_run / "files" / table_file).read_text())
    rows = [dict(zip(table["columns"], row)) for row in table["data"]]
    assert [r["arm"] for r in rows] == [a.name for a in comparison.arms]
    assert [r["mean"] for r in rows] == pytest.approx([a.estimate.mean for a in comparison.arms], abs=1e-12)
    assert any(f.startswith("media/images/curves_") for f in files)
