"""What the entry points share: turning user errors into one message and an exit code."""

from __future__ import annotations

import functools
import os
import sys

from tinyx.errors import TinyxError


def exit_on_user_error(fn):
    """Print a TinyxError's message alone and exit non-zero (HYDRA_FULL_ERROR=1 shows the traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TinyxError as e:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(e.exit_code)

    return wrapper


@exit_on_user_error
def run_train(cfg, run_dir) -> float:
    """train.py's body: validate the composed config, train, return the final validation loss."""
    from tinyx.config import to_run_config

    run_cfg = to_run_config(cfg)  # before importing torch, so config errors come back at once
    from tinyx.trainer import train

    return train(run_cfg, run_dir)["val/loss"]
