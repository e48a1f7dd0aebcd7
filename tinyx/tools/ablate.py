"""Run an ablation until it is decided: seeds in rounds, each variant stopped once its verdict is in.

    uv run python -m tinyx.tools.ablate baseline llama_tiny sink_token --out outputs/ablations/arch -- train.max_steps=400
    uv run python -m tinyx.tools.ablate baseline "model.norm=rmsnorm model.pos=rope" --max-seeds 8 -- hydra/launcher=parallel

Named `ablate` for what the user does with it (runs an ablation to a verdict), not for how (seeds in rounds).
An arm is an experiment name (`llama_tiny` = `experiment=llama_tiny`) or a quoted string of overrides; the first
is the baseline. Everything after `--` goes to every train.py run (`debug=micro`, `hydra/launcher=...`).

Each round runs `train.py -m` per arm still running for the next --round-seeds seeds, then looks at the data: a
variant whose verdict against the baseline is decided (better, worse, no detectable difference) stops; the rest go
on, up to --max-seeds. Seed k of an arm always lives in <out>/<arm>/seed_<k>, so rerunning the same command
continues where it stopped: completed runs are reused, interrupted ones resume (train.resume=auto).

Repeated looks inflate false positives (five looks at α = 0.05 declare ~14% of A/A comparisons different). The rule
here is Bonferroni over the planned looks: each look tests at α/K (K = ceil(max seeds / round seeds)), so the chance
of any false "better/worse" over all looks is at most α, whatever the correlation between looks. Pocock's and
O'Brien-Fleming's boundaries spend α less conservatively, but their constants assume normal statistics and equal
increments; with a handful of seeds per look (t statistics, arms that lose a diverged seed) the plain bound is the
one that holds exactly. tests/unit/test_ablate.py shows it on thousands of simulated A/A comparisons.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.compare import stats
from tinyx.config import override_key
from tinyx.common.errors import AblateError, CompareError, exit_on_user_error
from tinyx.rundir import records
from tinyx.rundir.contract import FINAL_METRICS, VAL_LOSS, read_summary
from tinyx.rundir.last import outputs_root
from tinyx.cli.entry import CHECKOUT

ROOT = CHECKOUT  # train.py's folder (Hydra finds conf/ beside it)
# A seed's state, named after its run's status (pending: not started, or to be resumed).
STATE_COMPLETED, STATE_FAILED, STATE_PENDING = records.COMPLETED, records.FAILED, "pending"


# ---------------------------------------------------------------- the sequential rule
def decide(baseline, variant, paired: bool, looks: int, alpha: float = stats.ALPHA, min_effect: float = 0.0):
    """The verdict of one look (vectorized: rows of seeds on the last axis give one verdict each).

    better / worse: the t-test (paired, else Welch) has p < alpha / looks, by the sign of variant - baseline
    (lower is better); no detectable difference: the (1 - alpha / looks) CI of the difference lies inside
    ±min_effect; undecided: otherwise. Returns an array of verdict strings (a 0-d one for 1-D input).
    """
    import warnings

    import numpy as np
    from scipy import stats as sps

    a, b = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    level = alpha / looks
    with warnings.catch_warnings():  # rows without spread: nan statistics, read as undecided
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sps.ttest_rel(b, a, axis=-1) if paired else sps.ttest_ind(b, a, equal_var=False, axis=-1)
        ci = result.confidence_interval(1 - level)
    delta = b.mean(axis=-1) - a.mean(axis=-1)
    significant = np.asarray(result.pvalue < level)
    out = np.full(np.shape(delta), stats.UNDECIDED, dtype=object)
    out[significant & (delta < 0)] = stats.BETTER
    out[significant & (delta > 0)] = stats.WORSE
    out[~significant & (ci.low > -min_effect) & (ci.high < min_effect)] = stats.NO_DIFFERENCE
    return out


def schedule(round_seeds: int, max_seeds: int) -> list[int]:
    """The seeds per arm at each planned look: round_seeds, 2 x round_seeds, ..., max_seeds."""
    return [min(k * round_seeds, max_seeds) for k in range(1, math.ceil(max_seeds / round_seeds) + 1)]


def sequential(baseline, variant, looks_at: list[int], paired: bool, alpha: float = stats.ALPHA,
               min_effect: float = 0.0):
    """Rows of seeds looked at after each round until decided: (final verdict, seeds used) per row.

    What the command does over its rounds, for whole arrays at once (the A/A simulation).
    """
    import numpy as np

    a, b = np.atleast_2d(baseline), np.atleast_2d(variant)
    verdicts = np.full(a.shape[0], stats.UNDECIDED, dtype=object)
    used = np.full(a.shape[0], looks_at[-1])
    active = np.ones(a.shape[0], dtype=bool)
    for n in looks_at:
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        now = decide(a[rows, :n], b[rows, :n], paired, len(looks_at), alpha, min_effect)
        done = now != stats.UNDECIDED
        verdicts[rows[done]], used[rows[done]] = now[done], n
        active[rows[done]] = False
    return verdicts, used


# ---------------------------------------------------------------- arms and their run directories
@dataclass
class ArmSpec:
    name: str  # as the user wrote it, experiment names spelled out: "experiment=llama_tiny"
    overrides: list[str]
    seeds_done: dict[int, float] = field(default_factory=dict)  # seed -> metric of its completed run
    runs: dict = field(default_factory=dict)  # seed -> its completed run (compare's RunResult): what pairs
    seeds_spent: dict[int, str] = field(default_factory=dict)  # seed -> how it ended without a value (failed: ...)
    verdict: str = ""
    stopped_at: int | None = None  # seeds per arm at the look that decided it

    @property
    def slug(self) -> str:
        # A directory name Hydra's override grammar takes as a plain value: no '=', ',', quotes or spaces.
        return re.sub(r"[^A-Za-z0-9._+-]+", "_", self.name.replace("=", "-"))


def parse_arm(text: str) -> ArmSpec:
    """`llama_tiny` -> experiment=llama_tiny; `model.norm=rmsnorm model.pos=rope` -> those overrides."""
    overrides = [o if "=" in o else f"experiment={o}" for o in text.split()]
    if not overrides:
        raise AblateError("an empty arm: pass an experiment name or overrides, e.g. llama_tiny or 'model.norm=rmsnorm'.")
    if any(override_key(o) == "seed" for o in overrides):
        raise AblateError(f"arm {text!r} sets the seed: ablate chooses the seeds (0, 1, ...); leave seed= out.")
    return ArmSpec(name=" ".join(overrides), overrides=overrides)


def seed_dir(out: Path, arm: ArmSpec, seed: int) -> Path:
    return out / arm.slug / f"seed_{seed}"


def read_seed(out: Path, arm: ArmSpec, seed: int, metric: str) -> str:
    """The state of one seed's run (completed, failed: spent, pending), recording a completed run's metric."""
    from tinyx.compare import read_run

    path = seed_dir(out, arm, seed)
    summary = read_summary(path)
    if summary is None or not records.has_ended(summary.status):
        return STATE_PENDING  # never started, killed, or interrupted: (re)run it, resuming its checkpoint
    run = read_run(path, lambda message: None) if summary.completed else None
    value = run.value(metric, None) if run is not None else None
    if value is None:  # diverged, failed, pruned, or completed without the metric: a rerun would do the same
        arm.seeds_spent[seed] = summary.status if not summary.completed else f"completed without {metric}"
        return STATE_FAILED
    arm.seeds_done[seed], arm.runs[seed] = value, run
    return STATE_COMPLETED


def train_command(out: Path, arm: ArmSpec, seeds: list[int], extra: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "-m", *arm.overrides, *extra,
            f"seed={','.join(map(str, seeds))}", f"hydra.sweep.dir={out / arm.slug}",
            "hydra.sweep.subdir=seed_${seed}", "train.resume=auto"]


def run_seeds(out: Path, arm: ArmSpec, n: int, extra: list[str], metric: str, say) -> None:
    """Make sure seeds 0..n-1 of the arm have finished: run the ones that have not in one train.py -m."""
    pending = [s for s in range(n) if read_seed(out, arm, s, metric) == STATE_PENDING]
    if not pending:
        return
    say(f"{arm.name}: seeds {','.join(map(str, pending))}")
    result = subprocess.run(train_command(out, arm, pending, extra))  # from the user's directory: their paths hold
    if result.returncode != 0:
        if result.returncode in (130, 143):  # the user stopped it: rerunning the same command continues
            raise KeyboardInterrupt
        raise AblateError(f"train.py for arm {arm.name!r} exited with {result.returncode} (its error is above): "
                          f"fix it, then rerun this command; finished seeds are kept.")
    for seed in pending:
        read_seed(out, arm, seed, metric)


# ---------------------------------------------------------------- the rounds
@dataclass
class Look:
    """One variant against the baseline at one look: what the verdict was made from."""

    verdict: str
    difference: stats.Difference | None


def look(baseline: ArmSpec, variant: ArmSpec, n: int, looks: int, alpha: float, min_effect: float,
         paired: bool) -> Look:
    """The verdict on seeds 0..n-1 (paired over the seeds both completed when a seed fixes the data order)."""
    if paired:
        seeds = [s for s in range(n) if s in baseline.seeds_done and s in variant.seeds_done]
        a, b = [baseline.seeds_done[s] for s in seeds], [variant.seeds_done[s] for s in seeds]
    else:
        a = [v for s, v in sorted(baseline.seeds_done.items()) if s < n]
        b = [v for s, v in sorted(variant.seeds_done.items()) if s < n]
    if min(len(a), len(b)) < 2:
        return Look(stats.UNDECIDED, None)
    verdict = str(decide(a, b, paired, looks, alpha, min_effect).item())
    return Look(verdict, stats.difference(a, b, paired, confidence=1 - alpha / looks))


def same_data_order(baseline: ArmSpec, variant: ArmSpec) -> bool:
    """Whether each seed both arms completed drew the same windows in both (tinyx.rundir.records: compare's rule)."""
    pairs = records.seed_pairs(baseline.runs, variant.runs)
    return bool(pairs) and not records.arms_order_differences(pairs)


@dataclass
class Options:
    out: Path
    round_seeds: int = 2
    max_seeds: int = 10
    metric: str = VAL_LOSS
    alpha: float = stats.ALPHA
    min_effect: float | None = None  # default: 0.5% of the baseline's mean
    extra: list[str] = field(default_factory=list)  # overrides for every run


def ablate(arms: list[ArmSpec], opts: Options, say=print) -> dict[str, Look]:
    """Rounds of seeds until every variant is decided or has max_seeds; the last look of each variant."""
    from tinyx.compare import DEFAULT_MIN_EFFECT

    looks_at = schedule(opts.round_seeds, opts.max_seeds)
    baseline, variants = arms[0], arms[1:]
    last: dict[str, Look] = {}
    for k, n in enumerate(looks_at, start=1):
        active = [v for v in variants if not v.verdict]
        if not active:
            break
        for arm in [baseline, *active]:
            run_seeds(opts.out, arm, n, opts.extra, opts.metric, say)
        if not baseline.seeds_done:
            raise AblateError(f"the baseline {baseline.name!r} has no completed seed (see the runs in "
                              f"{opts.out / baseline.slug}): fix it, then rerun this command.")
        min_effect = (opts.min_effect if opts.min_effect is not None else
                      DEFAULT_MIN_EFFECT * abs(sum(baseline.seeds_done.values()) / len(baseline.seeds_done)))
        for v in active:
            last[v.name] = look(baseline, v, n, len(looks_at), opts.alpha, min_effect, same_data_order(baseline, v))
            if last[v.name].verdict != stats.UNDECIDED or n == looks_at[-1]:
                v.verdict, v.stopped_at = last[v.name].verdict, n
        say(f"look {k}/{len(looks_at)} at {n} seeds: " + "; ".join(f"{v.name}: {last[v.name].verdict}"
                                                                   for v in active))
    return last


def report(arms: list[ArmSpec], last: dict[str, Look], opts: Options) -> str:
    looks = len(schedule(opts.round_seeds, opts.max_seeds))
    lines = ["| arm | verdict | seeds spent | decided at | Δ vs baseline | CI | p | test |", "|" + "---|" * 8]
    for arm in arms:
        spent = len(arm.seeds_done) + len(arm.seeds_spent)
        if arm is arms[0]:
            lines.append(f"| {arm.name} | baseline | {spent} | - | - | - | - | - |")
            continue
        d = last[arm.name].difference
        at = f"{arm.stopped_at} seeds" + (" (max)" if arm.verdict == stats.UNDECIDED else "")
        figures = (f"{d.delta:+.4f} | [{d.ci_low:+.4f}, {d.ci_high:+.4f}] | {d.p:.4g} | {d.test}" if d and d.ci_low
                   is not None else "- | - | - | -")
        lines.append(f"| {arm.name} | {arm.verdict} | {spent} | {at} | {figures} |")
    lines += seed_notes(arms, opts.out)
    lines += ["", f"{opts.metric}, lower is better. Seeds in rounds of {opts.round_seeds} up to {opts.max_seeds} "
              f"({looks} planned looks); each look tests at α/{looks} = {opts.alpha / looks:.4g} (Bonferroni over the "
              f"looks: at most α = {opts.alpha:g} false 'better/worse' per variant over all looks). CI: "
              f"{1 - opts.alpha / looks:.2%} at the deciding look. no detectable difference: that CI inside "
              f"±min-effect. {sum(len(a.seeds_done) + len(a.seeds_spent) for a in arms)} runs in all.",
              f"Full table (each arm tested once, at α): uv run python -m tinyx.compare {opts.out} "
              f"--baseline '{arms[0].name}'"]
    return "\n".join(lines) + "\n"


def seed_notes(arms: list[ArmSpec], out: Path) -> list[str]:
    """What the table does not show: the seeds that ended without a value (never rerun, so said here) and
    whether the pairing of older runs was decided from their config."""
    spent = [f"- {arm.name}, seed {seed}: {status} ({seed_dir(out, arm, seed)})"
             for arm in arms for seed, status in sorted(arm.seeds_spent.items())]
    lines = ["", "Seeds spent without a value, not run again (delete a seed's directory to rerun it):", *spent]
    old = any(records.by_config(records.seed_pairs(arms[0].runs, v.runs)) for v in arms[1:])
    return (lines if spent else []) + (["", f"Pairing: {records.UNRECORDED}."] if old else [])


# ---------------------------------------------------------------- command line
def parse_args(argv: list[str]) -> tuple[list[ArmSpec], Options]:
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="python -m tinyx.tools.ablate", description=__doc__.split("\n\n")[0])
    parser.add_argument("arms", nargs="+", help="the baseline, then the variants: experiment names or quoted "
                                                "overrides (`'model.norm=rmsnorm model.pos=rope'`)")
    parser.add_argument("--out", help="where the runs go, <out>/<arm>/seed_<k> (default: outputs/ablations/<arms>); "
                                      "the same --out continues")
    parser.add_argument("--round-seeds", type=int, default=2, help="seeds added per arm each round (default 2)")
    parser.add_argument("--max-seeds", type=int, default=10, help="seeds per arm at most (default 10)")
    parser.add_argument("--metric", default=VAL_LOSS, help="val/loss (default), val/loss_best, val/bpb, "
                                                             "val/bpb_best")
    parser.add_argument("--alpha", type=float, default=stats.ALPHA, help="false-positive rate over all looks")
    parser.add_argument("--min-effect", type=float, help="the smallest difference that matters (default 0.5%% of "
                                                         "the baseline's mean)")
    args = parser.parse_args(argv[:cut])
    args.extra = argv[cut + 1:]
    arms = [parse_arm(a) for a in args.arms]
    _check(args, arms)
    root = outputs_root()
    out = (Path(args.out) if args.out else root / "ablations" / "_vs_".join(a.slug for a in arms)).resolve()
    return arms, Options(out=out, round_seeds=args.round_seeds, max_seeds=args.max_seeds, metric=args.metric,
                         alpha=args.alpha, min_effect=args.min_effect, extra=args.extra)


