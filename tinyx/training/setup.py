"""Everything a run needs before its first step: device, data, model, optimizers, resume, outputs.

Every check that can fail on bad input runs before the first file is written.
"""

from __future__ import annotations

import math
import shutil
import signal
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from tinyx.runtime import distributed
from tinyx.common import faults
from tinyx.runtime import hardware
from tinyx.rundir import provenance
from tinyx.rundir.checkpoints import discard_after, list_checkpoints
from tinyx.config import RunConfig, config_to_dict, flatten_config
from tinyx.data import TokenData, WindowSampler, check_lengths, load_tokens
from tinyx.rundir.data_record import data_record, train_identity
from tinyx.common.errors import ConfigError, TrainingInterrupted
from tinyx.common.files import atomic_write_json, check_writable
from tinyx.loggers import Logger, build_loggers
from tinyx.loggers.console import ConsoleLogger
from tinyx.loggers.jsonl import JsonlLogger
from tinyx.loggers.labels import RunLabels
from tinyx.loggers.next_steps import next_steps
from tinyx.common.masking import mask
from tinyx.nn.gpt import GPT
from tinyx.nn.optimizers import build_optimizers, describe
from tinyx.rundir.contract import (PROVENANCE_FILE, SUMMARY_FILE, TOKENIZER_FILE, TRAIN_LOSS, RunSummary,
                                   refuse_to_overwrite, write_config)
from tinyx.config.secrets import Redactor
from tinyx.data.windows import make_sampler
from tinyx.training.checkpointing import Checkpointer
from tinyx.training.evaluation import Evaluator
from tinyx.training.resume import check_resumable, check_steps_left, find_resume_checkpoint
from tinyx.training.state import LossCounters, TrainState
from tinyx.training.step import Trainable


@dataclass
class Run:
    """One training run, set up: its parts, its state, where it writes."""

    cfg: RunConfig
    run_dir: Path
    world: distributed.World
    hw: hardware.Hardware
    trainable: Trainable
    sampler: WindowSampler
    state: TrainState
    checkpointer: Checkpointer
    evaluator: Evaluator
    console: ConsoleLogger
    loggers: list[Logger]
    injected: faults.Faults
    resumed_from: Path | None
    tokens_per_step: int  # global: every process's batches together
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


def seed_rank(seed: int, rank: int, step: int) -> None:
    """Give each torchrun rank its own dropout masks; rank 0 keeps the stream a single process has
    (so its exact resume holds), the others derive theirs from the seed, their rank and the step."""
    if rank > 0:
        torch.manual_seed(seed + 7919 * rank + step)


