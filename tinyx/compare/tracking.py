"""`compare --wandb`: the comparison as a wandb run of its own (job type `compare`) beside the training runs.

The run holds the table (a wandb.Table: one row per arm, the columns of comparison.csv), the curves with their
CI bands (comparison.png as a wandb.Image) and the per-arm statistics in its summary (`<arm>/mean`,
`<arm>/delta`, `<arm>/p`, `<arm>/verdict`, ...). It joins the training runs' group and project, so a
dashboard shows the verdict next to the runs it was computed from. wandb is imported only here.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from tinyx.compare.comparison import Comparison
from tinyx.compare.report import REPORT_FILES, arm_summary, metric_label
from tinyx.rundir.contract import WANDB_DIR

JOB_TYPE = "compare"


def _common(values: list) -> str | None:
    """The value every run shares, if they all set the same one."""
    counts = Counter(v for v in values)
    return values[0] if len(counts) == 1 and values[0] else None


def ablation_group(c: Comparison) -> str | None:
    """The wandb group the training runs were logged in: `logger.wandb.group` when they all set one, else (the
    jobs of one multirun) the sweep directory, as train.py names it
    (tinyx.hydra_glue.train_main.run_labels_from_hydra)."""
    runs = [r for a in c.arms for r in a.runs]
    configured = _common([r.config.get("logger.wandb.group") for r in runs])
    if configured:
        return configured
    parents = {r.path.parent for r in runs}
    if len(parents) == 1 and (sweep := parents.pop()).joinpath("multirun.yaml").is_file():
        try:  # the default sweep directory is relative (outputs/multirun/...): as written from here
            return str(sweep.relative_to(Path.cwd()))
        except ValueError:
            return str(sweep)
    return None


def log_comparison(c: Comparison, out_dir: Path, group: str | None = None) -> str:
    """Log the comparison as a wandb run in out_dir/wandb; returns the line to print (its URL or sync hint)."""
    import wandb

    from tinyx.loggers.wandb_env import offline_reason, wandb_mode

    runs = [r for a in c.arms for r in a.runs]
    offline = offline_reason(wandb_mode()) is not None  # first: it drops the empty WANDB_* wandb would refuse
    config = {"metric": c.metric, "metric_label": metric_label(c), "baseline": c.baseline.name,
              "arms": [a.name for a in c.arms], "alpha": c.alpha, "min_effect": c.min_effect, "at_step": c.at_step,
              "at_tokens": c.at_tokens, "runs": [str(r.path) for r in runs],
              "excluded": [f"{e.run.path}: {e.why}" for e in c.excluded]}
    run = wandb.init(project=_common([r.config.get("logger.wandb.project") for r in runs]) or
                     os.environ.get("WANDB_PROJECT") or "tinyx",
                     entity=_common([r.config.get("logger.wandb.entity") for r in runs]) or
                     os.environ.get("WANDB_ENTITY") or None,
                     group=group or ablation_group(c), job_type=JOB_TYPE, name=f"compare {metric_label(c)}",
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
        run.log(logged)
        run.summary.update(arm_summary(c))
    finally:
        run.finish()
    if run.offline:
        return f"wandb: offline comparison run {run.id} in {out_dir / WANDB_DIR}; upload with: uv run wandb sync " \
               f"{out_dir / WANDB_DIR / 'offline-run-*'}"
    return f"wandb: {run.url}"


def _cell(value):
    # wandb.Table wants one type per column: None stays None, lists become text.
    return ";".join(map(str, value)) if isinstance(value, (list, tuple)) else value
