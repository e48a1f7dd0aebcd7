"""The library without Hydra: a hand-built RunConfig trains, validates itself, and its run directory
serves compare, evaluate and generate like a train.py run's."""

from __future__ import annotations

import json
import re

import pytest
from helpers import CONF_DIR, CORPUS, MICRO, compose

from tinyx.common.errors import ConfigError
from tinyx.config import (
    DataConfig,
    HardwareConfig,
    LoggerConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from tinyx.training import train

SMALL = ModelConfig(n_layer=2, n_head=2, d_model=32, block_size=32)
SHORT = TrainConfig(max_steps=10, batch_size=4, eval_every=10, eval_batches=2, log_every=5, ckpt_every=10,
                    sample_tokens=8)


def hand_built(**changes) -> RunConfig:
    cfg = RunConfig(model=SMALL, data=DataConfig(path=str(CORPUS)), hardware=HardwareConfig(device="cpu"),
                    train=SHORT, logger=LoggerConfig(progress_bar=False))
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


def test_a_run_from_python_is_found_by_compare_evaluate_and_generate(tmp_path, capsys):
    from tinyx import compare
    from tinyx.tools import evaluate, generate

    run_dir = tmp_path / "mine"
    summary = train(hand_built(), run_dir, quiet=True)
    assert summary.status == "completed" and summary.step == 10 and summary.val_loss < 4.2
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["d_model"] == 32 and config["model"]["vocab_size"] == 65
    assert not (run_dir / ".hydra").exists()
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", provenance["git"]["commit"]) and provenance["device"] == "cpu"
    assert provenance["versions"]["torch"] and provenance["data"]["corpus"] == str(CORPUS)
    assert provenance["data"]["train_tokens"] > 900_000
    # What --at-flops counts: the model's flops_per_token (6 x its 2 blocks, final norm and 65 x 32 head, plus
    # 12 x layers x d_model x context for attention), and one process.
    from dataclasses import replace

    from tinyx.nn.gpt import GPT
    matmul = GPT(replace(SMALL, vocab_size=65)).matmul_params()
    assert provenance["flops_per_token"] == 6 * matmul + 12 * 2 * 32 * 32 and provenance["world_size"] == 1

    comparison = compare.compare_runs([run_dir])
    assert [v for a in comparison.arms for v in a.observations] == [summary.val_loss]
    scores = evaluate.main([str(run_dir), "--eval-batches", "2", "--out", str(tmp_path / "eval")])
    assert scores[0].step == 10 and scores[0].val_loss == pytest.approx(summary.val_loss, abs=1e-6)
    capsys.readouterr()
    generate.main([str(run_dir), "--prompt", "ROMEO:", "--max-new-tokens", "20"])
    assert capsys.readouterr().out.startswith("ROMEO:")


def test_a_bad_hand_built_config_gets_the_message_train_py_gives(tmp_path, capsys):
    from tinyx.hydra_glue.train_main import run_train

    with pytest.raises(ConfigError) as caught:
        train(hand_built(model=ModelConfig(n_head=2, d_model=33)), tmp_path / "api")
    with pytest.raises(SystemExit) as exit_info:
        run_train(compose(MICRO + ["model.d_model=33"]), tmp_path / "cli")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {caught.value}"
    assert "model.d_model=33 is not divisible by model.n_head=2" in str(caught.value)
    with pytest.raises(ConfigError, match="config key 'train.max_steps'"):  # a wrong type, as Hydra's schema would
        train(hand_built(train=TrainConfig(max_steps="many")), tmp_path / "typed")
    assert not (tmp_path / "api").exists() and not (tmp_path / "typed").exists()  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")))
def test_every_experiment_composes_and_trains_3_steps(experiment, tmp_path):
    from tinyx.config import to_run_config

    # Its own model and optimizer, at 3 steps; only the machine and the logging are the tests'.
    cfg = to_run_config(compose(["hardware=cpu", f"data.path={CORPUS}", "logger=none", "logger.progress_bar=false",
                                 f"experiment={experiment}", "train.max_steps=3", "train.eval_every=3",
                                 "train.log_every=1", "train.ckpt_every=3", "train.eval_batches=1"]))
    summary = train(cfg, tmp_path, quiet=True)
    assert summary.status == "completed" and summary.step == 3 and summary.val_loss < 10
