"""Config composition and validation: what a user gets for good and bad configs."""

import pytest
from helpers import compose
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError

from tinyx.common.errors import ConfigError
from tinyx.config import RunConfig, to_run_config


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

    from tinyx.runtime.hardware import resolve_compile

    setting = to_run_config(compose(["hardware=cpu", f"hardware.compile={value}"])).hardware.compile
    assert resolve_compile(setting, torch.device("cuda")) is cuda
    assert resolve_compile(setting, torch.device("cpu")) is cpu
    assert to_run_config(compose([])).hardware.compile == "auto"


def test_unknown_compile_setting_names_the_choices():
    with pytest.raises(ConfigError, match="hardware.compile='sometimes' is not one of auto, true, false"):
        to_run_config(compose(["hardware.compile=sometimes"]))


def _declared_choices():
    """(key, choices, schema) of every field declared with `one_of`, the run's and the sweep's."""
    from dataclasses import fields

    from tinyx.config import RunConfig, SweepConfig, choice_fields

    sections = [(f"{f.name}.", f.default_factory) for f in fields(RunConfig) if callable(f.default_factory)]
    found = [(prefix + name, choices, schema) for prefix, schema in sections
             for name, choices in choice_fields(schema).items()]
    found += [("sweep." + name, choices, SweepConfig) for name, choices in choice_fields(SweepConfig).items()]
    return found


def test_every_group_with_a_fixed_set_of_values_declares_it():
    keys = {key for key, _, _ in _declared_choices()}
    assert {"model.norm", "model.pos", "optim.name", "optim.schedule", "optim.ns_dtype", "data.source",
            "data.tokenizer", "hardware.dtype", "hardware.compile", "sweep.pruner", "sweep.metric"} <= keys


@pytest.mark.parametrize("key, choices, schema", _declared_choices(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_value_outside_a_declared_choice_list_names_exactly_those_choices(key, choices, schema):
    from tinyx.config import SweepConfig, validate_sweep

    group, name = key.split(".")
    fix = "set it" if group == "sweep" else f"set {key}"
    message = f"{key}='bogus' is not one of {', '.join(choices)}: {fix} to one of them."
    with pytest.raises(ConfigError) as e:
        if schema is SweepConfig:
            validate_sweep(SweepConfig(**{name: "bogus"}))
        else:  # Muon's own keys are only checked when Muon runs
            section = {"name": "muon", name: "bogus"} if group == "optim" else {name: "bogus"}
            to_run_config({group: section})
    assert str(e.value) == message


def test_each_choice_list_is_written_once_in_the_source():
    """Declared beside its field, not repeated in a check or a `a | b` comment."""
    import re
    from pathlib import Path

    source = {p: re.sub(r"\s+", " ", p.read_text()) for p in Path(__file__).parents[2].joinpath("tinyx").rglob("*.py")}
    for key, choices, _ in _declared_choices():
        written = '(' + ", ".join(f'"{c}"' for c in choices) + ')'
        assert sum(text.count(written) for text in source.values()) == 1, f"{key}: {written}"
        assert not any(" | ".join(choices) in text for text in source.values()), key


def test_device_names_its_choices_and_cuda_n():
    with pytest.raises(ConfigError) as e:
        to_run_config({"hardware": {"device": "tpu"}})
    assert str(e.value) == "hardware.device='tpu' is not one of auto, cpu, cuda, cuda:N, mps."
    assert to_run_config({"hardware": {"device": "cuda:1"}}).hardware.device == "cuda:1"


def test_a_validated_config_is_not_validated_again_unless_it_changed(monkeypatch):
    import tinyx.config.parse as parse

    cfg = to_run_config(RunConfig())
    monkeypatch.setattr(parse, "validate", lambda c: pytest.fail("validated twice"))
    assert to_run_config(cfg) is cfg  # train.py's early check, then train()'s
    monkeypatch.undo()
    cfg.optim.lr = -1.0  # changed since: checked again
    with pytest.raises(ConfigError, match="optim.lr=-1.0 must be > 0"):
        to_run_config(cfg)
