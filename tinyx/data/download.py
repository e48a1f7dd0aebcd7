"""Where the named corpus (Tiny Shakespeare by default) comes from: data.path, the cache, a local mirror or a
download verified by size and sha256. URLs may carry credentials: messages show them redacted (userinfo and
credential-named query values here; a value from the environment anywhere in the URL by tinyx.common.masking)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from tinyx.common.errors import DataError
from tinyx.common.files import atomic_write
from tinyx.common.masking import mask
from tinyx.config import DataConfig

log = logging.getLogger(__name__)


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
    """`url` fit for logs and messages: its userinfo and credential-named query values replaced by ***, and a
    secret from the environment anywhere in it (a token in the path) by its `${oc.env:NAME}` source."""
    url = mask(url)  # first: a whole URL from the environment is masked whole, before its parts are changed
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
    if not cfg.url:
        made_by = f"make it with `{cfg.build_command}`" if cfg.build_command else "put it there"
        dirs = f" nor in data.search_dirs={list(cfg.search_dirs)}" if cfg.search_dirs else ""
        raise DataError(f"corpus {cfg.filename} is not in {cached}{dirs} and has no data.url: {made_by}, or pass "
                        f"data.path=/path/to/{cfg.filename}.")
    log.info("downloading %s to %s", redact_url(cfg.url), cached)
    download(cfg.url, cached, cfg)
    return cached
