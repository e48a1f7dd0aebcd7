"""The search space: parse and check a search-space file, and turn a trial's suggestions into overrides.

Free of Hydra: configs come from the caller's `compose(overrides) -> DictConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tinyx.common.errors import ConfigError
from tinyx.config import SPEC_TYPES, ParamSpec, override_key

Compose = Callable[[list], DictConfig]


@dataclass
class SearchParam:
    name: str  # the Optuna parameter name (the entry's name in the search-space file)
    key: str  # the config key a value is written to: `optim.lr`, or a config group: `optim`
    spec: ParamSpec


def format_value(value: Any) -> str:
    """A value as the right-hand side of a Hydra override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if re.fullmatch(r"[\w./:+-]+", text) else "'" + text.replace("'", "\\'") + "'"


def parse_search_space(raw: dict) -> list[SearchParam]:
    """Check every entry of a search-space file and return them in file order."""
    if not raw:
        raise ConfigError("the search space is empty: choose one with search_space=<file in conf/search_space/>.")
    params = [_parse_entry(str(name), entry) for name, entry in raw.items()]
    _check_conditions_order(params)
    return params


def _parse_entry(name: str, entry: Any) -> SearchParam:
    where = f"search_space entry '{name}'"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is {entry!r}, not a mapping: write it as "
                          f"{{type: float, low: 1e-4, high: 1e-2, log: true}} (see conf/search_space/lr.yaml).")
    try:
        spec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ParamSpec), entry))
    except OmegaConfBaseException as e:
        field_name = getattr(e, "key", None) or "?"
        raise ConfigError(f"{where}: field '{field_name}' is not valid ({str(e).splitlines()[0]}): the fields are "
                          f"type, low, high, log, step, choices, key, when.") from None
    if spec.type not in SPEC_TYPES:
        raise ConfigError(f"{where}: type '{spec.type}' is not a search-space type: use one of "
                          f"{', '.join(SPEC_TYPES)}.")
    if spec.type == "categorical":
        _check_categorical(where, spec)
    else:
        _check_numeric(where, spec)
    return SearchParam(name=name, key=spec.key or name, spec=spec)


def _check_conditions_order(params: list[SearchParam]) -> None:
    """A `when` is decided from values already chosen, so it may name only earlier entries, and not a key
    inside a searched config group (that key's value is not known until the group is composed)."""
    names = [p.name for p in params]
    for i, p in enumerate(params):
        for cond in (p.spec.when or {}):
            if cond in names[i + 1:] or cond == p.name:
                raise ConfigError(f"search_space entry '{p.name}': when: {cond} refers to an entry that comes later: "
                                  f"move '{cond}' above '{p.name}'.")
            group = next((q for q in params[:i] if q.spec.type == "categorical" and cond.startswith(q.key + ".")), None)
            if group is not None:
                raise ConfigError(f"search_space entry '{p.name}': when: {cond} depends on the searched entry "
                                  f"'{group.name}': write the condition on it, e.g. when: {{{group.name}: ...}}.")


def _check_categorical(where: str, s: ParamSpec) -> None:
    if not s.choices:
        raise ConfigError(f"{where}: a categorical entry needs choices, e.g. choices: [adamw, muon].")
    bad = [c for c in s.choices if not (c is None or isinstance(c, (bool, int, float, str)))]
    if bad:
        raise ConfigError(f"{where}: choice {bad[0]!r} is not a number, string, boolean or null: list plain values.")
    if s.low is not None or s.high is not None or s.log or s.step is not None:
        raise ConfigError(f"{where}: a categorical entry takes choices only (no low/high/log/step).")


