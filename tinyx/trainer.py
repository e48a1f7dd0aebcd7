"""The training loop: accumulate, clip, step, evaluate, checkpoint, log. Returns a summary dict."""

from __future__ import annotations

import gc
import json
import math
import shutil
import signal
import statistics
import threading
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from tinyx import distributed, faults, hardware
from tinyx.checkpoint import (CKPT_DIR, discard_after, find_checkpoint, list_checkpoints, load_checkpoint,
                              load_latest_good, save_checkpoint)
from tinyx.files import check_writable
from tinyx.config import RunConfig, config_to_dict, flatten_config, redact_private
from tinyx.data import (check_lengths, fixed_eval_windows, load_tokens, sample_windows, to_device)
from tinyx.errors import CheckpointError, ConfigError, TrainingInterrupted
from tinyx.loggers import SUMMARY_FILE, ConsoleLogger, JsonlLogger, Logger, RunLabels, build_loggers
from tinyx.model import GPT
from tinyx.optim import build_optimizers, describe, eager_optimizers, lr_factor, optimizer_step, set_lr

TOKENIZER_FILE = "tokenizer.json"


@torch.inference_mode()
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


def _find_resume_checkpoint(resume: str, run_dir: Path, say: Callable[[str], None]) -> tuple[Path, dict] | None:
    """The checkpoint `train.resume` names and its state; None for `auto` in a directory without one."""
    if resume == "auto":
        found = load_latest_good(run_dir, say)
        if found is None:
            say(f"train.resume=auto: no checkpoint in {run_dir} yet, starting from step 0")
        return found
    path = Path(resume).expanduser()
    if path.is_dir():
        found = load_latest_good(path, say)
        if found is None:
            raise CheckpointError(f"train.resume={resume} holds no checkpoint ({CKPT_DIR}/ckpt_*.pt): pass a run "
                                  f"directory that saved one, or a checkpoint file.")
        return found
    path = find_checkpoint(path, key="train.resume")
    return path, load_checkpoint(path)


def _step_unless_nonfinite(optimizers: list[torch.optim.Optimizer], scaler: torch.amp.GradScaler,
                           skip: torch.Tensor) -> None:
    """Step every optimizer, except when `skip` (a 0-d float tensor on the device) is 1: then nothing changes.

    Optimizers that take the AMP protocol's `found_inf` (fused AdamW, tinyx's Muon) skip on the
    device, so the loop never waits for the GPU; the others read `skip` on the host.
    """
    if scaler.is_enabled():  # float16: the scaler skips steps whose gradients overflow, as it must anyway
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        return
    for opt in optimizers:
        if getattr(opt, "_step_supports_amp_scaling", False):
            opt.grad_scale, opt.found_inf = None, skip
            optimizer_step(opt)
            del opt.grad_scale, opt.found_inf
        elif not skip.item():
            optimizer_step(opt)


