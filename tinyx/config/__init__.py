"""The run's config: typed schemas, parsing, key roles and validation (no torch: cheap to import).

    schema    the dataclasses of every config group, each choice list declared beside its field
    choices   `one_of` (the declaration) and the one check that reads the declarations
    validate  the checks a schema alone cannot express
    dial      apply_dial: the shape model.depth sets (n_layer, d_model, n_head, n_kv_head)
    parse     to_run_config (typed and validated, from Hydra's DictConfig, a dict or a RunConfig) and back
    keys      each key's role: hyperparameter, machine, logging, run or secret
    sweep     sweep.py's own keys (`sweep.*`), the search-space entries, and their checks

The library never imports Hydra: it takes a `RunConfig` (see `to_run_config`).
"""

from tinyx.config.choices import check_choices, choice_fields, one_of
from tinyx.config.keys import (
    HYPERPARAMETER,
    KEY_ROLES,
    LOGGING,
    MACHINE,
    RUN,
    SECRET,
    SECRET_KEYS,
    is_hyperparameter,
    key_role,
    override_key,
    quoted_override,
)
from tinyx.config.parse import config_to_dict, flatten_config, to_run_config
from tinyx.config.schema import (
    DEVICES,
    MUON_ONLY_KEYS,
    TINY_SHAKESPEARE_BYTES,
    TINY_SHAKESPEARE_SHA256,
    TINY_SHAKESPEARE_URL,
    DataConfig,
    HardwareConfig,
    LoggerConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TensorboardConfig,
    TrainConfig,
    WandbConfig,
)
from tinyx.config.sweep import SPEC_TYPES, ParamSpec, SweepConfig, validate_sweep
from tinyx.config.validate import validate

__all__ = [
    "DEVICES", "HYPERPARAMETER", "KEY_ROLES", "LOGGING", "MACHINE", "MUON_ONLY_KEYS", "RUN", "SECRET", "SECRET_KEYS",
    "SPEC_TYPES", "TINY_SHAKESPEARE_BYTES", "TINY_SHAKESPEARE_SHA256", "TINY_SHAKESPEARE_URL", "DataConfig",
    "HardwareConfig", "LoggerConfig", "ModelConfig", "OptimConfig", "ParamSpec", "RunConfig", "SweepConfig",
    "TensorboardConfig", "TrainConfig", "WandbConfig", "check_choices", "choice_fields", "config_to_dict",
    "flatten_config", "is_hyperparameter", "key_role", "one_of", "override_key", "quoted_override", "to_run_config",
    "validate", "validate_sweep",
]
