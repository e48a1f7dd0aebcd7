"""Run an ablation until it is decided: seeds in rounds, each variant stopped once its verdict is in.

    uv run tinyx ablate baseline llama_tiny sink_token --out outputs/ablations/arch -- train.max_steps=400
    uv run tinyx ablate baseline "model.norm=rmsnorm model.pos=rope" --max-seeds 8 -- hydra/launcher=parallel

An arm is an experiment name (`llama_tiny` = `experiment=llama_tiny`) or a quoted string of overrides; the first
is the baseline. Rerunning the same command continues where it stopped. How it decides: docs/ablations.md.
"""

from __future__ import annotations

import argparse
import sys
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
    add_overrides_help(parser, "every train.py run (seed, hydra.sweep.dir, hydra.sweep.subdir and train.resume "
                               "are ablate's own)")
    args = parser.parse_args(own)
    args.extra = extra
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


def run() -> None:
    """`python -m tinyx.tools.ablate`."""
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
