"""What compare shows, on hand-made run directories: the terminal table within its width (comparison.md keeps
every column), ranks shared where a difference is not significant, the metrics beyond the loss (attention sink
mass), the Δ-vs-baseline figure, the warning against untuned learning rates."""

import csv
import json

import pytest
from rundirs import make_run

from tinyx.compare import compare_runs, main, stats
from tinyx.compare.judging import against_baseline
from tinyx.compare.plots import delta_rows
from tinyx.compare.report import REPORT_FILES
from tinyx.compare.tuning import TUNING_FILE

BASE = [1.50, 1.53, 1.49, 1.55, 1.52]
BETTER = [1.40, 1.44, 1.38, 1.46, 1.41]  # every seed about 0.1 lower: significant against any arm near BASE
SAME = [1.505, 1.525, 1.495, 1.545, 1.525]  # within seed noise of BASE
# Six arms whose names (the keys that differ) are far wider than a terminal's line.
SIX = [(), ("model.norm=rmsnorm",), ("model.pos=rope",), ("model.attn_sink=logit",), ("model.mlp=swiglu",),
       ("model.norm=rmsnorm", "model.pos=rope")]


def make_arm(root, name, finals, *overrides, seeds=None):
    for seed, final in zip(seeds or range(len(finals)), finals):
        make_run(root / f"{name}_s{seed}", seed, [(10, final + 0.5), (20, final)], *overrides)


def log_extra(run_dir, per_step):
    """Add per-layer metrics to a run's evaluation rows: per_step = {step: {key: value}}."""
    path = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, **per_step.get(r["step"], {})}) + "\n" for r in rows))


def test_the_terminal_table_fits_80_columns_and_the_markdown_keeps_every_column(tmp_path, capsys, monkeypatch):
    for i, overrides in enumerate(SIX):
        make_arm(tmp_path, f"arm{i}", [v - 0.01 * i for v in BASE], *overrides)
    monkeypatch.setenv("COLUMNS", "80")
    c = main([str(tmp_path)])
    out = capsys.readouterr().out
    table_and_notes = out.split("\nwrote ")[0].splitlines()
    assert max(len(line) for line in table_and_notes) <= 80
    assert table_and_notes[0].split()[:12] == ["#", "arm", "n", "mean", "±", "CI", "Δ", "±", "CI", "p", "(Holm)",
                                               "verdict"]
    # Arms by letter, each named in full in the legend.
    assert [line.split()[1] for line in table_and_notes[1:7]] == list("ABCDEF")
    for letter, arm in zip("ABCDEF", c.arms):
        assert f"{letter} {arm.name}" in " ".join(out.split()) and len(arm.name) > 40
    md = (tmp_path / "comparison.md").read_text().splitlines()
    assert md[0].count("|") == 12 and "| tokens/s | params |" in md[0]
    assert [row.split(" | ")[1] for row in md[2:8]] == [a.name for a in c.arms]

    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: names in full, and the columns that fit
    main([str(tmp_path)])
    wide = capsys.readouterr().out.splitlines()
    assert wide[0].split()[-3:] == ["test", "tokens/s", "params"] and c.arms[1].name in wide[2]


def test_ranks_are_shared_by_arms_whose_difference_is_not_significant(tmp_path, capsys, monkeypatch):
    make_arm(tmp_path, "a", BASE)
    make_arm(tmp_path, "b", SAME, "model.norm=rmsnorm")
    make_arm(tmp_path, "c", BETTER, "model.pos=rope")
    monkeypatch.setenv("COLUMNS", "80")
    c = main([str(tmp_path)])
    assert [a.rank for a in c.arms] == [2, 2, 1]
    assert "| 2= | model.norm=layernorm model.pos=learned |" in (tmp_path / "comparison.md").read_text()
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:4]] == ["2=", "2=", "1"]
    # The rule: arms with different ranks differ significantly (Holm over all pairs); arms of one rank do not here.
    pairs = [(x, y) for i, x in enumerate(c.arms) for y in c.arms[i + 1:]]
    adjusted = stats.holm([against_baseline(x, y, c.alpha).p for x, y in pairs])
    assert [(x.rank != y.rank, p < c.alpha) for (x, y), p in zip(pairs, adjusted)] == [
        (False, False), (True, True), (True, True)]


def test_a_chain_of_non_significant_differences_shares_one_rank(tmp_path):
    # b is told apart from neither a nor c, so a, b and c cannot be ranked apart although a and c differ.
    make_arm(tmp_path, "a", BASE)
    make_arm(tmp_path, "b", [v - 0.05 + (0.06 if i % 2 else -0.06) for i, v in enumerate(BASE)], "model.norm=rmsnorm")
    make_arm(tmp_path, "c", BETTER, "model.pos=rope")
    a, b, c = compare_runs([tmp_path]).arms
    assert c.verdict == stats.BETTER and b.verdict == stats.UNDECIDED
    assert (a.rank, b.rank, c.rank) == (1, 1, 1)


