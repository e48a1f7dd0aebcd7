"""tinyx.compare.stats on its own: Holm's step-down adjustment, figure by figure (compare's table prints these)."""

import pytest

from tinyx.compare import stats


def test_holm_multiplies_the_kth_smallest_p_by_the_tests_left_and_never_steps_down():
    # Four tests (a None is an arm without a test: it counts for nothing). Sorted: 0.005 x 4 = 0.02,
    # 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 raised to 0.06 (an adjusted p never falls below a
    # smaller raw p's: else a larger p could be significant while a smaller one is not).
    adjusted = stats.holm([0.01, 0.04, 0.03, None, 0.005])
    assert adjusted[3] is None
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, None, 0.02], abs=1e-15)


def test_holm_caps_at_one_and_leaves_a_single_test_alone():
    assert stats.holm([0.2, 0.7, 0.6]) == pytest.approx([0.6, 1.0, 1.0])  # 0.6 x 2 = 1.2: capped
    assert stats.holm([0.02]) == [0.02]
    assert stats.holm([None, 0.02, None]) == [None, 0.02, None]
    assert stats.holm([]) == []


def test_holm_with_tied_p_values_gives_them_the_same_adjusted_p():
    assert stats.holm([0.01, 0.01, 0.2]) == pytest.approx([0.03, 0.03, 0.2])


def test_seeds_for_no_difference_plan_for_the_power_they_promise():
    """A null result's useful figure (issue 25: 'seeds needed >10,000' says nothing): with the seeds it names, the
    CI of Δ falls inside ±min_effect in about POWER of simulated studies, and never where |Δ| >= min_effect."""
    import numpy as np
    from scipy import stats as sp

    assert stats.seeds_for_no_difference(0.02, 0.01, True, min_effect=0.02) is None
    assert stats.seeds_for_no_difference(0.0, None, True, min_effect=0.02) is None
    delta, sd, m = 0.002, 0.01, 0.01
    n = stats.seeds_for_no_difference(delta, sd, True, min_effect=m)
    assert 4 < n < stats.seeds_for_no_difference(delta, sd, False, min_effect=m)  # pairing needs fewer
    rng = np.random.default_rng(0)
    diffs = rng.normal(delta, sd, size=(4000, n))
    half = sp.t.ppf(1 - stats.ALPHA / 2, n - 1) * diffs.std(axis=1, ddof=1) / np.sqrt(n)
    inside = (np.abs(diffs.mean(axis=1)) + half < m).mean()
    assert stats.POWER - 0.05 < inside < stats.POWER + 0.12, inside
