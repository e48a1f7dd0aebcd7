"""tinyx.tools.ablate's sequential rule: thousands of simulated A/A comparisons through the command's own decision
function keep the false-positive rate at α over all looks; the naive rule (α at every look) does not. And on
hand-made seed directories: a failed seed is spent, and ablate pairs exactly the runs compare pairs."""

import subprocess

import numpy as np
import pytest
from rundirs import make_run
from scipy import stats as sps

from tinyx.compare import compare_runs, stats
from tinyx.tools.ablate import (
    ArmSpec,
    Options,
    ablate,
    decide,
    look,
    parse_arm,
    report,
    schedule,
    seed_dir,
    sequential,
)

SIMULATIONS = 4000
ALPHA = 0.05
# Three standard errors of a share near α over SIMULATIONS comparisons: "within sampling error".
TOLERANCE = 3 * (ALPHA * (1 - ALPHA) / SIMULATIONS) ** 0.5


def false_positive_rate(paired: bool, alpha: float, round_seeds=2, max_seeds=10, min_effect=0.0, seed=0):
    rng = np.random.default_rng(seed)
    shape = (SIMULATIONS, max_seeds)
    seed_effect = rng.normal(0, 1, shape) if paired else 0  # what a seed does to both arms alike
    baseline = 3.0 + seed_effect + rng.normal(0, 0.5, shape)
    variant = 3.0 + seed_effect + rng.normal(0, 0.5, shape)  # A/A: no true difference
    verdicts, used = sequential(baseline, variant, schedule(round_seeds, max_seeds), paired, alpha, min_effect)
    return np.isin(verdicts, [stats.BETTER, stats.WORSE]).mean(), verdicts, used


@pytest.mark.parametrize("paired", [False, True])
def test_aa_comparisons_are_declared_different_at_most_alpha_of_the_time(paired):
    # min_effect 0: no arm ever stops for "no detectable difference", the strictest case for false positives.
    rate, verdicts, used = false_positive_rate(paired, ALPHA)
    print(f"A/A false-positive rate over {SIMULATIONS} comparisons, 5 looks, paired={paired}: {rate:.4f}")
    assert rate <= ALPHA + TOLERANCE
    # With a smallest difference that matters, A/A arms also stop early as "no detectable difference".
    rate, verdicts, used = false_positive_rate(paired, ALPHA, min_effect=1.0)
    assert rate <= ALPHA + TOLERANCE
    assert (verdicts == stats.NO_DIFFERENCE).mean() > 0.5 and (used < 10).mean() > 0.5


def test_the_naive_rule_alpha_at_every_look_inflates_false_positives():
    # alpha x 5 looks spread over 5 looks = alpha at each look: what looking without a correction does.
    rate, _, _ = false_positive_rate(False, ALPHA * 5, min_effect=0.0)
    assert rate > ALPHA + 3 * TOLERANCE  # ~0.1 or more: why the correction is there


def test_a_real_difference_is_found_and_stops_early():
    rng = np.random.default_rng(1)
    baseline = rng.normal(3.0, 0.05, (500, 10))
    variant = rng.normal(2.9, 0.05, (500, 10))  # better by 2 sd
    verdicts, used = sequential(baseline, variant, schedule(2, 10), False, ALPHA, 0.01)
    assert (verdicts == stats.BETTER).mean() > 0.9 and np.median(used) <= 6


def test_one_look_matches_scipy_at_the_corrected_level():
    a, b = [3.00, 3.05, 2.98, 3.02], [2.96, 3.03, 2.93, 3.00]
    p = sps.ttest_rel(b, a).pvalue
    assert 0.01 < p < 0.05
    assert decide(a, b, paired=True, looks=1).item() == stats.BETTER  # p < 0.05
    assert decide(a, b, paired=True, looks=5).item() == stats.UNDECIDED  # p >= 0.01
    arm_a, arm_b = ArmSpec("a", []), ArmSpec("b", [])
    arm_a.seeds_done, arm_b.seeds_done = dict(enumerate(a)), dict(enumerate(b))
    result = look(arm_a, arm_b, 4, 5, ALPHA, 0.0, paired=True)
    assert result.verdict == stats.UNDECIDED and result.difference.p == pytest.approx(p)


def test_schedule_and_arm_parsing():
    assert schedule(2, 10) == [2, 4, 6, 8, 10] and schedule(3, 10) == [3, 6, 9, 10]
    assert parse_arm("llama_tiny").overrides == ["experiment=llama_tiny"]
    arm = parse_arm("model.norm=rmsnorm model.pos=rope")
    assert arm.overrides == ["model.norm=rmsnorm", "model.pos=rope"] and arm.slug == "model.norm-rmsnorm_model.pos-rope"


# ---------------------------------------------------------------- on seed directories (no training)
BASE = [1.50, 1.53, 1.49, 1.55]
RMS = [1.485, 1.512, 1.468, 1.532]  # each seed lower by 0.015-0.022: paired, a clear difference


