"""Run an ablation until it is decided: seeds in rounds, each variant stopped once its verdict is in.

    uv run tinyx ablate baseline llama_tiny sink_token --out outputs/ablations/arch -- train.max_steps=400
    uv run tinyx ablate baseline "model.norm=rmsnorm model.pos=rope" --max-seeds 8
    uv run tinyx ablate "llama_tiny optim=adamw" "llama_tiny optim=muon" --tune optim.lr -- train.max_steps=300

An arm is an experiment name (`llama_tiny` = `experiment=llama_tiny`) or a quoted string of overrides; the first
is the baseline. Every round's runs, all arms' seeds together, share the parallel launcher's slots (--jobs).
--tune KEY first finds each arm's own best value of KEY on a log grid around the arm's value, on tuning seeds
that never enter the verdict (docs/ablations.md#tuning-each-arm): the fair way to compare optimizers.
Rerunning the same command continues where it stopped. How it decides: docs/ablations.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from tinyx.cli.args import add_overrides_help, split_overrides, tool_parser
from tinyx.common.errors import AblateError, CompareError, exit_on_user_error
from tinyx.compare import stats
from tinyx.config import override_key
from tinyx.rundir.contract import FINAL_METRICS, VAL_LOSS
from tinyx.rundir.last import outputs_root
from tinyx.tools.ablate.rounds import Options, ablate
from tinyx.tools.ablate.seeds import ArmSpec, parse_arm
from tinyx.tools.ablate.table import report
from tinyx.tools.ablate.tuning import DEFAULT_FACTORS, TUNING_SEED, TuneSpec, tune
from tinyx.tools.ablate.tuning_plan import check_spec, plan_grids
from tinyx.tools.ablate.tuning_report import plot, table, write_record


def parse_args(argv: list[str]) -> tuple[list[ArmSpec], Options]:
    own, extra = split_overrides(argv)
    parser = tool_parser("ablate", __doc__, overrides=True)
    parser.add_argument("arms", nargs="+", metavar="ARM", help="the baseline, then the variants: experiment names or "
                                                               "quoted overrides (`'model.norm=rmsnorm model.pos=rope'`)")
    parser.add_argument("--out", help="where the runs go, <out>/<arm>/seed_<k> (default: outputs/ablations/<arms>); "
                                      "the same --out continues")
    parser.add_argument("--round-seeds", type=int, default=2, help="seeds added per arm each round (default 2)")
    parser.add_argument("--max-seeds", type=int, default=10, help="seeds per arm at most (default 10)")
    parser.add_argument("--metric", default=VAL_LOSS, help="val/loss (default), val/loss_best, val/bpb, "
                                                             "val/bpb_best")
    parser.add_argument("--alpha", type=float, default=stats.ALPHA, help="false-positive rate over all looks")
    parser.add_argument("--min-effect", type=float, help="the smallest difference that matters (default 0.5%% of "
                                                         "the baseline's mean)")
    _tuning_args(parser)
    add_overrides_help(parser, "every train.py run (seed, hydra.run.dir and train.resume "
                               "are ablate's own)")
    args = parser.parse_args(own)
    args.extra = extra
    arms = [parse_arm(a) for a in args.arms]
    _check(args, arms)
    root = outputs_root()
    out = (Path(args.out) if args.out else root / "ablations" / "_vs_".join(a.slug for a in arms)).resolve()
    return arms, Options(out=out, round_seeds=args.round_seeds, max_seeds=args.max_seeds, metric=args.metric,
                         alpha=args.alpha, min_effect=args.min_effect, extra=args.extra, jobs=args.jobs,
                         tune=tune_spec(args), wandb_group=_wandb_group(out, args.extra))


def _tuning_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, help="runs at once (default: the parallel launcher's, one per core)")
    parser.add_argument("--tune", metavar="KEY[=V1,V2,..]", help="tune KEY per arm first (e.g. optim.lr), on a log "
                                                                "grid around each arm's value, or on the values given")
    parser.add_argument("--tune-factors", default=",".join(f"{f:g}" for f in DEFAULT_FACTORS),
                        help="the grid around each arm's value (default 0.25,0.5,1,2,4)")
    parser.add_argument("--tune-steps", type=int, help="train.max_steps of the tuning runs (default: the runs' own)")
    parser.add_argument("--tune-seeds", type=int, default=2, help="tuning seeds per grid value (default 2; seeds "
                                                                  f"{TUNING_SEED}.., never the verdict's)")


def tune_spec(args: argparse.Namespace) -> TuneSpec | None:
    if not args.tune:
        return None
    key, _, values = args.tune.partition("=")
    try:
        numbers = tuple(float(v) for v in (values or args.tune_factors).split(","))
    except ValueError:
        raise AblateError(f"--tune {args.tune} / --tune-factors {args.tune_factors}: comma-separated numbers, e.g. "
                          f"--tune optim.lr=1e-3,3e-3,1e-2 or --tune-factors 0.5,1,2.") from None
    spec = TuneSpec(key.strip(), steps=args.tune_steps, seeds=args.tune_seeds,
                    **({"values": numbers} if values else {"factors": numbers}))
    check_spec(spec)
    return spec


def _wandb_group(out: Path, extra: list[str]) -> dict[str, str]:
    """Every run of this ablation in one wandb group, named after its folder (never a machine path), unless the
    overrides name the study's group."""
    from tinyx.loggers.labels import study_group

    if any(override_key(o) == "logger.wandb.group" for o in extra):
        return {}
    return {"logger.wandb.group": study_group(out)}


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
    reserved = [o for o in args.extra if override_key(o) in ("seed", "hydra.run.dir", "hydra.sweep.dir",
                                                              "hydra.sweep.subdir", "train.resume")]
    if reserved:
        raise AblateError(f"{reserved[0]} after --: ablate sets the seeds, the run directories and resuming itself; "
                          f"leave it out.")
    tuned = [o for o in args.extra if args.tune and override_key(o) == args.tune.partition("=")[0].strip()]
    if tuned:
        raise AblateError(f"{tuned[0]} after -- and --tune {args.tune}: the tuning chooses each arm's value; leave "
                          f"{tuned[0]} out (an arm may set it: its grid centres there).")
    if not 0 < args.alpha < 1:
        raise AblateError(f"--alpha={args.alpha} must be between 0 and 1, e.g. 0.05.")
    if args.jobs is not None and args.jobs < 1:
        raise AblateError(f"--jobs={args.jobs}: run at least 1 at once, e.g. --jobs 2.")
    if args.max_seeds > TUNING_SEED:
        raise AblateError(f"--max-seeds={args.max_seeds}: seeds from {TUNING_SEED} on are tuning's; pass at most "
                          f"{TUNING_SEED}.")