def test_the_attention_sink_mass_is_a_column_mean_over_layers_and_seeds(tmp_path, capsys, monkeypatch):
    make_arm(tmp_path, "a", BASE[:3])
    make_arm(tmp_path, "b", SAME[:3], "model.attn_sink=logit")
    for seed in range(3):  # layers 0 and 1 at steps 10 and 20: the mean over layers at the last evaluation
        log_extra(tmp_path / f"b_s{seed}", {10: {"attn/sink_mass/0": 0.5, "attn/sink_mass/1": 0.7},
                                            20: {"attn/sink_mass/0": 0.1 * seed, "attn/sink_mass/1": 0.2}})
    monkeypatch.setenv("COLUMNS", "80")
    c = main([str(tmp_path)])
    assert c.extra_names == ["attn/sink_mass/*"]
    assert c.arms[0].extras == {} and c.arms[1].extras["attn/sink_mass/*"] == pytest.approx(0.15)
    md = (tmp_path / "comparison.md").read_text()
    assert "| seeds needed | attn/sink_mass/* | tokens/s |" in md
    assert "| - | - | - | - | - | 1,000 |" in md and "| 0.1500 | 1,000 |" in md
    with open(tmp_path / "comparison.csv") as f:
        assert [r["attn/sink_mass/*_mean"] for r in csv.DictReader(f)] == ["", "0.15000000000000002"]
    header, baseline, variant = capsys.readouterr().out.splitlines()[:3]  # in the terminal too, at 80 columns
    assert header.split()[-1] == "sink_mass/*" and (baseline.split()[-1], variant.split()[-1]) == ("-", "0.1500")
    # --at-step judges at an earlier evaluation: its sink mass too.
    assert compare_runs([tmp_path], at_step=10).arms[1].extras == {"attn/sink_mass/*": pytest.approx(0.6)}


def test_the_delta_plot_has_each_seeds_difference_paired_or_from_the_baseline_mean(tmp_path):
    make_arm(tmp_path, "a", BASE)
    make_arm(tmp_path, "b", BETTER, "model.norm=rmsnorm")  # the same seeds: paired
    make_arm(tmp_path, "c", SAME[:3], "model.pos=rope", seeds=[7, 8, 9])  # other seeds: Welch
    c = main([str(tmp_path)])
    (b_name, b_delta, b_low, b_high, b_seeds), (_, _, _, _, c_seeds) = delta_rows(c)
    assert b_name == c.arms[1].name and b_seeds == pytest.approx([v - w for v, w in zip(BETTER, BASE)])
    assert (b_delta, b_low, b_high) == (c.arms[1].difference.delta, c.arms[1].difference.ci_low,
                                        c.arms[1].difference.ci_high)
    assert c_seeds == pytest.approx([v - sum(BASE) / 5 for v in SAME[:3]])
    png = (tmp_path / REPORT_FILES[3]).read_bytes()
    assert REPORT_FILES[3] == "comparison_delta.png" and png.startswith(b"\x89PNG") and len(png) > 10_000


def _tuning_warnings(c):
    return [w for w in c.warnings if "learning rates, untuned" in w]


def test_arms_that_differ_in_the_optimizer_untuned_get_one_warning(tmp_path, capsys):
    make_arm(tmp_path, "a", BASE[:3], "optim.name=adamw")
    make_arm(tmp_path, "b", SAME[:3], "optim.name=muon")
    main([str(tmp_path)])
    said = [line for line in capsys.readouterr().err.splitlines() if "untuned" in line]
    assert said == ["warning: the arms differ in optim.name (adamw, muon) and ran at their configs' learning rates, "
                    "untuned: an untuned baseline flatters the variant; tune each arm: uv run tinyx ablate "
                    "optim.name=adamw optim.name=muon --tune optim.lr (docs/optimizers.md)"]
    # A tuning record of optim.lr above the runs, naming the arms: tuned, no warning.
    (tmp_path / TUNING_FILE).write_text(json.dumps({"key": "optim.lr", "arms": {
        "optim.name=adamw": {"chosen": 0.003}, "optim.name=muon": {"chosen": 0.01}}}))
    assert _tuning_warnings(compare_runs([tmp_path])) == []
    (tmp_path / TUNING_FILE).write_text(json.dumps({"key": "optim.weight_decay", "arms": {}}))
    assert len(_tuning_warnings(compare_runs([tmp_path]))) == 1  # a record of another key does not count


def test_a_learning_rate_sweep_needs_no_warning_and_a_batch_size_does(tmp_path):
    for name, overrides in [("a", ("optim.name=adamw", "optim.lr=0.001")),
                            ("b", ("optim.name=adamw", "optim.lr=0.003")),
                            ("c", ("optim.name=muon", "optim.lr=0.01")), ("d", ("optim.name=muon", "optim.lr=0.02"))]:
        make_arm(tmp_path / "sweep", name, BASE[:2], *overrides)
    assert _tuning_warnings(compare_runs([tmp_path / "sweep"])) == []
    make_arm(tmp_path / "lr", "a", BASE[:2], "optim.lr=0.001")
    make_arm(tmp_path / "lr", "b", BASE[:2], "optim.lr=0.003")
    assert _tuning_warnings(compare_runs([tmp_path / "lr"])) == []
    make_arm(tmp_path / "batch", "a", BASE[:2])
    make_arm(tmp_path / "batch", "b", SAME[:2], "train.batch_size=8")
    [said] = _tuning_warnings(compare_runs([tmp_path / "batch"]))
    assert said.startswith("the arms differ in train.batch_size (4, 8) and ran at their configs' learning rates")