@pytest.fixture
def no_training(monkeypatch):
    """Every seed is already in its directory: ablate must only read them."""

    def refuse(command, *args, **kwargs):
        raise AssertionError(f"ablate started training: {' '.join(map(str, command))}")

    monkeypatch.setattr(subprocess, "run", refuse)


def seeds_of(out, text, finals, *config, statuses=None, order=None, corpus=None):
    """Arm `text`'s seed directories in `out` (config `config`), as `ablate` lays them out; `order`: each seed's
    recorded data_order is order + seed, `corpus`: its data content (None for both: runs older than the records)."""
    arm = parse_arm(text)
    for seed, final in enumerate(finals):
        make_run(seed_dir(out, arm, seed), seed, [(10, final + 0.5), (20, final)], *config,
                 status=(statuses or {}).get(seed, "completed"), data_order=order and f"{order}{seed}",
                 data=corpus and {"content": corpus * 20, "corpus": f"/data/{corpus}.txt"})
    return arm


def test_a_failed_seed_is_spent_not_run_again_and_the_report_says_so(tmp_path, no_training):
    # What train.py writes when an exception ends a run: "failed: <type>: <message>" (records.failed_status).
    seeds_of(tmp_path, "model.norm=layernorm", BASE[:3])
    seeds_of(tmp_path, "model.norm=rmsnorm", RMS[:3], "model.norm=rmsnorm", statuses={2: "failed: RuntimeError: boom"})
    opts = Options(out=tmp_path, round_seeds=3, max_seeds=3)
    for _ in range(2):  # the command, and the command rerun: nothing to train either time
        base, variant = parse_arm("model.norm=layernorm"), parse_arm("model.norm=rmsnorm")
        last = ablate([base, variant], opts, say=lambda line: None)
    assert variant.seeds_spent == {2: "failed: RuntimeError: boom"} and sorted(variant.seeds_done) == [0, 1]
    text = report([base, variant], last, opts)
    assert "| model.norm=rmsnorm | undecided | 3 | 3 seeds (max) |" in text
    assert (f"- model.norm=rmsnorm, seed 2: failed: RuntimeError: boom ({seed_dir(tmp_path, variant, 2)})"
            in text.splitlines())


# (variant's overrides, its recorded data order (the baseline's: "2:same"; None: neither arm records one, as runs
# older than the record), its corpus, whether a seed pairs the two arms)
PAIRING = [
    ("model.norm=rmsnorm", "2:same", "a", True),
    ("data.max_documents=100000", "2:same", "a", True),  # a data key that changes no window: the record decides
    ("data.window_start=document", "2:document", "a", False),
    ("train.batch_size=8", "2:batch8", "a", False),
    ("data.path=/data/b.txt", "2:corpus_b", "b", False),  # another corpus (data.path alone is a machine key)
    ("model.norm=rmsnorm", None, None, True),
    ("data.max_documents=100000", None, None, False),  # without a record every data key counts
    ("data.window_start=document", None, None, False),
    ("train.batch_size=8", None, None, False),
]


@pytest.mark.parametrize("overrides, order, corpus, paired", PAIRING)
def test_compare_and_ablate_pair_the_same_runs(tmp_path, no_training, overrides, order, corpus, paired):
    base = seeds_of(tmp_path, "model.norm=layernorm", BASE, order=order and "2:same", corpus=corpus and "a")
    variant = seeds_of(tmp_path, overrides, RMS, *overrides.split(), order=order, corpus=corpus)
    opts = Options(out=tmp_path, round_seeds=4, max_seeds=4)
    by_ablate = ablate([base, variant], opts, say=lambda line: None)
    comparison = compare_runs([tmp_path])
    [by_compare] = comparison.variants
    expected = stats.PAIRED if paired else stats.WELCH
    assert by_ablate[variant.name].difference.test == by_compare.difference.test == expected
    # Runs without a record: decided from their config, and both tools say so.
    old = "are paired by their config"
    said = report([base, variant], by_ablate, opts)
    assert (old in said) == any(old in w for w in comparison.warnings) == (order is None)


def test_a_data_order_of_another_version_pairs_by_the_config_and_says_so(tmp_path, no_training):
    # Runs from before data_order hashed where windows start wrote a bare digest (version 1): never equal to a
    # version-2 key, so compared with one they pair by their config, as runs without a record do.
    for variant, paired in (("model.norm=rmsnorm", True), ("data.window_start=document", False)):
        out = tmp_path / variant
        base = seeds_of(out, "model.norm=layernorm", BASE, order="0f3a")
        other = seeds_of(out, variant, RMS, variant, order="2:0f3a")
        opts = Options(out=out, round_seeds=4, max_seeds=4)
        by_ablate = ablate([base, other], opts, say=lambda line: None)
        comparison = compare_runs([out])
        expected = stats.PAIRED if paired else stats.WELCH
        assert by_ablate[other.name].difference.test == comparison.variants[0].difference.test == expected
        assert "another version" in report([base, other], by_ablate, opts)
        assert any("another version" in w for w in comparison.warnings)