PLAN_FILE = "ablation.json"


def check_same_runs(arms: list[ArmSpec], opts: Options) -> None:
    """A rerun must train what the first run trained: the overrides after `--` and the baseline stay the same
    (variants may be added). Recorded in <out>/ablation.json on the first start."""
    import json

    from tinyx.common.files import atomic_write_json

    plan = {"baseline": arms[0].name, "overrides": opts.extra, "tune": asdict(opts.tune) if opts.tune else None}
    path = opts.out / PLAN_FILE
    if path.is_file():
        before = json.loads(path.read_text())
        if any(before.get(k) != plan[k] for k in ("baseline", "overrides")):
            raise AblateError(f"{opts.out} holds an ablation of baseline {before.get('baseline')!r} with overrides "
                              f"{' '.join(before.get('overrides', []))!r}: rerun it with those, or pass another --out.")
        if json.loads(json.dumps(plan["tune"])) != before.get("tune"):
            raise AblateError(f"{opts.out} was tuned with {before.get('tune')}, not {plan['tune']}: rerun it with the "
                              f"same --tune options, or pass another --out.")
        return
    opts.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)


@exit_on_user_error
def main(argv: list[str]) -> dict[str, str]:
    arms, opts = parse_args(argv)
    grids = plan_grids(arms, opts.tune, opts.extra)
    check_same_runs(arms, opts)
    print(f"ablate: {len(arms)} arms in {opts.out}, rounds of {opts.round_seeds} seeds up to {opts.max_seeds}",
          flush=True)
    say = lambda line: print(line, flush=True)  # noqa: E731
    tunings = []
    try:
        if opts.tune:
            tunings = tune(arms, opts.tune, grids, opts.out, opts.metric, opts.extra, opts.jobs, opts.wandb_group, say)
            write_record(opts.out, opts.tune, tunings, opts.metric)
            plot(opts.out, opts.tune, tunings, opts.metric)
        last = ablate(arms, opts, say=say)
    except KeyboardInterrupt:
        print(f"stopped: rerun the same command to continue (finished seeds in {opts.out} are kept)", file=sys.stderr)
        sys.exit(130)
    except CompareError as e:
        raise AblateError(str(e)) from None
    text = report(arms, last, opts) + ("\n".join(table(opts.tune, tunings, opts.metric)) + "\n" if tunings else "")
    from tinyx.common.files import atomic_write_text

    atomic_write_text(opts.out / "ablation.md", text)
    print(text, end="", flush=True)
    return {a.name: a.verdict for a in arms[1:]}


def run() -> None:
    """`python -m tinyx.tools.ablate`."""
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
