"""tinyx.tools.bench: the figures it prints and writes, on 3-step runs (its speed figures live in the README, not here)."""

import json
import math

import pytest
from helpers import CORPUS, MICRO, SHARED

from tinyx.tools import bench

SHORT = ["--steps", "3", "--warmup", "1"]
YARDSTICK = SHARED / "bench" / "reference_gpt.py"


@pytest.mark.slow
def test_bench_against_the_yardstick_prints_and_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = bench.main(SHORT + ["--reference", str(YARDSTICK), "--repeats", "2", "--out", str(out), "--", *MICRO])
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["median_ratio"] == result["median_ratio"]
    assert len(written["rounds"]) == 2
    for row in written["rounds"]:
        assert row["step_ms_median"] > 0
        assert math.isclose(row["tokens_per_second"], row["tokens_per_step"] / row["step_ms_median"] * 1e3)
        assert row["tokens_per_step"] == 4 * 32  # MICRO: batch 4, context 32
        assert 0 < row["mfu_median"] < 1
        assert row["peak_memory_mb"] > 50 and row["peak_memory_kind"] == "process peak RSS"
        assert row["reference_tokens_per_second"] > 0
        assert math.isclose(row["ratio"], row["tokens_per_second"] / row["reference_tokens_per_second"])
    for key in ("median_tokens_per_second", "median_step_ms_median", "median_mfu_median", "median_peak_memory_mb",
                "median_reference_tokens_per_second", "median_ratio", "torch", "threads", "date"):
        assert key in written, key
    lines = [line for line in printed.splitlines() if line.startswith("round ")]
    assert len(lines) == 2 and all("tokens/s" in line and "| yardstick" in line and "| ratio" in line for line in lines)
    assert f"-> {out}" in printed.splitlines()[-1]


def test_bench_compares_experiments_in_a_table(tmp_path, capsys):
    out = tmp_path / "experiments.json"
    # debug=micro's settings but its model: the experiments choose theirs.
    micro_data = ["hardware=cpu", f"data.path={CORPUS}", "logger=none", "logger.progress_bar=false",
                  "train.batch_size=4", "train.eval_batches=2", "train.sample_tokens=16", "optim.warmup_steps=5"]
    result = bench.main(SHORT + ["--experiments", "baseline,muon_tiny", "--out", str(out), "--", *micro_data])
    table = capsys.readouterr().out.splitlines()
    rows = {r["experiment"]: r for r in json.loads(out.read_text())["experiments"]}
    assert rows.keys() == {"baseline", "muon_tiny"} and result["experiments"][0]["experiment"] == "baseline"
    assert rows["baseline"]["relative_to_baseline"] == 1.0
    assert math.isclose(rows["muon_tiny"]["step_time_ratio"], 1 / rows["muon_tiny"]["relative_to_baseline"])
    assert rows["baseline"]["params"] == rows["muon_tiny"]["params"] == 804_096
    assert any(line.startswith("| muon_tiny | 804,096 |") for line in table)


def test_peak_memory_is_read_on_the_runs_own_gpu(monkeypatch):
    import torch

    read = []
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: read.append(device) or 3 * 2**20)
    assert bench._peak_memory_mb(torch.device("cuda", 1)) == 3.0
    assert read == [torch.device("cuda", 1)]  # not device=None, which reads the current GPU: 0
    assert bench._peak_memory_mb(torch.device("cpu")) > 0  # the process's peak RSS