def setup(cfg: RunConfig, run_dir: Path, labels: RunLabels, quiet: bool, extra_loggers: list[Logger]) -> Run:
    redactor, private_text = _redactor(labels, config_to_dict(cfg))  # first: a download's lines mask its token
    injected = faults.load()
    world = distributed.world_from_env()
    hw = hardware.setup(cfg.hardware, world.local_rank, world.size)
    world = distributed.init(hw.device)
    run_dir = _rank0_run_dir(run_dir, world)
    notes: list[str] = list(hw.notes)  # said once the console exists (hw's: a GPU left unused, and why)
    if world.is_main:
        # The output directory first: a read-only or full disk fails now, not after the data is tokenised.
        check_writable(run_dir)
        if not cfg.train.resume:
            refuse_to_overwrite(run_dir)
    if injected:
        notes.append(f"warning: fault injection on ({faults.ENV}={injected.spec}): for tinyx's tests only")
    init_from = bool(cfg.model.init_from)  # the weights load only without a checkpoint to resume (below)
    if init_from:
        from tinyx.hf import load as hf_load

        cfg, folder_tokenizer = hf_load.prepare(cfg, notes.append)
    data = load_tokens(cfg.data)
    check_lengths(data, cfg.model.block_size)
    sampler = make_sampler(data, cfg, world.rank, world.size)  # before any file: a bad window_start fails here
    cfg = _with_vocab_size(_with_tokenizer_kind(cfg, data.tokenizer), data.tokenizer)
    if init_from:
        hf_load.check(cfg, data.tokenizer, folder_tokenizer)
    cfg_dict = config_to_dict(cfg)
    resume = find_resume_checkpoint(cfg.train.resume, run_dir, notes.append) if cfg.train.resume else None
    if resume is not None:
        check_resumable(resume[1], resume[0], cfg_dict["model"], data.tokenizer.to_dict())
        check_steps_left(resume[1], resume[0], cfg.train.max_steps)
    distributed.barrier(world)  # every rank has read its checkpoint before rank 0 discards later files

    trainable = _build_trainable(cfg, hw)
    if init_from and resume is None:
        hf_load.load_weights(trainable.model, cfg.model.init_from)
        notes.append(f"weights from {cfg.model.init_from}")
    state = TrainState(sampler, LossCounters(hw.device))
    checkpointer = Checkpointer(run_dir, trainable, state, redactor.redact(cfg_dict), private_text,
                                data.tokenizer.to_dict(), cfg.train.keep_checkpoints, world.is_main)
    if resume is not None:
        changed = checkpointer.restore(resume[1], resume[0])
        if changed:
            notes.append(f"optimizer settings changed since the checkpoint ({', '.join(changed)}): the new values "
                         f"apply from step {state.step + 1}")
    seed_rank(cfg.seed, world.rank, state.step)
    _wrap_for_world(trainable, world, hw)
    console = ConsoleLogger(cfg.train.max_steps, state.step, cfg.logger.progress_bar, quiet=quiet or not world.is_main,
                            long_run_seconds=cfg.logger.long_run_seconds,
                            after_run=next_steps(cfg, run_dir))
    loggers: list[Logger] = [console]
    resumed_from = resume[0] if resume is not None else None
    if world.is_main:  # the one process that writes files
        loggers = _open_run_dir(cfg, run_dir, checkpointer, data, resumed_from, labels, redactor, console, notes, hw)
        loggers.extend(extra_loggers)
    for note in notes:
        console.say(note)
    evaluator = Evaluator(trainable.model, trainable.model if world.distributed else trainable.step_model,
                          data.val, cfg, data.tokenizer, hw, world.is_main, data.val_doc_starts)
    run = Run(cfg, run_dir, world, hw, trainable, sampler, state, checkpointer, evaluator, console, loggers, injected,
              resumed_from, cfg.train.batch_size * cfg.train.grad_accum * cfg.model.block_size * world.size,
              data_order=sampler.order_key(cfg.train.grad_accum, train_identity(data)))
    _announce(run, data)
    return run


def _with_vocab_size(cfg: RunConfig, tokenizer) -> RunConfig:
    vocab_size = cfg.model.vocab_size or tokenizer.vocab_size
    if vocab_size < tokenizer.vocab_size:
        raise ConfigError(f"model.vocab_size={vocab_size} is smaller than the tokenizer's {tokenizer.vocab_size}: "
                          f"leave it null or raise it.")
    return replace(cfg, model=replace(cfg.model, vocab_size=vocab_size))


def _with_tokenizer_kind(cfg: RunConfig, tokenizer) -> RunConfig:
    """data.tokenizer as the data decided it where unset (data=shards), so config.json says what made the ids."""
    if cfg.data.tokenizer is not None:
        return cfg
    return replace(cfg, data=replace(cfg.data, tokenizer=tokenizer.to_dict()["kind"]))


def _redactor(labels: RunLabels, cfg_dict: dict) -> tuple[Redactor, list[str]]:
    """The run's one Redactor, over every value the entry point took from the environment: none reaches a
    tracker, and text values (a URL with a token, a private path) are written as their `${oc.env:...}` source
    and masked in every line and error from now on. Also those text keys, the ones a checkpoint records
    (numbers stay as they are, since rebuilding the model needs them)."""
    sources = labels.private_keys
    if not isinstance(sources, dict):
        sources = dict.fromkeys(sources)
    flat = flatten_config(cfg_dict)
    redactor = Redactor(sources)
    redactor.protect(cfg_dict)
    return redactor, sorted(k for k in sources if isinstance(flat.get(k), str))


def _build_trainable(cfg: RunConfig, hw: hardware.Hardware) -> Trainable:
    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).to(hw.device)
    return Trainable(model, build_optimizers(model, cfg.optim, hw.device), hw.grad_scaler(), hw)


