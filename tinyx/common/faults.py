"""Fault injection for tinyx's reliability tests; inert unless TINYX_FAULTS is set.

    TINYX_FAULTS="pause@checkpoint_write:20"   stop at that point of step 20 until a signal arrives
    TINYX_FAULTS="nan_loss@12,nan_loss@25-29"  make the loss of those steps NaN (and so its gradients)
    TINYX_FAULTS="inf_grad@7"                  make one gradient element +inf at step 7 (the loss stays finite)

Pause points: `step` (gradients computed, optimizer not yet stepped), `checkpoint_write` (the new
checkpoint is written to its temporary file, not yet renamed), `checkpoint_latest` (renamed,
`latest` not yet moved), `eval` (validation loss computed, not yet logged). A paused process
appends "<point> <step> <pid>" to the file named by TINYX_FAULTS_READY, then waits for a signal, so
a test kills it at exactly that point (SIGKILL) or lets a handled signal (SIGINT, SIGTERM) resume it.
Several entries are separated by commas. Never set these for real runs: the trainer prints a
warning when they are on.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from dataclasses import dataclass, field

ENV = "TINYX_FAULTS"
READY_ENV = "TINYX_FAULTS_READY"
PAUSE_POINTS = ("step", "checkpoint_write", "checkpoint_latest", "eval")
_ENTRY = re.compile(r"^(pause@(?P<point>\w+):|(?P<kind>nan_loss|inf_grad)@)(?P<first>\d+)(?:-(?P<last>\d+))?$")


@dataclass
class Faults:
    pauses: set[tuple[str, int]] = field(default_factory=set)
    nan_loss_steps: set[int] = field(default_factory=set)
    inf_grad_steps: set[int] = field(default_factory=set)
    spec: str = ""

    def __bool__(self) -> bool:
        return bool(self.pauses or self.nan_loss_steps or self.inf_grad_steps)


def parse(spec: str) -> Faults:
    faults = Faults(spec=spec)
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        m = _ENTRY.match(entry)
        if not m or (m["point"] and m["point"] not in PAUSE_POINTS):
            raise ValueError(f"{ENV} entry {entry!r} is not pause@<point>:<step>, nan_loss@<step>[-<step>] or "
                             f"inf_grad@<step>[-<step>] (points: {', '.join(PAUSE_POINTS)})")
        steps = range(int(m["first"]), int(m["last"] or m["first"]) + 1)
        if m["point"]:
            faults.pauses.update((m["point"], s) for s in steps)
        elif m["kind"] == "nan_loss":
            faults.nan_loss_steps.update(steps)
        else:
            faults.inf_grad_steps.update(steps)
    return faults


active = Faults()


def load() -> Faults:
    """Read TINYX_FAULTS (at the start of each training run, so tests can set it per run)."""
    global active
    active = parse(os.environ.get(ENV, ""))
    return active


def pause_point(point: str, step: int) -> None:
    """If a test asked to pause here, announce it and wait for a signal that has a Python handler."""
    if (point, step) not in active.pauses:
        return
    if threading.current_thread() is not threading.main_thread():
        # Only the main thread runs Python signal handlers (and may set the wakeup fd): here only
        # SIGKILL or a signal's default action ends the pause, and signal.pause() cannot miss those.
        _announce(point, step)
        signal.pause()
        return
    # signal.pause() after the announcement would sleep through a signal that lands between the two
    # (the test sends it as soon as it reads the announcement), hanging the run. Instead, from before the
    # announcement, Python's C-level handler writes every handled signal's number to a pipe, whichever
    # thread the kernel delivers it to, and the pause is a read of that pipe: a signal that came early
    # is a byte already waiting. (Blocking the signals and sigwait() would not run the trainer's
    # handlers, and torch's threads, which do not block them, could take the signal instead.)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # set_wakeup_fd's requirement
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        _announce(point, step)
        os.read(read_end, 1)  # the handler runs here, in this thread: on EINTR, or as soon as the read returns
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)


def _announce(point: str, step: int) -> None:
    ready = os.environ.get(READY_ENV)
    if ready:
        with open(ready, "a") as f:
            f.write(f"{point} {step} {os.getpid()}\n")  # the pid: a test kills every paused process
