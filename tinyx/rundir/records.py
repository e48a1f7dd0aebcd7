"""What a run directory's records mean, defined once for every tool that reads them: the statuses summary.json's
`status` takes, and the pairing rule (whether one seed drew the same training windows in two runs).

Its own module rather than contract.py (which lays the files out and reads them): compare, ablate and the training
loop import these few names without the rest, and the next tools over run directories (per-arm tuning, the
ladder) read the same rule. Importing it is cheap: no torch, no numpy.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

# ---------------------------------------------------------------- statuses
RUNNING, COMPLETED, INTERRUPTED = "running", "completed", "interrupted"
DIVERGED, PRUNED, FAILED = "diverged", "pruned", "failed"
# Ended without a value, and a rerun would end the same way: an ablation's seed is spent, not pending.
SPENT = (DIVERGED, FAILED, PRUNED)


def failed_status(error: BaseException) -> str:
    """The status of a run an exception ended: `failed: RuntimeError: boom` (the kind, then what happened)."""
    return f"{FAILED}: {type(error).__name__}: {error}"


def status_kind(status: str) -> str:
    """The status without its detail: `failed: RuntimeError: boom` -> `failed`."""
    return status.split(":", 1)[0].strip()


def is_spent(status: str) -> bool:
    return status_kind(status) in SPENT


def has_ended(status: str) -> bool:
    """Completed or spent: nothing left to run or resume (running and interrupted runs have)."""
    return status_kind(status) == COMPLETED or is_spent(status)


# ---------------------------------------------------------------- the pairing rule
# What fixed the windows before runs recorded their data order: compared in the config of older runs.
ORDER_KEYS = ("train.batch_size", "train.grad_accum", "model.block_size")
UNRECORDED = ("runs without a data_order in summary.json (killed, or run before tinyx recorded it), or with one "
              "of another version than the run they pair with, are paired by their config: the same "
              "train.batch_size, train.grad_accum, model.block_size, data.* hyperparameters and, where recorded, "
              "data content")


class PairedRun(Protocol):
    """A run as the pairing rule reads it (compare's RunResult)."""

    config: dict[str, Any]  # flat `a.b.c` keys

    @property
    def data_order(self) -> str | None: ...  # summary.json's (WindowSampler.order_key)

    @property
    def data_content(self) -> str | None: ...  # provenance.json's data.content: what the data is


def _config_differences(a: PairedRun, b: PairedRun) -> list[str]:
    from tinyx.config import is_hyperparameter

    data_keys = sorted({k for r in (a, b) for k in r.config if k.startswith("data.") and is_hyperparameter(k)})
    return [k for k in (*ORDER_KEYS, *data_keys) if a.config.get(k) != b.config.get(k)]


def _version(order: str) -> str:
    # order_key writes "<version>:<digest>"; the first data orders were a bare digest (version 1).
    return order.split(":", 1)[0] if ":" in order else "1"


def recorded_alike(a: PairedRun, b: PairedRun) -> bool:
    """Whether the data orders of a and b decide their pairing: both recorded, by one version of order_key (keys
    of two versions hash different things, so a run from before a change of the key still pairs by its config)."""
    return None not in (a.data_order, b.data_order) and _version(a.data_order) == _version(b.data_order)


def order_differences(a: PairedRun, b: PairedRun) -> list[str]:
    """Why one seed does not draw the same training windows in runs a and b (of the same seed); [] when it does.

    Runs that record their data order pair exactly when the records are equal: it hashes everything that changes
    the windows (tinyx.data.WindowSampler.order_key), and nothing that does not. The config keys that differ are
    named to say why. Otherwise (not recorded_alike) the config decides (UNRECORDED says how).
    """
    named = _config_differences(a, b)
    content_differs = None not in (a.data_content, b.data_content) and a.data_content != b.data_content
    if content_differs:
        named.append("the training data")
    if recorded_alike(a, b):
        return [] if a.data_order == b.data_order else named or ["their recorded data orders"]
    return named


def seed_pairs(a: dict, b: dict) -> list[tuple[PairedRun, PairedRun]]:
    """The runs of each seed two arms both ran (each a {seed: run}), in seed order: what the rule compares."""
    return [(a[s], b[s]) for s in sorted(set(a) & set(b), key=str)]


def arms_order_differences(pairs: Iterable[tuple[PairedRun, PairedRun]]) -> list[str]:
    """order_differences over the runs of one seed in two arms, each reason once: [] when every seed pairs."""
    found: dict[str, None] = {}
    for a, b in pairs:
        found.update(dict.fromkeys(order_differences(a, b)))
    return list(found)


def by_config(pairs: Iterable[tuple[PairedRun, PairedRun]]) -> bool:
    """Whether the config decided the pairing of some of these runs (UNRECORDED): for the tools to say so."""
    return any(not recorded_alike(a, b) for a, b in pairs)
