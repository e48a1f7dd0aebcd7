"""A ladder from start to report: compose and size every rung, print the plan, run what is missing through the
pool, read the runs back, fit and judge, write ladder.md, ladder.csv and the plots (and the wandb run)."""

from __future__ import annotations

import json

from tinyx.common.errors import LadderError
from tinyx.tools.ladder.options import Options
from tinyx.tools.ladder.plan import Rung, check_cap, compose_rungs, makespan, measure, measure_startup

PLAN_FILE = "ladder.json"


def say(line: str) -> None:
    print(line, flush=True)


def run_ladder(opts: Options) -> dict[str, str]:
    from tinyx.tools.ablate.pool import plan as plan_slots
    from tinyx.tools.ablate.pool import run_pool
    from tinyx.tools.ladder.analysis import analyse
    from tinyx.tools.ladder.report import write_report
    from tinyx.tools.ladder.runs import check_complete, pending_jobs, read_results

    rungs = compose_rungs(opts.arms, opts.depths, opts.extra)
    check_cap(rungs, opts.max_flops)
    slots = plan_slots(opts.jobs)
    if not opts.dry_run:
        check_same_ladder(opts)
    if pending_jobs(rungs, opts.seeds, opts.out, opts.metric, {}, opts.variant_seed_offset):
        measure(rungs, slots[0].threads, len(slots))  # before ordering the jobs: the longest first
        measure_startup(rungs, [*opts.arms[0].overrides, f"model.depth={opts.depths[0]}", *opts.extra], len(slots))
    jobs = pending_jobs(rungs, opts.seeds, opts.out, opts.metric, _labels(opts), opts.variant_seed_offset)
    if jobs:
        print_plan(rungs, opts, len(slots), {j.run_dir for j in jobs})
    if opts.dry_run:
        return {}
    run_pool(jobs, opts.extra, opts.jobs, say)
    results = read_results(rungs, opts.seeds, opts.out, opts.metric, opts.variant_seed_offset)
    check_complete(results, opts.metric)
    ladder = analyse(results, opts)
    text = write_report(ladder, rungs, opts)
    print(text, end="", flush=True)
    if opts.wandb:
        from tinyx.tools.ladder.tracking import log_ladder

        say(log_ladder(ladder, opts))
    return {v.arm: v.verdict for v in ladder.variants}


def _labels(opts: Options) -> dict[str, str]:
    from tinyx.config import override_key
    from tinyx.loggers.labels import study_group

    if any(override_key(o) == "logger.wandb.group" for o in opts.extra):
        return {}
    return {"logger.wandb.group": study_group(opts.out)}


def print_plan(rungs: list[Rung], opts: Options, slots: int, pending: set) -> None:
    """Per arm and size: parameters, FLOPs per token, tokens, epochs, FLOPs, one run's time; then the totals."""
    say(f"ladder: {len(rungs)} rungs x {opts.seeds} seeds in {opts.out}, {slots} at once")
    say(f"  {'arm':<28} {'depth':>5} {'params':>9} {'FLOP/tok':>9} {'tokens':>9} {'epochs':>6} {'FLOPs':>9} "
        f"{'run':>7}")
    for r in rungs:
        f = r.figures
        say(f"  {r.arm.name[:28]:<28} {r.depth:>5} {f.params:>9,} {f.flops_per_token:>9.3g} {f.tokens:>9.3g} "
            f"{r.epochs:>6.2f} {f.flops:>9.3g} {_duration(r.run_seconds):>7}")
    from tinyx.tools.ladder.runs import run_dir, seeds_of

    todo = [r.run_seconds for r in sorted(rungs, key=lambda r: -r.run_seconds)
            for s in seeds_of(r, opts.seeds, opts.arms[0], opts.variant_seed_offset)
            if run_dir(opts.out, r.arm, r.depth, s) in pending]
    total = sum(r.figures.flops for r in rungs) * opts.seeds
    say(f"  each run's start-up outside its own clock (imports, config, data), measured: "
        f"{rungs[0].startup_seconds:.1f} s")
    say(f"  total: {len(rungs) * opts.seeds} runs, {total:.3g} FLOPs; {len(todo)} to run, about "
        f"{_duration(makespan(todo, slots))} at this machine's measured speed")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def check_same_ladder(opts: Options) -> None:
    """A rerun must train what the first run trained: the same overrides after `--` and the same baseline (sizes,
    seeds and variants may be added). Recorded in <out>/ladder.json on the first start."""
    from tinyx.common.files import atomic_write_json

    plan = {"baseline": opts.arms[0].name, "overrides": opts.extra, "variant_seed_offset": opts.variant_seed_offset}
    path = opts.out / PLAN_FILE
    if path.is_file():
        before = json.loads(path.read_text())
        if any(before.get(k) != plan[k] for k in plan):
            raise LadderError(f"{opts.out} holds a ladder of baseline {before.get('baseline')!r} with overrides "
                              f"{' '.join(before.get('overrides', []))!r}: rerun it with those, or pass another --out.")
        return
    opts.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)
