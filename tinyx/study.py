"""The Optuna side of sweep.py: search space -> a trial's overrides -> composed config -> trainer -> value.

A study lives in a storage (SQLite by default, PostgreSQL/MySQL or a journal file for several workers)
and in a folder, `<sweep.root>/<study>/`, that holds what a person reads afterwards:

    trials/0007/     trial 7's run directory (the run-directory contract: .hydra/, metrics.jsonl, summary.json ...)
    report/          trials.csv, study.json, history.png, importances.png, intermediate_values.png
    study.db         the default SQLite storage

The library never composes configs itself: the caller passes `compose(overrides) -> DictConfig`
(Hydra's Compose API in sweep.py and the tests), so this module stays free of Hydra.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import shlex
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tinyx.config import ParamSpec, SweepConfig, flatten_config, to_run_config
from tinyx.errors import ConfigError

Compose = Callable[[list], DictConfig]

TRIALS_DIR = "trials"
REPORT_DIR = "report"
# Overrides that say where and how a trial runs, not what it trains: a worker on another machine may
# set them differently, and a best-trial experiment file leaves them out.
MACHINE_KEYS = ("hardware", "logger", "data.path", "data.search_dirs", "data.cache_dir")
METRICS = ("val/loss", "val/loss_best", "train/loss", "tokens_per_second")
INTERRUPTED = "interrupted"


@dataclass
class SearchParam:
    name: str  # the Optuna parameter name (the entry's name in the search-space file)
    key: str  # the config key a value is written to: `optim.lr`, or a config group: `optim`
    spec: ParamSpec


# ---------------------------------------------------------------------------------------------------------
# Search space


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def parse_search_space(raw: dict) -> list[SearchParam]:
    """Check every entry of a search-space file and return them in file order."""
    if not raw:
        raise ConfigError("the search space is empty: choose one with search_space=<file in conf/search_space/>.")
    params: list[SearchParam] = []
    for name, entry in raw.items():
        where = f"search_space entry '{name}'"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is {entry!r}, not a mapping: write it as "
                              f"{{type: float, low: 1e-4, high: 1e-2, log: true}} (see conf/search_space/lr.yaml).")
        try:
            spec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ParamSpec), entry))
        except OmegaConfBaseException as e:
            field_name = getattr(e, "key", None) or "?"
            raise ConfigError(f"{where}: field '{field_name}' is not valid ({str(e).splitlines()[0]}): the fields are "
                              f"type, low, high, log, step, choices, key, when.") from None
        _check_spec(where, spec)
        params.append(SearchParam(name=str(name), key=spec.key or str(name), spec=spec))
    names = [p.name for p in params]
    for i, p in enumerate(params):
        for cond in (p.spec.when or {}):
            if cond in names[i + 1:] or cond == p.name:
                raise ConfigError(f"search_space entry '{p.name}': when: {cond} refers to an entry that comes later: "
                                  f"move '{cond}' above '{p.name}'.")
            group = next((q for q in params[:i] if q.spec.type == "categorical" and cond.startswith(q.key + ".")), None)
            if group is not None:
                raise ConfigError(f"search_space entry '{p.name}': when: {cond} depends on the searched entry "
                                  f"'{group.name}': write the condition on it, e.g. when: {{{group.name}: ...}}.")
    return params


def _check_spec(where: str, s: ParamSpec) -> None:
    kinds = ("float", "int", "categorical")
    if s.type not in kinds:
        raise ConfigError(f"{where}: type '{s.type}' is not a search-space type: use one of {', '.join(kinds)}.")
    if s.type == "categorical":
        if not s.choices:
            raise ConfigError(f"{where}: a categorical entry needs choices, e.g. choices: [adamw, muon].")
        bad = [c for c in s.choices if not (c is None or isinstance(c, (bool, int, float, str)))]
        if bad:
            raise ConfigError(f"{where}: choice {bad[0]!r} is not a number, string, boolean or null: "
                              f"list plain values.")
        if s.low is not None or s.high is not None or s.log or s.step is not None:
            raise ConfigError(f"{where}: a categorical entry takes choices only (no low/high/log/step).")
        return
    if s.low is None or s.high is None:
        raise ConfigError(f"{where}: a {s.type} entry needs low and high, e.g. low: 1.0e-4, high: 1.0e-2.")
    if s.choices is not None:
        raise ConfigError(f"{where}: choices belong to type: categorical; a {s.type} entry takes low/high.")
    if s.low > s.high:
        raise ConfigError(f"{where}: low={s.low} is greater than high={s.high}: swap them.")
    if s.log and s.low <= 0:
        raise ConfigError(f"{where}: log: true needs low > 0 (got low={s.low}): raise low or set log: false.")
    if s.log and s.step is not None:
        raise ConfigError(f"{where}: log and step cannot be combined (Optuna): drop one of them.")
    if s.step is not None and s.step <= 0:
        raise ConfigError(f"{where}: step={s.step} must be > 0.")
    if s.type == "int":
        for field_name in ("low", "high", "step"):
            value = getattr(s, field_name)
            if value is not None and value != int(value):
                raise ConfigError(f"{where}: {field_name}={value} is not an integer: a type: int entry takes whole "
                                  f"numbers (or use type: float).")


def format_value(value: Any) -> str:
    """A value as the right-hand side of a Hydra override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if re.fullmatch(r"[\w./:+-]+", text) else "'" + text.replace("'", "\\'") + "'"


