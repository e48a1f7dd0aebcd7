"""Parameter groups and the learning-rate schedule."""

import math

import pytest
import torch

from tinyx.common.errors import ConfigError
from tinyx.config import ModelConfig, OptimConfig
from tinyx.nn.gpt import GPT
from tinyx.nn.optimizers import _fused_ok, build_optimizers, lr_factor


def test_no_weight_decay_on_biases_and_norms():
    model = GPT(ModelConfig(vocab_size=40, n_layer=2, n_head=2, d_model=16, block_size=8, bias=True))
    (opt,) = build_optimizers(model, OptimConfig(weight_decay=0.1), torch.device("cpu"))
    by_decay = {g["weight_decay"]: g["params"] for g in opt.param_groups}
    assert all(p.dim() >= 2 for p in by_decay[0.1]) and all(p.dim() == 1 for p in by_decay[0.0])
    n_in_groups = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_in_groups == model.num_params()  # every parameter exactly once (the tied head counted once)


def test_cosine_schedule_warms_up_then_decays_to_min():
    # The trainer sets step s (1..max_steps) with lr_factor(s - 1): indices 0..max_steps-1.
    cfg = OptimConfig(warmup_steps=10, min_lr_ratio=0.1)
    f = [lr_factor(s, cfg, 101) for s in range(101)]
    assert f[0] == pytest.approx(1 / 11) and f[9] == pytest.approx(10 / 11)
    assert f[10] == 1.0
    assert all(a > b for a, b in zip(f[10:], f[11:]))
    assert f[100] == 0.1  # the last step's, exactly
    assert f[55] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 0.5)))  # half-way through the decay
    assert lr_factor(101, cfg, 101) == 0.1  # past the end (none is run): stays at the floor


@pytest.mark.parametrize("max_steps, warmup, min_lr_ratio", [(10, 0, 0.1), (2000, 100, 0.1), (7, 3, 0.25),
                                                              (4, 3, 0.1), (50, 5, 0.0)])
def test_the_last_step_runs_at_exactly_lr_times_min_lr_ratio(max_steps, warmup, min_lr_ratio):
    cfg = OptimConfig(warmup_steps=warmup, min_lr_ratio=min_lr_ratio)
    factors = [lr_factor(step - 1, cfg, max_steps) for step in range(1, max_steps + 1)]  # as the trainer calls it
    assert factors[-1] == min_lr_ratio
    assert factors[:warmup] == [(s + 1) / (warmup + 1) for s in range(warmup)]  # warm-up as before
    assert all(a > b for a, b in zip(factors[warmup:], factors[warmup + 1:]))


def test_constant_schedule():
    cfg = OptimConfig(warmup_steps=0, schedule="constant")
    assert {lr_factor(s, cfg, 50) for s in range(50)} == {1.0}


@pytest.mark.parametrize("name, kw", [("adamw", {}), ("muon", {}), ("muon", {"muon_impl": "torch"})])
def test_step_without_torch_wrappers_equals_torch_step(name, kw, monkeypatch):
    # tinyx.nn.optimizers.optimizer_step runs torch.optim's step function without its dynamo/profiling wrappers;
    # the parameters must come out exactly as opt.step() leaves them.
    import sys

    from tinyx.nn.optimizers import eager_optimizers, optimizer_step

    def trained(step_fn) -> list[torch.Tensor]:
        # Not torch.manual_seed: once dynamo has been imported (by an earlier test) it wraps that function,
        # and the wrapper's first call would import dynamo again here. The CPU generator is all it seeds.
        torch.random.default_generator.manual_seed(0)
        model = GPT(ModelConfig(vocab_size=40, n_layer=2, n_head=2, d_model=16, block_size=8))
        opts = build_optimizers(model, OptimConfig(name=name, **kw), torch.device("cpu"))
        for _ in range(3):
            idx = torch.randint(40, (4, 8))
            model(idx, idx)[1].backward()
            for opt in opts:
                step_fn(opt)
                opt.zero_grad(set_to_none=True)
        return [p.detach().clone() for p in model.parameters()]

    with monkeypatch.context() as patch:
        # As in a fresh process (an earlier test may have imported dynamo): the wrapper-free path, no import.
        patch.delitem(sys.modules, "torch._dynamo", raising=False)
        with eager_optimizers():
            ours = trained(optimizer_step)
        assert "torch._dynamo" not in sys.modules
    assert all(torch.equal(a, b) for a, b in zip(ours, trained(lambda opt: opt.step())))


def test_a_run_that_does_not_compile_never_imports_torch_dynamo():
    # torch.optim would import torch._dynamo (~1.4 s of start-up here) on first use; a fresh process
    # training without compile must not (checked in a subprocess: other tests may have imported it).
    import tempfile

    from helpers import MICRO, run_cli

    code = ("import atexit, runpy, sys; "
            "atexit.register(lambda: print('torch._dynamo imported:', 'torch._dynamo' in sys.modules)); "
            f"sys.argv = ['train.py', *{MICRO!r}, 'train.max_steps=12', 'hydra.run.dir=' + sys.argv[1]]; "
            "runpy.run_path('train.py', run_name='__main__')")
    with tempfile.TemporaryDirectory() as run_dir:
        result = run_cli("-c", code, run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch._dynamo imported: False" in result.stdout


def test_adamw_is_never_fused_on_mps():
    # Fused AdamW on MPS ignored `found_inf` until mid-2026 releases: it would apply the steps tinyx skips.
    mps, cfg = torch.device("mps"), OptimConfig()
    assert _fused_ok(cfg, mps) is False
    assert _fused_ok(OptimConfig(fused=False), mps) is False
    with pytest.raises(ConfigError, match="optim.fused=true on MPS"):
        _fused_ok(OptimConfig(fused=True), mps)
    assert _fused_ok(cfg, torch.device("cuda")) and _fused_ok(cfg, torch.device("cpu"))