def _install_signal_handlers(handler) -> dict[int, object]:
    """Route SIGINT and SIGTERM to `handler`; returns the previous handlers ({} off the main thread,
    where Python cannot set handlers: there the caller's own handling stays)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}


def train(cfg: RunConfig, run_dir: str | Path, extra_loggers: list[Logger] | None = None, quiet: bool = False,
          labels: RunLabels | None = None, on_eval: Callable[[int, float], str | None] | None = None) -> dict:
    """Train `cfg` into `run_dir` (the run-directory contract) and return its summary.

    `on_eval(step, val_loss)` is called after every evaluation; a string it returns (e.g. "pruned",
    from a sweep's pruner) ends the run there with that status. A run whose loss or gradients are
    non-finite for `train.max_nonfinite_steps` steps in a row ends with status "diverged".
    SIGINT and SIGTERM (handled while this runs, in the main thread) finish the current step, save a
    checkpoint and summary.json (status "interrupted"), then raise tinyx.errors.TrainingInterrupted.
    """
    with eager_optimizers():  # torch.optim without importing torch._dynamo, unless the run compiles
        return _train(cfg, run_dir, extra_loggers, quiet, labels, on_eval)


def _train(cfg: RunConfig, run_dir: str | Path, extra_loggers: list[Logger] | None, quiet: bool,
           labels: RunLabels | None, on_eval: Callable[[int, float], str | None] | None) -> dict:
    t_start = time.perf_counter()
    tc, oc = cfg.train, cfg.optim
    injected = faults.load()
    world = distributed.world_from_env()
    hw = hardware.setup(cfg.hardware, world.local_rank, world.size)
    world = distributed.init(hw.device)
    run_dir = _rank0_run_dir(Path(run_dir), world)
    # Everything that can fail on bad input happens before the first file is written; the output
    # directory first of all, so that a read-only or full disk fails now, not after the data is tokenised.
    if world.is_main:
        check_writable(run_dir)
    notes: list[str] = []  # said once the console exists
    if injected:
        notes.append(f"warning: fault injection on ({faults.ENV}={injected.spec}): for tinyx's tests only")

    data = load_tokens(cfg.data)
    check_lengths(data, cfg.model.block_size)
    tokenizer = data.tokenizer
    vocab_size = cfg.model.vocab_size or tokenizer.vocab_size
    if vocab_size < tokenizer.vocab_size:
        raise ConfigError(f"model.vocab_size={vocab_size} is smaller than the tokenizer's {tokenizer.vocab_size}: "
                          f"leave it null or raise it.")
    cfg = replace(cfg, model=replace(cfg.model, vocab_size=vocab_size))
    cfg_dict = config_to_dict(cfg)
    # Text values from the environment (a URL with a token, a private path) are stored in checkpoints as
    # their `${oc.env:...}` source; numbers stay, since rebuilding the model needs them and they are no secret.
    private_sources = labels.private_keys if labels else {}
    if not isinstance(private_sources, dict):
        private_sources = dict.fromkeys(private_sources)
    flat_config = flatten_config(cfg_dict)
    private = {k: v for k, v in private_sources.items() if isinstance(flat_config.get(k), str)}
    prompt_ids = tokenizer.encode(tc.sample_prompt) or [0]

    state, ckpt_path = None, None
    if tc.resume:
        found = _find_resume_checkpoint(tc.resume, run_dir, notes.append)
        if found is not None:
            ckpt_path, state = found
            _check_resumable(state, ckpt_path, cfg_dict["model"], tokenizer.to_dict())
    in_place = ckpt_path is not None and ckpt_path.parent.parent.resolve() == run_dir.resolve()
    distributed.barrier(world)  # every rank has read its checkpoint before rank 0 discards later files

    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).to(hw.device)
    optimizers = build_optimizers(model, oc, hw.device)
    params = list(model.parameters())
    scaler = hw.grad_scaler()
    batch_rng = torch.Generator().manual_seed(cfg.seed)
    start_step, best_val, best_step = 0, math.inf, None
    wall_offset = 0.0  # wall time of the run before a resume
    eval_seconds = 0.0  # of the wall time, spent in evaluations (with their samples), resumed runs included
    # Running sums on the device, read on the host only at log steps: the loop never waits for the GPU.
    loss_sum, loss_steps = torch.zeros((), device=hw.device), torch.zeros((), device=hw.device)
    nonfinite_steps = torch.zeros((), device=hw.device)  # skipped steps, in the whole run
    nonfinite_streak = torch.zeros((), device=hw.device)  # skipped steps in a row, now
    longest_streak = torch.zeros((), device=hw.device)

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
        eval_seconds = state.get("eval_seconds", 0.0)
        best_step = state.get("val_loss_best_step")
        loss_sum = state["loss_sum"].to(hw.device)
        loss_steps = torch.as_tensor(state["loss_steps"], dtype=torch.float32).to(hw.device)
        counters = state.get("nonfinite", {})
        for name, counter in (("steps", nonfinite_steps), ("streak", nonfinite_streak), ("longest", longest_streak)):
            counter.fill_(float(counters.get(name, 0)))
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
        _check_free_space(run_dir, model, tc.keep_checkpoints)
        if in_place:
            # This directory continues from start_step: what it wrote after that is rewritten.
            for path in discard_after(run_dir, start_step, best_step):
                notes.append(f"discarded {path.name}, saved after the checkpoint resumed from (the run rewrites it)")
            (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
        (run_dir / TOKENIZER_FILE).write_text(json.dumps(tokenizer.to_dict()))
        jsonl = JsonlLogger(run_dir, history_from=ckpt_path.parent.parent if ckpt_path else None,
                            history_until=start_step)
        loggers = [jsonl, console, *build_loggers(cfg, run_dir, labels, start_step, console.say),
                   *(extra_loggers or [])]
    for note in notes:
        console.say(note)

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
    last_saved: tuple[int, Path] | None = None  # (step, path) of the newest checkpoint this run wrote
    stop_signal: list[int] = []  # the signal that asked to stop, once one has
    interrupted: TrainingInterrupted | None = None

    def save(step: int, best: bool = False) -> Path | None:
        nonlocal last_saved
        if not world.is_main:
            return None
        path = save_checkpoint(run_dir, step, {
            "model": model.state_dict(), "optimizers": [o.state_dict() for o in optimizers],
            "scaler": scaler.state_dict(), "step": step, "config": redact_private(cfg_dict, private),
            "private_keys": sorted(private),
            "tokenizer": tokenizer.to_dict(), "val_loss": val_loss, "val_loss_best": best_val,
            "val_loss_best_step": best_step, "wall_seconds": wall(), "eval_seconds": eval_seconds,
            "loss_sum": loss_sum.cpu(), "loss_steps": loss_steps.cpu(),
            "nonfinite": {"steps": nonfinite_steps.item(), "streak": nonfinite_streak.item(),
                          "longest": longest_streak.item()},
            "rng": {"torch": torch.get_rng_state(), "batches": batch_rng.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if hw.device.type == "cuda" else []},
        }, keep=tc.keep_checkpoints, best=best)
        last_saved = (step, path)
        return path

    def log_eval(step: int) -> float:
        nonlocal eval_seconds
        started = time.perf_counter()
        loss = evaluate(eval_model, eval_windows, hw)
        faults.pause_point("eval", step)
        if not world.is_main:  # every rank knows the loss (same weights, same windows); rank 0 reports it
            eval_seconds += time.perf_counter() - started
            return loss
        metrics = {"val/loss": loss, "val/ppl": math.exp(min(loss, 50.0))}
        metrics.update(model.sink_mass(to_device(eval_windows[0], hw.device)[0]))
        text = sample_text(model, tokenizer, prompt_ids, tc.sample_tokens, cfg.seed, hw.device) \
            if tc.sample_tokens else None
        eval_seconds += time.perf_counter() - started
        metrics.update(wall_seconds=wall(), eval_seconds=eval_seconds)
        for lg in loggers:
            lg.log_metrics(step, metrics)
        if text is not None:
            for lg in loggers:
                lg.log_sample(step, text)
        return loss

    def diverged() -> bool:
        return longest_streak.item() >= tc.max_nonfinite_steps

    def on_signal(signum, frame) -> None:
        if stop_signal:  # the second one: stop now, without finishing the step
            raise TrainingInterrupted(signum, step, str(run_dir), None)
        stop_signal.append(signum)  # acted on (and said) at the end of the step: printing here could re-enter print

    previous_handlers: dict[int, object] = {}
    try:
        previous_handlers = _install_signal_handlers(on_signal)
        # Everything built so far lives for the whole run: keep it out of the collector's scans. After
        # the handlers: a KeyboardInterrupt raised inside a collection's weakref callback would be lost.
        gc.collect()
        gc.freeze()
        model.train()
        interval_start, interval_steps = time.perf_counter(), 0
        for step in range(start_step + 1, tc.max_steps + 1):
            lr_scale = lr_factor(step - 1, oc, tc.max_steps)
            set_lr(optimizers, lr_scale)
            step_loss = torch.zeros((), device=hw.device)
            for micro_step in range(tc.grad_accum):
                x, y = to_device(sample_windows(data.train, tc.batch_size, cfg.model.block_size, batch_rng,
                                                world.rank, world.size), hw.device)
                # DDP averages gradients across ranks on the last micro-step only.
                sync = ddp_model.no_sync() if world.distributed and micro_step < tc.grad_accum - 1 else nullcontext()
                with sync:
                    with hw.autocast():
                        _, loss = step_model(x, y)
                    if injected and step in injected.nan_loss_steps:
                        loss = loss * math.nan
                    # Scaled so the accumulated gradient equals one batch of batch_size * grad_accum.
                    scaler.scale(loss / tc.grad_accum).backward()
                step_loss += loss.detach().float() / tc.grad_accum
            if injected and step in injected.inf_grad_steps:
                params[0].grad.view(-1)[0] = math.inf
            for opt in optimizers:
                scaler.unscale_(opt)
            grad_norm = (torch.nn.utils.clip_grad_norm_(params, oc.grad_clip) if oc.grad_clip > 0 else
                         torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]))
            faults.pause_point("step", step)
            # One finiteness test for both: a sum is finite only if its terms are (an overflow counts too).
            # Under float16 the scaler skips overflowing gradients itself; only a non-finite loss counts.
            finite = torch.isfinite(step_loss if scaler.is_enabled() else step_loss + grad_norm)
            skip = (~finite).float()
            _step_unless_nonfinite(optimizers, scaler, skip)
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            loss_sum += torch.where(finite, step_loss, 0.0)
            loss_steps += finite
            nonfinite_steps += skip
            nonfinite_streak.mul_(skip).add_(skip)  # +1 on a skipped step, back to 0 on a good one
            torch.maximum(longest_streak, nonfinite_streak, out=longest_streak)
            interval_steps += 1

            is_log_step = step % tc.log_every == 0 or step == tc.max_steps
            if is_log_step:
                # The one host sync, every log_every steps (under torchrun: the mean over ranks; the
                # gradient norm and skip count are the same on every rank).
                train_loss, grad_norm_value, skipped = distributed.mean(torch.stack(
                    [loss_sum / loss_steps, grad_norm.float(), nonfinite_steps]), world).tolist()
                seconds = time.perf_counter() - interval_start
                tps = interval_steps * tokens_per_step / seconds
                throughput.append(tps)
                metrics = {"train/loss": train_loss, "lr": oc.lr * lr_scale, "grad_norm": grad_norm_value,
                           "wall_seconds": wall(), "nonfinite_steps": int(skipped),
                           **({"lr/adamw": oc.adamw_lr * lr_scale} if oc.name == "muon" else {}),
                           "step_ms": 1e3 * seconds / interval_steps, "tokens_per_second": tps,
                           "mfu": tps * flops_per_token / hw.peak_flops if hw.peak_flops else None}
                for lg in loggers:
                    lg.log_metrics(step, metrics)
                if math.isfinite(train_loss):
                    summary["train/loss"] = train_loss
                loss_sum.zero_()
                loss_steps.zero_()
            is_eval_step = step % tc.eval_every == 0 or step == tc.max_steps
            is_ckpt_step = step % tc.ckpt_every == 0 or step == tc.max_steps
            if (is_log_step or is_eval_step or is_ckpt_step) and diverged():
                stopped_by = "diverged"
                break
            is_best = False
            if is_eval_step:
                val_loss = log_eval(step)
                is_best = val_loss < best_val
                if is_best:
                    best_val, best_step = val_loss, step
                stopped_by = on_eval(step, val_loss) if on_eval else None
                if stopped_by:
                    break
            if is_ckpt_step or is_best:
                save(step, best=is_best)
            stop_now = bool(stop_signal)
            if world.distributed:  # the ranks agree at log steps, so that all stop after the same step
                stop_now = is_log_step and distributed.any_rank(stop_now, world, hw.device)
            if stop_now:
                signum = stop_signal[0] if stop_signal else signal.SIGTERM  # a rank the signal missed
                checkpoint = last_saved[1] if last_saved and last_saved[0] == step else save(step)
                interrupted = TrainingInterrupted(signum, step, str(run_dir), str(checkpoint))
                stopped_by = "interrupted"
                console.say(f"{interrupted.signal_name}: stopped after step {step}, checkpoint {checkpoint}")
                break
            if is_log_step or is_eval_step or is_ckpt_step:
                interval_start, interval_steps = time.perf_counter(), 0  # evaluation is not training time
        if val_loss is None and stopped_by is None:
            val_loss = log_eval(step)
            best_val = min(best_val, val_loss)
        summary["status"] = stopped_by or "completed"
        if stopped_by == "diverged":
            summary["reason"] = _diverged_reason(tc.max_nonfinite_steps, step, run_dir, ckpt_path)
            console.say(f"diverged: {summary['reason']}")
        elif interrupted is not None:
            summary["reason"] = f"{interrupted.signal_name} at step {step}; checkpoint {interrupted.checkpoint}"
    except TrainingInterrupted as e:
        summary["status"] = "interrupted"
        summary["reason"] = f"{e.signal_name} twice: stopped at once during step {e.step}, without a checkpoint"
        raise
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        raise
    except Exception as e:
        summary["status"] = f"failed: {type(e).__name__}: {e}"
        raise
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        gc.unfreeze()
        summary.update({"step": step, "val/loss": val_loss, "val/loss_best": best_val if best_val < math.inf else None,
                        "val/ppl": math.exp(min(val_loss, 50.0)) if val_loss is not None else None,
                        "nonfinite_steps": int(nonfinite_steps.item()),
                        "tokens_per_second": statistics.median(throughput) if throughput else None,
                        "wall_seconds": wall(), "eval_seconds": eval_seconds})
        for lg in loggers:
            lg.finish(summary)
        distributed.shutdown(world)
    if interrupted is not None:
        raise interrupted
    return summary


def _diverged_reason(limit: int, step: int, run_dir: Path, resumed_from: Path | None) -> str:
    checkpoints = list_checkpoints(run_dir) or ([resumed_from] if resumed_from else [])
    kept = f"the last good checkpoint is {checkpoints[-1]}" if checkpoints else "no checkpoint was saved yet"
    return (f"the loss or gradients were NaN or inf for {limit} steps in a row by step {step} (those steps were "
            f"skipped, so the weights are the last good ones); {kept}. Try a lower optim.lr, optim.grad_clip=1.0, "
            f"or hardware.dtype=float32")
