"""What the entry points share: turning user errors into one message and an exit code."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

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


def compose_train(overrides: list[str], config_name: str = "train"):
    """The config `train.py <overrides>` would run, composed with Hydra's Compose API (for tools and tests)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from tinyx.config import register_configs
    from tinyx.errors import ConfigError

    register_configs()
    conf_dir = Path(__file__).resolve().parents[1] / "conf"
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        cause = f" ({str(e.__cause__).splitlines()[0]})" if e.__cause__ else ""
        raise ConfigError(f"{str(e).splitlines()[0]}{cause}: fix the override or the config file.") from None
