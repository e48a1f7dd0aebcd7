"""Saving and restoring a run: the model, its optimizers and scaler, the config, and the TrainState."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyx.common.errors import CheckpointError
from tinyx.config import flatten_config
from tinyx.config.secrets import Redactor
from tinyx.rundir.checkpoints import save_checkpoint
from tinyx.training.state import TrainState
from tinyx.training.step import Trainable


class Checkpointer:
    """Writes checkpoints of one run (on the process that writes files) and restores one into it.

    A checkpoint is the components' state dicts, the (redacted) config and tokenizer that rebuild
    the model, and `TrainState.state_dict()`: its one schema.
    """

    def __init__(self, run_dir: Path, trainable: Trainable, state: TrainState, config: dict[str, Any],
                 redactor: Redactor, tokenizer: dict, keep: int, is_main: bool):
        """`config`: the run's resolved nested config; a checkpoint stores it as `redactor` (the run's) writes
        files, each secret as its `${oc.env:...}` source, and lists those keys so a load resolves them again."""
        self.run_dir, self.trainable, self.state, self.tokenizer = run_dir, trainable, state, tokenizer
        self.config, self.private_keys = redactor.redact(config), redactor.text_keys(config)
        self.keep, self.is_main = keep, is_main

    def save(self, best: bool = False) -> Path | None:
        if not self.is_main:
            return None
        t = self.trainable
        payload = {"model": t.model.state_dict(), "optimizers": [o.state_dict() for o in t.optimizers],
                   "scaler": t.scaler.state_dict(), "config": self.config, "private_keys": self.private_keys,
                   "tokenizer": self.tokenizer, **self.state.state_dict()}
        path = save_checkpoint(self.run_dir, self.state.step, payload, keep=self.keep, best=best)
        self.state.last_saved = (self.state.step, path)
        return path

    def save_once(self) -> Path | None:
        """A checkpoint of the current step: the one already written at this step, else a new one."""
        last_saved = self.state.last_saved
        if last_saved and last_saved[0] == self.state.step:
            return last_saved[1]
        return self.save()

    def restore(self, loaded: dict[str, Any], path: Path) -> list[str]:
        """Load a checkpoint's state into this run; returns the optimizer settings that changed since it.

        The optimizers keep the checkpoint's moments but take this run's settings (LR, weight decay,
        betas, Muon's keys): what the config and the logs say is what trains.
        """
        t = self.trainable
        settings = [[{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] for opt in t.optimizers]
        try:
            t.model.load_state_dict(loaded["model"])
            for opt, opt_state in zip(t.optimizers, loaded["optimizers"], strict=True):
                opt.load_state_dict(opt_state)
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint {path} does not fit this run's model/optimizer "
                                  f"({str(e).splitlines()[0][:200]}): resume with the settings it was trained "
                                  f"with.") from None
        for opt, groups in zip(t.optimizers, settings):
            for group, values in zip(opt.param_groups, groups):
                group.update(values)
        if t.scaler.is_enabled():
            t.scaler.load_state_dict(loaded["scaler"])
        self.state.load_state_dict(loaded)
        return _schedule_changes(loaded["config"], self.config)


def _schedule_changes(before: dict, now: dict) -> list[str]:
    """The optimizer settings, and train.max_steps (where the learning-rate schedule ends), that differ between a
    checkpoint's config and this run's, as `key: old -> new`."""
    pick = lambda cfg: {**{f"optim.{k}": v for k, v in flatten_config(cfg.get("optim", {})).items()},
                        "train.max_steps": cfg.get("train", {}).get("max_steps")}
    old, new = pick(before), pick(now)
    return [f"{k}: {old[k]} -> {v}" for k, v in new.items() if old.get(k) is not None and old[k] != v]
