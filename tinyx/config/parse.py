"""A typed, validated RunConfig from a composed config, a dict or a hand-built RunConfig, and back to a dict.

The library itself never imports Hydra: it takes a `RunConfig`, however it was built.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tinyx.common.errors import ConfigError
from tinyx.config.schema import RunConfig
from tinyx.config.validate import validate

# Set on each RunConfig this module returns: its field values when validated. train() validates whatever it is
# given, and train.py validates before importing torch (seconds) so that config errors come back at once; a
# config that still holds the values it was validated with is not checked a second time.
_VALIDATED = "_tinyx_validated_values"


def to_run_config(cfg: DictConfig | dict | RunConfig) -> RunConfig:
    """Typed, validated config from a composed DictConfig, a plain dict, or a hand-built RunConfig
    (whose values are checked against the schema's types as a composed one's are). A RunConfig that this
    function returned, unchanged since, comes back as it is."""
    if isinstance(cfg, RunConfig):
        values = config_to_dict(cfg)
        if getattr(cfg, _VALIDATED, None) == values:
            return cfg
        cfg = values
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
        cfg.pop("hydra", None)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), cfg)
        run_cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        first = str(e).splitlines()[0]
        raise ConfigError(f"config key '{key}': {first}. Check its spelling and type in conf/ or on the command line.") from None
    validate(run_cfg)
    setattr(run_cfg, _VALIDATED, config_to_dict(run_cfg))
    return run_cfg


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    # The typed config holds only plain values (to_run_config resolved them): a deep copy suffices.
    return asdict(cfg)


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config as flat `a.b.c` keys (lists stay values), the names overrides use."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
