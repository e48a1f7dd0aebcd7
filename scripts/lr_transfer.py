"""Where the best learning rate lies at each width, under each parametrization: the table behind docs/ladders.md's
choice of the ladder's default (issue: hyperparameters that transfer along the size dial).

    uv run python scripts/lr_transfer.py outputs/multirun/<date>/<time> [more multirun folders]

Reads every completed run below the folders, groups them by (optimizer, parametrization, d_model), and prints per
group the final val/loss at each optim.lr (mean over seeds), the best grid value and the vertex of the parabola
through it and its neighbours in log lr (tinyx ablate's choice); then, per optimizer and parametrization, how far
the best lr moved from the smallest width to the largest (a factor: 1.0 is perfect transfer).
"""

from __future__ import annotations

import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from tinyx.compare import read_run
from tinyx.rundir.contract import VAL_LOSS
from tinyx.tools.ablate.tuning import parabola_vertex


def collect(folders: list[Path]) -> dict[tuple, dict[float, list[float]]]:
    groups: dict[tuple, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for folder in folders:
        for summary in sorted(folder.rglob("summary.json")):
            run = read_run(summary.parent, lambda message: None)
            value = run.value(VAL_LOSS, None) if run is not None and run.completed else None
            if value is None:
                continue
            c = run.config
            key = (c["optim.name"], c.get("model.parametrization", "sp"), int(c["model.d_model"]))
            groups[key][float(c["optim.lr"])].append(value)
    return groups


def best(curve: dict[float, list[float]]) -> tuple[float, float]:
    """The best grid lr and the parabola vertex through it and its neighbours (the best itself at an edge)."""
    lrs = sorted(curve)
    means = [statistics.fmean(curve[lr]) for lr in lrs]
    i = min(range(len(lrs)), key=means.__getitem__)
    if i in (0, len(lrs) - 1):
        return lrs[i], lrs[i]
    x = [math.log(v) for v in lrs[i - 1:i + 2]]
    return lrs[i], math.exp(parabola_vertex(x, means[i - 1:i + 2]))


def main(argv: list[str]) -> None:
    groups = collect([Path(a) for a in argv])
    if not groups:
        sys.exit(f"no completed runs below {' '.join(argv)}")
    chosen = {}
    for key in sorted(groups):
        curve = groups[key]
        grid_best, vertex = best(curve)
        chosen[key] = vertex
        cells = "  ".join(f"{lr:g}: {statistics.fmean(v):.4f}" for lr, v in sorted(curve.items()))
        print(f"{key[0]:<6} {key[1]:<4} d_model {key[2]:>4}  best {grid_best:g}  vertex {vertex:.3g}  | {cells}")
    print()
    for opt, param in sorted({k[:2] for k in chosen}):
        widths = sorted(w for o, p, w in chosen if (o, p) == (opt, param))
        if len(widths) > 1:
            lo, hi = chosen[(opt, param, widths[0])], chosen[(opt, param, widths[-1])]
            print(f"{opt:<6} {param:<4} best lr at d_model {widths[-1]} / at {widths[0]}: {hi / lo:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
