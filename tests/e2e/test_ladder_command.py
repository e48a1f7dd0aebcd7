"""`tinyx ladder` for real: an A/A ladder (the baseline against itself under another name, on other seeds) of three
tiny sizes x 2 seeds through the launcher, its plan, its report and wandb run, and a rerun that trains nothing."""

import csv
import json

import pytest
from helpers import CORPUS, leet

from tinyx.tools.ladder import main
from tinyx.tools.ladder.report import CSV_FILE, DELTA_PLOT, FIT_PLOT, REPORT_FILE

COPY = "experiment=baseline logger.wandb.tags=[copy]"
TINY = ["model.aspect_ratio=8", "model.head_dim=8", "train.batch_size=4", "train.tokens_per_param=2",
        "train.eval_batches=4", "logger=none", f"data.path={CORPUS}"]


@pytest.mark.slow  # 12 tiny runs through the launcher and a wandb read-back: ~60 s on 2 cores
def test_an_aa_ladder_runs_reports_and_resumes_without_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path))  # the study group: the folder below the outputs root
    out = tmp_path / "aa"
    argv = ["baseline", COPY, "--depths", "1,2,3", "--seeds", "2", "--variant-seeds-from", "100", "--out", str(out),
            "--boot", "200", "--wandb", "--", *TINY]
    verdicts = main(argv)
    printed = capsys.readouterr().out
    assert verdicts == {COPY: "undecided"}  # other seeds, same model: no verdict may be declared
    assert "total: 12 runs" in printed and "12 to run, about" in printed
    runs = sorted(p.parent for p in out.glob("*/depth_*/seed_*/summary.json"))
    assert [p.relative_to(out).as_posix() for p in runs][:3] == [
        "experiment-baseline/depth_1/seed_0", "experiment-baseline/depth_1/seed_1", "experiment-baseline/depth_2/seed_0"]
    assert len(runs) == 12 and all(json.loads((p / "summary.json").read_text())["status"] == "completed" for p in runs)
    copy_run = json.loads((out / "experiment-baseline_logger.wandb.tags-_copy_/depth_3/seed_100/config.json")
                          .read_text())
    assert (copy_run["seed"], copy_run["model"]["n_layer"], copy_run["model"]["d_model"]) == (100, 3, 24)

    rows = list(csv.DictReader((out / CSV_FILE).open()))
    assert [(r["arm"], r["depth"], r["seeds"]) for r in rows] == [
        (arm, d, "2") for arm in ("experiment=baseline", COPY) for d in ("1", "2", "3")]
    report = (out / REPORT_FILE).read_text()
    assert "| 3 |" in report and "Welch t" in report and "**verdict: undecided**" in report
    assert (out / FIT_PLOT).stat().st_size > 0 and (out / DELTA_PLOT).stat().st_size > 0
    (record,) = [r["run"] for r in map(json.loads, leet(str(out / "wandb" / "latest-run")).splitlines())
                 if r["type"] == "run"]
    assert (record["job_type"], record["run_group"]) == ("ladder", "aa")

    assert main(argv) == verdicts  # a rerun: every run is complete, nothing trains, the same report
    assert "to run" not in capsys.readouterr().out
    assert (out / REPORT_FILE).read_text() == report
