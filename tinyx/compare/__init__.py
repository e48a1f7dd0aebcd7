"""Compare runs: which arm of an ablation is better than the baseline, and is the difference more than seed noise?

    uv run tinyx compare outputs/multirun/2026-11-21/01-04-15
    uv run tinyx compare outputs/multirun/2026-11-21/01-04-15 --baseline experiment=baseline --at-step 400
    uv run tinyx compare outputs/multirun/2026-11-21/01-04-15 --at-flops 1.2e12
    uv run tinyx compare 'outputs/runs/2026-11-21/*' --metric val/loss_best --out reports/ --wandb

Reads only the run-directory contract, through tinyx.rundir (config, metrics, summary, provenance). Runs that
differ only by `seed` form one arm (runs that trained other data, told apart by the content digest they record,
are other arms). Per arm: n, mean and its 95% confidence interval; against the baseline arm (the first, or
--baseline): the difference, its 95% CI, the p-value of a paired t-test (the same seeds drawing the same
training windows: summary.json's data_order, tinyx.rundir.records) or else Welch's t-test,
Holm-adjusted over the variants, a verdict, and the seeds per arm the observed difference would need
(tinyx.compare.stats). Only completed runs enter by default; a seed run twice counts once (the newest completed run is
kept, and a warning names both). Ranks are shared by arms whose difference is not significant. Metrics the runs
logged beyond the loss (the attention sink mass) are shown per arm. It warns when the arms differ in the optimizer
or in a key that moves the best learning rate and were not tuned (tinyx.compare.fairness). It prints a table that
fits the terminal and writes every column to comparison.md, with comparison.csv, comparison.png (the curves) and
comparison_delta.png (each variant's Δ to the baseline, a dot per seed) into the directory compared (or --out);
--wandb logs the comparison as a wandb run.

`python -m tinyx.compare ...` is the same command. Other code calls `compare_runs(paths, ...)` and reads
`Comparison.arms` / `Comparison.table()`.
"""

from tinyx.cli.entry import require_environment

require_environment("compare")  # `python3 -m tinyx.compare` outside the environment: one line, not a traceback

from tinyx.compare.arms import Arm, Excluded, Stat  # noqa: E402
from tinyx.compare.budget import Budget  # noqa: E402
from tinyx.compare.cli import main  # noqa: E402
from tinyx.compare.comparison import DEFAULT_MIN_EFFECT, METRICS, Comparison, check_options, compare_runs  # noqa: E402
from tinyx.compare.grouping import differing_keys, group_arms  # noqa: E402
from tinyx.compare.judging import against_baseline, find_baseline, judge  # noqa: E402
from tinyx.compare.observations import select_observations  # noqa: E402
from tinyx.compare.runs import (  # noqa: E402
    COMPLETED,
    DATA_CONTENT,
    SEED_KEY,
    TIME_TO_TARGET,
    RunResult,
    commit_warning,
    data_warning,
    read_run,
)

__all__ = [
    'Arm', 'Budget', 'COMPLETED', 'Comparison', 'DATA_CONTENT', 'DEFAULT_MIN_EFFECT', 'Excluded', 'METRICS',
    'RunResult', 'SEED_KEY', 'Stat', 'TIME_TO_TARGET', 'against_baseline', 'check_options', 'commit_warning',
    'compare_runs', 'data_warning', 'differing_keys', 'find_baseline', 'group_arms', 'judge',
    'read_run', 'select_observations', 'main',
]