def _check(args: argparse.Namespace, arms: list[ArmSpec]) -> None:
    if len(arms) < 2:
        raise AblateError(f"one arm ({arms[0].name}): pass the baseline and at least one variant.")
    if len({a.slug for a in arms}) < len(arms):
        raise AblateError("two arms are the same: each arm once.")
    if args.round_seeds < 2:
        raise AblateError(f"--round-seeds={args.round_seeds}: a look needs 2 seeds per arm; pass 2 or more.")
    if args.max_seeds < args.round_seeds:
        raise AblateError(f"--max-seeds={args.max_seeds} is below --round-seeds={args.round_seeds}: raise it.")
    if args.metric not in FINAL_METRICS:
        raise AblateError(f"--metric={args.metric!r}: choose val/loss, val/loss_best, val/bpb or val/bpb_best.")
    reserved = [o for o in args.extra if override_key(o) in ("seed", "hydra.sweep.dir",
                                                                          "hydra.sweep.subdir", "train.resume")]
    if reserved:
        raise AblateError(f"{reserved[0]} after --: ablate sets the seeds, the run directories and resuming itself; "
                          f"leave it out.")
    if not 0 < args.alpha < 1:
        raise AblateError(f"--alpha={args.alpha} must be between 0 and 1, e.g. 0.05.")


