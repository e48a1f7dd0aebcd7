"""sweep.py's body on the Hydra side: the study its config describes, Ctrl-C and worker failures as exit codes."""

from __future__ import annotations

import sys

from tinyx.common.errors import exit_on_user_error
from tinyx.config import override_key
from tinyx.hydra_glue.compose import compose_train

# sweep.py's own overrides; the rest of its command line is given to every trial.
_SWEEP_KEYS = ("sweep.", "search_space", "hydra.")


@exit_on_user_error
def run_sweep(cfg, overrides: list[str], search_space_name: str | None) -> float | None:
    """sweep.py's body: run (or report on) the study; Ctrl-C stops it cleanly with exit code 130."""
    from omegaconf import OmegaConf

    from tinyx.runtime.launcher import JobExited
    from tinyx.sweep import run_study

    sweep = OmegaConf.to_object(cfg.sweep)
    search_space = OmegaConf.to_container(cfg.search_space, resolve=True)
    base_overrides = [o for o in overrides if not override_key(o).startswith(_SWEEP_KEYS)]
    try:
        report = run_study(sweep, search_space, base_overrides, compose_train,
                           default_name=search_space_name or "study")
    except KeyboardInterrupt as e:  # the study said how to continue; 130 for Ctrl-C, 143 for SIGTERM
        sys.exit(getattr(e, "exit_code", 130))
    except JobExited as e:  # a sweep.workers process ended on an error it printed
        print(f"error: sweep worker {e.index} exited with code {e.exitcode} (its message is above); rerun the "
              f"same command to continue the study.", file=sys.stderr, flush=True)
        sys.exit(e.exitcode)
    return report["best"]["value"] if report["best"] else None
