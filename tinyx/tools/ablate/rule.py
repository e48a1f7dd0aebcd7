"""The sequential rule: a verdict per look at α/K (Bonferroni over the K planned looks), and the rounds it
implies, vectorized for the A/A simulation (tests/unit/test_ablate.py); why this rule: docs/ablations.md."""

from __future__ import annotations

import math

from tinyx.compare import stats


def decide(baseline, variant, paired: bool, looks: int, alpha: float = stats.ALPHA, min_effect: float = 0.0):
    """The verdict of one look (vectorized: rows of seeds on the last axis give one verdict each).

    better / worse: the t-test (paired, else Welch) has p < alpha / looks, by the sign of variant - baseline
    (lower is better); no detectable difference: the (1 - alpha / looks) CI of the difference lies inside
    ±min_effect; undecided: otherwise. Returns an array of verdict strings (a 0-d one for 1-D input).
    """
    import warnings

    import numpy as np
    from scipy import stats as sps

    a, b = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    level = alpha / looks
    with warnings.catch_warnings():  # rows without spread: nan statistics, read as undecided
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sps.ttest_rel(b, a, axis=-1) if paired else sps.ttest_ind(b, a, equal_var=False, axis=-1)
        ci = result.confidence_interval(1 - level)
    delta = b.mean(axis=-1) - a.mean(axis=-1)
    significant = np.asarray(result.pvalue < level)
    out = np.full(np.shape(delta), stats.UNDECIDED, dtype=object)
    out[significant & (delta < 0)] = stats.BETTER
    out[significant & (delta > 0)] = stats.WORSE
    out[~significant & (ci.low > -min_effect) & (ci.high < min_effect)] = stats.NO_DIFFERENCE
    return out


def schedule(round_seeds: int, max_seeds: int) -> list[int]:
    """The seeds per arm at each planned look: round_seeds, 2 x round_seeds, ..., max_seeds."""
    return [min(k * round_seeds, max_seeds) for k in range(1, math.ceil(max_seeds / round_seeds) + 1)]


def sequential(baseline, variant, looks_at: list[int], paired: bool, alpha: float = stats.ALPHA,
               min_effect: float = 0.0):
    """Rows of seeds looked at after each round until decided: (final verdict, seeds used) per row.

    What the command does over its rounds, for whole arrays at once (the A/A simulation).
    """
    import numpy as np

    a, b = np.atleast_2d(baseline), np.atleast_2d(variant)
    verdicts = np.full(a.shape[0], stats.UNDECIDED, dtype=object)
    used = np.full(a.shape[0], looks_at[-1])
    active = np.ones(a.shape[0], dtype=bool)
    for n in looks_at:
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        now = decide(a[rows, :n], b[rows, :n], paired, len(looks_at), alpha, min_effect)
        done = now != stats.UNDECIDED
        verdicts[rows[done]], used[rows[done]] = now[done], n
        active[rows[done]] = False
    return verdicts, used
