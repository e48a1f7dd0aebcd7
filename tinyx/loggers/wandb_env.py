"""What the environment tells wandb (WANDB_MODE, an API key), read the same way by training and `compare --wandb`,
and wandb's errors said in one line that names the setting."""

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


def clear_empty_wandb_env() -> None:
    """Drop every empty WANDB_* variable from the environment: the one place that does, for training and compare.

    A .env copied from .env.example, or a shell's `export WANDB_MODE=`, sets unused keys to "": they mean "not
    set", and wandb would refuse an empty WANDB_MODE or use an empty project name.
    """
    for key in [k for k, v in os.environ.items() if k.startswith("WANDB_") and not v.strip()]:
        del os.environ[key]


def wandb_mode() -> str:
    """$WANDB_MODE lower-cased ("" when unset), after clear_empty_wandb_env: call it before anything reads a WANDB_*
    variable (training's logger and `compare --wandb` both start with it)."""
    clear_empty_wandb_env()
    return os.environ.get("WANDB_MODE", "").strip().lower()


def wandb_error(e: Exception) -> str:
    """One line for an error wandb raised. A setting it refused (pydantic's ValidationError, whose first line is
    only "1 validation error for Settings") is named with the variable that sets it and what it takes:
    `wandb setting mode (WANDB_MODE) is 'bogus': Input should be 'online', 'offline', ...`."""
    errors = getattr(e, "errors", None)
    if callable(errors) and getattr(e, "title", None) == "Settings":
        said = []
        for err in errors():
            name = ".".join(map(str, err.get("loc", ()))) or "?"
            said.append(f"wandb setting {name} (WANDB_{name.upper()}) is {err.get('input')!r}: {err.get('msg')}")
        return "; ".join(said)[:300]
    return f"{type(e).__name__}: {' '.join(str(e).split())}"[:300]


def offline_reason(mode: str) -> str | None:
    """Why wandb writes offline rather than uploading (None: it uploads), for a `wandb_mode()` other than disabled."""
    if mode == "offline":
        return "WANDB_MODE=offline"
    if not has_wandb_key():
        return "no WANDB_API_KEY in the environment or .env"
    return None


def finished_run_line(run, folder, what: str) -> str:
    """The line a tool prints after logging `what` (e.g. "comparison") as a wandb run kept in <folder>/wandb: its
    URL, or where the offline run is and how to upload it."""
    from pathlib import Path

    from tinyx.rundir.contract import WANDB_DIR

    where = Path(folder) / WANDB_DIR
    if run.offline:
        return (f"wandb: offline {what} run {run.id} in {where}; upload with: uv run wandb sync "
                f"{where / 'offline-run-*'}")
    return f"wandb: {run.url}"

