"""The training loop: accumulate, clip, step, evaluate, checkpoint, log. Returns a summary dict."""

from __future__ import annotations

import gc
import json
import math
import statistics
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from tinyx import distributed, hardware
from tinyx.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from tinyx.config import RunConfig, config_to_dict
from tinyx.data import (check_lengths, fixed_eval_windows, load_tokens, sample_windows, to_device)
from tinyx.errors import CheckpointError, ConfigError
from tinyx.loggers import ConsoleLogger, JsonlLogger, Logger, RunLabels, build_loggers
from tinyx.model import GPT
from tinyx.optim import build_optimizers, describe, lr_factor, set_lr

TOKENIZER_FILE = "tokenizer.json"


@torch.no_grad()
def evaluate(model: torch.nn.Module, windows: list[torch.Tensor], hw: hardware.Hardware) -> float:
    model.eval()
    losses = []
    for w in windows:
        x, y = to_device(w, hw.device)
        with hw.autocast():
            _, loss = model(x, y)
        losses.append(loss.float())
    model.train()
    return torch.stack(losses).mean().item()


def sample_text(model: GPT, tokenizer, prompt_ids: list[int], n_tokens: int, seed: int, device) -> str:
    generator = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    out = model.generate(idx, n_tokens, temperature=0.8, top_k=50, generator=generator)
    return tokenizer.decode(out[0].tolist())


def _check_resumable(state: dict, path: Path, model_cfg: dict, tokenizer: dict) -> None:
    trained = state["config"].get("model", {})
    shape_keys = [k for k in model_cfg if k != "dropout"]
    diffs = [f"model.{k}={trained.get(k)} (this run: {model_cfg[k]})" for k in shape_keys
             if trained.get(k) != model_cfg[k]]
    if diffs:
        fix = " ".join(f"model.{k}={trained.get(k)}" for k in shape_keys if trained.get(k) != model_cfg[k])
        raise CheckpointError(f"checkpoint {path} was trained with {', '.join(diffs)}: resume with the same model "
                              f"settings (add: {fix}).")
    if state.get("tokenizer") != tokenizer:
        raise CheckpointError(f"checkpoint {path} was trained with another tokenizer or corpus: resume with its data "
                              f"settings ({state['config'].get('data', {}).get('name')}).")


def _rank0_run_dir(run_dir: Path, world: distributed.World) -> Path:
    """Rank 0's run directory on every rank. Hydra in each torchrun process names its own from the clock,
    so another rank's name can differ by a second; that rank's (empty) folder is removed."""
    if not world.distributed:
        return run_dir
    main_dir = Path(distributed.broadcast(str(run_dir), world))
    if not world.is_main and run_dir.resolve() != main_dir.resolve() and run_dir.is_dir() and \
            not any(run_dir.iterdir()):
        run_dir.rmdir()
    return main_dir


def _probe_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"run directory {run_dir} is not writable ({e.strerror}): "
                          f"free space or choose another with hydra.run.dir=...") from None


