"""Metrics the runs logged at their evaluations beyond the loss (the attention sink mass, `attn/sink_mass/<layer>`,
of runs with model.attn_sink=logit|token; whatever an evaluation logs later): read from metrics.jsonl's
evaluation rows, so compare shows them without knowing their names. A metric logged per layer
(`<name>/<layer>`) is shown as `<name>/*`, the mean over its layers."""

from __future__ import annotations

import math
import statistics
from typing import Any

from tinyx.rundir.contract import VAL_BPB, VAL_LOSS, VAL_PPL

JUDGED = (VAL_LOSS, VAL_PPL, VAL_BPB)  # the loss curves themselves (ppl is exp(loss)): not extras
PER_LAYER = "/*"  # the suffix of a metric averaged over its layers


def evaluation_extras(rows: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """step -> the extras of the evaluation at that step: the rows holding val/loss, their keys with a `/` that
    are not the loss curves, per-layer keys averaged over layers."""
    out: dict[int, dict[str, float]] = {}
    for row in rows:
        if VAL_LOSS not in row or not isinstance(row.get("step"), int):
            continue
        values: dict[str, list[float]] = {}
        for key, value in row.items():
            if "/" not in key or key in JUDGED or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            head, _, tail = key.rpartition("/")
            values.setdefault(head + PER_LAYER if tail.isdigit() else key, []).append(float(value))
        if values:
            out[row["step"]] = {name: statistics.fmean(v) for name, v in values.items()}
    return out


def at_step(extras: dict[int, dict[str, float]], step: int | None) -> dict[str, float]:
    """The extras of the last evaluation at or before `step` (None: the last evaluation)."""
    steps = [s for s in extras if step is None or s <= step]
    return extras[max(steps)] if steps else {}


def arm_means(per_run: list[dict[str, float]]) -> dict[str, float]:
    """Per extra, the mean over the runs (seeds) that logged it."""
    names = sorted({name for extras in per_run for name in extras})
    return {name: statistics.fmean(e[name] for e in per_run if name in e) for name in names}
