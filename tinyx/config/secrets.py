"""Secrets: what a file, a tracker, a log line or an error may show of a config.

A secret is a value taken from the environment (`${oc.env:NAME}`: a token, a signed URL, a database password)
or the value of a key named in SECRET_KEYS. Files keep its source text (a checkpoint resolves it again where
the variable is set) and trackers drop its key. Once a run or a tool has resolved one, every line tinyx logs or
prints, every error it raises and a summary's reason show the value masked as its source (`${oc.env:NAME}`),
wherever it stands in the text (tinyx.common.masking): a token in a URL's path as much as a whole URL.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

from tinyx.common.errors import TinyxError
from tinyx.common.masking import looks_secret, mask_args, register
from tinyx.config import LOGGING, SECRET, flatten_config, key_role

# What a caller says is secret: config key -> its `${oc.env:...}` source text (None where unknown), or the keys alone.
Secrets = Union[Mapping[str, Optional[str]], Iterable[str]]

_ENV_NAME = re.compile(r"\$\{oc\.env:([^,}\s]+)")


@contextlib.contextmanager
def masked_errors() -> Iterator[None]:
    """A user error leaving the block carries no secret (a sweep stores its message, a caller prints it)."""
    try:
        yield
    except TinyxError as e:
        mask_args(e)
        raise


class Redactor:
    """What a written file or a tracker may show of a config: never a secret.

    `private`: flat key -> its `${oc.env:...}` source text (from the entry point that composed the config, or
    None where only the key is known; a list of keys alone is taken too). Files keep the source text; trackers
    drop the key; `protect` masks the resolved values in every line and error from then on.
    """

    def __init__(self, private: Optional[Secrets] = None):
        self.private = dict(private) if isinstance(private, Mapping) else dict.fromkeys(private or ())

    def is_secret(self, key: str) -> bool:
        return key in self.private or key_role(key) == SECRET

    def redact(self, tree: dict[str, Any]) -> dict[str, Any]:
        """A copy of the nested config with each secret replaced by its source text (or "***")."""
        tree = copy.deepcopy(tree)
        for key, value in flatten_config(tree).items():
            # Numbers stay: rebuilding the model needs them, and a number is no secret.
            if isinstance(value, str) and self.is_secret(key):
                *parents, leaf = key.split(".")
                node = tree
                for name in parents:
                    node = node[name]
                node[leaf] = self.private.get(key) or "***"
        return tree

    def text_keys(self, tree: dict[str, Any]) -> list[str]:
        """The private keys whose value in the nested config `tree` is text: what a checkpoint records, so that
        loading it puts the environment's values back (numbers stay as they are: rebuilding the model needs them)."""
        flat = flatten_config(tree)
        return sorted(k for k in self.private if isinstance(flat.get(k), str))

    def tracked(self, tree: dict[str, Any]) -> dict[str, Any]:
        """Flat `a.b.c` keys for trackers' config panels: all but logging settings and secrets."""
        return {k: v for k, v in flatten_config(tree).items() if key_role(k) != LOGGING and not self.is_secret(k)}

    def masks(self, tree: dict[str, Any], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
        """The secret values the resolved nested config `tree` holds -> the text shown instead: each environment
        variable's value (a token in a URL's path) as `${oc.env:NAME}`; a whole value whose source names no
        variable (or is unknown: only the key was given) as that source or "***"."""
        found = {}
        for key, value in flatten_config(tree).items():
            if not (isinstance(value, str) and self.is_secret(key)):
                continue
            source = self.private.get(key) or ""
            names = _ENV_NAME.findall(source)
            for name in names:
                if looks_secret(environ.get(name, "")):
                    found[environ[name]] = f"${{oc.env:{name}}}"
            if not names and looks_secret(value):
                found[value] = source or "***"
        return found

    def protect(self, tree: dict[str, Any]) -> None:
        """Mask the secret values of the resolved config `tree` in every line and error from now on."""
        register(self.masks(tree))
