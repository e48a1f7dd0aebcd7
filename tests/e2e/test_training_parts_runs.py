"""torch.compile on CPU trains as eager mode does."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import micro_config

from tinyx.runtime import hardware


@pytest.mark.slow
def test_compile_on_cpu_trains_as_eager_does(tmp_path):
    blocker = hardware.compile_blocker()
    if blocker is not None:
        pytest.skip(f"torch.compile on CPU (inductor) needs a C compiler: {blocker}")
    from tinyx.rundir.contract import read_jsonl
    from tinyx.training import train

    settings = ["train.max_steps=4", "train.log_every=1", "train.eval_every=4", "train.sample_tokens=0",
                "hardware.threads=1"]
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train(micro_config(*settings, "hardware.compile=true"), tmp_path / "compiled", quiet=True)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it did compile
    eager = train(micro_config(*settings, "hardware.compile=false"), tmp_path / "eager", quiet=True)
    assert compiled.status == eager.status == "completed" and compiled.step == eager.step == 4
    rows = [read_jsonl(tmp_path / name / "metrics.jsonl") for name in ("compiled", "eager")]
    assert len(rows[0]) == len(rows[1])
    assert [r["step"] for r in rows[0] if "train/loss" in r] == [1, 2, 3, 4]
    for a, b in zip(*rows):
        for key in ("train/loss", "val/loss"):
            if key in a:
                assert math.isfinite(a[key]) and a[key] == pytest.approx(b[key], abs=1e-3), (a["step"], key)
