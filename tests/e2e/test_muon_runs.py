"""Muon in real runs: training resumes exactly, with the fused and the split QKV; a resume says what changed."""

from helpers import micro_config

from tinyx.rundir.checkpoints import list_checkpoints
from tinyx.rundir.contract import read_jsonl
from tinyx.training import train


def test_muon_trains_and_resumes_exactly(tmp_path):
    settings = ["optim=muon", "train.max_steps=20", "train.ckpt_every=10", "train.eval_every=10",
                "train.keep_checkpoints=5", "optim.warmup_steps=2"]
    full = train(micro_config(*settings), tmp_path / "full", quiet=True)
    rows = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert losses[-1] < losses[0] - 0.3
    assert all("lr/adamw" in r for r in rows if "train/loss" in r)
    step10 = list_checkpoints(tmp_path / "full")[0]
    assert step10.name == "ckpt_000010.pt"
    resumed = train(micro_config(*settings, f"train.resume={step10}"), tmp_path / "resumed", quiet=True)
    assert read_jsonl(tmp_path / "resumed" / "metrics.jsonl") and resumed.val_loss == full.val_loss
    strip = lambda rs: [{k: v for k, v in r.items() if k in ("step", "train/loss", "val/loss", "grad_norm")}
                        for r in rs]
    assert strip(read_jsonl(tmp_path / "resumed" / "metrics.jsonl")) == strip(rows)


def test_split_qkv_trains_and_resumes_a_fused_run(tmp_path):
    """The split lives outside the optimizer's state: a run can switch either way at a resume."""
    train(micro_config("optim=muon", "train.max_steps=4", "train.ckpt_every=4", "train.eval_every=4",
                       "train.sample_tokens=0"), tmp_path, quiet=True)
    summary = train(micro_config("optim=muon", "optim.muon_split_qkv=true", "train.max_steps=8", "train.resume=auto",
                                 "train.ckpt_every=4", "train.eval_every=4", "train.sample_tokens=0"),
                    tmp_path, quiet=True)
    assert summary.status == "completed" and summary.step == 8 and summary.val_loss < 4.2


def test_a_resume_says_which_schedule_settings_changed(tmp_path, capsys):
    """A new train.max_steps stretches the learning-rate schedule at a resume: said, as a new optim.lr is
    (issue 25: the LR went from 1.97e-2 at step 270 to 8.25e-3 at step 280 without a word)."""
    settings = ["optim=muon", "train.ckpt_every=4", "train.eval_every=4", "train.sample_tokens=0"]
    train(micro_config(*settings, "train.max_steps=4"), tmp_path, quiet=True)
    capsys.readouterr()
    train(micro_config(*settings, "train.max_steps=8", "optim.lr=0.01", "train.resume=auto"), tmp_path)
    out = capsys.readouterr().out
    assert "optim.lr: 0.02 -> 0.01" in out and "train.max_steps: 4 -> 8" in out, out
    assert "learning-rate schedule they shape, apply from step 5" in out
