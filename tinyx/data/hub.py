"""Hugging Face `datasets` as a source: a hub dataset (from the local hub cache when offline) or a folder saved
with `save_to_disk`. Never runs a dataset's own code (`trust_remote_code` is never passed; datasets 4
refuses loading scripts anyway). `datasets` is imported here only, when data=hf asks for it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from tinyx.common.errors import DataError
from tinyx.config import DataConfig


def _import_datasets():
    try:
        import datasets
    except ModuleNotFoundError:
        raise DataError("data=hf needs Hugging Face datasets: install the hf extra (uv sync --extra hf).") from None
    return datasets


def hf_source(cfg: DataConfig) -> tuple[str, list[Path], dict]:
    """(label, files, identity) of the dataset data.* names, for tinyx.data.sources.Source."""
    if cfg.path:
        folder = Path(cfg.path).expanduser()
        if not (folder / "dataset_info.json").is_file() and not (folder / "dataset_dict.json").is_file():
            raise DataError(f"data.path={cfg.path} is not a folder written by save_to_disk (no dataset_info.json or "
                            f"dataset_dict.json): pass one, or data.name=<hub dataset> without data.path.")
        files = sorted(f for f in folder.rglob("*") if f.is_file())
        return str(folder), files, {"field": cfg.field, "split": cfg.split}
    # A hub dataset: its name, config and split decide the documents (the hub revision is not checked:
    # delete the cache folder to re-read a dataset that changed upstream).
    return cfg.name, [], {"name": cfg.name, "config": cfg.config, "split": cfg.split, "field": cfg.field}


def _load(cfg: DataConfig):
    datasets = _import_datasets()
    if cfg.path:
        loaded = datasets.load_from_disk(str(Path(cfg.path).expanduser()))
        if isinstance(loaded, datasets.DatasetDict):
            if cfg.split not in loaded:
                raise DataError(f"data.split={cfg.split!r} is not in {cfg.path} (its splits: "
                                f"{', '.join(loaded)}): set data.split to one of them.")
            loaded = loaded[cfg.split]
        return loaded
    try:
        return datasets.load_dataset(cfg.name, cfg.config, split=cfg.split, streaming=cfg.streaming)
    except Exception as e:  # offline, a missing dataset, a bad config: datasets raises many types
        detail = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise DataError(f"hub dataset data.name={cfg.name} (config {cfg.config}, split {cfg.split}) is not available "
                        f"here ({detail}): download it once online into the Hugging Face cache, or save it with "
                        f"save_to_disk and pass data.path=<that folder>.") from None


def hf_documents(cfg: DataConfig) -> Iterator[str]:
    dataset = _load(cfg)
    names = list(dataset.column_names or []) if dataset.column_names is not None else None
    if names is not None and cfg.field not in names:
        raise DataError(f"dataset {cfg.path or cfg.name} has no column data.field={cfg.field!r} (its columns: "
                        f"{', '.join(names)}): set data.field to the column holding the text.")
    rows = dataset.select_columns([cfg.field]) if names is not None else dataset
    for i, row in enumerate(rows):
        value = row.get(cfg.field)
        if cfg.field not in row or not isinstance(value, (str, type(None))):
            raise DataError(f"row {i} of {cfg.path or cfg.name} has no text in data.field={cfg.field!r} (it has: "
                            f"{', '.join(row)}): set data.field to the column holding the text.")
        if value is not None:
            yield value
