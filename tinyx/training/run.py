"""Run: one training run, set up (setup.py builds it): its parts, and what it logs, evaluates and reports."""

from __future__ import annotations

import math
import signal
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tinyx.common import faults
from tinyx.common.errors import TrainingInterrupted
from tinyx.common.masking import mask
from tinyx.config import RunConfig
from tinyx.loggers import Logger
from tinyx.loggers.console import ConsoleLogger
from tinyx.rundir.checkpoints import list_checkpoints
from tinyx.rundir.contract import TRAIN_LOSS, RunSummary
from tinyx.runtime import distributed, hardware
from tinyx.training.checkpointing import Checkpointer
from tinyx.training.evaluation import Evaluator
from tinyx.training.state import TrainState
from tinyx.training.step import Trainable


@dataclass
class Run:
    """One training run, set up: its parts, its state, where it writes."""

    cfg: RunConfig
    run_dir: Path
    world: distributed.World
    hw: hardware.Hardware
    trainable: Trainable
    state: TrainState  # everything a checkpoint saves (the data sampler among it)
    checkpointer: Checkpointer
    evaluator: Evaluator
    console: ConsoleLogger
    loggers: list[Logger]
    injected: faults.Faults
    resumed_from: Path | None
    tokens_per_step: int  # global: every process's batches together
    # This process's figures for summary.json, not saved in a checkpoint (what a resume restores is in `state`).
    throughput: list[float] = field(default_factory=list)  # tokens/s of each log interval
    train_loss: float | None = None  # the last finite one logged
    data_order: str | None = None  # summary.json's key for pairing runs (WindowSampler.order_key)

    def log_train(self, lr_scale: float, grad_norm: torch.Tensor, steps: int, seconds: float) -> None:
        """The training figures of the interval that ends at this step: the loop's one host sync."""
        oc, counters, step = self.cfg.optim, self.state.counters, self.state.step
        # Under torchrun: the mean over ranks (the gradient norm and skip count are the same on every rank).
        train_loss, grad_norm_value, skipped = distributed.mean(torch.stack(
            [counters.mean_loss(), grad_norm.float(), counters.nonfinite_steps]), self.world).tolist()
        tokens_per_second = steps * self.tokens_per_step / seconds
        self.throughput.append(tokens_per_second)
        metrics = {TRAIN_LOSS: train_loss, "lr": oc.lr * lr_scale, "grad_norm": grad_norm_value,
                   "wall_seconds": self.state.wall_seconds(), "nonfinite_steps": int(skipped),
                   **({"lr/adamw": oc.adamw_lr * lr_scale} if oc.name == "muon" else {}),
                   "step_ms": 1e3 * seconds / steps, "tokens_per_second": tokens_per_second,
                   "mfu": model_flops_utilization(tokens_per_second, self.trainable.model.flops_per_token(),
                                                  self.hw.peak_flops, self.world.size)}
        for lg in self.loggers:
            lg.log_metrics(step, metrics)
        if math.isfinite(train_loss):
            self.train_loss = train_loss
        counters.reset_interval()

    def evaluate(self) -> bool:
        """Evaluate at the current step and log it; True if it is the best validation loss so far."""
        step = self.state.step
        val, metrics, text, seconds = self.evaluator.run(step)
        self.state.eval_seconds += seconds
        if metrics:
            metrics.update(wall_seconds=self.state.wall_seconds(), eval_seconds=self.state.eval_seconds)
            for lg in self.loggers:
                lg.log_metrics(step, metrics)
                if text is not None:
                    lg.log_sample(step, text)
        return self.state.record_eval(step, val.loss, val.bpb)

    def stop_requested(self, signum: int | None, is_log_step: bool) -> bool:
        """Whether to stop after this step: a signal here, or under torchrun on any rank (checked at log steps)."""
        if not self.world.distributed:
            return signum is not None
        # The ranks agree at log steps, so that all stop after the same step.
        return is_log_step and distributed.any_rank(signum is not None, self.world, self.hw.device)

    def interrupt(self, signum: int | None) -> TrainingInterrupted:
        """Checkpoint the finished step and say so; the error train() raises once the run is closed."""
        checkpoint = self.checkpointer.save_once()
        # A rank the signal missed stops with the others, as if terminated.
        interrupted = TrainingInterrupted(signum or signal.SIGTERM, self.state.step, str(self.run_dir),
                                          str(checkpoint))
        self.console.say(f"{interrupted.signal_name}: stopped after step {self.state.step}, checkpoint {checkpoint}")
        return interrupted

    def summary(self, status: str, reason: str | None = None) -> RunSummary:
        """summary.json's figures as the run stands now, with `status` and the `reason` it ended so."""
        s = self.state
        return RunSummary(
            status=status, step=s.step, params=self.trainable.model.num_params(), run_dir=str(self.run_dir),
            train_loss=self.train_loss, val_loss=s.val_loss,
            val_loss_best=s.best_val_loss if s.best_val_loss < math.inf else None,
            val_ppl=math.exp(min(s.val_loss, 50.0)) if s.val_loss is not None else None,
            val_bpb=s.val_bpb, val_bpb_best=s.best_val_bpb if s.best_val_bpb < math.inf else None,
            nonfinite_steps=int(s.counters.nonfinite_steps.item()),
            tokens_per_second=statistics.median(self.throughput) if self.throughput else None,
            wall_seconds=s.wall_seconds(), eval_seconds=s.eval_seconds, reason=reason and mask(reason),
            data_order=self.data_order)

    def diverged_reason(self) -> str:
        """Why a diverged run stopped, where its last good weights are, and what to try."""
        limit = self.cfg.train.max_nonfinite_steps
        checkpoints = list_checkpoints(self.run_dir) or ([self.resumed_from] if self.resumed_from else [])
        kept = f"the last good checkpoint is {checkpoints[-1]}" if checkpoints else "no checkpoint was saved yet"
        return (f"the loss or gradients were NaN or inf for {limit} steps in a row by step {self.state.step} (those "
                f"steps were skipped, so the weights are the last good ones); {kept}. Try a lower optim.lr, "
                f"optim.grad_clip=1.0, or hardware.dtype=float32")


def model_flops_utilization(tokens_per_second: float, flops_per_token: float, peak_flops: float | None,
                            devices: int) -> float | None:
    """The share of the devices' peak the model's FLOPs reach; tokens/s is every device's together."""
    return tokens_per_second * flops_per_token / (peak_flops * devices) if peak_flops else None
