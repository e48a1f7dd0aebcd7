"""Hydra composition: the config `train.py <overrides>` would run, for the entry points, the sweep, tools and tests.

The one tinyx module besides the entry points that knows Hydra; the library below it takes typed configs.
"""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_train(overrides: list[str], config_name: str = "train"):
    """The config `train.py <overrides>` would run, composed with Hydra's Compose API (for tools, tests and
    sweep.py's trials; inside a running Hydra app it reuses that app's config search path)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from tinyx.config import register_configs
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
