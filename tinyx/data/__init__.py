"""Data: sources (text, JSONL/Parquet, Hugging Face datasets, shards), tokenizers, the token cache, batches.

Modules: sources.py and hub.py (where documents come from), text.py and cuts.py (text files read in pieces
that keep the whole text's tokens), splits.py (documents and the validation split), shards.py (llm.c /
nanoGPT token files), tokenizers.py, encode.py (parallel tokenizing), cache.py and build.py (the on-disk token cache),
load.py (`load_tokens` -> `TokenData`), batches.py (batches), windows.py (where training windows start),
download.py (the named corpus).
The names below are re-exported lazily, so `import tinyx.data.tokenizers` (the tokenizing workers)
does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TokenData": "load", "load_tokens": "load", "check_lengths": "load",
    "CharTokenizer": "tokenizers", "TiktokenTokenizer": "tokenizers", "HFTokenizer": "tokenizers",
    "Tokenizer": "tokenizers", "tokenizer_from_dict": "tokenizers",
    "WindowSampler": "batches", "sample_windows": "batches", "to_device": "batches",
    "fixed_eval_windows": "batches", "sequential_windows": "batches",
    "DocumentWindowSampler": "windows", "make_sampler": "windows",
    "cache_root": "download", "download": "download", "redact_url": "download", "resolve_corpus": "download",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tinyx.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tinyx.data' has no attribute {name!r}")
