"""Everything a run needs before its first step, in named phases: the machine, the data (and the config it
completes), the checkpoint to resume, the model and its state, the run directory and loggers.

Every check that can fail on bad input runs before the first file is written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from tinyx.common.errors import ConfigError
from tinyx.config import RunConfig, config_to_dict
from tinyx.config.secrets import Redactor
from tinyx.data import TokenData, WindowSampler, check_lengths, load_tokens
from tinyx.data.windows import make_sampler
from tinyx.loggers import Logger
from tinyx.loggers.console import ConsoleLogger
from tinyx.loggers.labels import RunLabels
from tinyx.loggers.next_steps import next_steps
from tinyx.nn.gpt import GPT
from tinyx.nn.optimizers import build_optimizers, describe
from tinyx.rundir.data_record import train_identity
from tinyx.runtime import distributed
from tinyx.training.budget import tokens_per_step, with_size_budget
from tinyx.training.checkpointing import Checkpointer
from tinyx.training.evaluation import Evaluator
from tinyx.training.machine import Machine, prepare_machine, seed_rank, wrap_for_world
from tinyx.training.resume import check_resumable, check_steps_left, find_resume_checkpoint
from tinyx.training.run import Run
from tinyx.training.run_files import open_run_dir
from tinyx.training.state import LossCounters, TrainState
from tinyx.training.step import Trainable

Resume = tuple[Path, dict]  # the checkpoint a run continues from, and its loaded state


def setup(cfg: RunConfig, run_dir: Path, *, labels: RunLabels, redactor: Redactor, quiet: bool,
          extra_loggers: list[Logger]) -> Run:
    """Set up a run of the validated `cfg` in `run_dir`: its parts, its state (restored from a checkpoint when
    train.resume names one), its run directory and loggers. `redactor`, the run's one, keeps its secrets out of
    every file, tracker and line from the start (a download's lines mask a token in the data URL)."""
    redactor.protect(config_to_dict(cfg))
    machine = prepare_machine(cfg, run_dir)
    run_cfg, data, sampler = _data_and_config(cfg, machine)
    resume = _resume_point(run_cfg, machine, data)
    trainable = _build_model(run_cfg, machine, resume)
    state, checkpointer = _state_and_checkpointer(run_cfg, machine, trainable, sampler, data, resume, redactor)
    wrap_for_world(trainable, machine.world, machine.hw)
    resumed_from = resume[0] if resume is not None else None
    console, loggers = _outputs(run_cfg, machine, checkpointer, data, resumed_from, labels, redactor, quiet,
                                extra_loggers)
    evaluator = Evaluator(trainable.model, trainable.model if machine.world.distributed else trainable.step_model,
                          data.val, run_cfg, data.tokenizer, machine.hw, machine.world.is_main, data.val_doc_starts)
    tc = run_cfg.train
    run = Run(run_cfg, machine.run_dir, machine.world, machine.hw, trainable, state, checkpointer, evaluator,
              console, loggers, machine.injected, resumed_from,
              tokens_per_step(run_cfg, machine.world.size),
              data_order=sampler.order_key(tc.grad_accum, train_identity(data)))
    _announce(run, data)
    return run


def _data_and_config(cfg: RunConfig, machine: Machine) -> tuple[RunConfig, TokenData, WindowSampler]:
    """Load the tokens and make this rank's sampler (before any file: a bad window_start fails here); returns
    the config the data completes (the vocabulary size, the tokenizer; a Hub model's shape for model.init_from;
    model.depth's shape and train.max_steps)."""
    if cfg.model.init_from:
        from tinyx.hf import load as hf_load

        asked, folder_tokenizer = hf_load.prepare(cfg, machine.notes.append)
    else:
        asked, folder_tokenizer = cfg, None
    data = load_tokens(asked.data)
    check_lengths(data, asked.model.block_size)
    sampler = make_sampler(data, asked, machine.world.rank, machine.world.size)
    run_cfg = _with_vocab_size(_with_tokenizer_kind(asked, data.tokenizer), data.tokenizer)
    run_cfg = with_size_budget(run_cfg, machine.world.size)  # model.depth: the shape and length it dials
    if cfg.model.init_from:
        hf_load.check(run_cfg, data.tokenizer, folder_tokenizer)
    return run_cfg, data, sampler


def _resume_point(run_cfg: RunConfig, machine: Machine, data: TokenData) -> Resume | None:
    """The checkpoint train.resume names, checked against this run's model, tokenizer and steps; None: step 0."""
    tc = run_cfg.train
    resume = find_resume_checkpoint(tc.resume, machine.run_dir, machine.notes.append) if tc.resume else None
    if resume is not None:
        check_resumable(resume[1], resume[0], config_to_dict(run_cfg)["model"], data.tokenizer.to_dict())
        check_steps_left(resume[1], resume[0], tc.max_steps)
    distributed.barrier(machine.world)  # every rank has read its checkpoint before rank 0 discards later files
    return resume


def _build_model(run_cfg: RunConfig, machine: Machine, resume: Resume | None) -> Trainable:
    """The model from the seed, and its optimizers; a Hub model's weights (model.init_from) unless a checkpoint
    is resumed, whose weights replace them."""
    torch.manual_seed(run_cfg.seed)
    model = GPT(run_cfg.model).to(machine.hw.device)
    trainable = Trainable(model, build_optimizers(model, run_cfg.optim, machine.hw.device),
                          machine.hw.grad_scaler(), machine.hw)
    if run_cfg.model.init_from and resume is None:
        from tinyx.hf import load as hf_load

        hf_load.load_weights(model, run_cfg.model.init_from)
        machine.notes.append(f"weights from {run_cfg.model.init_from}")
    return trainable


def _state_and_checkpointer(run_cfg: RunConfig, machine: Machine, trainable: Trainable, sampler: WindowSampler,
                            data: TokenData, resume: Resume | None,
                            redactor: Redactor) -> tuple[TrainState, Checkpointer]:
    """The run's TrainState and the Checkpointer that saves it, restored from `resume` when there is one; then
    this rank's random stream."""
    state = TrainState(sampler, LossCounters(machine.hw.device))
    checkpointer = Checkpointer(machine.run_dir, trainable, state, config_to_dict(run_cfg), redactor,
                                data.tokenizer.to_dict(), run_cfg.train.keep_checkpoints, machine.world.is_main)
    if resume is not None:
        changed = checkpointer.restore(resume[1], resume[0])
        if changed:
            machine.notes.append(f"optimizer settings changed since the checkpoint ({', '.join(changed)}): the new "
                                 f"values, and the learning-rate schedule they shape, apply from step {state.step + 1}")
    seed_rank(run_cfg.seed, machine.world.rank, state.step)
    return state, checkpointer


def _outputs(run_cfg: RunConfig, machine: Machine, checkpointer: Checkpointer, data: TokenData,
             resumed_from: Path | None, labels: RunLabels, redactor: Redactor, quiet: bool,
             extra_loggers: list[Logger]) -> tuple[ConsoleLogger, list[Logger]]:
    """The console (quiet on every rank but 0), and on rank 0 the run directory's records and every logger;
    then the notes gathered so far are said."""
    world = machine.world
    console = ConsoleLogger(run_cfg.train.max_steps, checkpointer.state.step, run_cfg.logger.progress_bar,
                            quiet=quiet or not world.is_main, long_run_seconds=run_cfg.logger.long_run_seconds,
                            after_run=next_steps(run_cfg, machine.run_dir))
    loggers: list[Logger] = [console]
    if world.is_main:  # the one process that writes files
        loggers = open_run_dir(run_cfg, machine, checkpointer, data, resumed_from, labels, redactor, console)
        loggers.extend(extra_loggers)
    for note in machine.notes:
        console.say(note)
    return console, loggers


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


def _announce(run: Run, data: TokenData) -> None:
    """The run's first lines: its size, device, batch, data and directory; its optimizers; where it resumed."""
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


