"""`python -m tinyx.tools.ablate`: rounds of real train.py -m runs; killed mid-round and rerun, it continues."""

import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import CORPUS, ROOT

from tinyx.rundir.contract import read_summary

# An A/A ablation: the arms differ only in how often they log, so every seed gives both the same loss, the
# differences have no spread and no verdict is ever reached: both rounds always run.
ARMS = ["train.log_every=5", "train.log_every=10"]
SLUGS = ["train.log_every-5", "train.log_every-10"]
COMMON = ["debug=micro", f"data.path={CORPUS}", "train.max_steps=10", "train.eval_every=5", "train.ckpt_every=5",
          "hardware.threads=1"]


def command(out):
    return [sys.executable, "-m", "tinyx.tools.ablate", *ARMS, "--round-seeds", "2", "--max-seeds", "4", "--min-effect",
            "0", "--out", str(out), "--", *COMMON]


def wait_for(path, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


@pytest.mark.slow  # 8 micro runs in 4 train.py processes, twice started: a minute on 2 cores
def test_rounds_run_and_a_killed_ablation_continues_when_rerun(tmp_path):
    out = tmp_path / "ablation"
    first = subprocess.Popen(command(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    wait_for(out / SLUGS[0] / "seed_2", first)  # round 2 has started: kill everything, mid-round
    os.killpg(first.pid, signal.SIGTERM)
    first.communicate(timeout=120)
    assert first.returncode != 0
    round_one = {(s, k): (out / s / f"seed_{k}" / "summary.json").stat().st_mtime_ns for s in SLUGS for k in (0, 1)}
    assert all(read_summary(out / s / f"seed_{k}").completed for s, k in round_one)

    again = subprocess.run(command(out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for slug in SLUGS:
        for seed in range(4):
            assert read_summary(out / slug / f"seed_{seed}").completed, (slug, seed)
    # Round one's runs were reused, not run again.
    assert {key: (out / key[0] / f"seed_{key[1]}" / "summary.json").stat().st_mtime_ns for key in round_one} == round_one
    assert "look 1/2 at 2 seeds" in again.stdout and "look 2/2 at 4 seeds" in again.stdout
    assert "| train.log_every=10 | undecided | 4 | 4 seeds (max) |" in again.stdout
    assert (out / "ablation.md").read_text() in again.stdout
