"""Hydra composition: the config `train.py <overrides>` would run, for the entry points, the sweep, tools and tests.

The one tinyx module besides the entry points that knows Hydra; the library below it takes typed configs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tinyx.rundir import LAST, claim_new_dir, newest, resolve_last


def _conf_dir() -> Path:
    """The checkout's conf/ (beside tinyx/), or the copy an installed wheel carries inside the package."""
    checkout = Path(__file__).resolve().parents[1] / "conf"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "conf"


CONF_DIR = _conf_dir()


def compose_train(overrides: list[str], config_name: str = "train"):
    """The config `train.py <overrides>` would run, composed with Hydra's Compose API (for tools, tests and
    sweep.py's trials; inside a running Hydra app it reuses that app's config search path)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from tinyx.errors import ConfigError

    register_configs()
    try:
        if GlobalHydra.instance().is_initialized():
            return compose(config_name=config_name, overrides=list(overrides))
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        cause = f" ({str(e.__cause__).splitlines()[0]})" if e.__cause__ else ""
        raise ConfigError(f"{str(e).splitlines()[0]}{cause}: fix the override or the config file.") from None


def env_config_keys(cfg) -> dict[str, str]:
    """Keys of a composed config whose value comes from an environment variable, with their source
    text (`${oc.env:...}`)."""
    from omegaconf import OmegaConf

    from tinyx.config import flatten_config

    raw = flatten_config(OmegaConf.to_container(cfg, resolve=False))
    return {k: v for k, v in raw.items() if isinstance(v, str) and "oc.env:" in v}


def register_configs() -> None:
    """Make `train_schema` and `sweep_schema` available to Hydra's defaults lists."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from tinyx.config import RunConfig, SweepConfig

    ConfigStore.instance().store(name="train_schema", node=RunConfig)
    ConfigStore.instance().store(name="sweep_schema", node=SweepConfig)
    # ${tinyx_rank0:a,b}: a in the process that writes files (no torchrun, or torchrun's rank 0), else b.
    # train.yaml uses it so that only rank 0 writes .hydra/ and train.log.
    OmegaConf.register_new_resolver("tinyx_rank0", _rank0_value, replace=True)
    # ${tinyx_new_dir:path[,resume]}: path, or path_1, path_2, ... if another run has it; the newest run's
    # directory when resume is `last` (conf/hydra/default.yaml).
    OmegaConf.register_new_resolver("tinyx_new_dir", _new_dir, replace=True)


def _new_dir(base: str, resume: str | None = None) -> str:
    if resume == LAST and newest() is not None:  # with no run yet, train() says so (and this one is removed)
        return str(resolve_last())
    return str(claim_new_dir(base))


def _rank0_value(main: Any, other: Any = None) -> Any:
    return main if os.environ.get("RANK", "0") == "0" else other
