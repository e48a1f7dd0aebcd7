"""The sweep: an Optuna study whose trials are train.py runs (sweep.py's library side).

A study lives in a storage (SQLite by default, PostgreSQL/MySQL or a journal file for several workers)
and in a folder, `<sweep.root>/<study>/`, that holds what a person reads afterwards:

    trials/0007/     trial 7's run directory (the run-directory contract, tinyx.rundir)
    report/          trials.csv, study.json, history.png, importances.png, intermediate_values.png
    study.db         the default SQLite storage

    space.py      the search space: checks, and a trial's suggestions as overrides
    storage.py    where the study lives: storage URLs, the study, its trial counts
    samplers.py   how it searches: sampler and pruner
    objective.py  one trial: overrides -> composed config -> train() -> metric
    report.py     the printed outcome, trials.csv, study.json, the best trial as an experiment file
    importances.py  how much each parameter moved the metric (fANOVA), and the caveat when trials are few
    plots.py      history, importances and intermediate values as PNG, axes named by the metric
    runner.py     run_study: check, open, run trials, report

The sweep never composes configs itself: the caller passes `compose(overrides) -> DictConfig`
(tinyx.hydra_glue.compose.compose_train in sweep.py and the tests), so the package stays free of Hydra.
"""

from tinyx.sweep.report import write_report
from tinyx.sweep.runner import run_study
from tinyx.sweep.storage import open_storage

__all__ = ["open_storage", "run_study", "write_report"]
