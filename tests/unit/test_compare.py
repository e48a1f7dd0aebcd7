"""tinyx.compare: the grouped table an ablation is judged by, on run directories with known metrics."""

import csv
import json
from dataclasses import asdict

import pytest
from helpers import MICRO, compose
from omegaconf import OmegaConf

from tinyx.compare import compare_runs, main

# lr -> per seed: (final val loss, best val loss, tokens/s, wall seconds). Groups by lr:
#   lr=0.001: final 2.0, 2.2, 2.4 -> 2.2 ± 0.2          (separated from the others)
#   lr=0.003: final 1.5, 1.6, 1.7 -> 1.6 ± 0.1          (best; overlaps lr=0.002)
#   lr=0.002: final 1.65, 1.75    -> 1.7 ± 0.0707...    (its second seed never wrote summary.json)
KNOWN = {
    0.001: [(2.0, 1.9, 1000.0, 10.0), (2.2, 2.1, 1100.0, 12.0), (2.4, 2.3, 1200.0, 14.0)],
    0.003: [(1.5, 1.5, 900.0, 20.0), (1.6, 1.6, 950.0, 22.0), (1.7, 1.7, 1000.0, 24.0)],
    0.002: [(1.65, 1.65, 800.0, 30.0), (1.75, 1.75, 800.0, None)],
}


def write_run(run_dir, lr, seed, final, best, tokens_per_second, wall_seconds, corrupt_line=False):
    """A well-formed run directory as train.py leaves it (config composed by Hydra), with chosen figures."""
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save(compose(MICRO + [f"optim.lr={lr}", f"seed={seed}"]), run_dir / ".hydra" / "config.yaml")
    rows = [{"step": 10, "train/loss": 3.0, "tokens_per_second": tokens_per_second},
            {"step": 10, "val/loss": final + 0.3, "val/ppl": 1.0},
            {"step": 20, "train/loss": 2.5, "tokens_per_second": tokens_per_second},
            {"step": 20, "val/loss": final, "val/ppl": 1.0}]
    lines = [json.dumps(r) for r in rows]
    if corrupt_line:
        lines.insert(2, '{"step": 15, "train/lo')  # a line cut short
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if wall_seconds is not None:
        (run_dir / "summary.json").write_text(json.dumps({
            "status": "completed", "step": 20, "val/loss": final, "val/loss_best": best, "params": 27840,
            "tokens_per_second": tokens_per_second, "wall_seconds": wall_seconds}))


@pytest.fixture
def known_runs(tmp_path):
    sweep = tmp_path / "sweep"
    job = 0
    for lr, seeds in KNOWN.items():
        for seed, figures in enumerate(seeds):
            write_run(sweep / str(job), lr, seed, *figures, corrupt_line=(lr == 0.001 and seed == 1))
            job += 1
    return sweep


