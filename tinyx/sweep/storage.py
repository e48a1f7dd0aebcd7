"""Where a study lives: open its Optuna storage, load or create the study, and count its trials.

The default storage is SQLite in the study's folder; PostgreSQL/MySQL or a journal file let several
workers, on one machine or many, share one study.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from tinyx.common.errors import ConfigError
from tinyx.config import SweepConfig, is_hyperparameter, override_key
from tinyx.rundir.records import INTERRUPTED
from tinyx.sweep.space import SearchSpace

DEFAULT_DB = "study.db"
_URL_FORMS = ("use sqlite:///path/to/study.db, postgresql://user:password@host/db, mysql://user:password@host/db "
              "or journal:path/to/journal.log")


def masked(url: str | None) -> str | None:
    """A storage URL with its password replaced, for messages and files."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url) if url else url


def default_storage_url(study_dir: Path) -> str:
    return f"sqlite:///{study_dir / DEFAULT_DB}"


def storage_label(sweep: SweepConfig) -> str:
    return masked(sweep.storage) or "the default SQLite storage"


def open_storage(url: str | None, study_dir: Path, heartbeat_interval: int = 60, heartbeat_grace: int = 180):
    """An Optuna storage for `sweep.storage` (None: SQLite in the study's folder).

    A database storage records a heartbeat every `heartbeat_interval` seconds for each running trial; a
    trial whose heartbeat is older than `heartbeat_grace` seconds is failed and retried once by the next
    worker that starts a trial (Optuna's journal file has no heartbeat)."""
    if url is None:
        study_dir.mkdir(parents=True, exist_ok=True)
        url = default_storage_url(study_dir)
    try:
        if url.startswith("journal:"):
            return _open_journal_storage(url)
        if "://" not in url:
            raise ConfigError(f"sweep.storage={url} is not a storage URL: {_URL_FORMS}.")
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return _open_rdb_storage(url, heartbeat_interval, heartbeat_grace)
    except ConfigError:
        raise
    except Exception as e:  # the driver's own errors: unknown host, refused connection, missing driver, bad URL
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        if isinstance(e, ModuleNotFoundError):
            reason += "; install its driver, e.g. `uv sync --extra postgres` (psycopg) or `uv pip install pymysql`"
        raise ConfigError(f"sweep.storage={masked(url)} cannot be opened ({reason}): check the URL and that the "
                          f"server is up and reachable; {_URL_FORMS}.") from None


def _open_journal_storage(url: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = Path(url.removeprefix("journal:")).expanduser()
    if not path.name:
        raise ConfigError(f"sweep.storage={url} names no file: {_URL_FORMS}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _open_rdb_storage(url: str, heartbeat_interval: int, heartbeat_grace: int, attempts: int = 8):
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
                heartbeat_interval=heartbeat_interval, grace_period=heartbeat_grace,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except sqlalchemy.exc.DatabaseError as e:
            lost_race = isinstance(e, sqlalchemy.exc.IntegrityError) or "already exists" in str(e).lower()
            if not lost_race or attempt == attempts:
                raise
            # Its own generator: the global one belongs to the trials' seeding.
            time.sleep(random.Random().uniform(0.05, 0.25) * attempt)


def study_signature(sweep: SweepConfig, space: SearchSpace, base_overrides: list[str]) -> dict:
    """What makes two commands the same study: every trial must train the same thing apart from the search."""
    return {"overrides": sorted(o for o in base_overrides if is_hyperparameter(override_key(o))),
            "search_space": space.raw, "metric": sweep.metric, "direction": sweep.direction}


def load_or_create_study(name: str, storage, sweep: SweepConfig, signature: dict | None, create: bool = True):
    """The study `name` in `storage`; a new one only when `create`. A study started with another
    `signature` is refused, so that one study never mixes trials that trained different things."""
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
    stored = study.user_attrs.get("tinyx")
    if signature is not None and stored is not None and stored != signature:
        diffs = [k for k in signature if stored.get(k) != signature[k]]
        detail = "; ".join(f"{k}: study has {stored.get(k)!r}, this command {signature[k]!r}" for k in diffs)
        raise ConfigError(f"study '{name}' was started with other settings ({detail}): rerun it with the same "
                          f"settings to continue it, or start a new study with sweep.study_name=<new name>.")
    return study


def finished_trials(study) -> int:
    """Trials that count towards sweep.n_trials: complete, pruned, or failed for a reason of their own
    (not interrupted by Ctrl-C and not left behind by a killed worker)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") not in (None, INTERRUPTED)))


def best_trial(study):
    """The study's best trial, or None before one completes."""
    try:
        return study.best_trial
    except ValueError:
        return None