def _matches(value: Any, expected: Any) -> bool:
    options = expected if isinstance(expected, list) else [expected]
    return any(format_value(value) == format_value(option) for option in options)


def _probe_values(spec: ParamSpec) -> list:
    if spec.type == "categorical":
        return list(spec.choices)
    kind = int if spec.type == "int" else float
    return [kind(spec.low), kind(spec.high)]


class SearchSpace:
    """A parsed search space with the entries the command line fixes taken out."""

    def __init__(self, raw: dict, base_overrides: list[str], base_cfg: DictConfig):
        self.raw = raw
        self.params = parse_search_space(raw)
        self.base_cfg = base_cfg
        cli = {override_key(o): o.split("=", 1)[1] for o in base_overrides if "=" in o}
        # An entry whose key the command line sets is not searched: `sweep.py optim=muon` studies Muon only.
        self.fixed = {p.name: cli[p.key] for p in self.params if p.key in cli}
        self.searched = [p for p in self.params if p.name not in self.fixed]
        if not self.searched:
            raise ConfigError(f"the command line fixes every entry of the search space ({', '.join(self.fixed)}): "
                              f"drop those overrides or choose another search_space.")
        for p in self.params:
            for cond in (p.spec.when or {}):
                if cond not in {q.name for q in self.params} and \
                        OmegaConf.select(base_cfg, cond, default="<absent>") == "<absent>":
                    raise ConfigError(f"search_space entry '{p.name}': when: {cond} is neither an entry of the search "
                                      f"space nor a config key: check its spelling (e.g. optim.name).")

    def check_keys(self, compose: Compose, base_overrides: list[str]) -> None:
        """Compose the config with each entry's extreme values, so a key or choice that does not exist fails now."""
        for p in self.searched:
            for value in _probe_values(p.spec):
                try:
                    compose(base_overrides + [f"{p.key}={format_value(value)}"])
                except ConfigError as e:
                    raise ConfigError(f"search_space entry '{p.name}': {p.key}={format_value(value)} does not compose "
                                      f"({e}). Check that {p.key} is a config key or group and the value exists.") \
                        from None

    def suggest(self, trial) -> list[str]:
        """The trial's overrides, in search-space order; entries whose `when` does not hold are skipped."""
        chosen: dict[str, Any] = dict(self.fixed)
        overrides = []
        for p in self.params:
            if p.name in self.fixed:
                continue
            if not all(_matches(chosen[c] if c in chosen else OmegaConf.select(self.base_cfg, c), v)
                       for c, v in (p.spec.when or {}).items()):
                continue
            s = p.spec
            if s.type == "float":
                value = trial.suggest_float(p.name, s.low, s.high, log=s.log, step=s.step)
            elif s.type == "int":
                value = trial.suggest_int(p.name, int(s.low), int(s.high), step=int(s.step or 1), log=s.log)
            else:
                value = trial.suggest_categorical(p.name, list(s.choices))
            chosen[p.name] = value
            overrides.append(f"{p.key}={format_value(value)}")
        return overrides


