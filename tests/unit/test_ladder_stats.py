"""The ladder's statistics: the power-law fit recovers known laws, the extrapolated difference's 95% interval covers
the truth 95% of the time (the seed bootstrap and a fit without bootstrap do not), A/A ladders are rarely declared
anything, and each verdict follows its rule. `pytest -s` prints the measured coverage and the A/A rate.

The simulated design: K = 4 sizes over 1.5 decades of compute, 3 seeds, L = 1.8 + A·C^-0.3 (about 3.0 at the
smallest size, 2.4 at the largest), seed noise sd ~0.01 per loss: a part shared by the two arms at a size and seed
(the same data order; sd 0.008), a part shared by a seed across sizes (0.005), the rest per run (0.006).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinyx.compare.stats import Difference
from tinyx.tools.ladder.powerlaw import FitError, bootstrap_fits, fit_many, fit_power_law
from tinyx.tools.ladder.trend import Arm, Extrapolation, Slope, Trend, trend, trends
from tinyx.tools.ladder.verdict import FADES, GROWS, HOLDS, RULE, UNDECIDED, decide

SIZES, SEEDS = 4, 3
COMPUTE = np.logspace(17, 18.5, SIZES)
E, ALPHA, A_BASE = 1.8, 0.3, 1.2 * 1e17 ** 0.3
TARGET = 10 * COMPUTE[-1]
LADDERS = 1000


def law(a: float, compute) -> np.ndarray:
    return E + a * np.asarray(compute, float) ** -ALPHA


def simulate(rng, n: int, a_variant: float) -> tuple[np.ndarray, np.ndarray]:
    """n paired ladders (n, K sizes, S seeds) of the baseline law and a variant with A = a_variant."""
    seed_part = 0.005 * rng.standard_normal((n, 1, SEEDS))
    pair_part = 0.008 * rng.standard_normal((n, SIZES, SEEDS)) + seed_part
    base = law(A_BASE, COMPUTE)[:, None] + pair_part + 0.006 * rng.standard_normal((n, SIZES, SEEDS))
    variant = law(a_variant, COMPUTE)[:, None] + pair_part + 0.006 * rng.standard_normal((n, SIZES, SEEDS))
    return base, variant


# ---------------------------------------------------------------- the fit


@pytest.mark.parametrize("sizes", [3, 5])
def test_the_fit_recovers_a_known_law_from_noiseless_losses(sizes):
    compute = np.logspace(17, 18.5, sizes)
    a = 2.5 * 1e17 ** 0.33
    fit = fit_power_law(compute, E + a * compute ** -0.33)  # α off the search grid; 3 sizes: interpolated
    assert fit.alpha == pytest.approx(0.33, abs=2e-4)
    assert fit.E == pytest.approx(E, abs=2e-3)
    assert fit.A == pytest.approx(a, rel=5e-3)
    assert fit.predict(10 * compute[-1]) == pytest.approx(E + a * (10 * compute[-1]) ** -0.33, abs=2e-4)


def test_two_sizes_cannot_be_fitted():
    with pytest.raises(FitError, match="2 sizes with a value.*no fit possible"):
        fit_power_law(COMPUTE[:2], np.array([[3.0, 3.01], [2.8, 2.79]]))
    values = np.full((SIZES, SEEDS), np.nan)
    values[:2] = [[3.0, 3.01, 2.99], [2.8, 2.79, 2.82]]
    result = trend(Arm(COMPUTE, values), Arm(COMPUTE, values + 0.01), paired=True, n_boot=10)
    assert result.extrapolation is None and result.note == "two sizes: no fit possible"
    assert decide(result).name == UNDECIDED


def test_one_wild_size_moves_the_huber_fit_little():
    compute = np.logspace(17, 19, 7)
    losses = law(A_BASE, compute)
    losses[2] += 0.05  # one size's runs went wrong
    fit = fit_power_law(compute, losses)
    assert fit.alpha == pytest.approx(ALPHA, abs=0.01)


def test_the_seed_bootstrap_keeps_the_pairing():
    rng = np.random.default_rng(3)
    base, _ = simulate(rng, 1, A_BASE)
    variant = base[0] + 0.01  # each seed's run shifted alike: the paired difference has no seed noise at all
    fits_b, fits_v = bootstrap_fits(COMPUTE, base[0], 50, rng, paired_with=(COMPUTE, variant))
    paired = fits_v.draws.predict([TARGET]) - fits_b.draws.predict([TARGET])
    assert paired == pytest.approx(np.full_like(paired, 0.01), abs=5e-4)  # not exactly: fitted on log L
    alone = bootstrap_fits(COMPUTE, variant, 50, rng).draws.predict([TARGET]) - fits_b.draws.predict([TARGET])
    assert np.std(alone) > 10 * np.std(paired)
    low, high = fits_b.interval("alpha")
    assert low <= fits_b.point.alpha <= high


# ---------------------------------------------------------------- the interval's coverage


def no_bootstrap_covers(base, variant, truth) -> float:
    """The fit without a bootstrap: the per-size differences' straight line in log10 C, extrapolated with its
    t prediction interval (seeds' variance pooled over sizes)."""
    from scipy import stats

    diffs = variant - base  # (n, K, S)
    deltas, x = diffs.mean(-1), np.log10(COMPUTE)
    df = SIZES * (SEEDS - 1)
    var_mean = ((diffs - deltas[..., None]) ** 2).sum((-1, -2)) / df / SEEDS  # of one size's mean difference
    centred = x - x.mean()
    slope = (deltas * centred).sum(-1) / (centred ** 2).sum()
    at_target = deltas.mean(-1) + slope * (math.log10(TARGET) - x.mean())
    se = np.sqrt(var_mean * (1 / SIZES + (math.log10(TARGET) - x.mean()) ** 2 / (centred ** 2).sum()))
    return float(np.mean(np.abs(at_target - truth) <= stats.t.ppf(0.975, df) * se))


def seed_bootstrap_covers(rng, base, variant, truth, n_boot: int) -> float:
    """The plain cluster bootstrap: seeds resampled (the same in both arms), percentile interval of δ*."""
    seeds = rng.integers(0, SEEDS, (len(base), n_boot, 1, SEEDS))
    means = [np.take_along_axis(v[:, None], seeds, axis=-1).mean(-1) for v in (base, variant)]
    draws = fit_many(COMPUTE, means[1]).predict([TARGET]) - fit_many(COMPUTE, means[0]).predict([TARGET])
    low, high = np.percentile(draws[..., 0], [2.5, 97.5], axis=-1)
    return float(np.mean((low <= truth) & (truth <= high)))


@pytest.mark.slow
def test_the_extrapolated_interval_covers_the_true_difference_95_percent_of_the_time():
    rng = np.random.default_rng(2026)
    a_variant = 0.95 * A_BASE  # the variant's gain shrinks with compute, as a constant-factor gain in A does
    truth = float(law(a_variant, TARGET) - law(A_BASE, TARGET))
    base, variant = simulate(rng, LADDERS, a_variant)
    results = trends([(Arm(COMPUTE, b), Arm(COMPUTE, v)) for b, v in zip(base, variant)], paired=True,
                     n_boot=200, rng=rng)
    low = np.array([r.extrapolation.ci_low for r in results])
    high = np.array([r.extrapolation.ci_high for r in results])
    covers = float(np.mean((low <= truth) & (truth <= high)))
    seed_bootstrap = seed_bootstrap_covers(rng, base[:300], variant[:300], truth, n_boot=200)
    no_bootstrap = no_bootstrap_covers(base, variant, truth)
    print(f"\n95% intervals of the extrapolated Δ* = {truth:+.4f} at 10x the largest compute, {LADDERS} ladders "
          f"(K={SIZES}, S={SEEDS}): calibrated bootstrap covers {covers:.1%} (median width "
          f"{np.median(high - low):.4f}), seed bootstrap (300 ladders) {seed_bootstrap:.1%}, "
          f"no bootstrap (linear trend, t) {no_bootstrap:.1%}")
    standard_error = math.sqrt(0.95 * 0.05 / LADDERS)
    assert abs(covers - 0.95) <= 3 * standard_error
    assert seed_bootstrap < 0.9 and no_bootstrap < 0.9  # what the calibration is for


def test_three_sizes_are_flagged_less_reliable():
    rng = np.random.default_rng(5)
    base, variant = simulate(rng, 1, 0.95 * A_BASE)
    result = trend(Arm(COMPUTE[:3], base[0, :3]), Arm(COMPUTE[:3], variant[0, :3]), paired=True, n_boot=100,
                   rng=rng)
    assert not result.extrapolation.reliable and "less reliable" in result.note
    assert result.extrapolation.ci_low < result.extrapolation.delta < result.extrapolation.ci_high


# ---------------------------------------------------------------- verdicts


@pytest.mark.slow
def test_a_over_a_ladders_are_rarely_declared_anything():
    rng = np.random.default_rng(7)
    base, variant = simulate(rng, LADDERS, A_BASE)
    results = trends([(Arm(COMPUTE, b), Arm(COMPUTE, v)) for b, v in zip(base, variant)], paired=True,
                     n_boot=100, rng=rng)
    names = [decide(r).name for r in results]
    declared = float(np.mean([n != UNDECIDED for n in names]))
    print(f"\nA/A ladders declared holds/grows/fades: {declared:.1%} of {LADDERS} "
          f"({names.count(HOLDS)} holds, {names.count(GROWS)} grows, {names.count(FADES)} fades)")
    assert declared <= 0.05


def size(delta: float, p: float | None) -> Difference:
    return Difference("paired t", delta, delta - 0.01, delta + 0.01, p, 0.01, SEEDS)


def made(deltas, holm_p, slope_ci, star_ci, zero_at=None, fitted=True) -> Trend:
    """A Trend built by hand: per-size δ and Holm p, the slope's t interval, δ*'s interval."""
    slope = Slope(sum(slope_ci) / 2, *slope_ci, *slope_ci, df=8)
    extrapolation = Extrapolation(TARGET, sum(star_ci) / 2, *star_ci, zero_at, True, "") if fitted else None
    return Trend([size(d, p) for d, p in zip(deltas, holm_p)], list(holm_p), slope, extrapolation,
                 "" if fitted else "two sizes: no fit possible")


@pytest.mark.parametrize("case, expected, direction", [
    (made([-0.02, -0.02, -0.02], [0.01, 0.01, 0.01], (-0.004, 0.004), (-0.03, -0.01)), HOLDS, "better"),
    (made([-0.01, -0.02, -0.03], [0.04, 0.01, 0.001], (-0.02, -0.005), (-0.06, -0.03)), GROWS, "better"),
    (made([0.01, 0.02, 0.03], [0.04, 0.01, 0.001], (0.005, 0.02), (0.03, 0.06)), GROWS, "worse"),
    (made([-0.03, -0.02, -0.01], [0.001, 0.01, 0.04], (0.005, 0.02), (-0.01, 0.02), zero_at=2e19), FADES,
     "better"),
    # Shrinking, but its interval stays below 0 out to the target: it holds.
    (made([-0.03, -0.02, -0.01], [0.001, 0.01, 0.04], (0.001, 0.02), (-0.03, -0.01)), HOLDS, "better"),
    (made([-0.03, -0.02, -0.01], [0.001, 0.01, 0.2], (-0.001, 0.02), (-0.03, 0.01), zero_at=2e19), UNDECIDED,
     "better"),
    # Below 0 at the target, but the interval touched 0 on the way there: not a gain that holds all the way.
    (made([-0.02, -0.02, -0.02], [0.01, 0.01, 0.01], (-0.004, 0.004), (-0.03, -0.01), zero_at=5e18), UNDECIDED,
     "better"),
    (made([-0.01, -0.01, -0.01], [0.2, 0.3, 0.1], (-0.004, 0.004), (-0.03, -0.01)), UNDECIDED, None),
    (made([-0.02, -0.02], [0.01, 0.01], (-0.004, 0.004), (0, 0), fitted=False), UNDECIDED, None),
])
def test_each_verdict_follows_the_rule(case, expected, direction):
    verdict = decide(case)
    assert (verdict.name, verdict.direction) == (expected, direction), verdict.reason


def test_the_rule_names_every_verdict():
    assert all(name in RULE for name in (HOLDS, GROWS, FADES, UNDECIDED))
