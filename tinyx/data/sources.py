"""Sources: what data.* names (text files, JSONL, Parquet, a hub dataset), checked to exist, and the
documents of JSONL and Parquet files. Reading text files: tinyx.data.text; documents and the validation
split: tinyx.data.splits."""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tinyx.common.errors import DataError
from tinyx.config import DataConfig

TEXT_SUFFIXES = (".txt", ".md", ".text", ".rst")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)


@dataclass
class Source:
    """What a run reads: its files (size and mtime make the cache's fingerprint), or a hub dataset's identity."""

    kind: str
    label: str  # shown in messages and recorded in the run directory
    files: list[Path] = field(default_factory=list)
    identity: dict = field(default_factory=dict)  # what else decides the documents (hub name, config, split)

    @property
    def nbytes(self) -> int | None:
        return sum(f.stat().st_size for f in self.files) if self.files and self.kind != "hf" else None


# ---------------------------------------------------------------- finding files
def expand_files(path: str, suffixes: tuple[str, ...], key: str = "data.path") -> list[Path]:
    """A file, a folder (its files with these suffixes, recursively) or a glob, sorted; errors name the fix."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        if not found:
            raise DataError(f"{key}={path} is a folder with no {'/'.join(suffixes)} files: put them there, or pass "
                            f"a glob that matches your files ({key}='{p}/**/*.<ext>').")
        return found
    if glob.has_magic(str(p)):
        found = sorted(Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
        if not found:
            raise DataError(f"{key}='{path}' matches nothing: check the pattern (quote it so the shell "
                            f"leaves it to tinyx).")
        return found
    raise DataError(f"{key}={path} does not exist: pass a UTF-8 text file, a folder or a glob.")


def text_source(cfg: DataConfig) -> Source:
    if cfg.path is None:
        from tinyx.data.download import resolve_corpus

        corpus = resolve_corpus(cfg)
        return Source("text", str(corpus), [corpus])
    files = expand_files(cfg.path, TEXT_SUFFIXES)
    return Source("text", cfg.path if len(files) > 1 else str(files[0]), files)


def describe_source(cfg: DataConfig) -> Source:
    """The source data.* names, checked to exist (nothing read yet)."""
    if cfg.source == "text":
        return text_source(cfg)
    if cfg.source in ("jsonl", "parquet"):
        files = expand_files(cfg.path, JSONL_SUFFIXES if cfg.source == "jsonl" else PARQUET_SUFFIXES)
        return Source(cfg.source, cfg.path, files, {"field": cfg.field})
    from tinyx.data.hub import hf_source

    return Source("hf", *hf_source(cfg))


# ---------------------------------------------------------------- JSONL and Parquet
def jsonl_documents(files: list[Path], field_name: str) -> Iterator[str]:
    for path in files:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise DataError(f"{path}:{lineno} is not JSON ({getattr(e, 'msg', e)}): fix or remove that "
                                    f"line (data=jsonl reads one JSON object per line).") from None
                yield _field(row, field_name, f"{path}:{lineno}")


def _field(row, field_name: str, where: str) -> str:
    value = row.get(field_name) if isinstance(row, dict) else None
    if not isinstance(value, str):
        keys = ", ".join(map(str, row)) if isinstance(row, dict) else type(row).__name__
        raise DataError(f"{where} has no text in data.field={field_name!r} (it has: {keys}): set data.field to "
                        f"the key that holds each document's text.")
    return value


def parquet_documents(files: list[Path], field_name: str) -> Iterator[str]:
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise DataError("data=parquet needs pyarrow: install the hf extra (uv sync --extra hf).") from None
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
        except Exception as e:  # pyarrow's errors for a file that is not Parquet
            raise DataError(f"{path} is not a Parquet file ({e}): leave it out of data.path.") from None
        names = parquet.schema_arrow.names
        if field_name not in names:
            raise DataError(f"Parquet file {path} has no column data.field={field_name!r} (its columns: "
                            f"{', '.join(names)}): set data.field to the column holding the text.")
        for batch in parquet.iter_batches(columns=[field_name], batch_size=1024):
            for value in batch.column(0).to_pylist():
                if value is not None:
                    yield str(value)
