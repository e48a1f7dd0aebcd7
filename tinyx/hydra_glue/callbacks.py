"""Hydra callbacks of the entry points (conf/train.yaml, `hydra.callbacks`)."""

from __future__ import annotations

from hydra.experimental.callback import Callback

from tinyx.common.errors import exit_on_user_error
from tinyx.common.files import check_writable
from tinyx.rundir.contract import refuse_to_overwrite


class ProbeOutputDir(Callback):
    """Try to write in the run's output directory before Hydra writes its .hydra/ files there: a
    read-only or full disk is then one `error:` line and exit code 2, instead of Hydra's traceback."""

    def on_run_start(self, config, **kwargs) -> None:
        _check_writable(config.hydra.run.dir, "hydra.run.dir")
        if not config.get("train", {}).get("resume"):  # before Hydra rewrites that run's .hydra/ files
            _refuse_to_overwrite(config.hydra.run.dir)

    def on_multirun_start(self, config, **kwargs) -> None:
        _check_writable(config.hydra.sweep.dir, "hydra.sweep.dir")


@exit_on_user_error
def _refuse_to_overwrite(directory: str) -> None:
    refuse_to_overwrite(directory)


@exit_on_user_error
def _check_writable(directory: str, key: str) -> None:
    check_writable(directory, key)