def _wrap_for_world(trainable: Trainable, world: distributed.World, hw: hardware.Hardware) -> None:
    """Under torchrun, DDP averages the ranks' gradients and starts every rank from rank 0's weights
    (so it wraps after a resume has loaded them); torch.compile goes around the outermost module."""
    if world.distributed:
        trainable.ddp_model = torch.nn.parallel.DistributedDataParallel(
            trainable.model, device_ids=[hw.device.index] if hw.device.type == "cuda" else None)
    outer = trainable.ddp_model or trainable.model
    trainable.step_model = torch.compile(outer) if hw.compile else outer


def _rank0_run_dir(run_dir: Path, world: distributed.World) -> Path:
    """Rank 0's run directory on every rank. Hydra in each torchrun process names its own, so another
    rank's name can differ; that rank's (empty) folder is removed."""
    if not world.distributed:
        return run_dir
    main_dir = Path(distributed.broadcast(str(run_dir), world))
    if not world.is_main and run_dir.resolve() != main_dir.resolve() and run_dir.is_dir() and \
            not any(run_dir.iterdir()):
        run_dir.rmdir()
    return main_dir


def _open_run_dir(cfg: RunConfig, run_dir: Path, checkpointer: Checkpointer, data: TokenData,
                  resumed_from: Path | None, labels: RunLabels, redactor: Redactor, console: ConsoleLogger,
                  notes: list[str], hw: hardware.Hardware) -> list[Logger]:
    """Write the run directory's records (config, provenance, tokenizer) and open its loggers."""
    start_step = checkpointer.state.step
    _check_free_space(run_dir, checkpointer.trainable.model, cfg.train.keep_checkpoints)
    if resumed_from is not None and resumed_from.parent.parent.resolve() == run_dir.resolve():
        # This directory continues from start_step: what it wrote after that is rewritten.
        for path in discard_after(run_dir, start_step, checkpointer.state.best_step):
            notes.append(f"discarded {path.name}, saved after the checkpoint resumed from (the run rewrites it)")
        (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
    write_config(run_dir, checkpointer.config)
    atomic_write_json(run_dir / PROVENANCE_FILE, provenance.collect(str(hw.device), data_record(data)))
    atomic_write_json(run_dir / TOKENIZER_FILE, data.tokenizer.to_dict())
    jsonl = JsonlLogger(run_dir, history_from=resumed_from.parent.parent if resumed_from else None,
                        history_until=start_step)
    return [jsonl, console, *build_loggers(cfg, run_dir, redactor, labels, start_step, console.say)]


def _check_free_space(run_dir: Path, model: torch.nn.Module, keep: int) -> None:
    """Refuse to start a run whose checkpoints will not fit on the disk, rather than fail at its first save."""
    # Weights plus up to two optimizer slots per weight (AdamW's moments); Muon keeps one.
    checkpoint_bytes = 3 * sum(p.numel() * p.element_size() for p in model.parameters())
    existing = sum(p.stat().st_size for p in list_checkpoints(run_dir))  # reused by an in-place resume
    needed = checkpoint_bytes * (keep + 2) - existing  # the kept ones, the best, one being written
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise ConfigError(f"run directory {run_dir} has {free / 1e6:.1f} MB free, but this run's checkpoints need "
                          f"about {needed / 1e6:.1f} MB (train.keep_checkpoints={keep}, the best and one being "
                          f"written, {checkpoint_bytes / 1e6:.1f} MB each): free space, lower "
                          f"train.keep_checkpoints, or choose another directory with hydra.run.dir=...")


def _announce(run: Run, data: TokenData) -> None:
    tc, hw, world = run.cfg.train, run.hw, run.world
    run.console.say(
        f"tinyx: {run.trainable.model.num_params():,} parameters | device {hw.device} "
        f"{str(hw.dtype).removeprefix('torch.')} | {run.tokens_per_step:,} tokens/step (batch {tc.batch_size} x "
        f"accum {tc.grad_accum}" + (f" x {world.size} processes" if world.distributed else "")
        + f" x context {run.cfg.model.block_size}) | data {data.corpus_path} ({len(data.train):,} train tokens, "
        f"cache {'hit' if data.cache_hit else 'built'}) | run dir {run.run_dir}")
    run.console.say(f"optimizers: {describe(run.trainable.optimizers)}")
    if run.resumed_from:
        run.console.say(f"resumed from {run.resumed_from} at step {run.state.step}")


