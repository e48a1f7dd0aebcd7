"""`model.init_from=hf:<folder>`: start a run from a Hugging Face folder's weights and tokenizer.

The folder is a tinyx export or a GPT-2 / Llama / Qwen3 checkpoint of a shape tinyx's blocks compute,
saved with `save_pretrained`. Its shape must be the run's model config: a mismatch is one message
listing the overrides that make the run match. The tokenizer comes from the folder (tinyx's own
record, or tiktoken gpt2 for GPT-2's vocabulary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinyx.common.errors import ExportError
from tinyx.config import ModelConfig

PREFIX = "hf:"


def folder_of(init_from: str) -> Path:
    return Path(init_from[len(PREFIX):]).expanduser()


def check_init_from(init_from: str) -> None:
    """The value names an existing folder with a config.json (a cheap check, for config validation)."""
    if not init_from.startswith(PREFIX):
        raise ExportError(f"model.init_from={init_from} must start with {PREFIX}: pass model.init_from=hf:<folder "
                          f"saved with save_pretrained or tinyx.tools.export>.")
    folder = folder_of(init_from)
    if not (folder / "config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no config.json"
        raise ExportError(f"model.init_from={init_from}: {folder} {what}: pass a folder written by tinyx.tools.export "
                          f"or transformers' save_pretrained.")


def read_shape(folder: Path) -> tuple[str, dict[str, Any]]:
    """(model_type, the ModelConfig keys the folder fixes); a tinyx export's own record takes precedence."""
    from tinyx.hf.architectures import SHAPE_KEYS, TINYX_MODEL_FILE, model_config_from_hf

    where = f"model.init_from=hf:{folder}"
    hf = json.loads((folder / "config.json").read_text())
    shape = model_config_from_hf(hf, where)
    own = folder / TINYX_MODEL_FILE
    if own.is_file():  # what GPT-2's form cannot say: bias=false (zero biases), pos=none (zero positions)
        tinyx_cfg = json.loads(own.read_text())
        resolved_d_ff = shape["d_ff"]  # config.json's width; tinyx_model.json may hold null (the default) for it
        shape.update({k: tinyx_cfg[k] for k in SHAPE_KEYS if k in tinyx_cfg})
        shape["d_ff"] = resolved_d_ff
        kv = tinyx_cfg.get("n_kv_head")
        shape["n_kv_head"] = None if kv in (None, tinyx_cfg["n_head"]) else kv
    return hf["model_type"], shape


def check_shape(cfg: ModelConfig, shape: dict[str, Any], where: str) -> None:
    """The run's model config must be the folder's shape; the message lists the overrides that make it so."""
    from tinyx.hf.architectures import shape_of

    ours = shape_of(cfg)
    differ = {k: v for k, v in shape.items() if k in ours and ours[k] != v}
    if differ:
        fix = " ".join(f"model.{k}={'null' if v is None else str(v).lower() if isinstance(v, bool) else v}"
                       for k, v in differ.items())
        have = ", ".join(f"{k}={ours[k]}" for k in differ)
        raise ExportError(f"{where} is a model of another shape than this run's ({have}): add {fix}.")
    limit = shape.get("max_positions")
    if cfg.pos == "learned" and limit is not None and cfg.block_size > limit:
        raise ExportError(f"{where} has {limit} learned positions, fewer than model.block_size={cfg.block_size}: "
                          f"set model.block_size={limit} or less.")


def load_weights(model, init_from: str) -> None:
    """Copy the folder's weights into `model` (a GPT of the folder's shape: check_shape passed)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from tinyx.hf.weights import from_hf_state_dict

    folder = folder_of(init_from)
    kind, _ = read_shape(folder)
    hf_logging.disable_progress_bar()
    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    sd = from_hf_state_dict(hf.state_dict(), model.cfg, kind)
    wanted = model.state_dict()
    for name in set(sd) - set(wanted):  # GPT-2's biases and positions where tinyx has none: they must be zero
        if sd.pop(name).abs().max() > 0:
            raise ExportError(f"model.init_from={init_from}: its {name} is not zero, but this run's model has none: "
                              f"set model.bias=true (or model.pos=learned).")
    with torch.no_grad():
        model.load_state_dict(sd, strict=True)


def tokenizer_of(init_from: str, vocab_size: int) -> dict[str, Any]:
    """The tinyx tokenizer (to_dict form) the folder's model reads, or an ExportError saying what to set."""
    from tinyx.hf.tokenizer import folder_tokenizer

    folder = folder_of(init_from)
    found = folder_tokenizer(folder, vocab_size)
    if found is None:
        raise ExportError(f"model.init_from={init_from}: its tokenizer is neither a tinyx export's nor GPT-2's "
                          f"(vocabulary {vocab_size}): it needs data.tokenizer=hf data.tokenizer_path={folder}.")
    return found


def prepare(cfg, say) -> tuple[Any, dict[str, Any] | None]:
    """Before the corpus is tokenized: the run's config with the folder's tokenizer, and that tokenizer.

    tiktoken folders set data.tokenizer/data.encoding; a character folder keeps data.tokenizer=char (its
    alphabet is checked against the corpus' in `check`). A run set to another tokenizer (data.tokenizer=hf)
    keeps it: only the vocabulary size is checked then.
    """
    from dataclasses import replace

    from tinyx.hf import require

    require("transformers", "safetensors", extra="hf", what=f"model.init_from={cfg.model.init_from}")
    _, shape = read_shape(folder_of(cfg.model.init_from))
    if cfg.data.tokenizer not in (None, "char", "tiktoken"):
        return cfg, None
    tok = tokenizer_of(cfg.model.init_from, shape["vocab_size"])
    kind = tok["kind"]
    if kind == "tiktoken" and (cfg.data.tokenizer, cfg.data.encoding) != ("tiktoken", tok["encoding"]):
        say(f"model.init_from: data.tokenizer=tiktoken data.encoding={tok['encoding']}, the folder's tokenizer")
        cfg = replace(cfg, data=replace(cfg.data, tokenizer="tiktoken", encoding=tok["encoding"]))
    elif kind == "char" and cfg.data.tokenizer != "char":
        say("model.init_from: data.tokenizer=char, the folder's tokenizer")
        cfg = replace(cfg, data=replace(cfg.data, tokenizer="char"))
    elif kind == "hf":  # the folder's tokenizer.json is the one the exported run trained with
        folder = folder_of(cfg.model.init_from)
        say(f"model.init_from: data.tokenizer=hf data.tokenizer_path={folder}, the folder's tokenizer")
        cfg = replace(cfg, data=replace(cfg.data, tokenizer="hf", tokenizer_path=str(folder)))
    return cfg, tok


def check(cfg, tokenizer, folder_tok: dict[str, Any] | None) -> None:
    """After tokenizing: the corpus' tokenizer is the folder's, and the run's model is the folder's shape."""
    init_from = cfg.model.init_from
    where = f"model.init_from={init_from}"
    ours, theirs = tokenizer.to_dict(), folder_tok
    if theirs is not None and ours.get("kind") == "hf":  # where it was read from differs; the tokenizer may not
        ours, theirs = ours.get("json"), theirs.get("json")
    if theirs is not None and ours != theirs:
        raise ExportError(f"{where}: this corpus' {folder_tok['kind']} tokenizer differs from the folder's (another "
                          f"alphabet or encoding): train on text with the same characters, or on the corpus the "
                          f"model was trained on (data.path=...).")
    _, shape = read_shape(folder_of(init_from))
    check_shape(cfg.model, shape, where)
