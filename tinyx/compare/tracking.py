"""`compare --wandb`: the comparison as a wandb run of its own (job type `compare`) beside the training runs.

The run holds the table (a wandb.Table: one row per arm, the columns of comparison.csv), the curves with their
CI bands (comparison.png as a wandb.Image, and comparison_delta.png) and the per-arm statistics in its summary (`<arm>/mean`,
`<arm>/delta`, `<arm>/p`, `<arm>/verdict`, ...). It joins the training runs' group and project, so a
dashboard shows the verdict next to the runs it was computed from (study_group). wandb is imported only here.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from tinyx.compare.comparison import Comparison
from tinyx.compare.report import REPORT_FILES, arm_summary, metric_label
from tinyx.loggers.labels import COMPARE_JOB, logged_labels, study_group


def _common(values: list) -> str | None:
    """The value every run shares, if they all set the same one."""
    counts = Counter(v for v in values)
    return values[0] if len(counts) == 1 and values[0] else None


def runs_group(c: Comparison, compared: Path) -> str:
    """The wandb group of the study the runs belong to: the one they were all logged in (their wandb/labels.json,
    else `logger.wandb.group` in their config), else the study group of the folder compared."""
    runs = [r for a in c.arms for r in a.runs]
    logged = [(labels.group if (labels := logged_labels(r.path)) else None) or r.config.get("logger.wandb.group")
              for r in runs]
    return _common(logged) or study_group(compared)


def log_comparison(c: Comparison, out_dir: Path, group: str | None = None, compared: Path | None = None) -> str:
    """Log the comparison as a wandb run in out_dir/wandb, in `group` (default: runs_group, `compared` the
    folder compared, default out_dir); returns the line to print (its URL or sync hint)."""
    import wandb

    from tinyx.loggers.wandb_env import finished_run_line, offline_reason, wandb_mode

    runs = [r for a in c.arms for r in a.runs]
    offline = offline_reason(wandb_mode()) is not None  # first: it drops the empty WANDB_* wandb would refuse
    config = {"metric": c.metric, "metric_label": metric_label(c), "baseline": c.baseline.name,
              "arms": [a.name for a in c.arms], "alpha": c.alpha, "min_effect": c.min_effect, "at_step": c.at_step,
              "at_tokens": c.at_tokens, "at_flops": c.at_flops, "at_seconds": c.at_seconds,
              "runs": [str(r.path) for r in runs],
              "excluded": [f"{e.run.path}: {e.why}" for e in c.excluded]}
    run = wandb.init(project=_common([r.config.get("logger.wandb.project") for r in runs]) or
                     os.environ.get("WANDB_PROJECT") or "tinyx",
                     entity=_common([r.config.get("logger.wandb.entity") for r in runs]) or
                     os.environ.get("WANDB_ENTITY") or None,
                     group=group or runs_group(c, compared or out_dir), job_type=COMPARE_JOB,
                     name=f"compare {metric_label(c)}",
                     config=config, dir=str(out_dir), mode="offline" if offline else None, reinit="create_new",
                     settings=wandb.Settings(silent=True))
    try:
        rows = c.table()
        columns = list(rows[0])
        table = wandb.Table(columns=columns, data=[[_cell(row[k]) for k in columns] for row in rows])
        logged = {"comparison": table}
        png = out_dir / REPORT_FILES[2]
        if png.is_file():
            logged["curves"] = wandb.Image(str(png), caption=f"{metric_label(c)}: mean and CI band over seeds")
        deltas = out_dir / REPORT_FILES[3]
        if deltas.is_file():
            logged["deltas"] = wandb.Image(str(deltas), caption=f"Δ {metric_label(c)} vs the baseline: CI, one dot per "
                                                                f"seed")
        run.log(logged)
        run.summary.update(arm_summary(c))
    finally:
        run.finish()
    return finished_run_line(run, out_dir, "comparison")


def _cell(value):
    # wandb.Table wants one type per column: None stays None, lists become text.
    return ";".join(map(str, value)) if isinstance(value, (list, tuple)) else value
