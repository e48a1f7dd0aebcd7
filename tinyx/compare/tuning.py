"""The tuning record: `tinyx ablate --tune` writes it in its output folder, compare reads it.

A comparison of arms that differ in the optimizer (or in a key that moves the best learning rate) is fair only
when each arm ran at its own tuned value; this file is how compare knows they did. Its shape:

    {"key": "optim.lr", "metric": "val/loss", "steps": 300, "seeds": [1000, 1001],
     "arms": {"<arm name>": {"chosen": 0.003, "values": [...], "means": [...], "edge": false}}}
"""

from __future__ import annotations

import json
from pathlib import Path

TUNING_FILE = "tuning.json"


def find_tuning(paths: list[Path]) -> dict | None:
    """The tuning record of the folder holding these runs: in one of the paths or a parent of one (first found)."""
    for path in paths:
        for folder in [path, *path.resolve().parents]:
            record = folder / TUNING_FILE
            if record.is_file():
                try:
                    return json.loads(record.read_text())
                except (OSError, ValueError):
                    return None
    return None
