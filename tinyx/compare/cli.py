"""`tinyx compare` (or `python -m tinyx.compare`): the command line over tinyx.compare.comparison (reading runs,
the statistics) and tinyx.compare.report (the tables and the plot); the package's docstring says what it prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyx.common.errors import CompareError, exit_on_user_error
from tinyx.compare.comparison import METRICS, Comparison, compare_runs
from tinyx.rundir.contract import VAL_LOSS


def default_out_dir(paths: list[str], run_dirs: list[Path]) -> Path:
    """The directory compared: the one directory given, else the runs' common parent."""
    import glob
    import os

    if len(paths) == 1 and not glob.has_magic(str(paths[0])) and Path(paths[0]).is_dir():
        return Path(paths[0])
    return Path(os.path.commonpath([str(p) for p in run_dirs]))


def parse_args(argv: list[str]) -> argparse.Namespace:
    from tinyx.cli.args import add_paths, tool_parser

    # The package's docstring is the command's help; the package is loaded before this module, never imported here.
    parser = tool_parser("compare", sys.modules[__package__].__doc__)
    add_paths(parser, "run directories, multirun directories, or globs of them")
    parser.add_argument("--baseline", help="the arm the others are tested against: its name, or a part of it that "
                                           "names one arm (default: the first arm)")
    parser.add_argument("--metric", default=VAL_LOSS, help=f"what arms are judged by: {', '.join(METRICS)} "
                                                             f"(default val/loss, the final evaluation)")
    parser.add_argument("--at-step", type=int, help="judge every run at this step (its evaluations up to it)")
    parser.add_argument("--at-tokens", type=int, help="judge every run at this many training tokens (step = tokens "
                                                      "/ (batch_size x grad_accum x block_size x processes))")
    parser.add_argument("--at-flops", type=float, help="judge every run at this many training FLOPs, e.g. 1.2e12: "
                                                       "its last evaluation at or before step = FLOPs / (tokens per "
                                                       "step x the model's flops_per_token), so a costlier model is "
                                                       "judged at an earlier step")
    parser.add_argument("--at-seconds", type=float, help="judge every run at its last evaluation within this many "
                                                         "wall-clock seconds (start-up and evaluations included)")
    parser.add_argument("--include-incomplete", action="store_true",
                        help="also count runs that did not complete (interrupted, diverged, killed), "
                             "on their last evaluation")
    parser.add_argument("--min-effect", type=float, help="the smallest difference that matters, for the verdict "
                                                         "'no detectable difference' (default: 0.5%% of the "
                                                         "baseline's mean)")
    parser.add_argument("--target", type=float, help="also report the wall seconds each arm took to reach "
                                                     "this validation loss (first evaluation at or below it)")
    parser.add_argument("--out", help="directory for the reports: comparison.md (every column), .csv, .png and "
                                        "_delta.png (default: the directory compared)")
    parser.add_argument("--wandb", action="store_true", help="also log the comparison as a wandb run "
                                                             "(job type compare, in the runs' group)")
    parser.add_argument("--wandb-group", help="the wandb group of --wandb's run (implies --wandb; default: the group "
                                              "the runs were logged in, else the study group of the folder compared)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str]) -> Comparison:
    from tinyx.common.files import check_writable
    from tinyx.compare.report import write_reports
    from tinyx.compare.terminal import to_terminal

    args = parse_args(argv)
    comparison = compare_runs(args.paths, metric=args.metric, baseline=args.baseline, at_step=args.at_step,
                              at_tokens=args.at_tokens, at_flops=args.at_flops, at_seconds=args.at_seconds,
                              include_incomplete=args.include_incomplete, target=args.target,
                              min_effect=args.min_effect)
    for w in comparison.warnings:
        print(f"warning: {w}", file=sys.stderr, flush=True)
    run_dirs = [r.path for a in comparison.arms for r in a.runs]
    out_dir = Path(args.out) if args.out else default_out_dir(args.paths, run_dirs)
    check_writable(out_dir, "--out")  # so that a full disk leaves no half of the reports
    try:
        written = write_reports(comparison, out_dir)
    except OSError as e:
        raise CompareError(f"cannot write the reports to {out_dir} ({e.strerror}): pass --out DIR.") from None
    print(to_terminal(comparison), end="")
    print(f"\nwrote {', '.join(p.name for p in written)} to {out_dir}", flush=True)
    if args.wandb or args.wandb_group:
        from tinyx.compare.tracking import log_comparison
        from tinyx.loggers.wandb_env import wandb_error

        try:
            compared = default_out_dir(args.paths, run_dirs)
            print(log_comparison(comparison, out_dir, args.wandb_group, compared), flush=True)
        except Exception as e:  # wandb raises many types (network, auth, disk): the reports are written already
            print(f"warning: wandb failed ({wandb_error(e)}); the comparison is in {out_dir}", file=sys.stderr,
                  flush=True)
    return comparison


def run() -> None:
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
