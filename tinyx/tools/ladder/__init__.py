"""`tinyx ladder`: does an ablation's difference hold at scale? One baseline and its variants, each run at several
model sizes (a ladder) and seeds; the loss against compute fitted per arm, the difference extrapolated.

The statistics (pure numpy/scipy, no files): powerlaw (L(C) = E + A·C^-α per arm, fitted robustly, vectorised, and
its seed bootstrap), trend (the difference per size, its slope in log compute, the extrapolated difference and its
calibrated interval), verdict (holds / grows / fades / undecided, and the rule in words). The command: cli
(arguments), plan (every arm at every size composed and sized, the time plan), runs (run directories, the pool's
jobs, the results read back), steps (start to report), analysis (fits, trends and verdicts from the results), report
(ladder.md and ladder.csv), plots, tracking (--wandb). docs/ladders.md says what it does and why.
"""

from tinyx.tools.ladder.cli import main, parse_args

__all__ = ["main", "parse_args"]
