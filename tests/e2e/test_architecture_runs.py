"""Every ablation switch of the model trains end to end (the switches' shapes and numerics: tests/unit/test_architecture.py)."""

import math

import pytest
from helpers import micro_config

from tinyx.rundir.contract import read_jsonl
from tinyx.training import train


@pytest.mark.parametrize("switch", [
    "model.norm=rmsnorm", "model.pos=rope", "model.pos=none", "model.mlp=swiglu", "model.mlp=relu2",
    "model.n_kv_head=1", "model.qk_norm=true", "model.attn_sink=logit", "model.attn_sink=token",
    "model.tie_embeddings=false", "model.zero_init_proj=true", "model.bias=true",
])
def test_every_switch_trains(tmp_path, switch):
    summary = train(micro_config(switch, "train.max_steps=30", "train.eval_every=30", "train.log_every=5",
                                 "train.ckpt_every=30", "train.sample_tokens=0", "optim.lr=3e-3"), tmp_path, quiet=True)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert losses[-1] < losses[0] - 0.4, (switch, losses)
    assert summary.val_loss < math.log(65)  # better than uniform over the 65 characters
    if "attn_sink" in switch:
        val = [r for r in rows if "val/loss" in r][-1]
        assert 0.0 < val["attn/sink_mass/0"] < 1.0 and 0.0 < val["attn/sink_mass/1"] < 1.0
