"""Token files other tools write and read: llm.c / modded-nanogpt shards and nanoGPT's train.bin/val.bin.

llm.c shard: a 1024-byte header of 256 little-endian int32 (header[0] the magic, header[1] the version,
header[2] the number of tokens), then the tokens: magic 20240520 with version 1 holds uint16 tokens,
magic 20240801 with version 7 uint32 tokens. tinyx writes its own token cache in this format.
nanoGPT: raw uint16 tokens without a header, and a `meta.pkl` (a pickle of {vocab_size, itos, stoi})
for character vocabularies, read here with an unpickler that builds plain data only and runs nothing.
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyx.common.errors import DataError
from tinyx.config import DataConfig

HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
# magic -> (version, token dtype)
LLMC_FORMATS = {20240520: (1, np.dtype("<u2")), 20240801: (7, np.dtype("<u4"))}


def llmc_magic(dtype: np.dtype) -> int:
    return 20240520 if np.dtype(dtype).itemsize == 2 else 20240801


def llmc_header(n_tokens: int, dtype: np.dtype) -> bytes:
    magic = llmc_magic(dtype)
    header = np.zeros(HEADER_INTS, dtype="<i4")
    # header[2] is an int32 in llm.c: a larger count is clipped there (meta.json keeps the true one).
    header[:3] = magic, LLMC_FORMATS[magic][0], min(n_tokens, 2**31 - 1)
    return header.tobytes()


def open_llmc_shard(path: Path) -> np.ndarray:
    """The tokens of an llm.c shard as a memmap, after checking its magic, version and length."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES:
        raise DataError(f"shard {path} is cut short ({len(raw)} bytes, less than the 1024-byte llm.c header): "
                        f"copy it again or leave it out of data.path.")
    magic, version, count = (int(x) for x in np.frombuffer(raw, dtype="<i4")[:3])
    if magic not in LLMC_FORMATS:
        raise DataError(f"shard {path} has magic {magic}, not an llm.c shard's (20240520 or 20240801): pass llm.c / "
                        f"modded-nanogpt shards, or a nanoGPT folder holding train.bin and val.bin.")
    want_version, dtype = LLMC_FORMATS[magic]
    if version != want_version:
        raise DataError(f"shard {path} has version {version}, but magic {magic} goes with version {want_version}: "
                        f"the file is damaged or from another tool; regenerate it.")
    expected = HEADER_BYTES + count * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise DataError(f"shard {path} is cut short: its header promises {count:,} tokens ({expected:,} bytes), "
                        f"the file has {size:,} bytes; copy it again.")
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(count,))


def write_llmc_shard(path: Path, tokens: np.ndarray, dtype=np.uint16) -> None:
    """An llm.c shard of these tokens (for tests, and for users converting data)."""
    with open(path, "wb") as f:
        f.write(llmc_header(len(tokens), np.dtype(dtype)))
        f.write(np.asarray(tokens, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())


# ---------------------------------------------------------------- nanoGPT
class _PlainDataUnpickler(pickle.Unpickler):
    """Builds dicts, lists, tuples, strings, numbers, booleans and None; refuses every class or function
    (a pickle names those through find_class), so loading a planted meta.pkl cannot run code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name}")


def read_meta_pkl(path: Path) -> dict:
    try:
        meta = _PlainDataUnpickler(io.BytesIO(path.read_bytes())).load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path} refers to code ({e}), not plain data: tinyx will not unpickle it; remove it or "
                        f"replace it with nanoGPT's {{vocab_size, itos, stoi}}.") from None
    except Exception as e:  # a damaged pickle raises many types
        raise DataError(f"{path} is not a readable meta.pkl ({type(e).__name__}): remove or regenerate it.") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("itos"), dict):
        raise DataError(f"{path} has no itos table (nanoGPT's meta.pkl maps ids to characters): remove or "
                        f"regenerate it.")
    return meta


def open_nanogpt_bin(path: Path) -> np.ndarray:
    if path.stat().st_size % 2:
        raise DataError(f"{path} has an odd number of bytes: nanoGPT's .bin files hold uint16 tokens; copy it again.")
    return np.memmap(path, dtype="<u2", mode="r")


# ---------------------------------------------------------------- finding shards
@dataclass
class ShardSet:
    format: str  # "nanogpt" | "llmc"
    train: list[Path]
    val: list[Path]
    meta_pkl: Path | None = None

    def open(self, path: Path) -> np.ndarray:
        return open_nanogpt_bin(path) if self.format == "nanogpt" else open_llmc_shard(path)


def _glob(pattern: str, key: str) -> list[Path]:
    from tinyx.data.sources import expand_files

    return expand_files(pattern, (".bin",), key)


def find_shards(cfg: DataConfig) -> ShardSet:
    """nanoGPT (a folder with train.bin, or train.bin itself) or llm.c shards (a file, folder or glob)."""
    path = Path(cfg.path).expanduser()
    folder = path if path.is_dir() else path.parent
    if (path.is_dir() and (path / "train.bin").is_file()) or path.name == "train.bin":
        val = Path(cfg.val_path).expanduser() if cfg.val_path else folder / "val.bin"
        for f in (folder / "train.bin", val):
            if not f.is_file():
                raise DataError(f"{f} does not exist: nanoGPT data needs train.bin and val.bin side by side "
                                f"(or data.val_path=<val.bin>).")
        meta = folder / "meta.pkl"
        return ShardSet("nanogpt", [folder / "train.bin"], [val], meta if meta.is_file() else None)
    pattern = str(path / "*train*.bin") if path.is_dir() else cfg.path
    train = _glob(pattern, "data.path")
    val_pattern = cfg.val_path or _val_pattern(pattern)
    if val_pattern is None:
        raise DataError(f"data.path={cfg.path} names no 'train' shards, so tinyx cannot guess the validation "
                        f"shards: set data.val_path=<file or glob>.")
    return ShardSet("llmc", train, _glob(val_pattern, "data.val_path"))


def _val_pattern(train_pattern: str) -> str | None:
    head, _, name = train_pattern.rpartition("/")
    if "train" not in name:
        return None
    return (head + "/" if head else "") + re.sub(r"train(?!.*train)", "val", name)
