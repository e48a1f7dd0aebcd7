"""train(): set a run up, loop over its steps, close it. The loop reads top to bottom on one screen."""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Callable

from tinyx.common.errors import TrainingInterrupted
from tinyx.config import RunConfig, to_run_config
from tinyx.config.secrets import Redactor, Secrets, masked_errors
from tinyx.loggers import Logger
from tinyx.loggers.labels import RunLabels
from tinyx.nn.optimizers import eager_optimizers, lr_factor, set_lr
from tinyx.rundir.contract import VAL_BPB, VAL_LOSS, RunSummary
from tinyx.rundir.records import COMPLETED, DIVERGED, INTERRUPTED, RUNNING, failed_status
from tinyx.runtime import distributed
from tinyx.training.interrupts import StopRequest
from tinyx.training.run import Run
from tinyx.training.setup import setup
from tinyx.training.step import train_step

OnEval = Callable[[int, float], "str | None"]
ON_EVAL_METRICS = (VAL_LOSS, VAL_BPB)


def _reading(on_eval: OnEval, metric: str, run: Run) -> OnEval:
    """on_eval, handed `metric` of the evaluation (the loop hands it the val loss)."""
    if metric == VAL_LOSS:
        return on_eval
    return lambda step, _val_loss: on_eval(step, run.state.val_bpb)


def train(cfg: RunConfig, run_dir: str | Path, extra_loggers: list[Logger] | None = None, quiet: bool = False,
          labels: RunLabels | None = None, on_eval: OnEval | None = None, on_eval_metric: str = VAL_LOSS, *,
          secrets: Secrets | None = None) -> RunSummary:
    """Train `cfg` into `run_dir` (the run-directory contract, tinyx.rundir) and return its summary.

    The config is validated here, however it was built (one that tinyx.config.to_run_config returned, unchanged
    since, is not checked again). `secrets` (keyword only): the config keys whose values must never reach a file,
    a tracker or a log line, each with its `${oc.env:...}` source text where known (or the keys alone); train.py
    passes those the composed config took from the environment. `labels` name the run in trackers.

    `on_eval(step, value)` is called after every evaluation with that evaluation's `on_eval_metric` (val/loss or
    val/bpb); a string it returns (e.g. "pruned", from a sweep's pruner) ends the run there with that status. A
    run whose loss or gradients are non-finite for `train.max_nonfinite_steps` steps in a row ends with status
    "diverged". SIGINT and SIGTERM (handled while this runs, in the main thread) finish the current step, save a
    checkpoint and summary.json (status "interrupted"), then raise tinyx.common.errors.TrainingInterrupted.
    """
    run_cfg = to_run_config(cfg)
    if on_eval_metric not in ON_EVAL_METRICS:
        raise ValueError(f"on_eval_metric={on_eval_metric!r} is not one of {', '.join(ON_EVAL_METRICS)}")
    # eager_optimizers: torch.optim without importing torch._dynamo, unless the run compiles; masked_errors: a
    # user error's message shows a secret it quotes (a token in a data URL) as its `${oc.env:...}` source.
    with eager_optimizers(), masked_errors():
        run = setup(run_cfg, Path(run_dir), labels=labels or RunLabels(), redactor=Redactor(secrets), quiet=quiet,
                    extra_loggers=list(extra_loggers or []))
        return _fit(run, on_eval and _reading(on_eval, on_eval_metric, run))


def _fit(run: Run, on_eval: OnEval | None) -> RunSummary:
    """Run the loop and close the run whatever happens: summary.json, loggers, process group."""
    summary, interrupted = run.summary(RUNNING), None
    stop = StopRequest(str(run.run_dir), run.state)
    try:
        with stop:
            # Everything built so far lives for the whole run: keep it out of the collector's scans. After
            # the handlers: a KeyboardInterrupt raised inside a collection's weakref callback would be lost.
            gc.collect()
            gc.freeze()
            stopped_by = _loop(run, stop, on_eval)
            if stopped_by == INTERRUPTED:  # checkpointed while a second signal still stops at once
                interrupted = run.interrupt(stop.signum)
        reason = (run.diverged_reason() if stopped_by == DIVERGED else
                  f"{interrupted.signal_name} at step {run.state.step}; checkpoint {interrupted.checkpoint}"
                  if interrupted else None)
        if stopped_by == DIVERGED:
            run.console.say(f"diverged: {reason}")
        summary = run.summary(stopped_by or COMPLETED, reason)
    except TrainingInterrupted as e:
        summary = run.summary(INTERRUPTED, f"{e.signal_name} twice: stopped at once after step {e.step}, "
                                           f"without a checkpoint")
        raise
    except KeyboardInterrupt:
        summary = run.summary(INTERRUPTED)
        raise
    except Exception as e:
        summary = run.summary(failed_status(e))
        raise
    finally:
        gc.unfreeze()
        for lg in run.loggers:
            lg.finish(summary.to_dict())
        distributed.shutdown(run.world)
    if interrupted is not None:
        raise interrupted
    return summary


def _loop(run: Run, stop: StopRequest, on_eval: OnEval | None) -> str | None:
    """Train from the state's step to train.max_steps; returns why it stopped early (None if it did not)."""
    tc, oc, state = run.cfg.train, run.cfg.optim, run.state
    run.trainable.model.train()
    if state.step == 0 and run.cfg.model.init_from:
        run.evaluate()  # the starting weights' validation loss, logged at step 0: what fine-tuning starts from
    interval_start, interval_steps = time.perf_counter(), 0
    for step in range(state.step + 1, tc.max_steps + 1):
        lr_scale = lr_factor(step - 1, oc, tc.max_steps)
        set_lr(run.trainable.optimizers, lr_scale)
        grad_norm = train_step(run.trainable, state.sampler, state.counters, step, tc.grad_accum, oc.grad_clip,
                               run.injected)
        state.step, interval_steps = step, interval_steps + 1
        is_log = step % tc.log_every == 0 or step == tc.max_steps
        is_eval = step % tc.eval_every == 0 or step == tc.max_steps
        is_ckpt = step % tc.ckpt_every == 0 or step == tc.max_steps
        if is_log:
            run.log_train(lr_scale, grad_norm, interval_steps, time.perf_counter() - interval_start)
        if (is_log or is_eval or is_ckpt) and state.diverged(tc.max_nonfinite_steps):
            return DIVERGED
        is_best = False
        if is_eval:
            is_best = run.evaluate()
            verdict = on_eval(step, state.val_loss) if on_eval else None
            if verdict:
                return verdict
        if is_ckpt or is_best:
            run.checkpointer.save(best=is_best)
        if run.stop_requested(stop.signum, is_log):
            return INTERRUPTED
        if is_log or is_eval or is_ckpt:  # evaluation and checkpoints are not training time
            interval_start, interval_steps = time.perf_counter(), 0
    return None
