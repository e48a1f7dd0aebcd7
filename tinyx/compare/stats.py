"""The statistics of an ablation: confidence intervals, paired and Welch t-tests, verdicts, seeds needed.

Pure functions on lists of numbers (one number per seed), used by tinyx.compare (one look at finished
runs) and tinyx.tools.ablate (repeated looks while seeds are added). Every distribution comes from
`scipy.stats` (imported inside the functions: `import tinyx` stays fast).

Conventions: a difference is variant - baseline, so for a loss (lower is better) a negative difference
means the variant is better. Confidence intervals are two-sided, from the t distribution.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05  # the false-positive rate of one comparison (two-sided)
POWER = 0.8  # the power the seeds-needed figure plans for
MAX_SEEDS_NEEDED = 10_000  # beyond this, "seeds needed" is reported as more than this

BETTER, WORSE, NO_DIFFERENCE, UNDECIDED = "better", "worse", "no detectable difference", "undecided"
PAIRED, WELCH = "paired t", "Welch t"


@dataclass(frozen=True)
class Estimate:
    """n, mean, sample standard deviation and the confidence interval of the mean of one arm's values."""

    n: int
    mean: float
    sd: float | None  # None for a single value
    ci_low: float | None  # None for a single value: no interval can be given
    ci_high: float | None


def estimate(values: Sequence[float], confidence: float = 1 - ALPHA) -> Estimate:
    """Mean and its t confidence interval: mean ± t(n-1) · sd / sqrt(n)."""
    from scipy import stats

    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(n, mean, None, None, None)
    sd = statistics.stdev(values)
    if sd == 0:  # scipy would return nan for a zero scale; the interval is the point itself
        return Estimate(n, mean, 0.0, mean, mean)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Estimate(n, mean, sd, float(low), float(high))


@dataclass(frozen=True)
class Difference:
    """variant - baseline: the difference of means, its confidence interval and the test's p-value."""

    test: str | None  # PAIRED, WELCH, or None when no test is possible (a single seed)
    delta: float
    ci_low: float | None
    ci_high: float | None
    p: float | None
    sd: float | None  # the spread the test uses: of the per-seed differences (paired), pooled (Welch)
    n: int  # pairs (paired), or the smaller arm's seeds (Welch)
    note: str = ""  # why this test, or why none


def difference(baseline: Sequence[float], variant: Sequence[float], paired: bool, note: str = "",
               confidence: float = 1 - ALPHA) -> Difference:
    """Welch's t-test (unequal variances) or, with `paired` (the same seeds, in the same order), the
    paired t-test on the per-seed differences; scipy.stats' p-value and confidence interval."""
    from scipy import stats

    delta = statistics.fmean(variant) - statistics.fmean(baseline)
    if paired:
        diffs = [v - b for b, v in zip(baseline, variant, strict=True)]
        n = len(diffs)
        sd = statistics.stdev(diffs) if n > 1 else None
    else:
        n = min(len(baseline), len(variant))
        sd = (math.sqrt((statistics.variance(baseline) + statistics.variance(variant)) / 2)
              if n > 1 else None)
    if n < 2:
        return Difference(None, delta, None, None, None, None, n, "one seed: no interval or test possible")
    if sd == 0:  # no spread at all: scipy's statistic is undefined (0/0), the answer is not
        return Difference(PAIRED if paired else WELCH, delta, delta, delta, 1.0 if delta == 0 else 0.0, 0.0, n,
                          note + ("; " if note else "") + "zero spread over seeds")
    with warnings.catch_warnings():  # one arm without spread makes scipy warn of precision loss: not an error here
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_rel(variant, baseline) if paired else stats.ttest_ind(variant, baseline, equal_var=False)
    ci = result.confidence_interval(confidence)
    return Difference(PAIRED if paired else WELCH, delta, float(ci.low), float(ci.high), float(result.pvalue),
                      sd, n, note)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment: the family-wise false-positive rate of k tests stays at α (None: no test)."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(d: Difference, p: float | None, alpha: float, min_effect: float, lower_is_better: bool = True) -> str:
    """better / worse: p < alpha, in the direction of the difference; no detectable difference: p >= alpha and
    the whole confidence interval of the difference inside ±min_effect; undecided: anything else."""
    if p is None or d.ci_low is None:
        return UNDECIDED
    if p < alpha:
        return BETTER if (d.delta < 0) == lower_is_better else WORSE
    if -min_effect < d.ci_low and d.ci_high < min_effect:
        return NO_DIFFERENCE
    return UNDECIDED


def verdict_rule(alpha: float, min_effect: float, adjusted: bool, confidence: float = 1 - ALPHA) -> str:
    """The rule `verdict` applies, in words, for the note under a table."""
    level = f"p < {alpha:g}" + (" (Holm-adjusted over the variants)" if adjusted else "")
    return (f"Verdict: better / worse = {level}, by the sign of Δ (lower is better); no detectable difference = "
            f"not significant and the {confidence:.0%} CI of Δ inside ±{min_effect:.4g} (--min-effect: the smallest "
            f"difference that matters); undecided = otherwise (see 'seeds needed').")


def _power(n: int, effect: float, paired: bool, alpha: float) -> float:
    """Power of the two-sided t-test with n seeds per arm (n pairs) for a standardized effect |Δ|/sd."""
    from scipy import stats

    df = n - 1 if paired else 2 * n - 2
    ncp = effect * math.sqrt(n if paired else n / 2)
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, ncp) + stats.nct.cdf(-critical, df, ncp))


def seeds_needed(delta: float, sd: float | None, paired: bool, alpha: float = ALPHA,
                 power: float = POWER) -> int | None:
    """Seeds per arm for a two-sided t-test at `alpha` to detect `delta` with `power`, were `delta` and `sd`
    the truth (the noncentral t distribution, scipy.stats.nct). None: nothing to plan from (no sd, or
    Δ = 0); MAX_SEEDS_NEEDED + 1 means more than MAX_SEEDS_NEEDED."""
    if sd is None or delta == 0:
        return None
    if sd == 0:
        return 2
    effect = abs(delta) / sd
    low, high = 2, 2
    while _power(high, effect, paired, alpha) < power:  # doubling, then bisection: ~30 evaluations
        if high > MAX_SEEDS_NEEDED:
            return MAX_SEEDS_NEEDED + 1
        low, high = high, high * 2
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if _power(mid, effect, paired, alpha) < power else (low, mid)
    return high


def seeds_for_no_difference(delta: float, sd: float | None, paired: bool, min_effect: float, alpha: float = ALPHA,
                            power: float = POWER) -> int | None:
    """Seeds per arm for the verdict "no detectable difference" (the (1 - alpha) CI of Δ inside ±min_effect) with
    `power`, were `delta` and `sd` the truth: the smallest n whose standard error fits
    (t(1 - alpha/2) + t(power)) x se <= min_effect - |Δ| (the usual approximation for equivalence tests).
    None: nothing to plan from, or |Δ| >= min_effect (the interval could never fit); MAX_SEEDS_NEEDED + 1
    means more."""
    from scipy import stats

    room = min_effect - abs(delta)
    if sd is None or room <= 0:
        return None
    for n in range(2, MAX_SEEDS_NEEDED + 1):
        df = n - 1 if paired else 2 * n - 2
        se = sd / math.sqrt(n) if paired else sd * math.sqrt(2 / n)
        if (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se <= room:
            return n
    return MAX_SEEDS_NEEDED + 1
