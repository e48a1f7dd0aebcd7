"""Writing files so that no reader ever sees half of one, and probing that a directory takes writes.

Every temporary name is unique (`mkstemp` in the target's folder): two processes writing the same
file, or probing the same directory, at the same instant never collide.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from tinyx.common.errors import ConfigError


def atomic_write(path: str | Path, write: Callable[[Path], None], durable: bool = False) -> Path:
    """Write `path` through `write(tmp_path)`, then rename the temporary file into place.

    `durable`: fsync the file and its folder, so the rename survives a power cut (checkpoints).
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = False) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), durable)


def atomic_write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text), durable)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def is_temporary(path: Path) -> bool:
    """A file `atomic_write` left behind when its process was killed mid-write."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def check_writable(directory: str | Path, key: str = "hydra.run.dir") -> None:
    """Create `directory` and write a file in it, so that a read-only or full disk stops a run before
    it starts. `key` is the setting that chose the directory, named in the error."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_probe.", dir=path)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"output directory {path} is not writable ({e.strerror}): free space, fix its "
                          f"permissions, or choose another with {key}=...") from None
