"""What every entry point (train.py, sweep.py, `tinyx <tool>`) does before its work.

Standard library only at import: train.py and sweep.py import it when tinyx's dependencies are missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]  # the folder that holds tinyx/ (a checkout, or site-packages)


def exit_outside_environment(script: str, error: ModuleNotFoundError, activated: str | None = None) -> None:
    """`python train.py` (or a tool) with a Python that lacks tinyx's dependencies (a fresh clone, no environment
    activated): one line saying what to run instead of the import traceback, exit 2. `activated`: the command
    once the environment is active (default `python <script>`)."""
    print(f"error: {script} needs tinyx's environment and this Python ({sys.executable}) lacks it "
          f"(no module named {error.name!r}): run `uv run {script} ...`, or `uv sync && source .venv/bin/activate` "
          f"once and then `{activated or f'python {script}'} ...` (README, Set-up).", file=sys.stderr, flush=True)
    sys.exit(2)


# What every tool imports first (torch last: the slowest to look for is looked for only if the others are there).
TOOL_DEPENDENCIES = ("omegaconf", "numpy", "torch")


def require_environment(tool: str = "<tool>") -> None:
    """A tool started by a Python without tinyx's dependencies (`python3 -m tinyx.cli export`): the one-line
    hint train.py gives, before an import deep in the tool fails with a traceback."""
    missing = first_missing(TOOL_DEPENDENCIES)
    if missing:
        exit_outside_environment(f"tinyx {tool}", ModuleNotFoundError(name=missing), activated=f"tinyx {tool}")


def load_env() -> None:
    """Load `.env` into the environment: the current directory's (or its nearest parent's), then the
    checkout's; a variable already set wins over both, the current directory's over the checkout's.

    The current directory first, so a user who runs tools from the folder holding their runs and .env
    (e.g. TIKTOKEN_CACHE_DIR for an offline BPE run) gets it; the checkout's, so train.py run from
    elsewhere still reads the .env beside it.
    """
    from dotenv import dotenv_values, find_dotenv

    for env_file in (find_dotenv(usecwd=True), CHECKOUT / ".env"):
        if env_file and Path(env_file).is_file():
            for name, value in dotenv_values(env_file).items():
                if value and name not in os.environ:  # empty means unset (.env.example's blank lines)
                    os.environ[name] = value


def start(script: str) -> None:
    """train.py's and sweep.py's first step: outside tinyx's environment one line saying what to run instead of
    an import traceback; inside it, `.env` loaded before Hydra reads `${oc.env:...}`."""
    missing = first_missing(("hydra", "omegaconf"))
    if missing:
        exit_outside_environment(script, ModuleNotFoundError(name=missing))
    load_env()


def first_missing(modules: tuple[str, ...]) -> str | None:
    """The first of `modules` this Python cannot import (looked up, not imported: torch costs seconds)."""
    import importlib.util

    return next((name for name in modules if importlib.util.find_spec(name) is None), None)
