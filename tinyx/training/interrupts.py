"""SIGINT and SIGTERM during training: the first finishes the step and checkpoints, a second stops at once."""

from __future__ import annotations

import signal
import threading

from tinyx.common.errors import TrainingInterrupted
from tinyx.training.state import TrainState

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Installed as the handler of SIGINT and SIGTERM while a run trains (in the main thread only,
    where Python can set handlers; elsewhere the caller's own handling stays).

    The first signal is only noted: the loop acts on it (and says so) at the end of the step, since
    printing inside a handler could re-enter print. A second one raises TrainingInterrupted at once, at the
    last step `state` (the run's TrainState) finished.
    """

    def __init__(self, run_dir: str, state: TrainState):
        self.run_dir, self.state = run_dir, state
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in _SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise TrainingInterrupted(signum, self.state.step, self.run_dir, None)
        self.signum = signum