PLAN_FILE = "ablation.json"


def check_same_runs(arms: list[ArmSpec], opts: Options) -> None:
    """A rerun must train what the first run trained: the overrides after `--` and the baseline stay the same
    (variants may be added). Recorded in <out>/ablation.json on the first start."""
    import json

    from tinyx.common.files import atomic_write_json

    plan = {"baseline": arms[0].name, "overrides": opts.extra}
    path = opts.out / PLAN_FILE
    if path.is_file():
        before = json.loads(path.read_text())
        if before.get("baseline") != plan["baseline"] or before.get("overrides") != plan["overrides"]:
            raise AblateError(f"{opts.out} holds an ablation of baseline {before.get('baseline')!r} with overrides "
                              f"{' '.join(before.get('overrides', []))!r}: rerun it with those, or pass another --out.")
        return
    opts.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)


@exit_on_user_error
def main(argv: list[str]) -> dict[str, str]:
    arms, opts = parse_args(argv)
    check_same_runs(arms, opts)
    print(f"ablate: {len(arms)} arms in {opts.out}, rounds of {opts.round_seeds} seeds up to {opts.max_seeds}",
          flush=True)
    try:
        last = ablate(arms, opts, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print(f"stopped: rerun the same command to continue (finished seeds in {opts.out} are kept)", file=sys.stderr)
        sys.exit(130)
    except CompareError as e:
        raise AblateError(str(e)) from None
    text = report(arms, last, opts)
    from tinyx.common.files import atomic_write_text

    atomic_write_text(opts.out / "ablation.md", text)
    print(text, end="", flush=True)
    return {a.name: a.verdict for a in arms[1:]}


if __name__ == "__main__":
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
