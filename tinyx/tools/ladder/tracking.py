"""`tinyx ladder --wandb`: the ladder as a wandb run of its own (job type `ladder`) in the group of its training runs:
ladder.csv as a table, the two plots, and per variant its delta at the target, interval, slope and verdict in the
summary. wandb is imported only here."""

from __future__ import annotations

import csv
import os

from tinyx.loggers.labels import LADDER_JOB, study_group
from tinyx.tools.ladder.analysis import Ladder
from tinyx.tools.ladder.options import Options
from tinyx.tools.ladder.report import CSV_FILE, DELTA_PLOT, FIT_PLOT


def _summary(ladder: Ladder) -> dict:
    out = {}
    for v in ladder.variants:
        low, high = v.delta_at_target_ci
        out.update({f"{v.arm}/verdict": v.verdict, f"{v.arm}/delta_at_target": v.delta_at_target,
                    f"{v.arm}/delta_at_target_low": low, f"{v.arm}/delta_at_target_high": high,
                    f"{v.arm}/slope_per_decade": v.slope})
    return out


def log_ladder(ladder: Ladder, opts: Options) -> str:
    """Log the ladder as a wandb run in <out>/wandb; the line to print (its URL or the sync hint)."""
    import wandb

    from tinyx.config import override_key
    from tinyx.loggers.wandb_env import finished_run_line, offline_reason, wandb_mode

    offline = offline_reason(wandb_mode()) is not None
    named = [o.partition("=")[2] for o in opts.extra if override_key(o) == "logger.wandb.group"]
    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or "tinyx", entity=os.environ.get("WANDB_ENTITY") or None,
                     group=named[-1] if named else study_group(opts.out), job_type=LADDER_JOB,
                     name=f"ladder {ladder.metric}", dir=str(opts.out), mode="offline" if offline else None,
                     config={"metric": ladder.metric, "baseline": ladder.baseline, "depths": opts.depths,
                             "seeds": opts.seeds, "target": opts.target, "arms": [a.name for a in opts.arms]},
                     reinit="create_new", settings=wandb.Settings(silent=True))
    try:
        rows = list(csv.reader((opts.out / CSV_FILE).read_text().splitlines()))
        logged = {"ladder": wandb.Table(columns=rows[0], data=rows[1:]),
                  "fits": wandb.Image(str(opts.out / FIT_PLOT)), "deltas": wandb.Image(str(opts.out / DELTA_PLOT))}
        run.log(logged)
        run.summary.update(_summary(ladder))
    finally:
        run.finish()
    return finished_run_line(run, opts.out, "ladder")
