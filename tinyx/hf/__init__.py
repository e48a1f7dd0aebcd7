"""Hugging Face interop: tinyx models as `transformers` folders and back.

    architectures.py  which HF architecture each tinyx block is, and its config.json both ways
    weights.py        the weight names and layouts both ways
    tokenizer.py      tinyx tokenizers as `tokenizers` tokenizer.json files, and the tokenizer of a folder
    load.py           `model.init_from=hf:<folder>`: a tinyx model's weights from a folder on disk

`transformers`, `tokenizers` and `safetensors` are imported inside functions: `import tinyx` stays fast.
"""

from importlib.util import find_spec

from tinyx.common.errors import ExportError, TinyxError


def require(*modules: str, extra: str, what: str, error: type[TinyxError] = ExportError) -> None:
    """One clear line, not an ImportError traceback, when an optional extra is not installed."""
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise error(f"{what} needs {', '.join(missing)} (tinyx's `{extra}` extra): install it with "
                    f"`uv sync --extra {extra}` (or pip install 'tinyx[{extra}]').")
