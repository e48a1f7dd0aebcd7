"""A run's model, rebuilt from its checkpoint for the tools that run it (evaluate, generate, export, lm-eval).

Above the run directory's contract (tinyx.rundir), which training imports: this module reaches up to the model,
the tokenizers and the checkpoint format, so it lives with the tools. What needs torch is imported inside
load_model, so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyx.rundir.last import LAST, resolve_last

if TYPE_CHECKING:
    import torch


@dataclass
class LoadedRun:
    """A model rebuilt from a checkpoint, in eval mode on the device asked for."""

    model: Any  # tinyx.nn.gpt.GPT
    tokenizer: Any  # the run's tokenizer (tinyx.data)
    state: dict[str, Any]  # the whole checkpoint: config, step, tokenizer, optimizer and RNG state
    checkpoint: Path

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def config(self) -> dict[str, Any]:
        """The nested config the checkpoint was trained with, values from the environment resolved here."""
        return self.state["config"]

    @property
    def public_config(self) -> dict[str, Any]:
        """The config as the run's config.json shows it, for what is written to be shared (a model card):
        values from the environment as their `${oc.env:NAME}` source, secrets by key name as ***."""
        from tinyx.config.secrets import Redactor

        private = {**dict.fromkeys(self.state.get("private_keys", [])), **self.state.get("private_sources", {})}
        return Redactor(private).redact(self.config)


def load_model(run_or_checkpoint: str | Path, device: str | torch.device = "cpu",
               key: str | None = None) -> LoadedRun:
    """The model and tokenizer of a run directory (its latest checkpoint), of a checkpoint file, or of
    the newest run for `last`.

    `key` names the setting the path came from (e.g. generate's `run`), for the error messages.
    """
    from tinyx.config import ModelConfig
    from tinyx.data import tokenizer_from_dict
    from tinyx.nn.gpt import GPT
    from tinyx.rundir.checkpoints import find_checkpoint, load_checkpoint

    if str(run_or_checkpoint) == LAST:
        run_or_checkpoint = resolve_last()
    path = find_checkpoint(run_or_checkpoint, key=key)
    state = load_checkpoint(path, map_location=device)
    model = GPT(ModelConfig(**state["config"]["model"]))
    model.load_state_dict(state["model"])
    return LoadedRun(model=model.to(device).eval(), tokenizer=tokenizer_from_dict(state["tokenizer"]),
                     state=state, checkpoint=path)