def _check_numeric(where: str, s: ParamSpec) -> None:
    if s.low is None or s.high is None:
        raise ConfigError(f"{where}: a {s.type} entry needs low and high, e.g. low: 1.0e-4, high: 1.0e-2.")
    if s.choices is not None:
        raise ConfigError(f"{where}: choices belong to type: categorical; a {s.type} entry takes low/high.")
    if s.low > s.high:
        raise ConfigError(f"{where}: low={s.low} is greater than high={s.high}: swap them.")
    if s.log and s.low <= 0:
        raise ConfigError(f"{where}: log: true needs low > 0 (got low={s.low}): raise low or set log: false.")
    if s.log and s.step is not None:
        raise ConfigError(f"{where}: log and step cannot be combined (Optuna): drop one of them.")
    if s.step is not None and s.step <= 0:
        raise ConfigError(f"{where}: step={s.step} must be > 0.")
    if s.type == "int":
        for field_name in ("low", "high", "step"):
            value = getattr(s, field_name)
            if value is not None and value != int(value):
                raise ConfigError(f"{where}: {field_name}={value} is not an integer: a type: int entry takes whole "
                                  f"numbers (or use type: float).")


def _matches(value: Any, expected: Any) -> bool:
    options = expected if isinstance(expected, list) else [expected]
    return any(format_value(value) == format_value(option) for option in options)


def _extreme_values(spec: ParamSpec) -> list:
    if spec.type == "categorical":
        return list(spec.choices)
    kind = int if spec.type == "int" else float
    return [kind(spec.low), kind(spec.high)]


class SearchSpace:
    """A parsed search space with the entries the command line fixes taken out."""

    def __init__(self, raw: dict, base_overrides: list[str], base_cfg: DictConfig):
        self.raw = raw
        self.params = parse_search_space(raw)
        self.base_cfg = base_cfg
        command_line = {override_key(o): o.split("=", 1)[1] for o in base_overrides if "=" in o}
        # An entry whose key the command line sets is not searched: `sweep.py optim=muon` studies Muon only.
        self.fixed = {p.name: command_line[p.key] for p in self.params if p.key in command_line}
        self.searched = [p for p in self.params if p.name not in self.fixed]
        if not self.searched:
            raise ConfigError(f"the command line fixes every entry of the search space ({', '.join(self.fixed)}): "
                              f"drop those overrides or choose another search_space.")
        self._check_condition_keys()

    def _check_condition_keys(self) -> None:
        names = {p.name for p in self.params}
        for p in self.params:
            for cond in (p.spec.when or {}):
                if cond not in names and OmegaConf.select(self.base_cfg, cond, default="<absent>") == "<absent>":
                    raise ConfigError(f"search_space entry '{p.name}': when: {cond} is neither an entry of the search "
                                      f"space nor a config key: check its spelling (e.g. optim.name).")

    def check_keys(self, compose: Compose, base_overrides: list[str]) -> None:
        """Compose the config with each entry's extreme values, so a key or choice that does not exist fails now."""
        for p in self.searched:
            for value in _extreme_values(p.spec):
                try:
                    compose(base_overrides + [f"{p.key}={format_value(value)}"])
                except ConfigError as e:
                    raise ConfigError(f"search_space entry '{p.name}': {p.key}={format_value(value)} does not compose "
                                      f"({e}). Check that {p.key} is a config key or group and the value exists.") \
                        from None

    def suggest(self, trial) -> list[str]:
        """The trial's overrides, in search-space order; entries whose `when` does not hold are skipped."""
        chosen: dict[str, Any] = dict(self.fixed)
        overrides = []
        for p in self.params:
            if p.name in self.fixed or not self._applies(p, chosen):
                continue
            chosen[p.name] = _suggest_value(trial, p)
            overrides.append(f"{p.key}={format_value(chosen[p.name])}")
        return overrides

    def _applies(self, p: SearchParam, chosen: dict[str, Any]) -> bool:
        return all(_matches(chosen[c] if c in chosen else OmegaConf.select(self.base_cfg, c), expected)
                   for c, expected in (p.spec.when or {}).items())


def _suggest_value(trial, p: SearchParam) -> Any:
    s = p.spec
    if s.type == "float":
        return trial.suggest_float(p.name, s.low, s.high, log=s.log, step=s.step)
    if s.type == "int":
        return trial.suggest_int(p.name, int(s.low), int(s.high), step=int(s.step or 1), log=s.log)
    return trial.suggest_categorical(p.name, list(s.choices))