# ---------------------------------------------------------------------------------------------------------
# Storage and study


def masked(url: str | None) -> str | None:
    """A storage URL with its password replaced, for messages and files."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url) if url else url


def open_storage(url: str | None, study_dir: Path):
    """An Optuna storage for `sweep.storage` (None: SQLite in the study's folder)."""
    import optuna

    if url is None:
        study_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{study_dir / 'study.db'}"
    fix = ("use sqlite:///path/to/study.db, postgresql://user:password@host/db, mysql://user:password@host/db "
           "or journal:path/to/journal.log")
    try:
        if url.startswith("journal:"):
            path = Path(url.removeprefix("journal:")).expanduser()
            if not path.name:
                raise ConfigError(f"sweep.storage={url} names no file: {fix}.")
            path.parent.mkdir(parents=True, exist_ok=True)
            from optuna.storages.journal import JournalFileBackend
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        if "://" not in url:
            raise ConfigError(f"sweep.storage={url} is not a storage URL: {fix}.")
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return _open_rdb_storage(url)
    except ConfigError:
        raise
    except Exception as e:  # the driver's own errors: unknown host, refused connection, missing driver, bad URL
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        if isinstance(e, ModuleNotFoundError):
            reason += "; install its driver, e.g. `uv sync --extra postgres` (psycopg) or `uv pip install pymysql`"
        raise ConfigError(f"sweep.storage={masked(url)} cannot be opened ({reason}): check the URL and that the "
                          f"server is up and reachable; {fix}.") from None


def _open_rdb_storage(url: str, attempts: int = 8):
    """Optuna's RDBStorage, safe when several workers open a new database at once.

    Creating the tables is check-then-create (SQLAlchemy's create_all, alembic's stamp): two workers that
    both find a fresh database empty both create, and the later one fails with "already exists" or a
    unique violation (PostgreSQL's pg_type index, SQLite's alembic_version) although nothing is wrong.
    Each attempt runs in a transaction that rolls back, and by the next one the winner's tables are
    visible, so such an error is retried after a short random pause; any other error is raised at once."""
    import optuna
    import sqlalchemy.exc

    for attempt in range(1, attempts + 1):
        try:
            # A heartbeat lets another worker mark the trials of a killed worker failed (and retry them once).
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"timeout": 30}} if url.startswith("sqlite") else None,
                heartbeat_interval=60, grace_period=180,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except sqlalchemy.exc.DatabaseError as e:
            lost_race = isinstance(e, sqlalchemy.exc.IntegrityError) or "already exists" in str(e).lower()
            if not lost_race or attempt == attempts:
                raise
            # Its own generator: the global one belongs to the trials' seeding.
            time.sleep(random.Random().uniform(0.05, 0.25) * attempt)


def _study_signature(sweep: SweepConfig, space: SearchSpace, base_overrides: list[str]) -> dict:
    """What makes two commands the same study: every trial must train the same thing apart from the search."""
    return {"overrides": sorted(o for o in base_overrides if not override_key(o).startswith(MACHINE_KEYS)),
            "search_space": space.raw, "metric": sweep.metric, "direction": sweep.direction}


