"""tinyx.tools.ablate's rounds in-process: `python -m tinyx.tools.ablate`'s main with train.py replaced by a table of final
losses written as run directories (what train.py leaves), so each look's seeds, level and verdict, the seeds
spent on a diverged run, and the report's figures are checked in a second. The real train.py rounds, killed
and rerun: tests/e2e/test_ablate_command.py."""

import subprocess
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sps

from tinyx.compare import stats
from tinyx.config import RunConfig
from tinyx.rundir.contract import RunSummary, write_config, write_summary
from tinyx.tools import ablate

ALPHA, LOOKS = 0.05, 3  # --max-seeds 6 in rounds of 2: looks at 2, 4 and 6 seeds, each at α/3
BASE = [3.00, 3.10, 2.95, 3.05, 3.02, 2.98]
# Better by ~0.0105 on every seed: on seeds 0-1 paired p = 0.030 (significant at α, not at α/3); on 0-3, p < α/3.
BETTER = [b + d for b, d in zip(BASE, [-0.010, -0.011, -0.0105, -0.0102, -0.0101, -0.0104])]
# No real difference, and seed 1 diverged: a spent seed, without a value, left out of the pairs.
NOISY = [b + d if d is not None else None for b, d in zip(BASE, [0.05, None, -0.04, 0.03, -0.06, 0.02])]
RUNS = {"experiment-baseline": BASE, "experiment-llama_tiny": BETTER, "experiment-sink_token": NOISY}


def write_run(run_dir: Path, seed: int, final: float | None, overrides: list[str] = ()) -> None:
    """What train.py leaves for one seed: its config and command line (each arm's config differs, as its
    experiment's would), an evaluation, a summary (diverged: no loss)."""
    run_dir.mkdir(parents=True)
    config = asdict(RunConfig())
    config["model"]["dropout"] = sum(map(ord, run_dir.parent.name)) / 1e5  # one value per arm
    write_config(run_dir, {**config, "seed": seed})
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if final is not None:
        (run_dir / "metrics.jsonl").write_text(f'{{"step": 10, "val/loss": {final}}}\n')
    write_summary(run_dir, RunSummary(status="completed" if final is not None else "diverged", step=10,
                                      val_loss=final, data_order=f"seed-{seed}"))


def fake_launch(asked, value_of):
    """The launcher's engine replaced by writing each run's directory: value_of(run_dir, seed, command) -> its loss."""

    def launch(commands, slots, on_start):
        asked.append(len(commands))  # the pool's size: how many runs went to the launcher at once
        for command, _label in commands:
            args = dict(a.split("=", 1) for a in command if a.startswith(("seed=", "hydra.run.dir=")))
            run_dir, seed = Path(args["hydra.run.dir"]), int(args["seed"])
            asked.append((run_dir.parent.name, seed))
            overrides = [a for a in command[2:] if "=" in a and not a.startswith(("hydra.", "logger."))]
            write_run(run_dir, seed, value_of(run_dir, seed, command), overrides)
        return [0] * len(commands)

    return launch


@pytest.fixture
def trains(monkeypatch):
    """train.py replaced by writing RUNS' seeds; per launch its size, then the (arm, seed) of each run, in order."""
    asked = []
    monkeypatch.setattr(ablate.pool, "launch", fake_launch(asked, lambda run_dir, seed, _: RUNS[run_dir.parent.name][seed]))
    return asked


def test_each_look_tests_at_alpha_over_the_planned_looks_and_decided_arms_stop(trains, tmp_path, capsys):
    verdicts = ablate.main(["baseline", "llama_tiny", "sink_token", "--round-seeds", "2", "--max-seeds", "6",
                            "--min-effect", "0.0001", "--out", str(tmp_path), "--", "debug=micro"])
    assert verdicts == {"experiment=llama_tiny": stats.BETTER, "experiment=sink_token": stats.UNDECIDED}
    out = capsys.readouterr().out
    assert "look 1/3 at 2 seeds: experiment=llama_tiny: undecided; experiment=sink_token: undecided\n" in out
    assert "look 2/3 at 4 seeds: experiment=llama_tiny: better; experiment=sink_token: undecided\n" in out
    assert "look 3/3 at 6 seeds: experiment=sink_token: undecided\n" in out
    # The decided arm ran no seed after its look; the baseline ran on for the undecided one.
    rounds = [(["experiment-baseline", "experiment-llama_tiny", "experiment-sink_token"], [0, 1]),
              (["experiment-baseline", "experiment-llama_tiny", "experiment-sink_token"], [2, 3]),
              (["experiment-baseline", "experiment-sink_token"], [4, 5])]
    # Each round is one launch of every arm's seeds: one pool keeps the slots busy to the round's last run.
    assert trains == [item for arms, seeds in rounds
                      for item in [len(arms) * len(seeds), *((arm, seed) for arm in arms for seed in seeds)]]

    report = (tmp_path / "ablation.md").read_text()
    paired = sps.ttest_rel(BETTER[:4], BASE[:4])
    ci = paired.confidence_interval(1 - ALPHA / LOOKS)
    assert (f"| experiment=llama_tiny | better | 4 | 4 seeds | {np.mean(BETTER[:4]) - np.mean(BASE[:4]):+.4f} | "
            f"[{ci.low:+.4f}, {ci.high:+.4f}] | {paired.pvalue:.4g} | paired t |") in report
    # sink_token: 6 seeds spent (5 completed, 1 diverged), paired over the 5 seeds both arms completed.
    done = [s for s in range(6) if NOISY[s] is not None]
    noisy = sps.ttest_rel([NOISY[s] for s in done], [BASE[s] for s in done])
    assert "| experiment=sink_token | undecided | 6 | 6 seeds (max) | " in report
    assert f"| {noisy.pvalue:.4g} | paired t |" in report
    assert "| experiment=baseline | baseline | 6 |" in report and "16 verdict runs in all" in report
    assert f"each look tests at α/3 = {ALPHA / LOOKS:.4g}" in report
    # The compare command it prints names the arms' folders and compare's own name of the baseline arm.
    assert (f"uv run tinyx compare {tmp_path}/experiment-baseline {tmp_path}/experiment-llama_tiny "
            f"{tmp_path}/experiment-sink_token --baseline experiment=baseline") in report


def test_no_detectable_difference_needs_the_interval_at_the_corrected_level():
    """The interval that decides "no detectable difference" is the (1 - α/looks) one, as the test's level."""
    a = [3.000, 3.010, 2.990, 3.005, 2.995]
    b = [3.002, 3.007, 2.993, 3.004, 2.998]
    at = {level: sps.ttest_rel(b, a).confidence_interval(1 - level) for level in (ALPHA, ALPHA / 5)}
    assert sps.ttest_rel(b, a).pvalue > ALPHA
    # A smallest difference that matters between the two intervals' reach: inside at α, not at α/5.
    reach = {level: max(-ci.low, ci.high) for level, ci in at.items()}
    min_effect = (reach[ALPHA] + reach[ALPHA / 5]) / 2
    assert ablate.decide(a, b, paired=True, looks=1, min_effect=min_effect).item() == stats.NO_DIFFERENCE
    assert ablate.decide(a, b, paired=True, looks=5, min_effect=min_effect).item() == stats.UNDECIDED
