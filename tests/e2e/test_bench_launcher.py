"""scripts/bench_launcher.py at a tiny size: it runs, prints its figures, and checks the losses it promises."""

from __future__ import annotations

import json

import pytest
from helpers import MICRO, run_cli


@pytest.mark.slow
def test_the_launcher_benchmark_reports_the_ratio_and_identical_losses(tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("scripts/bench_launcher.py", "--jobs", "2", "--steps", "10", "--out", str(out), *MICRO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["sequential_s"] > 0 and figures["parallel_s"] > 0
    assert figures["speedup"] == pytest.approx(figures["sequential_s"] / figures["parallel_s"])
    assert [job["identical"] for job in figures["per_job"]] == [True, True]
    assert set(figures["per_job"][0]["val_loss"]) == {"sequential", "parallel", "alone"}
    assert f"speed-up: {figures['speedup']:.2f}x" in result.stdout