def load_or_create_study(name: str, storage, sweep: SweepConfig, signature: dict | None, create: bool = True):
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        if not create:
            raise ConfigError(f"no study named '{name}' in {storage_label(sweep)}: run sweep.py without "
                              f"sweep.report_only first, or check sweep.study_name and sweep.storage.") from None
        study = optuna.create_study(study_name=name, storage=storage, direction=sweep.direction, load_if_exists=True)
        study.set_user_attr("tinyx", signature)
        return study
    if signature is not None:
        stored = study.user_attrs.get("tinyx")
        if stored is not None and stored != signature:
            diffs = [k for k in signature if stored.get(k) != signature[k]]
            detail = "; ".join(f"{k}: study has {stored.get(k)!r}, this command {signature[k]!r}" for k in diffs)
            raise ConfigError(f"study '{name}' was started with other settings ({detail}): rerun it with the same "
                              f"settings to continue it, or start a new study with sweep.study_name=<new name>.")
    return study


def storage_label(sweep: SweepConfig) -> str:
    return masked(sweep.storage) or "the default SQLite storage"


def make_sampler(sweep: SweepConfig):
    """The study's sampler, seeded per trial with sweep.seed + the trial's number: a study run in one go,
    continued after an interruption, or spread over workers draws each trial number's values alike,
    and two workers never draw alike (their trials' numbers differ)."""
    import optuna

    def seeded(seed: int):
        if sweep.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        # constant_liar: a parallel worker treats the others' running trials as bad, so they spread out.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.startup_trials, multivariate=True,
                                          constant_liar=True)

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def __init__(self):
            self.inner = seeded(sweep.seed)

        def before_trial(self, study, trial):
            self.inner = seeded(sweep.seed + trial.number)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study, trial, state, values):
            self.inner.after_trial(study, trial, state, values)

    return TrialSeededSampler()


def make_pruner(sweep: SweepConfig, max_steps: int, eval_every: int):
    import optuna

    if sweep.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=sweep.pruner_startup_trials,
                                           n_warmup_steps=sweep.pruner_warmup_steps)
    if sweep.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=max_steps)
    return optuna.pruners.NopPruner()


