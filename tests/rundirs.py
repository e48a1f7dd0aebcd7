"""Hand-made run directories, as train.py leaves them, for the tests of the tools that read runs (compare, ablate):
no training, each written in milliseconds.

Imported as `from rundirs import make_run` (pyproject's pytest `pythonpath` puts tests/ on the path).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from helpers import micro_config

from tinyx.rundir.contract import FLOPS_PER_TOKEN, PROVENANCE_FILE, WORLD_SIZE, RunSummary, write_config, write_summary

_CONFIGS: dict[tuple, dict] = {}


def config_of(*overrides: str) -> dict:
    """The nested config train.py writes for the micro preset plus overrides (composed once per set)."""
    if overrides not in _CONFIGS:
        _CONFIGS[overrides] = asdict(micro_config(*overrides))
    return json.loads(json.dumps(_CONFIGS[overrides]))


def make_run(run_dir, seed, curve, *overrides, status="completed", summary=True, mtime=None, hydra_overrides=None,
             data_order=None, data=None, flops_per_token=None, world_size=None):
    """A run directory as train.py leaves it: config.json, metrics.jsonl with one evaluation per (step, loss) or
    (step, loss, wall seconds) of `curve` (wall seconds = step without one), and summary.json (status, last step,
    final and best loss, `data_order`) unless `summary=False` (a killed run). `data`, `flops_per_token`,
    `world_size`: provenance.json's records (data e.g. {"content": ...}); without any, no provenance.json.
    Without data_order, data or flops_per_token, the run is one of a tinyx older than those records."""
    run_dir.mkdir(parents=True)
    config = config_of(*overrides)
    config["seed"] = seed
    write_config(run_dir, config)
    curve = [(s, v, float(rest[0] if rest else s)) for s, v, *rest in curve]
    rows = [{"step": s, "val/loss": v, "wall_seconds": t, "tokens_per_second": 1000.0} for s, v, t in curve]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if summary:
        write_summary(run_dir, RunSummary(
            status=status, step=curve[-1][0], params=27840, val_loss=curve[-1][1],
            val_loss_best=min(v for _, v, _ in curve), tokens_per_second=1000.0, wall_seconds=curve[-1][2],
            data_order=data_order))
        if mtime is not None:
            os.utime(run_dir / "summary.json", (mtime, mtime))
    provenance = {k: v for k, v in (("data", data), (FLOPS_PER_TOKEN, flops_per_token), (WORLD_SIZE, world_size))
                  if v is not None}
    if provenance:
        (run_dir / PROVENANCE_FILE).write_text(json.dumps(provenance))
    if hydra_overrides is not None:
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in hydra_overrides))
    return run_dir
