"""What a person reads after a sweep: the printed outcome, and `<sweep.root>/<study>/report/` (trials.csv,
study.json, plots), plus the best trial as an experiment file that train.py runs.

Several workers may write one study's report at the same instant: every file goes through
tinyx.common.files' atomic writes, whose temporary names are unique, so each writer's file lands whole.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from omegaconf import OmegaConf

from tinyx.common.files import atomic_write, atomic_write_json, atomic_write_text
from tinyx.config import LOGGING, MACHINE, SweepConfig, flatten_config, key_role, override_key
from tinyx.hydra_glue.compose import env_config_keys
from tinyx.rundir.contract import read_summary
from tinyx.sweep.importances import importances_line, summarize
from tinyx.sweep.plots import write_plots
from tinyx.sweep.space import Compose, format_value
from tinyx.sweep.storage import best_trial, default_storage_url, masked, storage_label

REPORT_DIR = "report"


def train_command(overrides: list[str]) -> str:
    return "uv run train.py " + " ".join(shlex.quote(o) for o in overrides)


def write_report(study, sweep: SweepConfig, study_dir: Path, compose: Compose,
                 say: Callable[[str], None] = print) -> dict:
    """Print the study's outcome and write report/: trials.csv, study.json and the plots."""
    from optuna.trial import TrialState

    report_dir = study_dir / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(1 for t in trials if t.state == s) for s in TrialState}
    steps = sum(t.user_attrs.get("steps_trained", 0) for t in trials)
    report: dict[str, Any] = {
        "study_name": study.study_name, "storage": storage_label(sweep), "metric": sweep.metric,
        "direction": sweep.direction, "trials": len(trials), "states": {k: v for k, v in counts.items() if v},
        "steps_trained": steps, "best": None, "files": {},
    }
    report["files"]["trials_csv"] = str(write_trials_csv(report_dir / "trials.csv", trials))
    say(f"study '{study.study_name}': {len(trials)} trials ("
        + ", ".join(f"{v} {k}" for k, v in report["states"].items()) + f"), {steps:,} training steps in all")
    _report_best(study, sweep, compose, report, say)
    report["importances"] = summarize(study)
    if report["importances"]:
        say(importances_line(report["importances"]))
    report["files"].update(write_plots(study, report_dir, sweep.metric, say))
    for t in [t for t in trials if t.state == TrialState.FAIL][-5:]:
        say(f"trial {t.number} failed: {t.user_attrs.get('fail_reason', 'worker stopped (killed or lost)')}")
    atomic_write_json(report_dir / "study.json", report)
    say(f"report: {report_dir} (trials.csv, study.json, plots); live view: optuna-dashboard "
        f"{masked(sweep.storage) or default_storage_url(study_dir)}")
    return report


def _report_best(study, sweep: SweepConfig, compose: Compose, report: dict, say: Callable[[str], None]) -> None:
    """Fill report["best"], say how to reproduce it, and write its experiment file when sweep.write_experiment."""
    best = best_trial(study)
    if best is None:
        say("best: none yet (no trial completed)")
        return
    report["best"] = {"number": best.number, "value": best.value, "params": best.params,
                      "overrides": best.user_attrs.get("overrides", []), "run_dir": best.user_attrs.get("run_dir"),
                      "command": train_command(best.user_attrs.get("train_overrides", []))}
    say(f"best: trial {best.number}, {sweep.metric} = {best.value:.4f} | "
        + ", ".join(f"{k}={format_value(v)}" for k, v in best.params.items()))
    say(f"reproduce: {report['best']['command']}")
    if sweep.write_experiment:
        path = write_best_experiment(study, best, sweep, compose)
        report["files"]["experiment"] = str(path)
        say(f"experiment file: {path} (uv run train.py experiment={path.stem})")


def write_trials_csv(path: Path, trials) -> Path:
    """One row per trial: its state, value, steps trained, time, the model's parameter count, the searched
    parameters, why it stopped, run directory."""
    param_names = list(dict.fromkeys(name for t in trials for name in t.params))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["number", "state", "value", "steps_trained", "seconds", "model_params", *param_names, "reason", "run_dir"])
    for t in trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("pruned_reason") or ""
        writer.writerow([t.number, t.state.name.lower(), t.value, t.user_attrs.get("steps_trained", 0),
                         f"{seconds:.1f}" if seconds is not None else "", _model_params(t) or "", *[t.params.get(n, "") for n in param_names],
                         reason, t.user_attrs.get("run_dir", "")])
    # newline="" semantics: the csv module ends rows with \r\n itself, so the text is written as is.
    return atomic_write(path, lambda tmp: tmp.write_text(text.getvalue(), newline=""))


def _model_params(trial) -> int | None:
    """The trial's model size: what its objective recorded, else its summary.json (trials of older studies)."""
    if trial.user_attrs.get("model_params") is not None:
        return trial.user_attrs["model_params"]
    summary = read_summary(trial.user_attrs["run_dir"]) if trial.user_attrs.get("run_dir") else None
    return summary.params if summary else None


def write_best_experiment(study, best, sweep: SweepConfig, compose: Compose) -> Path:
    """conf/experiment/best_<study>.yaml: every value the best trial trained with that differs from
    train.py's defaults (machine keys left out), so `train.py experiment=best_<study>` reproduces it. A value
    the trial took from the environment stays `${oc.env:NAME}`: the file is meant to be committed."""
    overrides = [o for o in best.user_attrs.get("train_overrides", []) if key_role(override_key(o)) not in (MACHINE, LOGGING)]
    default = flatten_config(OmegaConf.to_container(compose([]), resolve=True))
    composed = compose(overrides)
    trained = flatten_config(OmegaConf.to_container(composed, resolve=True))
    sources = env_config_keys(composed)  # a value from the environment is written as its `${oc.env:...}` source
    diff = {k: sources.get(k, v) for k, v in trained.items()
            if default.get(k, "<absent>") != v and key_role(k) not in (MACHINE, LOGGING)}
    tree = OmegaConf.to_yaml(OmegaConf.from_dotlist([f"{k}={json.dumps(v)}" for k, v in diff.items()])) if diff else ""
    path = Path(sweep.experiment_dir) / f"best_{study.study_name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# @package _global_\n"
              f"# Best trial {best.number} of study '{study.study_name}' ({sweep.metric} = {best.value:.4f}), written "
              f"by sweep.py on {datetime.now():%Y-%m-%d %H:%M}.\n"
              f"# Its overrides: {' '.join(overrides)}\n"
              f"# Run it: uv run train.py experiment={path.stem}\n")
    return atomic_write_text(path, header + tree)

