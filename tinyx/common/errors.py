"""User-facing errors (one short message naming the bad value and the fix) and the exit-code decorator."""

import functools
import os
import signal
import sys

from tinyx.common.masking import mask_args


class TinyxError(Exception):
    """A problem the user can fix (config, files, checkpoints).

    Entry points print the message alone (no traceback) and exit with `exit_code`.
    """

    exit_code = 2


class ConfigError(TinyxError):
    """A config value that is wrong on its own or together with another."""


class DataError(TinyxError):
    """A corpus or token cache that is missing, empty, unreadable or too short."""


class CheckpointError(TinyxError):
    """A checkpoint that is missing, corrupt, or does not fit this run."""


class RunDirError(TinyxError):
    """A run directory that is missing, holds no run, or holds one that must not be overwritten."""


class CompareError(TinyxError):
    """Nothing to compare: no run directories, or none with a finite validation loss."""


class AblateError(TinyxError):
    """Bad arms or options for tinyx.tools.ablate, or a training run of it that failed."""


class LadderError(TinyxError):
    """Bad arms, sizes or options for `tinyx ladder`, or a training run of it that failed."""


class EvaluateError(TinyxError):
    """Bad arguments or checkpoints for `tinyx evaluate`."""


class ProbeError(TinyxError):
    """A probe file that is missing or malformed."""


class TrainingDiverged(TinyxError):
    """The loss or gradients stayed non-finite: not a typo, but the run needs other settings."""

    exit_code = 3


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM (e.g. SLURM preemption).

    A KeyboardInterrupt, so code that already handles Ctrl-C handles it. `train()` raises it
    after writing summary.json (status "interrupted") and, when `checkpoint` is set, a checkpoint
    of the last finished step; a second signal stops at once, without that checkpoint.
    Entry points exit with `exit_code`: 128 + the signal number (130 for SIGINT, 143 for SIGTERM),
    the shell's convention for a process ended by a signal.
    """

    def __init__(self, signum: int, step: int, run_dir: str, checkpoint: str | None):
        self.signum = signum
        self.step = step
        self.run_dir = run_dir
        self.checkpoint = checkpoint  # the checkpoint written on the way out; None after a second signal
        self.exit_code = 128 + signum
        self.sweep_dir: str | None = None  # set by train.py when the run is a job of this multirun
        super().__init__(f"{self.signal_name} at step {step}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def resume_hint(self) -> str:
        """How to continue: a single run in its own directory; a multirun job by rerunning the whole -m
        command in the same sweep directory (a job's hydra.run.dir would start a new sweep from step 0)."""
        if self.sweep_dir is not None:
            return f"Resume with the same -m command plus train.resume=auto hydra.sweep.dir={self.sweep_dir}"
        return f"Resume with the same command plus train.resume=auto hydra.run.dir={self.run_dir}"

    def __reduce__(self):  # picklable across processes (a sweep's workers), despite its own __init__
        return type(self), (self.signum, self.step, self.run_dir, self.checkpoint)


def exit_on_user_error(fn):
    """Print a TinyxError's message alone and exit non-zero (HYDRA_FULL_ERROR=1 shows the traceback).

    An interrupted training run (TrainingInterrupted) exits with 128 + the signal number and one
    line saying how to resume it.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TinyxError as e:
            mask_args(e)  # a secret the message quotes (a token in a URL) shows as its `${oc.env:...}` source
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(e.exit_code)
        except TrainingInterrupted as e:
            saved = (f"checkpoint {e.checkpoint} saved" if e.checkpoint else
                     "stopped at once (second signal), the last checkpoint kept")
            print(f"interrupted by {e.signal_name} at step {e.step}: {saved}. {e.resume_hint()}", file=sys.stderr,
                  flush=True)
            sys.exit(e.exit_code)

    return wrapper


class ExportError(TinyxError):
    """A model or folder that cannot go to or come from the Hugging Face format (`tinyx export`, model.init_from)."""
