"""The sweep's report on a real Optuna study built in memory (no training): the importances' caveat below
MIN_TRIALS completed trials, the model's parameter count in trials.csv, and plot axes named by the metric.

Each was missing once: a study of 4 trials printed importances as if they meant something, trials.csv left out
the model size of a study that varied width and depth, and the plots' axes read "Objective Value".
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.figure
import optuna
import pytest

from tinyx.config import SweepConfig
from tinyx.rundir.contract import RunSummary, write_summary
from tinyx.sweep import write_report
from tinyx.sweep.importances import MIN_TRIALS

DISTRIBUTIONS = {"optim.lr": optuna.distributions.FloatDistribution(1e-4, 3e-2, log=True),
                 "model.n_layer": optuna.distributions.IntDistribution(1, 4)}


def make_study(tmp_path: Path, completed: int):
    """`completed` finished trials whose value depends on the learning rate only, each with its evaluations."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=optuna.storages.InMemoryStorage())
    for i in range(completed):
        lr, layers = 1e-4 * 1.6 ** i, 1 + i % 4
        value = 2.0 + abs(i - completed / 2) / completed
        study.add_trial(optuna.trial.create_trial(
            params={"optim.lr": lr, "model.n_layer": layers}, distributions=DISTRIBUTIONS, value=value,
            intermediate_values={10: value + 0.5, 20: value},
            user_attrs={"run_dir": str(tmp_path / f"trial{i}"), "model_params": 1000 * layers, "steps_trained": 20}))
    return study


def report_on(tmp_path: Path, study, metric: str = "val/loss") -> tuple[dict, list[str]]:
    lines: list[str] = []
    sweep = SweepConfig(study_name="s", root=str(tmp_path / "sweeps"), metric=metric)
    report = write_report(study, sweep, tmp_path / "sweeps" / "s", compose=None, say=lines.append)
    return report, lines


@pytest.mark.parametrize("completed, warned", [(4, True), (MIN_TRIALS, False)])
def test_importances_are_printed_with_a_caveat_below_the_minimum_of_trials(tmp_path, completed, warned):
    report, lines = report_on(tmp_path, make_study(tmp_path, completed))
    line = next((x for x in lines if x.startswith("importances")), None)
    assert line is not None, f"no importances line in {lines}"
    assert f"{completed} completed trials" in line and "optim.lr" in line and "model.n_layer" in line
    assert ("too few to trust" in line) == warned
    saved = json.loads(Path(tmp_path / "sweeps" / "s" / "report" / "study.json").read_text())["importances"]
    assert saved["trials"] == completed and set(saved["values"]) == set(DISTRIBUTIONS)
    assert (saved["caveat"] is not None) == warned


def test_trials_csv_has_each_trials_model_parameter_count(tmp_path):
    study = make_study(tmp_path, 3)
    # A trial from before the objective recorded the count: its summary.json has it.
    (tmp_path / "old").mkdir()
    write_summary(tmp_path / "old", RunSummary(status="completed", step=20, params=4321))
    study.add_trial(optuna.trial.create_trial(params={"optim.lr": 1e-3, "model.n_layer": 2},
                                              distributions=DISTRIBUTIONS, value=2.5,
                                              user_attrs={"run_dir": str(tmp_path / "old")}))
    report, _ = report_on(tmp_path, study)
    with open(report["files"]["trials_csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["model_params"] for r in rows] == ["1000", "2000", "3000", "4321"]


def test_plots_name_their_value_axis_by_the_study_metric(tmp_path, monkeypatch):
    drawn: list[dict] = []
    savefig = matplotlib.figure.Figure.savefig

    def record(figure, *args, **kwargs):
        drawn.append({"ylabels": [a.get_ylabel() for a in figure.axes], "titles": [a.get_title(loc="left")
                                                                                  for a in figure.axes]})
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    report, _ = report_on(tmp_path, make_study(tmp_path, 4), metric="val/loss_best")
    assert set(report["files"]) >= {"history", "importances", "intermediate_values"}
    history, importances, intermediate = drawn
    assert history["ylabels"][0] == "val/loss_best"  # the metric the study optimises
    assert intermediate["ylabels"][0] == "val/loss"  # what each evaluation reported to the pruner
    assert "too few to trust" in importances["titles"][0]
    assert not any("Objective Value" in label for plot in drawn for label in plot["ylabels"])
