"""Does it hold at scale? A baseline and variants at several sizes x seeds, the metric fitted against compute.

    uv run tinyx ladder baseline llama_tiny --depths 2,3,4 --seeds 3 --out outputs/ladders/llama
    uv run tinyx ladder "optim=adamw" "optim=muon optim.lr=0.02" --depths 2,3,4 -- data=english_char

An arm is an experiment name or a quoted string of overrides, the first the baseline; each runs at every
model.depth of --depths (layers, width and heads follow from it; its token budget from train.tokens_per_param),
S seeds each, through the parallel launcher (--jobs), the largest runs first. The plan (parameters, FLOPs per
token, tokens, epochs of the corpus, FLOPs, time at this machine's measured speed) is printed before anything runs.
Per size: the difference against the baseline with its CI and p; across sizes: L(C) = E + A*C^-alpha per arm with
bootstrap intervals, the difference's slope against log C and its value extrapolated to --target (10x the largest
run), and a verdict: holds, grows, fades or undecided (docs/ladders.md). Rerunning the same command continues.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyx.cli.args import add_overrides_help, split_overrides, tool_parser
from tinyx.common.errors import LadderError, exit_on_user_error
from tinyx.config import override_key
from tinyx.rundir.contract import FINAL_METRICS, VAL_LOSS
from tinyx.tools.ablate.seeds import ArmSpec, parse_arm
from tinyx.tools.ladder.options import Options
from tinyx.tools.ladder.plan import DIAL_KEY

RESERVED_KEYS = ("seed", DIAL_KEY, "hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir", "train.resume")
# What the ladder changes from train.py's defaults unless the overrides say otherwise: no text samples (a forward
# pass per character at every evaluation: minutes over a ladder, and the metric does not see them).
LADDER_DEFAULTS = ("train.sample_tokens=0",)


def _parser() -> argparse.ArgumentParser:
    parser = tool_parser("ladder", __doc__, overrides=True)
    parser.add_argument("arms", nargs="+", metavar="ARM", help="the baseline, then the variants")
    parser.add_argument("--depths", required=True, help="the sizes, comma-separated model.depth values, e.g. 2,3,4")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per arm and size (default 3)")
    parser.add_argument("--out", help="where the runs go (default outputs/ladders/<arms>); the same --out continues")
    parser.add_argument("--metric", default=VAL_LOSS, help="val/loss (default), val/loss_best, val/bpb, val/bpb_best")
    parser.add_argument("--target", type=float, default=10.0, help="extrapolate to this multiple of the largest "
                                                                   "run's compute (default 10)")
    parser.add_argument("--max-flops", type=float, help="refuse a size whose run would train more FLOPs than this")
    parser.add_argument("--jobs", type=int, help="runs at once (default: the parallel launcher's, one per core)")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--variant-seeds-from", type=int, default=0, help="the variants' seeds start here "
                        "(default 0: paired with the baseline's); an A/A check on other seeds")
    parser.add_argument("--dry-run", action="store_true", help="print the plan (sizes, FLOPs, time) and run nothing")
    parser.add_argument("--wandb", action="store_true", help="log the ladder as a wandb run in the runs' group")
    add_overrides_help(parser, "every train.py run (seed, model.depth, hydra.run.dir and train.resume are the "
                               "ladder's own)")
    return parser


def parse_args(argv: list[str]) -> Options:
    from tinyx.rundir.last import outputs_root

    own, extra = split_overrides(argv)
    args = _parser().parse_args(own)
    arms = [parse_arm(a) for a in args.arms]
    depths = _depths(args.depths)
    _check(args, arms, extra)
    if len(depths) < 2:
        raise LadderError(f"--depths {args.depths}: one size, so no fit and no trend is possible (a law needs 3 "
                          f"sizes, a slope 2); pass more, e.g. --depths 2,3,4, or for the difference at this size: "
                          f"tinyx ablate {' '.join(repr(a.name) for a in arms)} -- {DIAL_KEY}={depths[0]}")
    out = (Path(args.out) if args.out else outputs_root() / "ladders" / "_vs_".join(a.slug for a in arms)).resolve()
    mine = {override_key(o) for o in extra}
    extra = [*(d for d in LADDER_DEFAULTS if override_key(d) not in mine), *extra]
    return Options(arms, depths, args.seeds, out, args.metric, args.target, args.max_flops, args.jobs, args.boot,
                   args.wandb, args.dry_run, args.variant_seeds_from, extra)


def _depths(text: str) -> list[int]:
    try:
        depths = sorted({int(d) for d in text.split(",")})
    except ValueError:
        raise LadderError(f"--depths {text}: comma-separated whole numbers, e.g. --depths 2,3,4.") from None
    if depths[0] < 1:
        raise LadderError(f"--depths {text}: a depth is 1 or more, e.g. --depths 2,3,4.")
    return depths


def _check(args: argparse.Namespace, arms: list[ArmSpec], extra: list[str]) -> None:
    if len({a.slug for a in arms}) < len(arms):
        raise LadderError("two arms are the same: each arm once (an A/A check names the copy differently, e.g. "
                          "baseline 'experiment=baseline logger.wandb.tags=[copy]').")
    if args.seeds < 2:
        raise LadderError(f"--seeds {args.seeds}: one seed gives no spread, no interval and no test; pass 2 or more "
                          f"(3 is the least that shows a trend's noise).")
    if args.metric not in FINAL_METRICS:
        raise LadderError(f"--metric={args.metric!r}: choose val/loss, val/loss_best, val/bpb or val/bpb_best.")
    if args.target <= 1:
        raise LadderError(f"--target {args.target:g}: extrapolate beyond the largest run, e.g. --target 10.")
    if args.max_flops is not None and args.max_flops <= 0:
        raise LadderError(f"--max-flops {args.max_flops:g}: a cap is a positive number of FLOPs, e.g. 1e13.")
    if args.jobs is not None and args.jobs < 1:
        raise LadderError(f"--jobs={args.jobs}: run at least 1 at once, e.g. --jobs 2.")
    if args.boot < 100:
        raise LadderError(f"--boot {args.boot}: fewer than 100 replicates make the intervals noise; pass 1000.")
    if args.variant_seeds_from < 0:
        raise LadderError(f"--variant-seeds-from {args.variant_seeds_from}: seeds are 0 or more.")
    reserved = [o for o in extra if override_key(o) in RESERVED_KEYS]
    if reserved:
        raise LadderError(f"{reserved[0]} after --: the ladder sets seeds, sizes, run directories and resuming "
                          f"itself; leave it out (sizes: --depths).")


@exit_on_user_error
def main(argv: list[str]) -> dict[str, str]:
    from tinyx.tools.ladder.steps import run_ladder

    opts = parse_args(argv)
    try:
        return run_ladder(opts)
    except KeyboardInterrupt:
        print(f"stopped: rerun the same command to continue (finished runs in {opts.out} are kept)", file=sys.stderr)
        sys.exit(130)


def run() -> None:
    """`python -m tinyx.tools.ladder`."""
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