def finished_trials(study) -> int:
    """Trials that count towards sweep.n_trials: complete, pruned, or failed for a reason of their own
    (not interrupted by Ctrl-C and not left behind by a killed worker)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") not in (None, INTERRUPTED)))


def validate_sweep(sweep: SweepConfig) -> None:
    def choice(key, value, options):
        if value not in options:
            raise ConfigError(f"sweep.{key}={value!r} is not one of {', '.join(options)}: set it to one of them.")

    choice("sampler", sweep.sampler, ("tpe", "random"))
    choice("pruner", sweep.pruner, ("median", "hyperband", "none"))
    choice("direction", sweep.direction, ("minimize", "maximize"))
    choice("metric", sweep.metric, METRICS)
    if sweep.n_trials < 1:
        raise ConfigError(f"sweep.n_trials={sweep.n_trials} must be >= 1.")
    for key in ("startup_trials", "pruner_startup_trials", "pruner_warmup_steps"):
        if getattr(sweep, key) < 0:
            raise ConfigError(f"sweep.{key}={getattr(sweep, key)} must be >= 0.")
    if sweep.timeout is not None and sweep.timeout <= 0:
        raise ConfigError(f"sweep.timeout={sweep.timeout} must be > 0 seconds, or null for none.")
    if sweep.pruner != "none" and not sweep.metric.startswith("val/"):
        raise ConfigError(f"sweep.pruner={sweep.pruner} prunes on the validation loss, but sweep.metric="
                          f"{sweep.metric}: use a val/ metric or sweep.pruner=none.")
    if sweep.study_name is not None and not re.fullmatch(r"[\w.-]+", sweep.study_name):
        raise ConfigError(f"sweep.study_name={sweep.study_name!r} may hold only letters, digits, '_', '-' and '.' "
                          f"(it names a folder).")


# ---------------------------------------------------------------------------------------------------------
# Running


class TrialFailed(Exception):
    """A trial that ended without a usable value (diverged, non-finite, no metric)."""


def run_study(sweep: SweepConfig, search_space: dict, base_overrides: list[str], compose: Compose,
              default_name: str = "study", say: Callable[[str], None] = print) -> dict:
    """sweep.py's body: check everything, open the study, run trials until it holds sweep.n_trials, report.

    `base_overrides` are the command line's train.py overrides (every trial gets them);
    `compose(overrides)` returns the train.py config for a list of overrides.
    """
    validate_sweep(sweep)
    name = sweep.study_name or default_name
    study_dir = Path(sweep.root) / name
    # Everything that can fail on bad input happens before a study or a file is created.
    base_cfg = compose(base_overrides)
    base_run = to_run_config(base_cfg)
    if base_run.train.resume:
        raise ConfigError(f"train.resume={base_run.train.resume} would make every trial resume one run: "
                          f"drop it (a study continues by running sweep.py again).")
    space = SearchSpace(search_space, base_overrides, base_cfg)
    if not sweep.report_only:
        space.check_keys(compose, base_overrides)
        from tinyx.data import check_lengths, load_tokens
        check_lengths(load_tokens(base_run.data), base_run.model.block_size)

    import warnings

    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Heartbeats, multivariate TPE and the matplotlib plots are marked experimental: say it once, in the README.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = open_storage(sweep.storage, study_dir)
    signature = _study_signature(sweep, space, base_overrides)
    if sweep.report_only:  # any command line may report on a study: its trials hold their own overrides
        return write_report(load_or_create_study(name, storage, sweep, None, create=False), sweep, study_dir,
                            compose, say)
    study = load_or_create_study(name, storage, sweep, signature)

    study.pruner = make_pruner(sweep, base_run.train.max_steps, base_run.train.eval_every)
    study.sampler = make_sampler(sweep)
    say(f"study '{name}' in {storage_label(sweep)}: {finished_trials(study)} of {sweep.n_trials} trials done | "
        f"searching {', '.join(p.name for p in space.searched)}"
        + (f" | fixed by the command line: {', '.join(f'{k}={v}' for k, v in space.fixed.items())}"
           if space.fixed else "")
        + f" | trials in {study_dir / TRIALS_DIR}")
    objective = _Objective(sweep, space, base_overrides, compose, name, study_dir, say)
    # Imported before the first trial, so that a Ctrl-C never lands inside these imports (an interrupted
    # import of torch's compiler stack can abort the process instead of raising KeyboardInterrupt).
    # Only runs that compile import that stack (tinyx.optim.eager_optimizers).
    from tinyx.hardware import resolve_compile, resolve_device

    if resolve_compile(base_run.hardware.compile, resolve_device(base_run.hardware.device)):
        import torch._dynamo  # noqa: F401

    import tinyx.trainer  # noqa: F401
    started = time.monotonic()
    while finished_trials(study) < sweep.n_trials:
        if sweep.timeout is not None and time.monotonic() - started > sweep.timeout:
            say(f"sweep.timeout={sweep.timeout:g} s reached: no new trial starts (rerun to continue the study).")
            break
        try:
            study.optimize(objective, n_trials=1, catch=(Exception,))
        except KeyboardInterrupt:
            trial = objective.current
            if trial is not None and trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            say(f"interrupted: trial {trial.number if trial else '?'} stopped; its parameters run first when you rerun "
                f"the same command, which continues study '{name}' ({finished_trials(study)} of {sweep.n_trials} "
                f"trials done).")
            raise
        objective.say_result(study)
    return write_report(study, sweep, study_dir, compose, say)


class _Objective:
    """One trial: suggest, compose, train (reporting every evaluation to the pruner), return the metric."""

    def __init__(self, sweep, space, base_overrides, compose, study_name, study_dir, say):
        self.sweep, self.space, self.base_overrides, self.compose = sweep, space, base_overrides, compose
        self.study_name, self.study_dir, self.say = study_name, study_dir, say
        self.current = None
        self.started = 0.0

    def __call__(self, trial) -> float:
        import optuna

        from tinyx.compose import env_config_keys
        from tinyx.loggers import RunLabels
        from tinyx.trainer import train

        self.current, self.started = trial, time.monotonic()
        overrides = self.space.suggest(trial)
        run_dir = self.study_dir / TRIALS_DIR / f"{trial.number:04d}"
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("train_overrides", self.base_overrides + overrides)
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        self.say(f"trial {trial.number}: {' '.join(overrides)}")
        try:
            cfg = self.compose(self.base_overrides + overrides)
            run_cfg = to_run_config(cfg)
        except ConfigError as e:
            # An impossible combination (e.g. d_model not divisible by n_head) costs nothing: prune it.
            trial.set_user_attr("pruned_reason", f"invalid config: {e}")
            raise optuna.TrialPruned(str(e)) from None
        _write_hydra_files(run_dir, cfg, self.base_overrides + overrides)
        labels = RunLabels(name=f"{self.study_name}/{trial.number}: {','.join(overrides)}"[:128],
                           group=self.study_name[:128], tags=[f"study={self.study_name}"[:64]],
                           private_keys=env_config_keys(cfg))

        def report_and_prune(step: int, val_loss: float) -> str | None:
            if not math.isfinite(val_loss):
                return None  # the trainer's own non-finite handling decides; the pruner never sees NaN
            trial.report(val_loss, step)
            return "pruned" if trial.should_prune() else None

        summary = None
        try:
            summary = train(run_cfg, run_dir, quiet=True, labels=labels, on_eval=report_and_prune)
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", INTERRUPTED)
            raise
        except Exception as e:
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            trial.set_user_attr("fail_reason", reason)
            (run_dir / "error.txt").write_text(traceback.format_exc())
            raise
        finally:
            trial.set_user_attr("steps_trained", _steps_trained(run_dir, summary))
        status = summary["status"]
        if status == "pruned":
            trial.set_user_attr("pruned_reason", f"pruned at step {summary['step']}")
            raise optuna.TrialPruned(f"pruned at step {summary['step']}")
        value = summary.get(self.sweep.metric)
        if status != "completed" or value is None or not math.isfinite(value):
            reason = f"status {status}, {self.sweep.metric}={value}"
            if summary.get("reason"):
                reason += f": {summary['reason']}"
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason)
        return value

    def say_result(self, study) -> None:
        if self.current is None:
            return
        t = next(x for x in study.get_trials(deepcopy=False) if x.number == self.current.number)
        seconds = time.monotonic() - self.started
        reason = t.user_attrs.get("pruned_reason") or t.user_attrs.get("fail_reason")
        value = f"{self.sweep.metric} {t.value:.4f}" if t.value is not None else ""
        detail = f"{reason} ({value})" if reason and value else reason or value
        best = _best_trial(study)
        self.say(f"trial {t.number} {t.state.name.lower()}: {detail} | {t.user_attrs.get('steps_trained', 0)} steps, "
                 f"{seconds:.0f} s | best so far: "
                 + (f"trial {best.number}, {best.value:.4f}" if best else "none") + f" | "
                 f"{finished_trials(study)} of {self.sweep.n_trials} done")


def _steps_trained(run_dir: Path, summary: dict | None) -> int:
    if summary is None:
        try:
            summary = json.loads((run_dir / "summary.json").read_text())
        except (OSError, ValueError):
            return 0
    return int(summary.get("step") or 0)


def _write_hydra_files(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> None:
    """The composed config and overrides, where train.py's Hydra puts them (the run-directory contract)."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), hydra_dir / "overrides.yaml")


