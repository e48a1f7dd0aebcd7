"""scripts/bench_launcher.py at a tiny size: every configuration runs; the ratios and threads it promises."""

from __future__ import annotations

import json
import os

import pytest
from helpers import MICRO, run_cli


@pytest.mark.slow
def test_the_launcher_benchmark_reports_each_configuration_against_hydras_default(tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("scripts/bench_launcher.py", "--jobs", "2", "--steps", "10", "--rounds", "2",
                     "--max-jobs", "default,1", "--out", str(out), *MICRO, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    configs = json.loads(out.read_text())["configurations"]
    assert list(configs) == ["basic", "parallel default", "parallel max_jobs=1"]
    basic = configs["basic"]["median_s"]
    for name, c in configs.items():
        assert len(c["wall_s"]) == 2 and c["reproducible"], name
        assert c["speed_vs_basic"] == pytest.approx(basic / c["median_s"])
        assert f"{name:<22} median {c['median_s']:7.1f} s  {c['speed_vs_basic']:.2f}x basic" in result.stdout
    assert configs["basic"]["threads"] == [0, 0]  # torch's default, as a user runs without the launcher
    assert configs["parallel default"]["threads"] == [1, 1]  # the CPU default: one single-thread job per core
    assert configs["parallel max_jobs=1"]["threads"] == [os.cpu_count()] * 2


def test_a_bad_max_jobs_list_is_one_line():
    result = run_cli("scripts/bench_launcher.py", "--max-jobs", "default,0")
    assert result.returncode != 0
    assert result.stderr.strip() == ("error: --max-jobs 'default,0': '0' is not `default` or a whole number >= 1 "
                                     "(e.g. --max-jobs default,1,2,4).")
