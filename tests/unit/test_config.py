"""Config composition and validation: what a user gets for good and bad configs."""

import pytest
from helpers import compose
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError

from tinyx.config import RunConfig, to_run_config
from tinyx.errors import ConfigError


def test_default_config_is_the_nanogpt_baby_run():
    cfg = to_run_config(compose())
    assert isinstance(cfg, RunConfig)
    assert (cfg.model.n_layer, cfg.model.n_head, cfg.model.d_model, cfg.model.block_size) == (4, 4, 128, 64)
    assert (cfg.train.batch_size, cfg.train.max_steps, cfg.optim.lr) == (12, 2000, 1e-3)
    assert cfg.data.tokenizer == "char" and cfg.hardware.device == "auto"


def test_groups_compose():
    cfg = to_run_config(compose(["model=small", "hardware=cpu", "data=shakespeare_bpe", "optim.lr=3e-4"]))
    assert (cfg.model.n_layer, cfg.model.d_model, cfg.model.block_size) == (6, 384, 256)
    assert cfg.data.tokenizer == "tiktoken" and cfg.data.encoding == "gpt2"
    assert cfg.optim.lr == 3e-4 and cfg.hardware.device == "cpu"


def test_misspelt_key_fails_naming_it():
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as e:
        compose(["model.n_layr=3"])
    assert "n_layr" in str(e.value) + str(e.value.__cause__)


def test_wrong_type_fails():
    with pytest.raises(ConfigCompositionException) as e:
        compose(["train.max_steps=lots"])
    assert "lots" in str(e.value) + str(e.value.__cause__)


def test_unknown_group_option_lists_the_options():
    with pytest.raises(ConfigCompositionException) as e:
        compose(["model=huge"])
    assert "huge" in str(e.value) and "tiny" in str(e.value)


@pytest.mark.parametrize("override, words", [
    ("model.d_model=130", ["model.d_model=130", "model.n_head=4"]),
    ("optim.lr=-1", ["optim.lr=-1"]),
    ("optim.schedule=linearish", ["optim.schedule='linearish'", "cosine"]),
    ("hardware.device=tpu", ["hardware.device='tpu'"]),
    ("train.grad_accum=0", ["train.grad_accum=0"]),
    ("model.dropout=1.5", ["model.dropout=1.5"]),
])
def test_cross_field_checks_name_the_value(override, words):
    with pytest.raises(ConfigError) as e:
        to_run_config(compose([override]))
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("value, cuda, cpu", [("auto", True, False), ("true", True, True), ("false", False, False)])
def test_compile_is_a_per_device_policy(value, cuda, cpu):
    import torch

    from tinyx.hardware import resolve_compile

    setting = to_run_config(compose(["hardware=cpu", f"hardware.compile={value}"])).hardware.compile
    assert resolve_compile(setting, torch.device("cuda")) is cuda
    assert resolve_compile(setting, torch.device("cpu")) is cpu
    assert to_run_config(compose([])).hardware.compile == "auto"


def test_unknown_compile_setting_names_the_choices():
    with pytest.raises(ConfigError, match="hardware.compile='sometimes' is not one of auto, true, false"):
        to_run_config(compose(["hardware.compile=sometimes"]))
