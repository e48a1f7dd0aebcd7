"""Before a ladder runs: every arm composed at every size (a typo or an impossible size fails here, once), each
size's figures (parameters, FLOPs per token, tokens, epochs, FLOPs) and a time plan at this machine's throughput,
measured here on a few steps of each model at the threads each run will get."""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tinyx.common.errors import LadderError
from tinyx.tools.ablate.seeds import ArmSpec

DIAL_KEY = "model.depth"


@dataclass
class Rung:
    """One arm at one size: its composed config and its figures (tinyx.training.budget.SizeFigures)."""

    arm: ArmSpec
    depth: int
    config: object  # RunConfig, vocab size filled in
    figures: object
    train_tokens: int  # the corpus's training split
    step_seconds: float = 0.0  # measured
    eval_seconds: float = 0.0  # one evaluation, measured
    startup_seconds: float = 0.0  # outside train.py's own clock: interpreter, imports, config, data; measured

    @property
    def epochs(self) -> float:
        return self.figures.tokens / self.train_tokens

    @property
    def evaluations(self) -> int:
        every = self.config.train.eval_every
        return self.figures.steps // every + (self.figures.steps % every != 0)

    @property
    def run_seconds(self) -> float:
        return self.startup_seconds + self.figures.steps * self.step_seconds + self.evaluations * self.eval_seconds


def compose_rungs(arms: list[ArmSpec], depths: list[int], extra: list[str]) -> list[Rung]:
    """Every arm at every depth composed and validated (an impossible size fails before any data is read), then
    sized with its tokenizer's vocabulary."""
    from tinyx.config import to_run_config
    from tinyx.data import load_tokens
    from tinyx.hydra_glue.compose import compose_train
    from tinyx.training.budget import size_figures, with_size_budget

    configs = [(arm, depth, to_run_config(compose_train([*arm.overrides, f"{DIAL_KEY}={depth}", *extra])))
               for arm in arms for depth in depths]
    rungs = []
    for arm, depth, cfg in configs:
        data = load_tokens(cfg.data)
        vocab = cfg.model.vocab_size or data.tokenizer.vocab_size
        sized = with_size_budget(replace(cfg, model=replace(cfg.model, vocab_size=vocab)))
        rungs.append(Rung(arm, depth, sized, size_figures(cfg, vocab), len(data.train)))
    return rungs


def check_cap(rungs: list[Rung], max_flops: float | None) -> None:
    if max_flops is None:
        return
    over = [r for r in rungs if r.figures.flops > max_flops]
    if over:
        r = over[0]
        raise LadderError(f"{r.arm.name} at {DIAL_KEY}={r.depth} trains {r.figures.flops:.3g} FLOPs, beyond "
                          f"--max-flops {max_flops:.3g}: drop that size, lower train.tokens_per_param, or raise "
                          f"the cap.")


def measure(rungs: list[Rung], threads: int, slots: int = 1) -> None:
    """Each rung's step and evaluation time at `threads` threads, measured in `slots` processes at once (the runs
    share the machine so: alone, a run steps ~20% faster on 2 cores), each rung's the mean over the processes."""
    payload = [(r.config, threads) for r in rungs]
    if slots <= 1:
        timings = [_measure_all(payload)]
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(slots) as pool:
            timings = pool.map(_measure_all, [payload] * slots)
    for k, rung in enumerate(rungs):
        rung.step_seconds = sum(t[k][0] for t in timings) / len(timings)
        rung.eval_seconds = sum(t[k][1] for t in timings) / len(timings)


def measure_startup(rungs: list[Rung], overrides: list[str], slots: int) -> None:
    """The seconds a run spends outside its own clock (process start, imports, composing, the data, the last
    checkpoint): `slots` real train.py runs of one step at once, as the ladder's runs start, less summary.json's
    wall_seconds. The same for every rung (it does not grow with the model)."""
    import subprocess
    import sys
    import tempfile

    from tinyx.cli.entry import CHECKOUT
    from tinyx.rundir.contract import read_summary

    with tempfile.TemporaryDirectory() as tmp:
        commands = [[sys.executable, str(CHECKOUT / "train.py"), *overrides, "train.tokens_per_param=null",
                     "train.max_steps=1", "hardware.threads=1", f"hydra.run.dir={tmp}/{i}"] for i in range(slots)]
        start = time.perf_counter()
        running = {i: subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for i, c in enumerate(commands)}
        ended = {}
        while running:
            for i in [i for i, p in running.items() if p.poll() is not None]:
                ended[i] = time.perf_counter() - start
                running.pop(i)
            time.sleep(0.05)
        summaries = [read_summary(Path(tmp) / str(i)) for i in range(slots)]
        inside = [s.wall_seconds or 0.0 if s is not None else 0.0 for s in summaries]
    startup = sum(ended[i] - inside[i] for i in range(slots)) / slots
    for rung in rungs:
        rung.startup_seconds = startup


def _measure_all(payload: list[tuple[object, int]], steps: int = 6) -> list[tuple[float, float]]:
    """(step seconds, one evaluation's seconds) of each config, on random tokens."""
    import torch

    from tinyx.nn.gpt import GPT
    from tinyx.nn.optimizers import build_optimizers

    out = []
    for cfg, threads in payload:
        torch.set_num_threads(threads)
        model = GPT(cfg.model)
        optimizers = build_optimizers(model, cfg.optim, torch.device("cpu"))
        batch = torch.randint(0, cfg.model.vocab_size, (cfg.train.batch_size, cfg.model.block_size))
        step = _timed(lambda: _train_step(model, optimizers, batch, cfg.train.grad_accum), steps)
        windows = torch.randint(0, cfg.model.vocab_size, (cfg.train.eval_batch_size, cfg.model.block_size))
        out.append((step, cfg.train.eval_batches * _timed(lambda: _eval_batch(model, windows), 3)))
    return out


def _train_step(model, optimizers, batch, accum: int) -> None:
    for _ in range(accum):
        _, loss = model(batch, batch)
        loss.backward()
    for opt in optimizers:
        opt.step()
        opt.zero_grad(set_to_none=True)


def _eval_batch(model, windows) -> None:
    import torch

    with torch.no_grad():
        model(windows, windows)


def _timed(fn, n: int) -> float:
    """Median seconds of fn over n calls, after two warm-up calls."""
    import statistics

    fn(), fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def makespan(seconds: list[float], slots: int) -> float:
    """Wall time of jobs started in this order on `slots` slots, each on the first free one."""
    free = [0.0] * max(1, slots)
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)
