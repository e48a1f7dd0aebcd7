"""tinyx ladder's command without training: its options and bad input, the time plan, and the report it writes
from a ladder's results (hand-made from known power laws plus seed noise)."""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import pytest

from tinyx.common.errors import LadderError
from tinyx.tools.ablate.seeds import parse_arm
from tinyx.tools.ladder import powerlaw
from tinyx.tools.ladder.analysis import analyse
from tinyx.tools.ladder.cli import parse_args
from tinyx.tools.ladder.plan import Rung, check_cap, makespan
from tinyx.tools.ladder.report import CSV_FILE, DELTA_PLOT, FIT_PLOT, REPORT_FILE, write_report
from tinyx.tools.ladder.runs import ArmResults, check_complete

COMPUTE = [1e10, 4e10, 1.6e11, 6.4e11]


def law(E, A, alpha):
    return lambda c: E + A * c ** -alpha


def results(tmp_path, variant_scale: float, seeds: int = 3, noise: float = 0.004):
    """Baseline and variant ArmResults from known laws (the variant's A scaled), seed noise added."""
    rng = np.random.default_rng(7)
    base_law, var_law = law(1.6, 400.0, 0.25), law(1.6, 400.0 * variant_scale, 0.25)
    arms = [parse_arm("baseline"), parse_arm("llama_tiny")]
    out = []
    for arm, f in zip(arms, (base_law, var_law)):
        values = [[f(c) + rng.normal(0, noise) for _ in range(seeds)] for c in COMPUTE]
        out.append(ArmResults(arm, [2, 3, 4, 5], [1000 * d ** 3 for d in (2, 3, 4, 5)], list(COMPUTE), values,
                              [[None] * seeds for _ in COMPUTE], tokens=[int(c / 1e4) for c in COMPUTE],
                              flops_per_token=[1e4] * 4))
    opts = SimpleNamespace(arms=arms, depths=[2, 3, 4, 5], seeds=seeds, out=tmp_path, metric="val/loss", target=10.0,
                           boot=300)
    rungs = [Rung(r.arm, d, None, SimpleNamespace(params=p, flops=c), 1_000_000) for r in out
             for d, p, c in zip(r.depths, r.params, r.compute)]
    for rung in rungs:
        rung.figures.tokens = rung.figures.flops / 1e4
    return out, opts, rungs, (base_law, var_law)


def test_the_report_holds_the_fits_the_difference_per_size_and_the_verdict(tmp_path):
    res, opts, rungs, (base_law, var_law) = results(tmp_path, variant_scale=0.8)
    ladder = analyse(res, opts)
    base, var = ladder.arms
    direct = powerlaw.fit_power_law(COMPUTE, np.array(res[0].values))
    assert base.fit.E == pytest.approx(direct.E) and base.fit.alpha == pytest.approx(direct.alpha)
    assert base.E_ci[0] < base.fit.E < base.E_ci[1]
    v = ladder.variants[0]
    target = 10 * COMPUTE[-1]
    assert v.target_compute == target
    # The extrapolated difference is the two fitted laws' difference at the target compute.
    assert v.delta_at_target == pytest.approx(var.fit.predict(target) - base.fit.predict(target), rel=1e-6)
    low, high = v.delta_at_target_ci
    true = var_law(target) - base_law(target)
    assert low < true < high < 0
    assert [s.depth for s in v.sizes] == [2, 3, 4, 5]
    assert all(s.delta < 0 and s.p < 0.05 for s in v.sizes)
    assert v.verdict in ("holds", "fades") and v.direction == "better"

    text = write_report(ladder, rungs, opts)
    assert (tmp_path / REPORT_FILE).read_text() == text
    assert f"**verdict: {v.verdict}** (better)" in text and "undecided = anything else" in text
    assert (tmp_path / FIT_PLOT).stat().st_size > 0 and (tmp_path / DELTA_PLOT).stat().st_size > 0
    rows = list(csv.DictReader((tmp_path / CSV_FILE).open()))
    assert [(r["arm"], int(r["depth"])) for r in rows] == [(a.arm.name, d) for a in res for d in a.depths]
    assert float(rows[0]["mean"]) == pytest.approx(np.mean(res[0].values[0]), abs=1e-6)
    assert float(rows[5]["delta"]) == pytest.approx(np.mean(res[1].values[1]) - np.mean(res[0].values[1]), abs=1e-6)


