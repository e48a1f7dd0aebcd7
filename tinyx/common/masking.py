"""Secret values masked in every line tinyx logs or prints and every error it shows, wherever they stand in the
text (a token in a URL's path, a signed URL's signature). tinyx.config.secrets.Redactor.protect says which values;
this module imports nothing of tinyx, so that the exit path of every entry point (tinyx.common.errors) can use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Mapping
from urllib.parse import quote

# Shorter values from the environment ("1", "true", "cpu", "cuda:0", a job id) are settings, and masking
# "1" would garble every number printed; credentials are longer (8 is the usual minimum for a password).
MIN_SECRET_LENGTH = 8

# Every secret value this process has resolved -> the text shown instead; longest first, so that a value
# holding another is masked whole. Process-wide: a value once known secret stays masked for the process' life.
_masks: list[tuple[str, str]] = []
_log_masking = False


def looks_secret(value: str) -> bool:
    """Long enough to be a credential, and neither a number nor a path that exists here (a data or cache folder
    under $SCRATCH says where something is, not how to get in: masking it would hide the run's own paths)."""
    if len(value) < MIN_SECRET_LENGTH:
        return False
    with contextlib.suppress(ValueError):
        float(value)
        return False
    return not os.path.exists(os.path.expanduser(value))


def mask(text: str) -> str:
    """`text` with every secret value this process knows replaced by its source (`${oc.env:NAME}`)."""
    for value, shown in _masks:
        text = text.replace(value, shown)
    return text


def register(masks: Mapping[str, str]) -> None:
    """Mask these values (-> the text shown instead) from now on, in their URL-encoded forms too."""
    global _masks
    known = dict(_masks)
    for value, shown in masks.items():
        for form in (value, quote(value), quote(value, safe="")):
            known.setdefault(form, shown)
    _masks = sorted(known.items(), key=lambda item: len(item[0]), reverse=True)
    if _masks:
        _mask_log_records()


def mask_args(error: BaseException) -> None:
    """Mask an error's message in place (its text args), before it is printed, stored or raised further."""
    error.args = tuple(mask(a) if isinstance(a, str) else a for a in error.args)


def _mask_log_records() -> None:
    """Mask every log record as it is made: whichever logger and handler (Hydra's train.log and console, set up
    before or after this), and a traceback attached to the record too."""
    global _log_masking
    if _log_masking:
        return
    _log_masking = True
    make_record = logging.getLogRecordFactory()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        with contextlib.suppress(Exception):  # arguments that do not fit the format: logging reports that itself
            message = record.getMessage()
            masked = mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(masked_record)
