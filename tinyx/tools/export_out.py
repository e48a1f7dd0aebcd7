"""Where an export goes: the checks on --out, and without --out a new folder under the outputs root."""

from __future__ import annotations

from pathlib import Path

from tinyx.common.errors import ExportError
from tinyx.rundir.last import EXPORTS_DIR, RUNS_DIR, outputs_root


def check_out_dir(out: Path, overwrite: bool, sources: list[Path]) -> None:
    """`out` must be new, empty, or (--overwrite) a folder that holds none of the run being exported."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file: pass a folder path for the export.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ExportError(f"--out {out} exists and is not empty: choose a new folder, or pass --overwrite "
                              f"to replace it.")
        resolved = out.resolve()
        if any(resolved == s or resolved in s.parents for s in sources):
            raise ExportError(f"--out {out} holds the run being exported: --overwrite would delete it; choose "
                              f"another folder.")


def run_name(run_dir: Path) -> str:
    """The run's name in its export's folder name: its path under the outputs root, `_` for `/` and without
    runs/ (runs/2026-11-21/01-04-15 -> 2026-11-21_01-04-15, so that exports sort by start), else its folder's."""
    try:
        parts = run_dir.resolve().relative_to(outputs_root().resolve()).parts
    except ValueError:  # a run directory outside the outputs root (hydra.run.dir=...)
        return run_dir.resolve().name
    return "_".join(parts[1:] if parts[:1] == (RUNS_DIR,) else parts) or run_dir.resolve().name


def default_out(run_dir: Path, step: int) -> Path:
    """<outputs root>/exports/<run name>-step<N>, or the first free <...>_2, _3, ...: an export without --out
    never overwrites one before it (e.g. of the same checkpoint)."""
    base = outputs_root() / EXPORTS_DIR / f"{run_name(run_dir)}-step{step}"
    out, n = base, 1
    while out.exists() and (not out.is_dir() or any(out.iterdir())):
        n += 1
        out = base.with_name(f"{base.name}_{n}")
    return out
