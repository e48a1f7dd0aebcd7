"""compare on real runs: a tracked multirun, and a corpus against its moved copy and another corpus."""

import json
import re

import pytest
from helpers import CORPUS, micro_config

from tinyx.compare import compare_runs


def test_real_multirun(tracked_multirun, tmp_path):
    sweep, _ = tracked_multirun
    c = compare_runs([sweep])
    finals = {a.values["optim.lr"]: a.estimate.mean for a in c.arms}
    for job, lr in [("0", 0.001), ("1", 0.003)]:
        assert finals[lr] == json.loads((sweep / job / "summary.json").read_text())["val/loss"]
    assert [a.name for a in c.arms] == ["optim.lr=0.001", "optim.lr=0.003"]  # job order: the first arm is job 0


@pytest.mark.slow
def test_real_runs_on_a_corpus_its_moved_copy_and_another_corpus(tmp_path):
    # A user's corpus ablation: what each run records tells the corpora apart, whatever folder they were read from.
    from tinyx.training import train

    text = CORPUS.read_text()
    for name, part in (("one/a.txt", text[:100_000]), ("two/a.txt", text[:100_000]), ("one/b.txt", text[-100_000:])):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(part)
    for run, corpus in (("a", "one/a.txt"), ("a_moved", "two/a.txt"), ("b", "one/b.txt")):
        train(micro_config(f"data.path={tmp_path / corpus}", "train.max_steps=4", "train.eval_every=4",
                           "train.sample_tokens=0"), tmp_path / "runs" / run, quiet=True)
    c = compare_runs([tmp_path / "runs"])
    assert [a.n for a in c.arms] == [1, 1] and c.keys == ["data content"]
    for arm, corpus in zip(c.arms, ("a.txt", "b.txt")):
        assert re.fullmatch(rf"data content=[0-9a-f]{{8}} \({corpus}, char \(\d+ characters\)\)", arm.name), arm.name
    [moved] = [w for w in c.warnings if "ran more than once" in w]  # the same data, the same seed: one observation
    assert str(tmp_path / "runs" / "a") in moved and str(tmp_path / "runs" / "a_moved") in moved
