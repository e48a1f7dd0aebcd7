"""What reproduces a run: the code's git commit (and its uncommitted diff), versions, device, data."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from tinyx.cli.entry import CHECKOUT
from tinyx.rundir.contract import FLOPS_PER_TOKEN, WORLD_SIZE

_SOURCE_DIR = CHECKOUT  # the checkout tinyx runs from (or site-packages)
_MAX_DIFF_BYTES = 1_000_000  # a diff past this is cut: provenance is a record, not a backup


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_SOURCE_DIR), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state() -> dict[str, Any] | None:
    """The commit tinyx's code is at, whether tracked files differ from it, and that diff; None outside git."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None
    diff = _git("diff", "HEAD") or ""
    return {"commit": commit.strip(), "dirty": bool(diff), "diff": diff[:_MAX_DIFF_BYTES],
            "diff_truncated": len(diff) > _MAX_DIFF_BYTES}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(device: str, data: dict[str, Any], flops_per_token: float | None = None,
            world_size: int = 1) -> dict[str, Any]:
    """The provenance record of a run on `device`, trained on `data` (its corpus and token fingerprint), by
    `world_size` processes of a model costing `flops_per_token` training FLOPs a token (compare's --at-flops)."""
    import torch

    return {
        "git": git_state(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "tinyx": _version("tinyx"),
                     "cuda": torch.version.cuda},
        "device": device,
        "host": {"platform": platform.platform(), "executable": sys.executable},
        "data": data,
        FLOPS_PER_TOKEN: flops_per_token,
        WORLD_SIZE: world_size,
    }
