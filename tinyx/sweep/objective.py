"""One trial: the search space's suggestions -> overrides -> composed config -> train() -> the study's metric.

A trial is an ordinary run directory, `<sweep.root>/<study>/trials/<number>/`, that compare, evaluate and
generate read like any other run.
"""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from tinyx.common.errors import ConfigError
from tinyx.common.files import atomic_write_text
from tinyx.config import RunConfig, SweepConfig, to_run_config
from tinyx.hydra_glue.compose import env_config_keys
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS, RunSummary, read_summary
from tinyx.rundir.records import COMPLETED, INTERRUPTED, PRUNED
from tinyx.sweep.space import Compose, SearchSpace
from tinyx.sweep.storage import best_trial, finished_trials

TRIALS_DIR = "trials"
ERROR_FILE = "error.txt"  # the traceback of a trial that raised, in its run directory


class TrialFailed(Exception):
    """A trial that ended without a usable value (diverged, non-finite, no metric)."""


class Objective:
    """Optuna's objective: train one trial, reporting every evaluation to the pruner, and return its metric."""

    def __init__(self, sweep: SweepConfig, space: SearchSpace, base_overrides: list[str], compose: Compose,
                 study_name: str, study_dir: Path, say: Callable[[str], None]):
        self.sweep, self.space, self.base_overrides, self.compose = sweep, space, base_overrides, compose
        self.study_name, self.study_dir, self.say = study_name, study_dir, say
        self.current = None  # the trial in progress, whose parameters a Ctrl-C re-enqueues
        self.started = 0.0

    def __call__(self, trial) -> float:
        self.current, self.started = trial, time.monotonic()
        overrides = self.space.suggest(trial)
        train_overrides = self.base_overrides + overrides
        run_dir = self.study_dir / TRIALS_DIR / f"{trial.number:04d}"
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("train_overrides", train_overrides)
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        self.say(f"trial {trial.number}: {' '.join(overrides)}")
        cfg, run_cfg = self._compose_or_prune(trial, train_overrides)
        summary = self._train(trial, run_cfg, run_dir, self._labels(trial, overrides), env_config_keys(cfg))
        return self._metric_or_raise(trial, summary)

    def _compose_or_prune(self, trial, train_overrides: list[str]) -> tuple[DictConfig, RunConfig]:
        import optuna

        try:
            cfg = self.compose(train_overrides)
            return cfg, to_run_config(cfg)
        except ConfigError as e:
            # An impossible combination (e.g. d_model not divisible by n_head) costs nothing: prune it.
            trial.set_user_attr("pruned_reason", f"invalid config: {e}")
            raise optuna.TrialPruned(str(e)) from None

    def _labels(self, trial, overrides: list[str]):
        """The trial's name, group, arm and tags in wandb: the study is the group, the job type `sweep`."""
        from tinyx.loggers.labels import SWEEP_JOB, RunLabels

        return RunLabels(name=f"{self.study_name}/{trial.number}: {','.join(overrides)}"[:128],
                         group=self.study_name[:128], arm=",".join(overrides) or "defaults", job_type=SWEEP_JOB,
                         tags=[f"study={self.study_name}"[:64]])

    def _train(self, trial, run_cfg: RunConfig, run_dir: Path, labels, secrets: dict[str, str]) -> RunSummary:
        """train() the trial, reporting each evaluation to the pruner; `secrets`: the composed config's values
        from the environment."""
        from tinyx.training import train

        def report_and_prune(step: int, value: float) -> str | None:
            if not math.isfinite(value):
                return None  # the trainer's own non-finite handling decides; the pruner never sees NaN
            trial.report(value, step)
            return PRUNED if trial.should_prune() else None

        summary = None
        try:
            summary = train(run_cfg, run_dir, quiet=True, labels=labels, on_eval=report_and_prune,
                            on_eval_metric=pruner_metric(self.sweep.metric), secrets=secrets)
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", INTERRUPTED)  # not counted towards sweep.n_trials: it runs again
            raise
        except Exception as e:
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            trial.set_user_attr("fail_reason", reason)
            run_dir.mkdir(parents=True, exist_ok=True)  # a trial can fail before train() made it
            atomic_write_text(run_dir / ERROR_FILE, traceback.format_exc())
            raise
        finally:
            # After an exception train() returned nothing: its summary.json says how far it got.
            summary_on_disk = summary or read_summary(run_dir)
            trial.set_user_attr("steps_trained", int(summary_on_disk.step or 0) if summary_on_disk else 0)
            # trials.csv's model size: a study that varies width or depth is read against it.
            trial.set_user_attr("model_params", summary_on_disk.params if summary_on_disk else None)
        return summary

    def _metric_or_raise(self, trial, summary: RunSummary) -> float:
        import optuna

        if summary.status == PRUNED:
            trial.set_user_attr("pruned_reason", f"pruned at step {summary.step}")
            raise optuna.TrialPruned(f"pruned at step {summary.step}")
        value = metric_value(summary, self.sweep.metric)
        if summary.status != COMPLETED or value is None or not math.isfinite(value):
            reason = f"status {summary.status}, {self.sweep.metric}={value}"
            if summary.reason:
                reason += f": {summary.reason}"
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason)
        return value

    def say_result(self, study) -> None:
        """One line on the trial that just ended, and where the study stands."""
        if self.current is None:
            return
        t = next(x for x in study.get_trials(deepcopy=False) if x.number == self.current.number)
        seconds = time.monotonic() - self.started
        reason = t.user_attrs.get("pruned_reason") or t.user_attrs.get("fail_reason")
        value = f"{self.sweep.metric} {t.value:.4f}" if t.value is not None else ""
        detail = f"{reason} ({value})" if reason and value else reason or value
        best = best_trial(study)
        self.say(f"trial {t.number} {t.state.name.lower()}: {detail} | {t.user_attrs.get('steps_trained', 0)} steps, "
                 f"{seconds:.0f} s | best so far: "
                 + (f"trial {best.number}, {best.value:.4f}" if best else "none") + f" | "
                 f"{finished_trials(study)} of {self.sweep.n_trials} done")


def pruner_metric(metric: str) -> str:
    """The figure each evaluation reports to the pruner: bits per byte for val/bpb*, else the loss."""
    return VAL_BPB if metric.startswith(VAL_BPB) else VAL_LOSS


def metric_value(summary: RunSummary, metric: str) -> float | None:
    """The figure sweep.metric names in summary.json's spelling (`val/loss`) from its RunSummary field (`val_loss`)."""
    return getattr(summary, metric.replace("/", "_"))
