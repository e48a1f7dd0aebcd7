"""Real train.py processes interrupted while they tokenize (Ctrl-C, SIGKILL), and a run on a non-default
source (data=jsonl with the document-level split and EOT separators) killed and resumed exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import CORPUS, MICRO, ROOT

from tinyx.common import faults
from tinyx.config import DataConfig
from tinyx.data import load_tokens
from tinyx.rundir.contract import read_jsonl


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """About 24 MB of Tiny Shakespeare: long enough to tokenize (gpt2) for seconds with two workers."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    text = CORPUS.read_text()
    with open(path, "w") as f:
        for _ in range(22):
            f.write(text)
    return path


def _start_tokenizing(corpus: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *MICRO, f"data.path={corpus}", "data.tokenizer=tiktoken",
                             "data.workers=2", f"data.cache_dir={cache}", f"hydra.run.dir={cache.parent}/run"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_build(proc: subprocess.Popen, tokens: Path, timeout: float = 120) -> None:
    """Until the build's temporary folder holds some tokens (the process is mid-tokenization)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        building = list(tokens.glob(".building-*/train.bin")) if tokens.is_dir() else []
        if building and building[0].stat().st_size > (1 << 20):
            return
        time.sleep(0.05)
    pytest.fail("train.py never started writing its token cache")


@pytest.mark.slow
def test_ctrl_c_while_tokenizing_exits_130_and_leaves_no_cache(tmp_path, big_corpus):
    proc = _start_tokenizing(big_corpus, tmp_path / "cache")
    _wait_for_build(proc, tmp_path / "cache" / "tokens")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted while tokenizing" in err and "Traceback" not in err, err[-3000:]
    assert list((tmp_path / "cache" / "tokens").iterdir()) == []


@pytest.mark.slow
def test_killed_while_tokenizing_then_rerun_builds_a_whole_cache(tmp_path, big_corpus):
    proc = _start_tokenizing(big_corpus, tmp_path / "cache")
    _wait_for_build(proc, tmp_path / "cache" / "tokens")
    proc.kill()
    proc.communicate(timeout=60)  # EOF on its pipes: the workers (holding them too) ended with it
    tokens = tmp_path / "cache" / "tokens"
    # The build's folder (never taken for a cache) and its lock file (the kernel dropped the lock itself).
    assert sorted(p.name.split("-")[0] for p in tokens.iterdir()) == [".building", ".lock"]
    cfg = DataConfig(path=str(big_corpus), tokenizer="tiktoken", cache_dir=str(tmp_path / "cache"))
    data = load_tokens(cfg)
    assert not data.cache_hit and [p.name for p in tokens.iterdir()] == [data.cache_dir.name]  # leftover gone
    meta = json.loads((data.cache_dir / "meta.json").read_text())
    assert meta["train_bytes"] + meta["val_bytes"] == big_corpus.stat().st_size
    text = CORPUS.read_text()
    import tiktoken

    assert data.train[:1000].tolist() == tiktoken.get_encoding("gpt2").encode_ordinary(text)[:1000]


# ---- exact resume on data=jsonl
SETTINGS = ["train.max_steps=40", "train.ckpt_every=10", "train.eval_every=20", "train.log_every=5",
            "model.dropout=0.1", "hardware.threads=1"]


@pytest.fixture(scope="module")
def jsonl_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("jsonl") / "docs.jsonl"
    paragraphs = [p for p in CORPUS.read_text().split("\n\n") if p.strip()][:2000]
    path.write_text("".join(json.dumps({"text": p}) + "\n" for p in paragraphs))
    return path


def _train(run_dir: Path, corpus: Path, fault: str = "") -> subprocess.Popen:
    ready = run_dir.parent / f"{run_dir.name}.paused"
    env = {**os.environ, faults.ENV: fault, faults.READY_ENV: str(ready)}
    return subprocess.Popen([sys.executable, "train.py", *MICRO, "data=jsonl", f"data.path={corpus}", *SETTINGS,
                             "train.resume=auto", f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trajectory(run_dir: Path) -> list[tuple]:
    keys = ("train/loss", "val/loss", "grad_norm", "lr")
    return [(r["step"], *(r.get(k) for k in keys)) for r in read_jsonl(run_dir / "metrics.jsonl")]


@pytest.mark.slow
def test_jsonl_run_killed_mid_step_resumes_exactly(tmp_path, jsonl_corpus):
    whole = _train(tmp_path / "whole", jsonl_corpus)
    assert whole.wait(timeout=300) == 0, whole.communicate()[1][-3000:]
    killed = _train(tmp_path / "killed", jsonl_corpus, "pause@step:23")
    ready = tmp_path / "killed.paused"
    deadline = time.monotonic() + 300
    while "step 23" not in (ready.read_text() if ready.is_file() else ""):
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()[1][-3000:]
        time.sleep(0.05)
    killed.kill()
    killed.communicate(timeout=60)
    rerun = _train(tmp_path / "killed", jsonl_corpus)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and "ckpt_000020.pt at step 20" in out, err[-3000:]
    assert _trajectory(tmp_path / "killed") == _trajectory(tmp_path / "whole")
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["val/loss"] == json.loads((tmp_path / "killed" / "summary.json").read_text())["val/loss"]
    data = load_tokens(DataConfig(source="jsonl", path=str(jsonl_corpus), tokenizer="tiktoken"))
    assert data.eot == 50256 and len(data.doc_starts) == 1800 and np.count_nonzero(data.val == 50256) == 199


@pytest.mark.slow
def test_under_torchrun_one_rank_tokenizes_and_the_other_waits(tmp_path, jsonl_corpus):
    from helpers import run_cli

    result = run_cli("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py", *MICRO,
                     "data=jsonl", f"data.path={jsonl_corpus}", f"data.cache_dir={tmp_path / 'cache'}",
                     "hardware.threads=1", "train.max_steps=10", "train.eval_every=10", "train.sample_tokens=0",
                     f"hydra.run.dir={tmp_path / 'run'}", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert output.count("tokenized ") == 1, output[-3000:]  # one build, logged by the rank that made it
    assert [p.name.startswith("jsonl-") for p in (tmp_path / "cache" / "tokens").iterdir()] == [True]
