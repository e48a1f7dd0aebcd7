"""What the environment tells wandb (WANDB_MODE, an API key), read the same way by training and `compare --wandb`."""

from __future__ import annotations

import netrc
import os
from urllib.parse import urlsplit


def has_wandb_key() -> bool:
    """An API key in $WANDB_API_KEY or in the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    try:
        return bool(host) and netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode() -> str:
    """$WANDB_MODE lower-cased ("" when unset), once every empty WANDB_* variable is dropped from the environment.

    A .env copied from .env.example sets unused keys to "": they mean "not set", and wandb would refuse an
    empty WANDB_MODE or use an empty project name. Call it before anything reads a WANDB_* variable.
    """
    for key in [k for k, v in os.environ.items() if k.startswith("WANDB_") and not v.strip()]:
        del os.environ[key]
    return os.environ.get("WANDB_MODE", "").strip().lower()


def offline_reason(mode: str) -> str | None:
    """Why wandb writes offline rather than uploading (None: it uploads), for a `wandb_mode()` other than disabled."""
    if mode == "offline":
        return "WANDB_MODE=offline"
    if not has_wandb_key():
        return "no WANDB_API_KEY in the environment or .env"
    return None