def train(cfg: RunConfig, run_dir: str | Path, extra_loggers: list[Logger] | None = None, quiet: bool = False,
          labels: RunLabels | None = None, on_eval: Callable[[int, float], str | None] | None = None) -> dict:
    """Train `cfg` into `run_dir` (the run-directory contract) and return its summary.

    `on_eval(step, val_loss)` is called after every evaluation; a string it returns (e.g. "pruned",
    from a sweep's pruner) ends the run there with that status.
    """
    t_start = time.perf_counter()
    tc, oc = cfg.train, cfg.optim
    world = distributed.world_from_env()
    hw = hardware.setup(cfg.hardware, world.local_rank, world.size)
    world = distributed.init(hw.device)
    run_dir = _rank0_run_dir(Path(run_dir), world)

    # Everything that can fail on bad input happens before the first file is written.
    data = load_tokens(cfg.data)
    check_lengths(data, cfg.model.block_size)
    tokenizer = data.tokenizer
    vocab_size = cfg.model.vocab_size or tokenizer.vocab_size
    if vocab_size < tokenizer.vocab_size:
        raise ConfigError(f"model.vocab_size={vocab_size} is smaller than the tokenizer's {tokenizer.vocab_size}: "
                          f"leave it null or raise it.")
    cfg = replace(cfg, model=replace(cfg.model, vocab_size=vocab_size))
    cfg_dict = config_to_dict(cfg)
    prompt_ids = tokenizer.encode(tc.sample_prompt) or [0]

    state, ckpt_path = None, None
    if tc.resume:
        ckpt_path = Path(distributed.broadcast(str(find_checkpoint(tc.resume)) if world.is_main else None, world))
        state = load_checkpoint(ckpt_path)
        _check_resumable(state, ckpt_path, cfg_dict["model"], tokenizer.to_dict())

    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).to(hw.device)
    optimizers = build_optimizers(model, oc, hw.device)
    scaler = hw.grad_scaler()
    batch_rng = torch.Generator().manual_seed(cfg.seed)
    start_step, best_val, loss_sum, loss_steps = 0, math.inf, torch.zeros((), device=hw.device), 0
    wall_offset = 0.0  # wall time of the run before a resume

    def wall() -> float:
        return wall_offset + time.perf_counter() - t_start
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            for opt, opt_state in zip(optimizers, state["optimizers"], strict=True):
                opt.load_state_dict(opt_state)
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint {ckpt_path} does not fit this run's model/optimizer "
                                  f"({str(e).splitlines()[0][:200]}): resume with the settings it was trained with.") from None
        if scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        start_step, best_val, wall_offset = state["step"], state["val_loss_best"], state.get("wall_seconds", 0.0)
        loss_sum, loss_steps = state["loss_sum"].to(hw.device), state["loss_steps"]
        torch.set_rng_state(state["rng"]["torch"])
        batch_rng.set_state(state["rng"]["batches"])
        if hw.device.type == "cuda" and state["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    # Under torchrun: DDP averages the ranks' gradients; all ranks start from rank 0's weights.
    ddp_model = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[hw.device.index] if hw.device.type == "cuda" else None) if world.distributed else model
    step_model = torch.compile(ddp_model) if hw.compile else ddp_model
    # Evaluation runs on each rank's own copy (identical weights), outside DDP's hooks.
    eval_model = model if world.distributed else step_model

    console = ConsoleLogger(tc.max_steps, start_step, cfg.logger.progress_bar, quiet=quiet or not world.is_main)
    loggers: list[Logger] = [console]
    if world.is_main:  # the one process that writes files
        _probe_writable(run_dir)
        (run_dir / TOKENIZER_FILE).write_text(json.dumps(tokenizer.to_dict()))
        jsonl = JsonlLogger(run_dir, history_from=ckpt_path.parent.parent if ckpt_path else None,
                            history_until=start_step)
        loggers = [jsonl, console, *build_loggers(cfg, run_dir, labels, start_step, console.say),
                   *(extra_loggers or [])]

    n_params = model.num_params()
    tokens_per_step = tc.batch_size * tc.grad_accum * cfg.model.block_size * world.size  # global
    flops_per_token = model.flops_per_token()
    eval_windows = fixed_eval_windows(data.val, tc.eval_batches, tc.eval_batch_size, cfg.model.block_size)
    console.say(f"tinyx: {n_params:,} parameters | device {hw.device} {str(hw.dtype).removeprefix('torch.')} | "
                f"{tokens_per_step:,} tokens/step (batch {tc.batch_size} x accum {tc.grad_accum}"
                + (f" x {world.size} processes" if world.distributed else "")
                + f" x context {cfg.model.block_size}) | data {data.corpus_path} ({len(data.train):,} train tokens, "
                f"cache {'hit' if data.cache_hit else 'built'}) | run dir {run_dir}")
    console.say(f"optimizers: {describe(optimizers)}")
    if ckpt_path:
        console.say(f"resumed from {ckpt_path} at step {start_step}")

    summary = {"status": "running", "step": start_step, "params": n_params, "run_dir": str(run_dir)}
    throughput: list[float] = []
    val_loss = state.get("val_loss") if state else None
    step = start_step
    stopped_by = None

    def save(step: int) -> None:
        if not world.is_main:
            return
        save_checkpoint(run_dir, step, {
            "model": model.state_dict(), "optimizers": [o.state_dict() for o in optimizers],
            "scaler": scaler.state_dict(), "step": step, "config": cfg_dict, "tokenizer": tokenizer.to_dict(),
            "val_loss": val_loss, "val_loss_best": best_val, "wall_seconds": wall(),
            "loss_sum": loss_sum.cpu(), "loss_steps": loss_steps,
            "rng": {"torch": torch.get_rng_state(), "batches": batch_rng.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if hw.device.type == "cuda" else []},
        }, keep=tc.keep_checkpoints)

    def log_eval(step: int) -> float:
        loss = evaluate(eval_model, eval_windows, hw)
        if not world.is_main:  # every rank knows the loss (same weights, same windows); rank 0 reports it
            return loss
        metrics = {"val/loss": loss, "val/ppl": math.exp(min(loss, 50.0)),
                   "wall_seconds": wall()}
        metrics.update(model.sink_mass(to_device(eval_windows[0], hw.device)[0]))
        for lg in loggers:
            lg.log_metrics(step, metrics)
        if tc.sample_tokens:
            text = sample_text(model, tokenizer, prompt_ids, tc.sample_tokens, cfg.seed, hw.device)
            for lg in loggers:
                lg.log_sample(step, text)
        return loss

    # Everything built so far lives for the whole run: keep it out of the collector's scans.
    gc.collect()
    gc.freeze()
    try:
        model.train()
        interval_start, interval_steps = time.perf_counter(), 0
        grad_norm = torch.zeros(())
        for step in range(start_step + 1, tc.max_steps + 1):
            lr_scale = lr_factor(step - 1, oc, tc.max_steps)
            set_lr(optimizers, lr_scale)
            for micro_step in range(tc.grad_accum):
                x, y = to_device(sample_windows(data.train, tc.batch_size, cfg.model.block_size, batch_rng,
                                                world.rank, world.size), hw.device)
                # DDP averages gradients across ranks on the last micro-step only.
                sync = ddp_model.no_sync() if world.distributed and micro_step < tc.grad_accum - 1 else nullcontext()
                with sync:
                    with hw.autocast():
                        _, loss = step_model(x, y)
                    # Scaled so the accumulated gradient equals one batch of batch_size * grad_accum.
                    scaler.scale(loss / tc.grad_accum).backward()
                loss_sum += loss.detach().float() / tc.grad_accum
            is_log_step = step % tc.log_every == 0 or step == tc.max_steps
            if oc.grad_clip > 0 or is_log_step:
                for opt in optimizers:
                    scaler.unscale_(opt)
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), oc.grad_clip or math.inf)
            for opt in optimizers:
                scaler.step(opt)
            scaler.update()
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            loss_steps += 1
            interval_steps += 1

            if is_log_step:
                # The one host sync, every log_every steps (under torchrun: the mean over ranks).
                train_loss = (distributed.mean(loss_sum, world) / loss_steps).item()
                seconds = time.perf_counter() - interval_start
                tps = interval_steps * tokens_per_step / seconds
                throughput.append(tps)
                metrics = {"train/loss": train_loss, "lr": oc.lr * lr_scale, "grad_norm": grad_norm.item(),
                           "wall_seconds": wall(),
                           **({"lr/adamw": oc.adamw_lr * lr_scale} if oc.name == "muon" else {}),
                           "step_ms": 1e3 * seconds / interval_steps, "tokens_per_second": tps,
                           "mfu": tps * flops_per_token / hw.peak_flops if hw.peak_flops else None}
                for lg in loggers:
                    lg.log_metrics(step, metrics)
                summary["train/loss"] = train_loss
                loss_sum.zero_()
                loss_steps = 0
                if not math.isfinite(train_loss):
                    raise FloatingPointError(f"train loss is {train_loss} at step {step}")
            if step % tc.eval_every == 0 or step == tc.max_steps:
                val_loss = log_eval(step)
                best_val = min(best_val, val_loss)
                stopped_by = on_eval(step, val_loss) if on_eval else None
                if stopped_by:
                    break
            if step % tc.ckpt_every == 0 or step == tc.max_steps:
                save(step)
            if is_log_step or step % tc.eval_every == 0 or step % tc.ckpt_every == 0:
                interval_start, interval_steps = time.perf_counter(), 0  # evaluation is not training time
        if val_loss is None:
            val_loss = log_eval(step)
            best_val = min(best_val, val_loss)
        summary["status"] = stopped_by or "completed"
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        raise
    except Exception as e:
        summary["status"] = f"failed: {type(e).__name__}: {e}"
        raise
    finally:
        gc.unfreeze()
        distributed.shutdown(world)
        summary.update({"step": step, "val/loss": val_loss, "val/loss_best": best_val if best_val < math.inf else None,
                        "val/ppl": math.exp(min(val_loss, 50.0)) if val_loss is not None else None,
                        "tokens_per_second": statistics.median(throughput) if throughput else None,
                        "wall_seconds": wall()})
        for lg in loggers:
            lg.finish(summary)
    return summary