def _best_trial(study):
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


# ---------------------------------------------------------------------------------------------------------
# Report


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
    best = _best_trial(study)
    report: dict[str, Any] = {
        "study_name": study.study_name, "storage": storage_label(sweep), "metric": sweep.metric,
        "direction": sweep.direction, "trials": len(trials), "states": {k: v for k, v in counts.items() if v},
        "steps_trained": steps, "best": None, "files": {},
    }
    _write_trials_csv(report_dir / "trials.csv", trials)
    report["files"]["trials_csv"] = str(report_dir / "trials.csv")
    say(f"study '{study.study_name}': {len(trials)} trials ("
        + ", ".join(f"{v} {k}" for k, v in report["states"].items()) + f"), {steps:,} training steps in all")
    if best is not None:
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
    else:
        say("best: none yet (no trial completed)")
    report["files"].update(_write_plots(study, report_dir, say))
    failed = [t for t in trials if t.state == TrialState.FAIL]
    for t in failed[-5:]:
        say(f"trial {t.number} failed: {t.user_attrs.get('fail_reason', 'worker stopped (killed or lost)')}")
    (report_dir / "study.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    say(f"report: {report_dir} (trials.csv, study.json, plots); live view: optuna-dashboard "
        f"{masked(sweep.storage) or 'sqlite:///' + str(study_dir / 'study.db')}")
    return report


