"""What each config key is for: the roles that decide which keys group runs, name them, and are published."""

from __future__ import annotations

# Every config key is a hyperparameter (what is trained, and how it is measured) unless this table
# says otherwise; the longest matching prefix decides. compare and the sweep group and match runs by
# hyperparameters only, run names show only them, trackers publish everything but logging and secrets.
HYPERPARAMETER, MACHINE, LOGGING, RUN, SECRET = "hyperparameter", "machine", "logging", "run", "secret"
KEY_ROLES: dict[str, str] = {
    "hardware": MACHINE, "hardware.dtype": HYPERPARAMETER,  # precision changes the result
    "data.path": MACHINE, "data.search_dirs": MACHINE, "data.cache_dir": MACHINE, "data.url": MACHINE,
    "data.build_command": MACHINE,
    "data.tokenizer_path": MACHINE, "data.val_path": MACHINE, "data.workers": MACHINE, "data.streaming": MACHINE,
    "logger": LOGGING,
    "train.resume": RUN, "train.log_every": RUN, "train.ckpt_every": RUN, "train.keep_checkpoints": RUN,
    "train.sample_tokens": RUN, "train.sample_prompt": RUN, "train.max_nonfinite_steps": RUN,
    "hydra": RUN,
}
# Exact names of keys whose values are secrets wherever they come from (an API key typed on the command line).
SECRET_KEYS = frozenset({"logger.wandb.api_key"})


def key_role(key: str) -> str:
    """The role of a flat config key (`optim.lr` -> hyperparameter, `hardware.device` -> machine)."""
    if key in SECRET_KEYS:
        return SECRET
    parts = key.replace("/", ".").split(".")  # a group override (`hydra/launcher=...`) counts as its key
    for n in range(len(parts), 0, -1):
        role = KEY_ROLES.get(".".join(parts[:n]))
        if role:
            return role
    return HYPERPARAMETER


def is_hyperparameter(key: str) -> bool:
    return key_role(key) == HYPERPARAMETER


def override_key(override: str) -> str:
    """The config key a `key=value` override sets: `+optim.lr=1e-3` -> optim.lr, `~logger` -> logger,
    `optim@x=adamw` -> optim (the group, not its package)."""
    return override.partition("=")[0].lstrip("+~").split("@", 1)[0]


def quoted_override(key: str, value: str) -> str:
    """`key='value'` quoted for Hydra's override grammar, so a value with spaces, `=`, commas, brackets or quotes
    (a run name such as `optim=muon, lr=3e-3 seed=1`) is one string, not a sweep or a parse error. One argv item:
    a shell needs the whole of it quoted once more (docs/tracking.md)."""
    import re

    # Hydra keeps a backslash as it is unless it comes before a quote or the closing quote: only those double.
    escaped = re.sub(r"(\\*)('|$)", lambda m: m[1] * 2 + ("\\'" if m[2] else ""), value)
    escaped = escaped.replace("${", "\\${")  # `${` would start an interpolation
    return f"{key}='{escaped}'"