def test_identical_arms_are_not_declared(tmp_path):
    res, opts, _, _ = results(tmp_path, variant_scale=1.0)
    res[1].values = [list(row) for row in res[0].values]  # the same values: an A/A ladder of one machine's runs
    v = analyse(res, opts).variants[0]
    assert v.verdict == "undecided"
    assert v.delta_at_target == pytest.approx(0.0, abs=1e-9)


def test_two_sizes_report_the_difference_but_fit_nothing(tmp_path):
    res, opts, _, _ = results(tmp_path, variant_scale=0.8)
    for r in res:
        r.depths, r.params, r.compute, r.values, r.runs = (x[:2] for x in (r.depths, r.params, r.compute, r.values,
                                                                           r.runs))
    ladder = analyse(res, opts)
    assert ladder.arms[0].fit is None and "no fit possible" in ladder.arms[0].no_fit
    v = ladder.variants[0]
    assert v.verdict == "undecided" and v.delta_at_target is None and len(v.sizes) == 2


def test_a_size_with_fewer_than_two_seeds_is_one_line(tmp_path):
    res, _, _, _ = results(tmp_path, variant_scale=0.8)
    res[1].values[2] = [2.0, math.nan, math.nan]
    res[1].failed = ["depth 4 seed 1: completed without val/loss", "depth 4 seed 2: diverged"]
    with pytest.raises(LadderError, match=r"experiment=llama_tiny at model.depth=4: 1 seed\(s\) with val/loss "
                                          r"\(depth 4 seed 1: completed without val/loss; depth 4 seed 2: diverged\)"):
        check_complete(res, "val/loss")


@pytest.mark.parametrize("argv, message", [
    (["baseline", "llama_tiny", "--depths", "3"], "--depths 3: one size, so no fit and no trend is possible"),
    (["baseline", "llama_tiny", "--depths", "2,x"], "--depths 2,x: comma-separated whole numbers"),
    (["baseline", "llama_tiny", "--depths", "0,2"], "a depth is 1 or more"),
    (["baseline", "llama_tiny", "--depths", "2,3", "--seeds", "1"], "--seeds 1: one seed gives no spread"),
    (["baseline", "baseline", "--depths", "2,3"], "two arms are the same"),
    (["baseline", "llama_tiny", "--depths", "2,3", "--target", "0.5"], "--target 0.5: extrapolate beyond"),
    (["baseline", "llama_tiny", "--depths", "2,3", "--max-flops", "-1"], "--max-flops -1: a cap is a positive"),
    (["baseline", "llama_tiny", "--depths", "2,3", "--", "model.depth=4"], "model.depth=4 after --"),
    (["baseline", "llama_tiny", "--depths", "2,3", "--metric", "val/acc"], "--metric='val/acc'"),
])
def test_bad_options_are_one_line(argv, message):
    with pytest.raises(LadderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_args(argv)


def test_the_ladder_keeps_its_defaults_unless_overridden():
    assert "train.sample_tokens=0" in parse_args(["baseline", "llama_tiny", "--depths", "2,3"]).extra
    opts = parse_args(["baseline", "llama_tiny", "--depths", "3,2", "--", "train.sample_tokens=50"])
    assert opts.extra == ["train.sample_tokens=50"] and opts.depths == [2, 3]


def test_a_size_beyond_the_cap_is_refused_before_anything_runs():
    rung = Rung(parse_arm("baseline"), 5, None, SimpleNamespace(flops=3e12), 1)
    check_cap([rung], 3e12)
    with pytest.raises(LadderError, match=r"experiment=baseline at model.depth=5 trains 3e\+12 FLOPs, beyond "
                                          r"--max-flops 1e\+12"):
        check_cap([rung], 1e12)


def test_the_plan_starts_the_longest_runs_first_on_the_first_free_slot():
    assert makespan([10, 8, 3, 3, 2], 2) == 13  # 10 | 8+3+2 ... 10+3=13, 8+3+2=13
    assert makespan([5, 5, 5], 1) == 15