def _write_trials_csv(path: Path, trials) -> None:
    names = list(dict.fromkeys(name for t in trials for name in t.params))
    header = ["number", "state", "value", "steps_trained", "seconds", *names, "reason", "run_dir"]
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for t in trials:
            seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
                if t.datetime_complete and t.datetime_start else None
            reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("pruned_reason") or ""
            writer.writerow([t.number, t.state.name.lower(), t.value, t.user_attrs.get("steps_trained", 0),
                             f"{seconds:.1f}" if seconds is not None else "", *[t.params.get(n, "") for n in names],
                             reason, t.user_attrs.get("run_dir", "")])
    tmp.replace(path)


def _write_plots(study, report_dir: Path, say) -> dict:
    """Optuna's matplotlib plots as PNG; a plot that needs more trials than the study has is skipped."""
    import warnings

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm
    from optuna.exceptions import ExperimentalWarning

    written, skipped = {}, []
    plots = {"history": ovm.plot_optimization_history, "importances": ovm.plot_param_importances,
             "intermediate_values": ovm.plot_intermediate_values}
    for name, plot in plots.items():
        path = report_dir / f"{name}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                ax = plot(study)
            figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            figure.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(figure)
            written[name] = str(path)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as e:
            skipped.append(f"{name} ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})")
            plt.close("all")
    if skipped:
        say(f"plots skipped: {'; '.join(skipped)}")
    return written


def write_best_experiment(study, best, sweep: SweepConfig, compose: Compose) -> Path:
    """conf/experiment/best_<study>.yaml: every value the best trial trained with that differs from
    train.py's defaults (machine keys left out), so `train.py experiment=best_<study>` reproduces it."""
    overrides = [o for o in best.user_attrs.get("train_overrides", []) if not override_key(o).startswith(MACHINE_KEYS)]
    default = flatten_config(OmegaConf.to_container(compose([]), resolve=True))
    trained = flatten_config(OmegaConf.to_container(compose(overrides), resolve=True))
    diff = {k: v for k, v in trained.items() if default.get(k, "<absent>") != v and not k.startswith(MACHINE_KEYS)}
    tree = OmegaConf.to_yaml(OmegaConf.from_dotlist([f"{k}={json.dumps(v)}" for k, v in diff.items()])) if diff else ""
    path = Path(sweep.experiment_dir) / f"best_{study.study_name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# @package _global_\n"
              f"# Best trial {best.number} of study '{study.study_name}' ({sweep.metric} = {best.value:.4f}), written "
              f"by sweep.py on {datetime.now():%Y-%m-%d %H:%M}.\n"
              f"# Its overrides: {' '.join(overrides)}\n"
              f"# Run it: uv run train.py experiment={path.stem}\n")
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(header + tree)
    tmp.replace(path)
    return path