def test_groups_seeds_and_reports_mean_std_best_and_noise(known_runs, capsys):
    comparison = main([str(known_runs)])
    out, err = capsys.readouterr()

    assert comparison.keys == ["optim.lr"]  # seed differs too, but it is what groups are made of
    best, middle, worst = comparison.groups
    assert [g.values["optim.lr"] for g in comparison.groups] == [0.003, 0.002, 0.001]
    assert [g.n for g in comparison.groups] == [3, 2, 3]
    assert best.is_best and best.rank == 1
    assert best.final_val_loss.mean == pytest.approx(1.6) and best.final_val_loss.std == pytest.approx(0.1)
    assert middle.final_val_loss.mean == pytest.approx(1.7) and middle.final_val_loss.std == pytest.approx(0.1 / 2 ** 0.5)
    assert worst.final_val_loss.mean == pytest.approx(2.2) and worst.final_val_loss.std == pytest.approx(0.2)
    assert worst.best_val_loss.mean == pytest.approx(2.1) and worst.best_val_loss.std == pytest.approx(0.2)
    assert worst.tokens_per_second.mean == pytest.approx(1100) and worst.tokens_per_second.std == pytest.approx(100)
    assert worst.wall_seconds.mean == pytest.approx(12) and worst.wall_seconds.std == pytest.approx(2)
    assert worst.params.mean == 27840
    # The run without summary.json: final and best from metrics.jsonl, tokens/s its median, no wall time.
    assert middle.best_val_loss.mean == pytest.approx(1.7) and middle.wall_seconds.mean == pytest.approx(30)
    assert (best.overlaps, middle.overlaps, worst.overlaps) == ([2], [1], [])

    assert ("| 1 best | 0.003 | 3 | 1.6000 ± 0.1000 | 1.6000 ± 0.1000 | 950 ± 50 | 27,840 | 22.0 ± 2.0 "
            "| overlaps #2 |") in out
    assert ("| 3 | 0.001 | 3 | 2.2000 ± 0.2000 | 2.1000 ± 0.2000 | 1,100 ± 100 | 27,840 | 12.0 ± 2.0 "
            "| separated |") in out
    assert "within seed noise of #2" in out
    assert f"{known_runs / '1' / 'metrics.jsonl'} line 3 is not a JSON object" in err
    assert f"{known_runs / '7'} has no summary.json" in err

    with open(known_runs / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["optim.lr"] for r in rows] == ["0.003", "0.002", "0.001"]
    assert [r["best"] for r in rows] == ["True", "False", "False"]
    assert float(rows[2]["val_loss_mean"]) == pytest.approx(2.2) and float(rows[2]["val_loss_std"]) == pytest.approx(0.2)
    assert rows[0]["overlaps_with_ranks"] == "2" and rows[2]["overlaps_with_ranks"] == ""
    assert len(rows[0]["runs"].split(";")) == 3
    assert (known_runs / "comparison.md").read_text().startswith("| rank | optim.lr | n |")
    png = (known_runs / "comparison.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_globs_and_out_dir(known_runs, tmp_path):
    comparison = compare_runs([str(known_runs / "[0-2]")])  # the lr=0.001 seeds only
    assert comparison.keys == [] and len(comparison.groups) == 1 and comparison.groups[0].n == 3
    main([str(known_runs / "[0-2]"), str(known_runs / "3"), "--out", str(tmp_path / "report")])
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["comparison.csv", "comparison.md",
                                                                      "comparison.png"]


def test_real_multirun(tracked_multirun, tmp_path, capsys):
    sweep, _ = tracked_multirun
    comparison = main([str(sweep), "--out", str(tmp_path)])
    assert comparison.keys == ["optim.lr"]
    finals = {g.values["optim.lr"]: g.final_val_loss.mean for g in comparison.groups}
    for job, lr in [("0", 0.001), ("1", 0.003)]:
        assert finals[lr] == json.loads((sweep / job / "summary.json").read_text())["val/loss"]
    assert comparison.groups[0].final_val_loss.mean < comparison.groups[1].final_val_loss.mean
    assert "n=1, no interval" in capsys.readouterr().out


def test_time_to_target(tmp_path, capsys):
    # Per run: (val/loss, wall_seconds) at each evaluation; target 1.8.
    curves = {(0.001, 0): [(2.0, 5.0), (1.7, 9.0)], (0.001, 1): [(1.9, 6.0), (1.8, 11.0)],
              (0.003, 0): [(1.75, 4.0), (1.5, 8.0)], (0.003, 1): [(2.1, 4.5), (1.9, 8.5)]}
    for job, ((lr, seed), curve) in enumerate(curves.items()):
        run = tmp_path / str(job)
        (run / ".hydra").mkdir(parents=True)
        OmegaConf.save(compose(MICRO + [f"optim.lr={lr}", f"seed={seed}"]), run / ".hydra" / "config.yaml")
        rows = [{"step": 10 * (i + 1), "val/loss": v, "wall_seconds": w} for i, (v, w) in enumerate(curve)]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    comparison = main([str(tmp_path), "--target", "1.8"])
    by_lr = {g.values["optim.lr"]: g for g in comparison.groups}
    assert by_lr[0.001].reached_target == 2 and by_lr[0.001].seconds_to_target.mean == pytest.approx(10.0)
    assert by_lr[0.003].reached_target == 1 and by_lr[0.003].seconds_to_target.mean == pytest.approx(4.0)
    out = capsys.readouterr().out
    assert "s to val <= 1.8 (reached)" in out and "| 10.0 ± 1.4 (2/2) |" in out and "| 4.0 (1/2) |" in out


def write_python_run(run_dir, lr, seed, final, commit=None):
    """A run started from Python (train(cfg, run_dir)), written by hand: config.json and no .hydra/."""
    from tinyx.config import to_run_config

    run_dir.mkdir(parents=True)
    config = asdict(to_run_config(compose(MICRO + [f"optim.lr={lr}", f"seed={seed}"])))
    (run_dir / "config.json").write_text(json.dumps(config))
    rows = [{"step": 10, "val/loss": final + 0.3}, {"step": 20, "val/loss": final, "tokens_per_second": 500.0}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "summary.json").write_text(json.dumps({
        "status": "completed", "step": 20, "val/loss": final, "val/loss_best": final, "params": 27840,
        "tokens_per_second": 500.0, "wall_seconds": 5.0}))
    if commit is not None:
        (run_dir / "provenance.json").write_text(json.dumps({"git": {"commit": commit, "dirty": False}}))
    return run_dir


def test_run_started_from_python_has_config_json_and_no_hydra(tmp_path, capsys):
    runs = [write_python_run(tmp_path / "runs" / f"lr{lr}_s{seed}", lr, seed, final)
            for lr, seed, final in [(0.001, 0, 2.0), (0.001, 1, 2.2), (0.003, 0, 1.5)]]
    assert not any((r / ".hydra").exists() for r in runs)
    comparison = main([str(tmp_path / "runs")])
    assert comparison.keys == ["optim.lr"]
    assert [(g.values["optim.lr"], g.n) for g in comparison.groups] == [(0.003, 1), (0.001, 2)]
    assert comparison.groups[1].final_val_loss.mean == pytest.approx(2.1)
    assert comparison.groups[0].params.mean == 27840 and comparison.groups[0].wall_seconds.mean == 5.0
    assert comparison.warnings == []
    assert "| 1 best | 0.003 | 1 | 1.5000 |" in capsys.readouterr().out


def test_runs_with_config_json_and_hydra_runs_compare_together(known_runs, tmp_path):
    write_python_run(known_runs / "from_python", 0.003, 7, 1.55)
    comparison = compare_runs([str(known_runs)])
    assert {g.values["optim.lr"]: g.n for g in comparison.groups} == {0.003: 4, 0.002: 2, 0.001: 3}


def test_runs_from_different_git_commits_give_one_warning(tmp_path, capsys):
    a, b = "a" * 40, "b" * 40
    for job, (lr, seed, commit) in enumerate([(0.001, 0, a), (0.001, 1, a), (0.003, 0, b), (0.003, 1, None)]):
        write_python_run(tmp_path / str(job), lr, seed, 2.0 - job / 10, commit=commit)
    comparison = main([str(tmp_path)])
    err = capsys.readouterr().err
    mixed = [w for w in comparison.warnings if "git commits" in w]
    # The run without provenance.json is not counted.
    assert mixed == [f"the runs come from 2 git commits: {a[:12]} (2 runs), {b[:12]} (1 run). Differences may "
                     f"come from code changes, not only from the config: rerun the groups on one commit to "
                     f"compare like with like."]
    assert err.count("git commits") == 1
    assert "git commits" in (tmp_path / "comparison.md").read_text()


def test_runs_from_one_commit_or_without_provenance_give_no_warning(tmp_path):
    for job, commit in enumerate(["c" * 40, "c" * 40, None]):
        write_python_run(tmp_path / str(job), 0.001 * (job + 1), 0, 2.0, commit=commit)
    (tmp_path / "2" / "provenance.json").write_text("not json")  # unreadable provenance: ignored too
    assert compare_runs([str(tmp_path)]).warnings == []


def test_groups_take_the_mean_not_the_median_and_rank_by_final_not_best_loss(tmp_path):
    # Per run: (lr, seed, final val loss, best val loss).
    #   lr=0.001: final 1.0, 1.1, 1.9 -> mean 1.3333 (median 1.1): asymmetric
    #   lr=0.002: final 1.2, 1.2      -> mean 1.2  (best 1.2)
    #   lr=0.003: final 1.5, 1.5      -> mean 1.5, but best 0.5: it overfit after its best evaluation
    # By mean final loss: 0.002, 0.001, 0.003. By median: 0.001 first. By best loss: 0.003 first.
    runs = [(0.001, 0, 1.0, 1.0), (0.001, 1, 1.1, 1.1), (0.001, 2, 1.9, 1.9),
            (0.002, 0, 1.2, 1.2), (0.002, 1, 1.2, 1.2),
            (0.003, 0, 1.5, 0.5), (0.003, 1, 1.5, 0.5)]
    for job, (lr, seed, final, best) in enumerate(runs):
        run = write_python_run(tmp_path / str(job), lr, seed, final)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
            {"step": 10, "val/loss": best}, {"step": 20, "val/loss": final}]))
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "val/loss_best": best}))
    comparison = compare_runs([str(tmp_path)])
    assert [g.values["optim.lr"] for g in comparison.groups] == [0.002, 0.001, 0.003]
    assert [g.rank for g in comparison.groups] == [1, 2, 3]
    by_lr = {g.values["optim.lr"]: g for g in comparison.groups}
    assert by_lr[0.001].final_val_loss.mean == pytest.approx(4.0 / 3, abs=1e-12)
    assert by_lr[0.001].final_val_loss.std == pytest.approx(((1 / 3) ** 2 + (7 / 30) ** 2 + (17 / 30) ** 2) ** 0.5 / 2 ** 0.5)
    assert by_lr[0.003].best_val_loss.mean == pytest.approx(0.5) and by_lr[0.003].final_val_loss.mean == 1.5
    assert [r["optim.lr"] for r in comparison.table()] == [0.002, 0.001, 0.003]
