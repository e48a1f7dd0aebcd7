"""Where every run is judged: at one step, or at equal training tokens, FLOPs or wall-clock seconds (--at-step,
--at-tokens, --at-flops, --at-seconds), each turned into the step of each run it judges; without one, at its end."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tinyx.common.errors import CompareError
from tinyx.compare.runs import RunResult
from tinyx.rundir.contract import FLOPS_PER_TOKEN, PROVENANCE_FILE

# Why a run is left out of --at-flops: the record the FLOPs are counted from is missing. Computing it from the
# config would need the model's code as it was then (which layers carry weights), so the run is left out instead.
FLOPS_UNRECORDED = f"{PROVENANCE_FILE} records no {FLOPS_PER_TOKEN} (a run of a tinyx older than that record)"


@dataclass(frozen=True)
class Budget:
    """At most one of: a step, training tokens (every process's), training FLOPs, wall seconds (start-up and
    evaluations included, as the wall clock runs)."""

    step: int | None = None
    tokens: int | None = None
    flops: float | None = None
    seconds: float | None = None

    def given(self) -> list[tuple[str, float]]:
        """(flag, value) of each budget given."""
        flags = (("--at-step", self.step), ("--at-tokens", self.tokens), ("--at-flops", self.flops),
                 ("--at-seconds", self.seconds))
        return [(flag, value) for flag, value in flags if value is not None]

    def check(self) -> None:
        given = self.given()
        if len(given) > 1:
            names = [flag for flag, _ in given]
            raise CompareError(f"{', '.join(names[:-1])} and {names[-1]} both given: pass one of them.")
        for flag, value in given:
            if flag in ("--at-step", "--at-tokens") and value < 1:
                raise CompareError(f"{flag}={value} must be a positive integer.")
            if not (0 < value < math.inf):
                raise CompareError(f"{flag}={_number(value)} must be a positive number.")

    @property
    def flag(self) -> str | None:
        """The option as given (`--at-flops=1.2e12`), or None without a budget."""
        return next((f"{flag}={_number(value)}" for flag, value in self.given()), None)

    def label(self) -> str | None:
        """`step 400`, `2,560 tokens`, `1.2e12 FLOPs`, `30 s`: what the report says the runs were judged at."""
        if self.step is not None:
            return f"step {self.step}"
        if self.tokens is not None:
            return f"{self.tokens:,} tokens"
        if self.flops is not None:
            return f"{_number(self.flops)} FLOPs"
        return f"{_number(self.seconds)} s" if self.seconds is not None else None

    def step_of(self, run: RunResult) -> int | None:
        """The step `run` is judged at (None: its end, or a run `unmet` leaves out)."""
        if self.tokens is not None:
            return self.tokens // run.tokens_per_step
        if self.flops is not None:
            if run.flops_per_token is None:
                return None
            # The relative nudge keeps a budget that is an exact multiple of a step's FLOPs on that step.
            return math.floor(self.flops / (run.tokens_per_step * run.flops_per_token) * (1 + 1e-12))
        if self.seconds is not None:
            return next((s for s, t in reversed(run.eval_times) if t <= self.seconds), None)
        return self.step

    def unmet(self, run: RunResult) -> str | None:
        """Why `run` cannot be judged at this budget (None if it can): it stopped before it, never evaluated
        by then, or does not record what the budget is counted in."""
        if self.flops is not None and run.flops_per_token is None:
            return FLOPS_UNRECORDED
        step = self.step_of(run)
        if self.seconds is not None and step is None:
            first = f" (its first at {run.eval_times[0][1]:g} s)" if run.eval_times else ""
            return f"no evaluation by {self.label()}{first}"
        if step is not None and run.step < step:
            at = "" if self.step is not None else f" ({self.label()})"
            return f"stopped at step {run.step}, before step {step}{at}"
        return None


def _number(value: float) -> str:
    """2560, 30, 1.2e12, 2.5e-05 -> 2.5e-5: an integer whole, a float as %g writes it without `e+0`."""
    if isinstance(value, int):
        return str(value)
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", f"{value:g}")
