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
