"""A new run directory of this process's own, and whether a directory is one (the launcher asks).

A table per process, not a marker file: the name train.py's default run directory is resolved to may be asked
for several times while Hydra composes one run, and each time must give the same directory.
"""

from __future__ import annotations

from pathlib import Path

_claimed: dict[str, Path] = {}  # per process: a directory is claimed once, however often its name is resolved


def claim_new_dir(base: str | Path) -> Path:
    """A directory of this process's own: `base` if nobody has it yet, else `base_1`, `base_2`, ...

    `os.mkdir` is atomic, so two runs started in the same second (two terminals, a job array) never
    share a directory.
    """
    key = str(base)
    if key in _claimed:
        return _claimed[key]
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = base if n == 0 else base.with_name(f"{base.name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError:  # a read-only or full disk: the writable probe that follows names it
            return base
        _claimed[key] = candidate
        return candidate
    raise RuntimeError(f"no free directory name next to {base}")


def claimed_by_this_process(path: str | Path) -> bool:
    """Whether this process created `path` as a new directory of the default naming (claim_new_dir)."""
    return Path(path).resolve() in {p.resolve() for p in _claimed.values()}
