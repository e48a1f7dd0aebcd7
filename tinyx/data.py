"""Corpus resolution, tokenizers, the on-disk token cache and batch sampling."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np
import torch

from tinyx.config import DataConfig
from tinyx.errors import DataError
from tinyx.files import atomic_write, atomic_write_bytes

log = logging.getLogger(__name__)

TOKEN_CACHE_VERSION = 2  # 2: meta.json holds each split file's sha256


# ---------------------------------------------------------------- tokenizers
class CharTokenizer:
    """One token per character of the corpus' alphabet (sorted, as nanoGPT)."""

    def __init__(self, chars: list[str]):
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.vocab_size = len(chars)
        self._codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        missing = sorted(set(text) - self.stoi.keys())
        if missing:
            raise DataError(f"characters {', '.join(map(repr, missing))} are not in this run's vocabulary "
                            f"(a character tokenizer knows only its corpus' characters): remove them from the prompt.")
        return [self.stoi[c] for c in text]

    def encode_corpus(self, text: str) -> np.ndarray:
        # Vectorised: code points -> positions in the sorted alphabet.
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return np.searchsorted(self._codepoints, cps)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids if 0 <= i < self.vocab_size)

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class TiktokenTokenizer:
    def __init__(self, encoding: str):
        import tiktoken

        try:
            self.enc = tiktoken.get_encoding(encoding)
        except ValueError:
            raise DataError(f"data.encoding={encoding!r} is not a tiktoken encoding: use one of "
                            f"{', '.join(tiktoken.list_encoding_names())}.") from None
        except Exception as e:  # network errors come in many types
            raise DataError(f"could not load tiktoken encoding {encoding!r} ({type(e).__name__}). Without internet, set "
                            f"TIKTOKEN_CACHE_DIR to an absolute folder holding tiktoken's cache files "
                            f"(e.g. ../shared/tiktoken_cache).") from None
        self.encoding = encoding
        self.vocab_size = self.enc.n_vocab

    def encode(self, text: str) -> list[int]:
        return self.enc.encode_ordinary(text)

    def encode_corpus(self, text: str) -> np.ndarray:
        return np.array(self.enc.encode_ordinary(text), dtype=np.int64)

    def decode(self, ids) -> str:
        return self.enc.decode([i for i in ids if 0 <= i < self.vocab_size])

    def to_dict(self) -> dict:
        return {"kind": "tiktoken", "encoding": self.encoding}


Tokenizer = CharTokenizer | TiktokenTokenizer


def tokenizer_from_dict(d: dict) -> Tokenizer:
    if d.get("kind") == "char":
        return CharTokenizer(list(d["chars"]))
    if d.get("kind") == "tiktoken":
        return TiktokenTokenizer(d["encoding"])
    raise DataError(f"unknown tokenizer description {d!r}: the run directory's tokenizer.json is damaged.")


# ---------------------------------------------------------------- corpus
def cache_root(cfg: DataConfig) -> Path:
    root = cfg.cache_dir or os.environ.get("TINYX_CACHE_DIR") or Path.home() / ".cache" / "tinyx"
    return Path(root).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_expected_file(path: Path, cfg: DataConfig) -> bool:
    if cfg.size_bytes is not None and path.stat().st_size != cfg.size_bytes:
        return False
    return cfg.sha256 is None or _sha256(path) == cfg.sha256


# Query parameters whose values are credentials: access_token, api_key, X-Amz-Signature, client_secret, ...
_SECRET_PARAM = re.compile(r"token|key|secret|passw|sig|credential|auth", re.IGNORECASE)


def _secret_params(query: str) -> list[tuple[str, str]]:
    """(name, value) of each query parameter whose name says it holds a credential."""
    pairs = [pair.partition("=") for pair in query.split("&")] if query else []
    return [(name, value) for name, eq, value in pairs if eq and value and _SECRET_PARAM.search(unquote(name))]


