"""Runs into arms: the config keys that differ between runs (machine settings aside), runs that differ only by
seed (and, where recorded, trained the same data) as one arm, and each arm's name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyx.compare.runs import DATA_CONTENT, SEED_KEY, RunResult, comparable
from tinyx.config import is_hyperparameter, override_key


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every run (a key missing from a run counts as differing)."""
    keys = []
    for key in sorted(set().union(*configs)):
        if not is_hyperparameter(key):  # where and how a run ran is not what it trained
            continue
        values = {comparable(c[key]) if key in c else "<missing>" for c in configs}
        if len(values) > 1:
            keys.append(key)
    return keys


def _natural(path: Path) -> tuple:
    """Job 10 after job 2: the order a multirun's jobs ran in, so the first arm is the first one swept."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts)


def _show(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)


def _override_names(runs: list[RunResult], groups: list[list[RunResult]]) -> list[str] | None:
    """Arm names from the command lines (e.g. `experiment=llama_tiny`): the hyperparameter overrides not shared
    by every run; None unless every run has them and they name each arm once."""
    if any(r.overrides is None for r in runs):
        return None

    kept = [[o for o in r.overrides if override_key(o) != SEED_KEY and is_hyperparameter(override_key(o))]
            for r in runs]
    common = set.intersection(*(set(k) for k in kept))
    by_run = {id(r): " ".join(o for o in k if o not in common) for r, k in zip(runs, kept)}
    names = []
    for members in groups:
        own = {by_run[id(r)] for r in members}
        if len(own) != 1 or not next(iter(own)):
            return None
        names.append(own.pop())
    return names if len(set(names)) == len(names) else None


def _value(run: RunResult, key: str):
    return run.data_content if key == DATA_CONTENT else run.config.get(key)


def _grouped(runs: list[RunResult], keys: list[str]) -> list[list[RunResult]]:
    by_values: dict[tuple, list[RunResult]] = {}
    for run in runs:
        by_values.setdefault(tuple(comparable(_value(run, k)) for k in keys), []).append(run)
    return list(by_values.values())


def group_arms(runs: list[RunResult]) -> tuple[list[str], list[tuple[str, dict, list[RunResult]]]]:
    """(differing keys, [(name, values, runs)]): runs that differ only by seed, in the order first found.

    Runs whose data differ (another corpus or tokenizer, which may differ only in where it is read from: a
    machine setting) are other arms, told apart by the `data content` they record; runs older than that record
    are grouped by their hyperparameters alone, as before (data_warning says when that may merge corpora).
    """
    runs = sorted(runs, key=lambda r: _natural(r.path))
    keys = [k for k in differing_keys([r.config for r in runs]) if k != SEED_KEY]
    groups = _grouped(runs, keys)
    if all(r.data_content for r in runs) and len(by_data := _grouped(runs, [*keys, DATA_CONTENT])) > len(groups):
        keys, groups = [*keys, DATA_CONTENT], by_data
    values = [{k: g[0].data_label() if k == DATA_CONTENT else g[0].config.get(k) for k in keys} for g in groups]
    names = _override_names(runs, groups) or [
        " ".join(f"{k}={_show(v)}" for k, v in vals.items()) or "all runs" for vals in values]
    return keys, list(zip(names, values, groups))
