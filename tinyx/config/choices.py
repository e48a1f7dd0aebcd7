"""Choice lists declared once, beside their fields, and the one check that reads them.

A field with a fixed set of values is declared `one_of(default, choices)`; `validate` and the sweep's
checks ask `choice_fields` for the declarations instead of repeating the lists.
"""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any, Callable

from tinyx.common.errors import ConfigError


def one_of(default: Any, choices: tuple, normalise: Callable[[Any], Any] | None = None) -> Any:
    """A dataclass field whose value must be one of `choices` (compared after `normalise`, when given)."""
    return field(default=default, metadata={"choices": choices, "normalise": normalise})


def choice_fields(schema: Any) -> dict[str, tuple]:
    """The declared choices of a schema (class or instance), by field name, in field order."""
    return {f.name: f.metadata["choices"] for f in fields(schema) if "choices" in f.metadata}


def check_choices(section: Any, prefix: str, fix: str = "set {key} to one of them", skip: tuple = ()) -> None:
    """Raise ConfigError for the first field of `section` outside its declared choices (fields in `skip`
    are not checked). The message names `<prefix><field>`, the value, every choice and `fix`."""
    for f in fields(section):
        if "choices" not in f.metadata or f.name in skip:
            continue
        value, normalise = getattr(section, f.name), f.metadata["normalise"]
        value = normalise(value) if normalise else value
        if value not in f.metadata["choices"]:
            key = prefix + f.name
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(f.metadata['choices'])}: "
                              f"{fix.format(key=key)}.")
