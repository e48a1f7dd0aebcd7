"""The decorator that makes train.py and sweep.py Hydra apps over conf/, with tinyx's schemas and resolvers."""

from __future__ import annotations

import functools
import sys
from typing import Callable

from tinyx.hydra_glue.compose import check_override_keys, register_configs


def hydra_main(config_name: str) -> Callable:
    """Hydra's main over conf/<config_name>.yaml (beside the script) for a task `task(cfg)`; a misspelt key on
    the command line is caught before Hydra composes (one line with a suggestion, exit 2)."""
    import hydra

    register_configs()

    def decorate(task: Callable) -> Callable:
        hydra_task = hydra.main(config_path="conf", config_name=config_name, version_base="1.3")(task)

        # wraps: the parallel launcher finds the task through __wrapped__ (inspect.unwrap), as Hydra's own does.
        @functools.wraps(hydra_task)
        def main():
            check_override_keys(sys.argv[1:], config_name)
            return hydra_task()

        return main

    return decorate
