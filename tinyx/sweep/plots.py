"""The study's plots as PNG in report/: Optuna's matplotlib plots, their value axes named by the study's metric
(Optuna's own label is "Objective Value"), the importances titled with their caveat when the trials are few.

Several workers may write one study's report at the same instant: every file goes through
tinyx.common.files' atomic writes, whose temporary names are unique, so each writer's file lands whole.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from tinyx.common.files import atomic_write
from tinyx.sweep.importances import caveat, completed_trials, evaluator
from tinyx.sweep.objective import pruner_metric

PLOTS = ("history", "importances", "intermediate_values")
# pyplot keeps its figures in one global registry: two threads plotting at once would draw into each other's.
_PYPLOT_LOCK = threading.Lock()


def draw(name: str, study, metric: str):
    """One of PLOTS as matplotlib Axes; raises what Optuna raises when the study has too few trials for it."""
    import optuna.visualization.matplotlib as ovm

    if name == "history":
        return ovm.plot_optimization_history(study, target_name=metric)
    if name == "importances":
        axes = ovm.plot_param_importances(study, evaluator=evaluator(), target_name=metric)
        trials = completed_trials(study)
        if caveat(trials):
            axes.set_title(f"Hyperparameter Importances ({trials} trials): {caveat(trials)}", loc="left",
                           fontsize="small")
        return axes
    axes = ovm.plot_intermediate_values(study)
    axes.set_ylabel(pruner_metric(metric))  # the pruner saw this figure at each evaluation
    return axes


def write_plots(study, report_dir: Path, metric: str, say: Callable[[str], None]) -> dict:
    """Write PLOTS as PNG; a plot that needs more trials than the study has is skipped with one line."""
    import warnings

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning

    written, skipped = {}, []
    for name in PLOTS:
        path = report_dir / f"{name}.png"
        with _PYPLOT_LOCK:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExperimentalWarning)
                    warnings.simplefilter("ignore", UserWarning)
                    axes = draw(name, study, metric)
                figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
                # The temporary file's name ends in .tmp, so the format is named rather than guessed from it.
                atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
                plt.close(figure)
                written[name] = str(path)
            except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as e:
                skipped.append(f"{name} ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})")
                plt.close("all")
    if skipped:
        say(f"plots skipped: {'; '.join(skipped)}")
    return written
