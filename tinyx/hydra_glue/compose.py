"""Hydra composition: the config `train.py <overrides>` would run, for the entry points, the sweep, tools and tests.

The one tinyx module besides the entry points that knows Hydra; the library below it takes typed configs.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from tinyx.cli.entry import CHECKOUT
from tinyx.common.errors import ConfigError, exit_on_user_error
from tinyx.config import override_key
from tinyx.rundir.claims import claim_new_dir
from tinyx.rundir.last import LAST, newest, outputs_root, resolve_last


def _conf_dir() -> Path:
    """The checkout's conf/ (beside tinyx/), or the copy an installed wheel carries inside the package."""
    checkout = CHECKOUT / "conf"
    return checkout if checkout.is_dir() else CHECKOUT / "tinyx" / "conf"


CONF_DIR = _conf_dir()


def compose_train(overrides: list[str], config_name: str = "train"):
    """The config `train.py <overrides>` would run, composed with Hydra's Compose API (for tools, tests and
    sweep.py's trials; inside a running Hydra app it reuses that app's config search path)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_configs()
    try:
        if GlobalHydra.instance().is_initialized():
            return compose(config_name=config_name, overrides=list(overrides))
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        cause = f" ({str(e.__cause__).splitlines()[0]})" if e.__cause__ else ""
        raise ConfigError(f"{str(e).splitlines()[0]}{cause}: fix the override or the config file.") from None


# Keys Hydra or a free-form config owns, below which any key goes: Hydra checks its own, and the search
# space (sweep.py) has no schema.
_OPEN_ROOTS = {"train": {"hydra"}, "sweep": {"hydra", "search_space"}}
KEYS_DOC = "docs/training.md#config-groups"


def known_config_keys(config_name: str = "train") -> set[str]:
    """Every key an override of `train.py` (config_name "train") or `sweep.py` ("sweep") may name: the
    schema's leaves (`train.max_steps`), list-valued ones included, and the config groups (`model`)."""
    from dataclasses import asdict

    from tinyx.config import RunConfig, SweepConfig, flatten_config

    keys = set(flatten_config(asdict(RunConfig())))
    if config_name == "sweep":
        keys |= {f"sweep.{k}" for k in flatten_config(asdict(SweepConfig()))}
    return keys | _default_groups(config_name)


def _default_groups(config_name: str) -> set[str]:
    """The groups in a primary config's defaults list (following `- train` in sweep.yaml)."""
    from omegaconf import OmegaConf

    groups = set()
    for entry in OmegaConf.load(CONF_DIR / f"{config_name}.yaml").get("defaults", []):
        if isinstance(entry, str):
            if (CONF_DIR / f"{entry}.yaml").is_file():
                groups |= _default_groups(entry)
        else:
            groups |= {key.removeprefix("optional ").strip() for key in entry}
    return groups


def suggest_keys(key: str, known: set[str]) -> list[str]:
    """What an unknown key most likely meant: the keys with its last part (`max_steps` -> `train.max_steps`,
    `model.lr` -> `optim.lr`), else the closest spellings (`train.max_step` -> `train.max_steps`)."""
    leaf = key.rsplit(".", 1)[-1]
    same_leaf = sorted(k for k in known if k.rsplit(".", 1)[-1] == leaf)
    if same_leaf:
        return same_leaf
    close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
    # Only those about as close as the closest: `train.max_step` is train.max_steps, not train.batch_size too.
    score = {k: difflib.SequenceMatcher(None, key, k).ratio() for k in close}
    return [k for k in close if score[k] >= score[close[0]] - 0.1] if close else []


def _override_key(arg: str) -> str | None:
    """The config key a command-line argument sets; None for Hydra's flags (`-m`, `--cfg job`)."""
    if arg.startswith("-") or ("=" not in arg and not arg.startswith("~")):
        return None
    return override_key(arg)


def unknown_key_message(argv: list[str], config_name: str = "train") -> str | None:
    """The message for the first override whose key the config does not have, or None if all are known."""
    from dataclasses import asdict

    from tinyx.config import RunConfig, flatten_config

    known = known_config_keys(config_name)
    # optim.betas.0=0.9 sets one item of a list (Hydra checks the index).
    lists = tuple(f"{k}." for k, v in flatten_config(asdict(RunConfig())).items() if isinstance(v, list))
    for arg in argv:
        key = _override_key(arg)
        if key is None or key in known or re.split(r"[./]", key)[0] in _OPEN_ROOTS[config_name]:
            continue
        if key.startswith(lists):
            continue
        suggestions = suggest_keys(key, known)
        hint = ""
        if suggestions:
            hint = f": did you mean {' or '.join(suggestions)}?"
        return f"unknown config key {key!r}{hint} (see {KEYS_DOC})"
    return None


@exit_on_user_error
def check_override_keys(argv: list[str], config_name: str = "train") -> None:
    """train.py's and sweep.py's check before Hydra composes: an unknown key is one line with a suggestion
    and exit 2 (Hydra's own message is 8 lines, and its `+key` hint leads to a second error)."""
    message = unknown_key_message(argv, config_name)
    if message:
        raise ConfigError(message)


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
    # ${tinyx_outputs:}: $TINYX_OUTPUTS, else outputs/ -- as every tool reads it (an empty value is unset, where
    # ${oc.env:TINYX_OUTPUTS,outputs} would take it as set and put runs at the filesystem's root).
    OmegaConf.register_new_resolver("tinyx_outputs", lambda: str(outputs_root()), replace=True)


def _new_dir(base: str, resume: str | None = None) -> str:
    if resume == LAST and newest() is not None:  # with no run yet, train() says so (and this one is removed)
        return str(resolve_last())
    return str(claim_new_dir(base))


def _rank0_value(main: Any, other: Any = None) -> Any:
    return main if os.environ.get("RANK", "0") == "0" else other
