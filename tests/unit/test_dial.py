"""The size dial (model.depth): the shape it gives, the errors it names, and the run length it budgets."""

from dataclasses import replace

import pytest
import torch

from tinyx.common.errors import ConfigError
from tinyx.config import ModelConfig, RunConfig, TrainConfig, to_run_config
from tinyx.config.dial import apply_dial
from tinyx.nn.gpt import GPT
from tinyx.training.budget import budget_steps, size_figures, with_size_budget

LLAMA_TINY = ModelConfig(n_kv_head=2, norm="rmsnorm", pos="rope", mlp="swiglu")  # 2 query heads per kv head


@pytest.mark.parametrize("depth", range(1, 7))
def test_depth_sets_layers_width_and_heads_keeping_the_kv_grouping(depth):
    m = apply_dial(replace(LLAMA_TINY, depth=depth))
    assert (m.n_layer, m.d_model, m.n_head, m.n_kv_head) == (depth, 32 * depth, 2 * depth, depth)
    assert apply_dial(m) == m  # a saved, dialed config reads back to the same shape (resume)
    plain = apply_dial(ModelConfig(depth=depth, aspect_ratio=64, head_dim=32))
    assert (plain.n_layer, plain.d_model, plain.n_head, plain.n_kv_head) == (depth, 64 * depth, 2 * depth, None)


def test_without_depth_the_shape_is_untouched():
    assert apply_dial(LLAMA_TINY) is LLAMA_TINY


@pytest.mark.parametrize("model, words", [
    (ModelConfig(depth=0), ["model.depth=0", "positive integer"]),
    (ModelConfig(depth=3, aspect_ratio=24), ["model.depth=3 with model.aspect_ratio=24 gives d_model 72",
                                             "model.head_dim=16 does not divide", "model.aspect_ratio=32"]),
    (replace(LLAMA_TINY, depth=1, aspect_ratio=16), ["n_head 1", "2 query heads per kv head", "model.depth=2",
                                                     "model.n_kv_head=null"]),
    (ModelConfig(depth=2, pos="rope", head_dim=15, aspect_ratio=30), ["model.pos=rope", "model.head_dim=16"]),
])
def test_a_bad_dial_is_one_line_naming_value_and_fix(model, words):
    with pytest.raises(ConfigError) as e:
        apply_dial(model)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert "\n" not in str(e.value)


def test_validation_checks_the_dialed_shape_and_the_budget_keys():
    to_run_config(RunConfig(model=ModelConfig(depth=3, n_head=5)))  # the preset's n_head no longer counts
    for train, key in [(TrainConfig(tokens_per_param=0), "train.tokens_per_param=0"),
                       (TrainConfig(flops_budget=-1.0), "train.flops_budget=-1.0")]:
        with pytest.raises(ConfigError, match=key):
            to_run_config(RunConfig(train=train))


@pytest.mark.parametrize("model", [ModelConfig(depth=3), replace(LLAMA_TINY, depth=2), ModelConfig(depth=1)])
def test_size_figures_equal_the_built_model(model):
    cfg = RunConfig(model=model)
    figures = size_figures(cfg, vocab_size=65)
    real = GPT(replace(apply_dial(model), vocab_size=65))
    assert figures.params == real.num_params()
    assert figures.flops_per_token == real.flops_per_token()
    assert (figures.n_layer, figures.d_model, figures.n_head) == (model.depth, 32 * model.depth,
                                                                  2 * model.depth)
    step_tokens = 12 * 64  # batch_size x block_size, one process
    assert figures.steps == -(-20 * real.matmul_params() // step_tokens)  # tokens_per_param=20, rounded up
    assert figures.tokens == figures.steps * step_tokens and figures.flops == figures.tokens * figures.flops_per_token


def test_budget_steps_from_tokens_per_param_or_flops_budget():
    assert budget_steps(TrainConfig(tokens_per_param=20.0), 1000, 6000.0, 768) == 27  # 20,000 tokens / 768
    assert budget_steps(TrainConfig(flops_budget=6000.0 * 7680), 1000, 6000.0, 768) == 10  # flops win
    assert budget_steps(TrainConfig(tokens_per_param=None, max_steps=300), 1000, 6000.0, 768) == 300
    # four processes take four times the tokens per step: a quarter of the steps
    cfg = RunConfig(model=ModelConfig(depth=2, vocab_size=65))
    assert size_figures(cfg, 65, world_size=4).steps == -(-size_figures(cfg, 65).tokens // (4 * 768))


def test_the_run_config_records_the_dialed_shape_and_steps_only_with_depth():
    plain = RunConfig(model=ModelConfig(vocab_size=65))
    assert with_size_budget(plain) is plain
    dialed = with_size_budget(RunConfig(model=ModelConfig(depth=2, vocab_size=65), train=TrainConfig(batch_size=4)))
    assert (dialed.model.n_layer, dialed.model.d_model, dialed.model.n_head) == (2, 64, 4)
    assert dialed.train.max_steps == size_figures(dialed, 65).steps
    assert with_size_budget(dialed) == dialed  # resume derives the same


def test_size_figures_draws_no_random_numbers():
    # A meta-device model's init draws nothing: planning a size leaves the run's seeded stream as it was.
    state = torch.get_rng_state()
    size_figures(RunConfig(model=ModelConfig(depth=6)), 50257)
    assert torch.equal(torch.get_rng_state(), state)