def redact_url(url: str) -> str:
    """`url` fit for logs and messages: its userinfo and credential-named query values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed (e.g. a bad IPv6 host): no telling which part is secret
        return "***"
    netloc = "***@" + parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    secret_names = {name for name, _ in _secret_params(parts.query)}
    query = "&".join(f"{pair.partition('=')[0]}=***" if pair.partition("=")[0] in secret_names else pair
                     for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _scrub(text: str, url: str) -> str:
    """`text` (an error message, urllib's included) with `url` redacted and its credentials in any form hidden."""
    text = text.replace(url, redact_url(url))
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    userinfo, at, _ = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    # The user name is a secret when it stands alone (https://TOKEN@host/...), not beside a password.
    secrets = [userinfo, password, user if not colon else ""] if at else []
    secrets += [value for _, value in _secret_params(parts.query)]
    for secret in sorted({form for s in secrets if s for form in (s, unquote(s))}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _request(url: str) -> urllib.request.Request:
    """urllib cannot send a URL's userinfo (it takes it for part of the host name): send it as HTTP Basic
    credentials instead, as curl does, and not on to wherever a redirect leads."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return urllib.request.Request(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    request = urllib.request.Request(urlunsplit(parts._replace(netloc=host)))
    user, _, password = userinfo.partition(":")
    credentials = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    request.add_unredirected_header("Authorization", f"Basic {credentials}")
    return request


def download(url: str, dest: Path, cfg: DataConfig, timeout: float = 30.0) -> None:
    """Download to a temporary file, verify size and checksum, then move into place.

    The URL may carry credentials (data.url=https://${oc.env:TOKEN}@host/...): messages show it redacted.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    shown = redact_url(url)
    hint = (f"put the file at {dest}, name its folder in data.search_dirs (this machine's conf/local/default.yaml, "
            f"see conf/local/example.yaml) or pass data.path=/path/to/{cfg.filename}")

    def fetch_and_verify(tmp: Path) -> None:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response, open(tmp, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
        if not _is_expected_file(tmp, cfg):
            raise DataError(f"the download from {shown} does not match the expected size/sha256 ({cfg.sha256}): "
                            f"check data.url, or {hint}.")

    try:
        atomic_write(dest, fetch_and_verify)  # a failed or mismatched download leaves no file behind
    except DataError:
        raise
    except Exception as e:
        raise DataError(_scrub(f"could not download {cfg.filename} from {shown} ({type(e).__name__}: {e}). "
                               f"Offline? {hint.capitalize()}.", url)) from None


def resolve_corpus(cfg: DataConfig) -> Path:
    """data.path if given; else the cache; else a local mirror; else download."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise DataError(f"data.path={cfg.path} does not exist (or is not a file): pass the path of a UTF-8 text file.")
        return path
    cached = cache_root(cfg) / "corpora" / cfg.filename
    if cached.is_file():
        if _is_expected_file(cached, cfg):
            return cached
        log.warning("cached corpus %s fails its checksum; looking elsewhere", cached)
    for folder in cfg.search_dirs:
        candidate = Path(folder).expanduser() / cfg.filename
        if candidate.is_file():
            if _is_expected_file(candidate, cfg):
                return candidate
            log.warning("%s does not match the expected checksum; skipped", candidate)
    log.info("downloading %s to %s", redact_url(cfg.url), cached)
    download(cfg.url, cached, cfg)
    return cached


def read_corpus(path: Path) -> tuple[str, str]:
    """The corpus text and its sha256. Empty or non-UTF-8 files are refused."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"corpus {path} is not UTF-8 text (bad byte at offset {e.start}): "
                        f"convert it to UTF-8 or point data.path at a text file.") from None
    if not text.strip():
        raise DataError(f"corpus {path} is empty: point data.path at a file with text in it.")
    return text, hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------- token cache
@dataclass
class TokenData:
    train: np.ndarray  # memmap of token ids
    val: np.ndarray
    tokenizer: Tokenizer
    corpus_path: Path
    cache_dir: Path
    cache_hit: bool


def _token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def _load_cached(folder: Path, corpus_sha: str, tokenizer: dict) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The cached splits, if meta.json vouches for them: same corpus, tokenizer and cache version, and
    each file's size and sha256 as written. Anything else (a truncated or overwritten file, a cache
    from another tinyx) is rebuilt, with a warning."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            raise ValueError("meta.json is cut short or not JSON") from None
        if meta.get("version") != TOKEN_CACHE_VERSION:
            raise ValueError(f"cache version {meta.get('version')}, this tinyx writes {TOKEN_CACHE_VERSION}")
        if meta["corpus_sha256"] != corpus_sha or meta["tokenizer"].get("kind") != tokenizer["kind"] or \
                meta["tokenizer"].get("encoding") != tokenizer.get("encoding"):
            raise ValueError("made from another corpus or tokenizer")
        dtype = np.dtype(meta["dtype"])
        arrays = []
        for split in ("train", "val"):
            path = folder / f"{split}.bin"
            n = meta[f"{split}_tokens"]
            if path.stat().st_size != n * dtype.itemsize:
                raise ValueError(f"{path.name} has {path.stat().st_size} bytes, not {n * dtype.itemsize}")
            if _sha256(path) != meta[f"{split}_sha256"]:
                raise ValueError(f"{path.name} does not match its sha256")
            arrays.append(np.memmap(path, dtype=dtype, mode="r", shape=(n,)))
        return arrays[0], arrays[1], meta
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("token cache %s is stale or damaged (%s); rebuilding it", folder, e)
        return None


def load_tokens(cfg: DataConfig) -> TokenData:
    """Tokenised train/val splits, from the cache when the corpus and tokenizer match."""
    corpus_path = resolve_corpus(cfg)
    text, corpus_sha = read_corpus(corpus_path)
    tok_id = "char" if cfg.tokenizer == "char" else f"tiktoken-{cfg.encoding}"
    split_id = f"val{cfg.val_fraction:g}"
    folder = cache_root(cfg) / "tokens" / f"{corpus_sha[:16]}-{tok_id}-{split_id}"
    wanted = {"kind": "char"} if cfg.tokenizer == "char" else {"kind": "tiktoken", "encoding": cfg.encoding}
    cached = _load_cached(folder, corpus_sha, wanted)
    if cached is not None:
        train, val, meta = cached
        return TokenData(train, val, tokenizer_from_dict(meta["tokenizer"]), corpus_path, folder, True)

    tokenizer = CharTokenizer.from_text(text) if cfg.tokenizer == "char" else TiktokenTokenizer(cfg.encoding)
    # Split the text, then tokenise each part (as nanoGPT), so figures are comparable.
    n_train_chars = int(len(text) * (1 - cfg.val_fraction))
    dtype = _token_dtype(tokenizer.vocab_size)
    splits = {"train": tokenizer.encode_corpus(text[:n_train_chars]).astype(dtype),
              "val": tokenizer.encode_corpus(text[n_train_chars:]).astype(dtype)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for split, ids in splits.items():
            # Not durable (no fsync): _load_cached checks every file's size and sha256 against meta.json,
            # so a write a power cut lost is rebuilt, not trusted.
            atomic_write_bytes(folder / f"{split}.bin", ids.tobytes())
        meta = {"version": TOKEN_CACHE_VERSION, "dtype": dtype.name, "corpus": str(corpus_path),
                "corpus_sha256": corpus_sha, "tokenizer": tokenizer.to_dict(),
                **{f"{split}_tokens": int(len(ids)) for split, ids in splits.items()},
                **{f"{split}_sha256": hashlib.sha256(ids.tobytes()).hexdigest() for split, ids in splits.items()}}
        atomic_write_bytes(folder / "meta.json", json.dumps(meta).encode())  # written last: marks the cache complete
    except OSError as e:
        log.warning("could not write the token cache to %s (%s); continuing without it", folder, e)
    return TokenData(splits["train"], splits["val"], tokenizer, corpus_path, folder, False)


def check_lengths(data: TokenData, block_size: int) -> None:
    """Both splits must hold at least one window of block_size + 1 tokens."""
    for split, ids in (("train", data.train), ("val", data.val)):
        if len(ids) < block_size + 1:
            raise DataError(f"corpus {data.corpus_path} is too short: its {split} split has {len(ids)} tokens, "
                            f"fewer than one window of model.block_size+1={block_size + 1}. "
                            f"Use a longer corpus or a smaller model.block_size.")


# ---------------------------------------------------------------- batches
def sample_windows(ids: np.ndarray, batch_size: int, block_size: int, generator: torch.Generator,
                   rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """`batch_size` random contiguous windows of block_size + 1 tokens, gathered at once.

    Under torchrun every rank draws the whole global batch (batch_size x world_size starts) from the
    same seeded generator and gathers its own slice: ranks see different windows, N ranks with batch B
    see exactly the windows one process with batch N x B sees, and the generator's state is the same
    on every rank, so a checkpoint resumes on any number of processes.
    """
    starts = torch.randint(len(ids) - block_size, (batch_size * world_size,), generator=generator)
    starts = starts[rank * batch_size:(rank + 1) * batch_size].numpy()
    windows = ids[starts[:, None] + np.arange(block_size + 1)]
    return torch.from_numpy(windows.astype(np.int64))


class WindowSampler:
    """The training batches of one run: random windows of the train split, drawn from a seeded generator.

    The seed alone fixes the windows drawn (not the model or the optimizer), so two arms of an
    ablation with the same seed, batch size and context see the same batches. Its state is the
    generator's, saved in checkpoints for exact resume.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, block_size: int, seed: int, rank: int = 0,
                 world_size: int = 1):
        self.ids, self.batch_size, self.block_size = ids, batch_size, block_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.generator = torch.Generator().manual_seed(seed)

    def order_key(self, grad_accum: int, tokenizer: dict) -> str:
        """summary.json's `data_order`: runs with equal keys draw the same windows at every step.

        What fixes the windows: the seed, the windows per draw (batch x world size: N ranks of batch B
        draw what one process of N x B draws), the draws per step (grad_accum), the context, and the
        train split (its tokenizer, length and ends stand for its content). Model and optimizer do not.
        """
        ends = np.concatenate([self.ids[:64], self.ids[-64:]]).astype(np.int64).tolist()
        parts = {"seed": self.seed, "windows_per_draw": self.batch_size * self.world_size, "grad_accum": grad_accum,
                 "block_size": self.block_size, "train_tokens": len(self.ids), "ends": ends, "tokenizer": tokenizer}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def next_batch(self) -> torch.Tensor:
        return sample_windows(self.ids, self.batch_size, self.block_size, self.generator, self.rank,
                              self.world_size)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def to_device(windows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if device.type == "cuda":
        windows = windows.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        windows = windows.to(device)
    return windows[:, :-1], windows[:, 1:]


def fixed_eval_windows(ids: np.ndarray, n_batches: int, batch_size: int, block_size: int) -> list[torch.Tensor]:
    """The same validation windows for every run, whatever its seed, so evaluations compare."""
    g = torch.Generator().manual_seed(0)
    return [sample_windows(ids, batch_size, block_size, g) for _ in range(n_batches)]


def sequential_windows(ids: np.ndarray, batch_size: int, block_size: int) -> list[torch.Tensor]:
    """The whole split as back-to-back windows of block_size + 1 tokens (each token predicted once), batched.

    The last batch may be smaller; the tail shorter than one window is left out.
    """
    n_windows = (len(ids) - 1) // block_size
    starts = np.arange(n_windows) * block_size
    return [torch.from_numpy(ids[starts[i:i + batch_size, None] + np.arange(block_size + 1)].astype(np.int64))
            for i in range(0, n_windows, batch_size)]
