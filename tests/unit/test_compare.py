"""tinyx.compare: the statistics an ablation is judged by, checked against scipy.stats on hand-made run directories."""

import csv
import json

import pytest
from rundirs import make_run
from scipy import stats as sps

from tinyx.common.errors import CompareError
from tinyx.compare import compare_runs, main, stats


def make_arm(root, name, finals, *overrides, seeds=None):
    for seed, final in zip(seeds or range(len(finals)), finals):
        make_run(root / f"{name}_s{seed}", seed, [(10, final + 0.5), (20, final)], *overrides)


BASE = [1.50, 1.53, 1.49, 1.55, 1.52]
RMS = [1.485, 1.512, 1.468, 1.532, 1.505]  # the same seeds, each lower by 0.015-0.022: a paired difference
ROPE = [1.56, 1.49, 1.58, 1.50]  # seeds 0-3 only


@pytest.fixture
def ablation(tmp_path):
    make_arm(tmp_path, "a_base", BASE)
    make_arm(tmp_path, "b_rms", RMS, "model.norm=rmsnorm")
    make_arm(tmp_path, "c_rope", ROPE, "model.pos=rope")
    return tmp_path


def test_estimates_paired_and_welch_tests_equal_scipy(ablation):
    c = compare_runs([ablation])
    base, rms, rope = c.arms
    assert (base.name, rms.name, rope.name) == ("model.norm=layernorm model.pos=learned",
                                                "model.norm=rmsnorm model.pos=learned",
                                                "model.norm=layernorm model.pos=rope")
    assert base.is_baseline and [a.n for a in c.arms] == [5, 5, 4]
    low, high = sps.t.interval(0.95, 4, loc=sps.tmean(BASE), scale=sps.sem(BASE))
    assert (base.estimate.ci_low, base.estimate.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert base.estimate.mean == pytest.approx(sum(BASE) / 5, abs=1e-12)

    # Same seeds, same batch size and context length: paired.
    paired = sps.ttest_rel(RMS, BASE)
    assert rms.difference.test == stats.PAIRED
    assert rms.difference.p == pytest.approx(paired.pvalue, rel=1e-12)
    ci = paired.confidence_interval(0.95)
    assert (rms.difference.ci_low, rms.difference.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    unpaired = sps.ttest_ind(RMS, BASE, equal_var=False).confidence_interval(0.95)
    width, welch_width = ci.high - ci.low, unpaired.high - unpaired.low
    assert rms.difference.note == (f"paired over seeds; CI width {width:.4g} against {welch_width:.4g} unpaired "
                                   f"(Welch, p {sps.ttest_ind(RMS, BASE, equal_var=False).pvalue:.4g}), "
                                   f"{welch_width / width:.1f}x narrower")
    # Seeds 0-3 against 0-4: Welch, and the note says why.
    welch = sps.ttest_ind(ROPE, BASE, equal_var=False)
    assert rope.difference.test == stats.WELCH and "seeds differ" in rope.difference.note
    assert rope.difference.p == pytest.approx(welch.pvalue, rel=1e-12)
    ci = welch.confidence_interval(0.95)
    assert (rope.difference.ci_low, rope.difference.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert rope.difference.delta == pytest.approx(sum(ROPE) / 4 - sum(BASE) / 5, abs=1e-12)
    # Holm over the two variants: the smaller p doubled, the larger kept (if not below the first's).
    p_small, p_large = sorted([paired.pvalue, welch.pvalue])
    assert sorted([rms.p_adjusted, rope.p_adjusted]) == pytest.approx([2 * p_small, max(2 * p_small, p_large)])
    assert rms.verdict == stats.BETTER and rope.verdict == stats.UNDECIDED
    # rms beats the baseline, but rope (mean above both) is told apart from neither: ranks are a line, so one is
    # shared by all three (tests/unit/test_compare_report.py tests the ranks).
    assert [a.rank for a in c.arms] == [1, 1, 1]


def test_the_paired_test_is_narrower_on_paired_data_and_welch_where_batches_differ(tmp_path):
    make_arm(tmp_path, "a", BASE)
    make_arm(tmp_path, "b", RMS, "train.batch_size=8")
    variant = compare_runs([tmp_path]).arms[1]
    assert variant.difference.test == stats.WELCH
    assert "train.batch_size differ" in variant.difference.note
    assert variant.difference.p == pytest.approx(sps.ttest_ind(RMS, BASE, equal_var=False).pvalue, rel=1e-12)
    # On these numbers (seed effects shared by both arms) pairing is what makes the difference detectable.
    assert variant.difference.p > 0.05 > sps.ttest_rel(RMS, BASE).pvalue


def test_seeds_needed_is_the_smallest_n_with_80_percent_power(ablation):
    rope = compare_runs([ablation]).arms[2]
    d = rope.difference
    n = rope.seeds_needed
    effect = abs(d.delta) / d.sd

    def power(n):
        df, ncp = 2 * n - 2, effect * (n / 2) ** 0.5
        crit = sps.t.ppf(0.975, df)
        return sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp)

    assert power(n) >= 0.8 > power(n - 1)
    assert stats.seeds_needed(1.0, 1.0, paired=False) == 17  # Cohen's table: d = 1, two-sided 0.05, 80%
    assert stats.seeds_needed(0.5, 1.0, paired=False) == 64
    assert stats.seeds_needed(0.0, 1.0, paired=False) is None


def test_incomplete_runs_are_left_out_and_listed_unless_asked(tmp_path, capsys):
    # The example: the better arm has two finished seeds (1.45, 1.46), one that diverged at step 1000
    # (1.69) and one killed at step 500 (2.25, no summary.json); averaged together it ranked last.
    for seed, final in enumerate([1.50, 1.51]):
        make_run(tmp_path / f"a{seed}", seed, [(500, 2.2), (1000, 1.9), (2000, final)])
    make_run(tmp_path / "b0", 0, [(500, 2.1), (1000, 1.6), (2000, 1.45)], "model.norm=rmsnorm")
    make_run(tmp_path / "b1", 1, [(500, 2.1), (1000, 1.6), (2000, 1.46)], "model.norm=rmsnorm")
    make_run(tmp_path / "b2", 2, [(500, 2.0), (1000, 1.69)], "model.norm=rmsnorm", status="diverged")
    make_run(tmp_path / "b3", 3, [(500, 2.25)], "model.norm=rmsnorm", summary=False)
    c = main([str(tmp_path)])
    out = capsys.readouterr().out
    b = c.arms[1]
    assert b.n == 2 and b.estimate.mean == pytest.approx(1.455) and b.rank == 1
    assert {(e.run.path.name, e.why.split(" (")[0]) for e in c.excluded} == {
        ("b2", "diverged at step 1000"), ("b3", "incomplete at step 500")}
    assert (f"- {tmp_path / 'b2'}: diverged at step 1000 (--include-incomplete counts it)"
            in (tmp_path / "comparison.md").read_text())
    assert "Left out (2 runs):" in out

    everything = main([str(tmp_path), "--include-incomplete"]).arms[1]
    assert everything.n == 4 and everything.estimate.mean == pytest.approx((1.45 + 1.46 + 1.69 + 2.25) / 4)


def test_a_seed_run_twice_is_one_observation_the_newest_completed(tmp_path):
    make_arm(tmp_path, "base", [1.5, 1.6])
    make_run(tmp_path / "x_first", 7, [(10, 2.0), (20, 1.9)], "model.norm=rmsnorm", mtime=1_000_000)
    make_run(tmp_path / "x_rerun", 7, [(10, 2.0), (20, 1.7)], "model.norm=rmsnorm", mtime=2_000_000)
    make_run(tmp_path / "x_killed", 7, [(10, 2.0)], "model.norm=rmsnorm", summary=False)
    make_run(tmp_path / "x_other", 8, [(10, 2.0), (20, 1.8)], "model.norm=rmsnorm", mtime=1_500_000)
    variant = compare_runs([tmp_path]).arms[1]
    assert variant.n == 2 and sorted(variant.observations) == [1.7, 1.8]
    assert [r.path.name for r in variant.runs] == ["x_rerun", "x_other"]
    whys = {e.run.path.name: e.why for e in variant.excluded}
    assert whys["x_first"] == f"seed 7 again: one observation per seed, {tmp_path / 'x_rerun'} kept (the newest completed)"
    # ... and said as a warning, not only in the list of runs left out: both directories named.
    said = [w for w in compare_runs([tmp_path]).warnings if "ran more than once" in w]
    assert said == [f"seed 7 of arm 'model.norm=rmsnorm' ran more than once: {tmp_path / 'x_first'} is left out and "
                    f"{tmp_path / 'x_rerun'} kept (the newest completed; one observation per seed)"]
    assert whys["x_killed"].startswith("incomplete at step 10")
    # With incomplete runs counted, a completed run still wins over a killed one of the same seed.
    counted = compare_runs([tmp_path], include_incomplete=True).arms[1]
    assert sorted(counted.observations) == [1.7, 1.8]
    # Even a newer one: a rerun interrupted after the seed completed does not displace the completed run.
    make_run(tmp_path / "x_interrupted", 8, [(10, 2.0), (20, 1.95)], "model.norm=rmsnorm", status="interrupted",
             mtime=3_000_000)
    counted = compare_runs([tmp_path], include_incomplete=True).arms[1]
    assert sorted(counted.observations) == [1.7, 1.8]


def test_at_step_reads_the_curves_of_runs_of_different_lengths(tmp_path):
    for seed, (a20, a40) in enumerate([(2.0, 1.6), (2.1, 1.7), (2.2, 1.8)]):
        make_run(tmp_path / f"long{seed}", seed, [(20, a20), (40, a40)])
    for seed, b20 in enumerate([1.9, 2.0, 2.05]):
        make_run(tmp_path / f"short{seed}", seed, [(10, 2.5), (20, b20)], "model.norm=rmsnorm")
    make_run(tmp_path / "short3", 3, [(10, 2.5), (20, 2.0)], "model.norm=rmsnorm")
    c = compare_runs([tmp_path], at_step=20)
    assert c.arms[0].observations == [2.0, 2.1, 2.2] and c.arms[1].observations == [1.9, 2.0, 2.05, 2.0]
    assert c.arms[1].difference.test == stats.WELCH  # seeds 0-3 against 0-2
    at_best = compare_runs([tmp_path], at_step=20, metric="val/loss_best", baseline="rmsnorm")
    assert at_best.baseline.name.startswith("model.norm=rmsnorm") and at_best.arms[1].observations == [2.0, 2.1, 2.2]
    with pytest.raises(CompareError, match=r"arm 'model.norm=rmsnorm' has no run to compare \(short0: stopped at "
                                           r"step 20, before step 30.*choose an earlier --at-step=30"):
        compare_runs([tmp_path], at_step=30)
    # --at-tokens: micro's batch 4 x context 32 = 128 tokens per step; 2560 tokens = step 20.
    assert compare_runs([tmp_path], at_tokens=2560).arms[0].observations == [2.0, 2.1, 2.2]


@pytest.fixture
def budgets(tmp_path):
    """Two arms at micro's 128 tokens a step: the baseline at 1,000 FLOPs a token and quick evaluations, a variant
    costing 2,000 FLOPs a token and evaluating slower. Curves: (step, val/loss, wall seconds)."""
    base = [[(10, 3.0, 5.0), (20, 2.5, 10.0), (30, 2.2, 15.0), (40, 2.0, 20.0)],
            [(10, 3.1, 6.0), (20, 2.6, 12.5), (30, 2.3, 19.0), (40, 2.1, 25.0)],
            [(10, 2.3, 5.5), (20, 2.4, 11.0), (30, 2.1, 16.5), (40, 1.9, 22.0)]]  # its best is its first
    for seed, curve in enumerate(base):
        make_run(tmp_path / f"a_s{seed}", seed, curve, flops_per_token=1000)
    # Seed 3 ran under torchrun on 2 processes: 256 tokens, 256,000 FLOPs a step.
    make_run(tmp_path / "a_s3", 3, [(10, 2.9, 4.0), (20, 2.45, 8.0), (30, 2.3, 12.0), (40, 2.2, 16.0)],
             flops_per_token=1000, world_size=2)
    costly = [[(10, 2.7, 9.0), (20, 2.2, 18.0), (30, 2.0, 27.0), (40, 1.8, 36.0)],
              [(10, 2.8, 9.5), (20, 2.3, 19.0), (30, 2.1, 28.5), (40, 1.9, 38.0)],
              [(10, 2.9, 13.0), (20, 2.1, 26.0), (30, 1.9, 39.0), (40, 1.7, 52.0)]]
    for seed, curve in enumerate(costly):
        make_run(tmp_path / f"b_s{seed}", seed, curve, "model.norm=rmsnorm", flops_per_token=2000)
    # A run of a tinyx older than the flops_per_token record.
    make_run(tmp_path / "b_s3", 3, [(10, 2.6, 14.0), (20, 2.0, 28.0)], "model.norm=rmsnorm")
    return tmp_path


def test_at_flops_and_at_seconds_equal_hand_computed_values(budgets, capsys):
    # 2.56e6 FLOPs: the baseline's step 20 (128 x 1,000 x 20), its torchrun seed's step 10 (256 x 1,000 x 10), the
    # variant's step 10 (128 x 2,000 x 10); b_s3 records no flops_per_token.
    c = compare_runs([budgets], at_flops=2.56e6)
    base, costly = c.arms
    assert base.observations == [2.5, 2.6, 2.4, 2.9] and costly.observations == [2.7, 2.8, 2.9]
    assert base.estimate.mean == pytest.approx(2.6, abs=1e-12) and costly.estimate.mean == pytest.approx(2.8, abs=1e-12)
    assert costly.difference.delta == pytest.approx(0.2, abs=1e-12)
    assert [(e.run.path.name, e.why) for e in c.excluded] == [
        ("b_s3", "provenance.json records no flops_per_token (a run of a tinyx older than that record)")]
    # The best evaluation up to the same steps: a_s2's step 10 (2.3).
    best = compare_runs([budgets], at_flops=2.56e6, metric="val/loss_best")
    assert best.arms[0].observations == [2.5, 2.6, 2.3, 2.9]
    assert best.arms[1].difference.delta == pytest.approx(2.8 - 2.575, abs=1e-12)
    assert compare_runs([budgets], at_flops=2.6e6).arms[0].observations == [2.5, 2.6, 2.4, 2.9]  # between steps

    # 12 s: each run's last evaluation by then, whatever its step: a_s1 at step 10 (its step 20 came at 12.5 s),
    # a_s3 at step 30 (at 12.0 s); b_s2 and b_s3 evaluated first at 13 s and 14 s.
    c = compare_runs([budgets], at_seconds=12)
    base, costly = c.arms
    assert base.observations == [2.5, 3.1, 2.4, 2.3] and costly.observations == [2.7, 2.8]
    assert base.estimate.mean == pytest.approx(2.575, abs=1e-12) and costly.estimate.mean == pytest.approx(2.75)
    assert costly.difference.delta == pytest.approx(0.175, abs=1e-12)
    assert sorted((e.run.path.name, e.why) for e in c.excluded) == [
        ("b_s2", "no evaluation by 12 s (its first at 13 s)"), ("b_s3", "no evaluation by 12 s (its first at 14 s)")]
    best = compare_runs([budgets], at_seconds=12, metric="val/loss_best")
    assert best.arms[0].estimate.mean == pytest.approx((2.5 + 3.1 + 2.3 + 2.3) / 4, abs=1e-12)

    # The command line: the label says what the runs were judged at.
    main([str(budgets), "--at-flops", "2.56e6"])
    assert "val/loss (final) at 2.56e6 FLOPs" in capsys.readouterr().out
    assert "val/loss (final) at 2.56e6 FLOPs" in (budgets / "comparison.md").read_text()
    main([str(budgets), "--at-seconds", "12"])
    assert "val/loss (final) at 12 s" in capsys.readouterr().out


def test_a_budget_no_run_of_an_arm_meets_says_why_and_what_to_do(budgets):
    with pytest.raises(CompareError, match=r"b_s3: provenance.json records no flops_per_token .*: rerun its runs "
                                           r"with this tinyx, which records it, or compare at equal tokens"):
        compare_runs([budgets / "b_s3"], at_flops=2.56e6)
    with pytest.raises(CompareError, match=r"no evaluation by 3 s \(its first at 5 s\).*choose a later "
                                           r"--at-seconds=3, by which every arm evaluated"):
        compare_runs([budgets], at_seconds=3)
    # 2e7 FLOPs: step 156 of the baseline's (2e7 / 128,000).
    with pytest.raises(CompareError, match=r"a_s0: stopped at step 40, before step 156 \(2e7 FLOPs\).*choose an "
                                           r"earlier --at-flops=2e7 that every arm reached"):
        compare_runs([budgets], at_flops=2e7)
    for budget, message in (({"at_flops": 1e6, "at_seconds": 10}, "--at-flops and --at-seconds both given: pass one"),
                            ({"at_step": 10, "at_tokens": 1, "at_flops": 1.0}, "--at-step, --at-tokens and "
                                                                               "--at-flops both given"),
                            ({"at_seconds": -5.0}, "--at-seconds=-5 must be a positive number"),
                            ({"at_flops": float("inf")}, "--at-flops=inf must be a positive number")):
        with pytest.raises(CompareError, match=message):
            compare_runs([budgets], **budget)


def test_one_seed_per_arm_gives_no_interval_and_says_so(tmp_path, capsys):
    make_arm(tmp_path, "a", [1.5])
    make_arm(tmp_path, "b", [1.4], "model.norm=rmsnorm")
    c = main([str(tmp_path)])
    out = capsys.readouterr().out
    assert c.arms[1].difference.test is None and c.arms[1].verdict == stats.UNDECIDED
    md = (tmp_path / "comparison.md").read_text()
    assert "| 1.5000 (n=1) | baseline |" in md and "| -0.1000 (no CI) | - | none | undecided | - |" in md
    assert "1=  model.norm=rmsnorm    1  1.4000 (n=1)  -0.1000  -  undecided" in out  # no test: no rank between them
    prose = " ".join(out.split())  # the terminal's lines are wrapped at its width
    assert "one seed only" in prose and "no confidence interval or test is possible" in prose


def test_arms_are_named_by_the_overrides_that_differ_and_the_baseline_is_chosen_by_name(tmp_path, capsys):
    for arm, extra, finals in [("baseline", (), BASE), ("llama_tiny", ("model.norm=rmsnorm",), RMS)]:
        for seed, final in enumerate(finals):
            make_run(tmp_path / f"{arm}{seed}", seed, [(20, final)], *extra,
                     hydra_overrides=[f"experiment={arm}", f"seed={seed}", "train.max_steps=20", "hardware.threads=1"])
    c = main([str(tmp_path), "--baseline", "llama"])
    assert [a.name for a in c.arms] == ["experiment=llama_tiny", "experiment=baseline"]
    assert c.arms[1].verdict == stats.WORSE and c.arms[1].difference.delta > 0
    out = capsys.readouterr().out
    assert "| 1 | experiment=llama_tiny | 5 |" in (tmp_path / "comparison.md").read_text()
    assert "1  experiment=llama_tiny  5" in out
    assert "Δ = arm - baseline (experiment=llama_tiny)" in " ".join(out.split())
    with open(tmp_path / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["arm"] for r in rows] == ["experiment=llama_tiny", "experiment=baseline"]
    assert float(rows[1]["p"]) == pytest.approx(sps.ttest_rel(BASE, RMS).pvalue, rel=1e-9)
    assert rows[1]["seeds"] == "0;1;2;3;4" and rows[1]["verdict"] == "worse"
    png = (tmp_path / "comparison.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_no_detectable_difference_needs_a_narrow_interval(tmp_path):
    make_arm(tmp_path, "a", [1.500, 1.510, 1.520, 1.530])
    make_arm(tmp_path, "b", [1.501, 1.509, 1.521, 1.531], "model.norm=rmsnorm")
    tight = compare_runs([tmp_path], min_effect=0.01).arms[1]
    assert tight.verdict == stats.NO_DIFFERENCE and -0.01 < tight.difference.ci_low < tight.difference.ci_high < 0.01
    assert compare_runs([tmp_path], min_effect=0.0001).arms[1].verdict == stats.UNDECIDED


def test_time_to_target_is_a_metric(tmp_path):
    # wall_seconds = step in make_run: the first evaluation at or below 1.8 is the time.
    for seed, curve in enumerate([[(10, 2.0), (20, 1.7)], [(10, 1.9), (30, 1.8)], [(10, 1.75), (20, 1.5)]]):
        make_run(tmp_path / f"a{seed}", seed, curve)
    for seed, curve in enumerate([[(10, 1.75), (20, 1.5)], [(10, 1.79), (20, 1.6)], [(10, 2.1), (20, 1.9)]]):
        make_run(tmp_path / f"b{seed}", seed, curve, "model.norm=rmsnorm")
    c = compare_runs([tmp_path], metric="time_to_target", target=1.8)
    assert c.arms[0].observations == [20.0, 30.0, 10.0] and c.arms[1].observations == [10.0, 10.0]
    assert [e.why for e in c.arms[1].excluded] == ["never reached the target"]


def test_runs_from_different_git_commits_give_one_warning(tmp_path, capsys):
    a, b = "a" * 40, "b" * 40
    for job, (norm, seed, commit) in enumerate([("layernorm", 0, a), ("layernorm", 1, a), ("rmsnorm", 0, b),
                                                ("rmsnorm", 1, None)]):
        run = make_run(tmp_path / str(job), seed, [(20, 2.0 - job / 10)], f"model.norm={norm}")
        if commit:
            (run / "provenance.json").write_text(json.dumps({"git": {"commit": commit, "dirty": False}}))
    c = main([str(tmp_path)])
    mixed = [w for w in c.warnings if "git commits" in w]
    assert mixed == [f"the runs come from 2 git commits: {a[:12]} (2 runs), {b[:12]} (1 run). Differences may "
                     f"come from code changes, not only from the config: rerun the arms on one commit to "
                     f"compare like with like."]
    assert capsys.readouterr().err.count("git commits") == 1
    assert "git commits" in (tmp_path / "comparison.md").read_text()


def test_arms_take_the_mean_not_the_median_and_rank_by_the_metric_chosen(tmp_path):
    # final 1.0, 1.1, 1.9 -> mean 1.3333 (median 1.1); final 1.2, 1.2; final 1.5, 1.5 but best 0.5.
    make_arm(tmp_path, "a", [1.0, 1.1, 1.9])
    make_arm(tmp_path, "b", [1.2, 1.2], "model.norm=rmsnorm")
    for seed in range(2):
        make_run(tmp_path / f"c{seed}", seed, [(10, 0.5), (20, 1.5)], "model.pos=rope")
    c = compare_runs([tmp_path])
    assert c.arms[0].estimate.mean == pytest.approx(4.0 / 3, abs=1e-12)
    # The final loss, not c's best evaluation (0.5): the metric chosen is the one judged.
    assert [a.estimate.mean for a in c.arms] == pytest.approx([4.0 / 3, 1.2, 1.5])
    # a's spread ties it with b and with c, so the three share rank 1 (test_compare_report.py tests the ranks).
    assert [a.rank for a in c.arms] == [1, 1, 1]
    best = compare_runs([tmp_path], metric="val/loss_best")
    assert [a.estimate.mean for a in best.arms] == pytest.approx([4.0 / 3, 1.2, 0.5])


def _data(content: str, corpus: str) -> dict:
    """provenance.json's data record of a run on `corpus` whose content digest is `content`."""
    return {"corpus": corpus, "content": content * 20, "tokenizer": "char (65 characters)"}


def test_corpora_are_arms_by_what_they_are_not_by_where_they_are_read_from(tmp_path, capsys):
    # data.path is a machine setting (where a run reads its data): two corpora with the same seeds differ only
    # there, and in the content each run records. Corpus a was moved for seeds 2 and 3: still one arm.
    for seed, (a, b) in enumerate(zip(BASE[:4], RMS[:4])):
        where = "/data" if seed < 2 else "/mnt/moved"
        make_run(tmp_path / f"a{seed}", seed, [(20, a)], f"data.path={where}/a.txt", data=_data("a", f"{where}/a.txt"))
        make_run(tmp_path / f"b{seed}", seed, [(20, b)], "data.path=/data/b.txt", data=_data("b", "/data/b.txt"))
    c = main([str(tmp_path)])
    assert [a.name for a in c.arms] == ["data content=aaaaaaaa (a.txt, char (65 characters))",
                                        "data content=bbbbbbbb (b.txt, char (65 characters))"]
    assert [a.n for a in c.arms] == [4, 4] and c.arms[0].observations == BASE[:4] and not c.excluded
    assert c.keys == ["data content"] and "data content=bbbbbbbb" in capsys.readouterr().out
    with open(tmp_path / "comparison.csv") as f:
        assert [r["data content"] for r in csv.DictReader(f)] == [a.name.split("=", 1)[1] for a in c.arms]


def test_runs_that_do_not_record_their_data_are_grouped_as_before_with_a_warning(tmp_path):
    for seed, (a, b) in enumerate(zip(BASE[:2], RMS[:2])):
        make_run(tmp_path / f"a{seed}", seed, [(20, a)], "data.path=/data/a.txt")
        make_run(tmp_path / f"b{seed}", seed, [(20, b)], "data.path=/data/b.txt", data=_data("b", "/data/b.txt"))
    c = compare_runs([tmp_path])
    assert len(c.arms) == 1 and c.arms[0].n == 2 and len(c.excluded) == 2
    [said] = [w for w in c.warnings if "do not record what their data is" in w]
    assert said.startswith(f"data.path differ between runs of one arm, and 2 of them ({tmp_path / 'a0'}, "
                           f"{tmp_path / 'a1'}) do not record")
