"""The training loop's parts on their own: TrainState, train_step, StopRequest, MFU and rank seeding."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch
from helpers import micro_config

from tinyx.common import faults
from tinyx.common.errors import ConfigError, TrainingInterrupted
from tinyx.config import RunConfig
from tinyx.data import WindowSampler, load_tokens
from tinyx.nn.gpt import GPT
from tinyx.nn.optimizers import build_optimizers
from tinyx.runtime import hardware
from tinyx.training.interrupts import StopRequest
from tinyx.training.machine import seed_rank
from tinyx.training.run import model_flops_utilization
from tinyx.training.state import LossCounters, TrainState
from tinyx.training.step import Trainable, train_step


@pytest.fixture(scope="module")
def parts():
    cfg = micro_config()
    data = load_tokens(cfg.data)
    hw = hardware.setup(cfg.hardware)
    return cfg, data, hw


def _trainable(cfg, data, hw) -> Trainable:
    from dataclasses import replace

    torch.manual_seed(cfg.seed)
    model = GPT(replace(cfg.model, vocab_size=data.tokenizer.vocab_size))
    return Trainable(model, build_optimizers(model, cfg.optim, hw.device), hw.grad_scaler(), hw)


def _state(cfg, data, hw, seed=None) -> TrainState:
    sampler = WindowSampler(data.train, cfg.train.batch_size, cfg.model.block_size, cfg.seed if seed is None else seed)
    return TrainState(sampler, LossCounters(hw.device))


def test_train_step_updates_weights_and_counts_the_loss(parts):
    cfg, data, hw = parts
    trainable, state = _trainable(cfg, data, hw), _state(cfg, data, hw)
    before = [p.detach().clone() for p in trainable.params]
    grad_norm = train_step(trainable, state.sampler, state.counters, 1, grad_accum=2, grad_clip=1.0)
    assert math.isfinite(grad_norm.item()) and grad_norm.item() > 0
    assert all(p.grad is None for p in trainable.params)  # zeroed for the next step
    assert any(not torch.equal(a, b) for a, b in zip(before, trainable.params))
    # The loss of a fresh model is about ln(vocab size); one step, counted once.
    assert state.counters.loss_steps.item() == 1
    assert state.counters.mean_loss().item() == pytest.approx(math.log(data.tokenizer.vocab_size), abs=0.3)


def test_a_nonfinite_step_changes_nothing_and_is_counted(parts):
    cfg, data, hw = parts
    trainable, state = _trainable(cfg, data, hw), _state(cfg, data, hw)
    before = [p.detach().clone() for p in trainable.params]
    train_step(trainable, state.sampler, state.counters, 3, 1, 1.0, faults.parse("nan_loss@3"))
    assert all(torch.equal(a, b) for a, b in zip(before, trainable.params))
    assert state.counters.nonfinite_steps.item() == 1 and state.counters.loss_steps.item() == 0
    assert state.diverged(1) and not state.diverged(2)


def test_train_state_round_trips_through_its_state_dict(parts):
    cfg, data, hw = parts
    trainable, state = _trainable(cfg, data, hw), _state(cfg, data, hw)
    for step in (1, 2):
        train_step(trainable, state.sampler, state.counters, step, 1, 1.0)
    state.step = 2
    state.record_eval(2, 3.5)
    saved = state.state_dict()
    next_batch = state.sampler.next_batch()

    restored = _state(cfg, data, hw, seed=999)  # another seed: the state dict must overwrite it
    restored.load_state_dict(saved)
    assert (restored.step, restored.val_loss, restored.best_val_loss, restored.best_step) == (2, 3.5, 3.5, 2)
    assert restored.counters.loss_sum.item() == state.counters.loss_sum.item()
    assert torch.equal(restored.sampler.next_batch(), next_batch)  # the same windows come next
    assert restored.wall_seconds() >= saved["wall_seconds"]
    assert not restored.record_eval(3, 3.6) and restored.record_eval(4, 3.4) and restored.best_step == 4


def test_counters_and_clocks_resume_where_the_checkpoint_left_them():
    """A run killed mid-streak of non-finite steps resumes mid-streak (the next ones still end it as diverged),
    with its partial loss sum, step count and clocks (summary.json's wall and eval seconds)."""
    def state() -> TrainState:
        return TrainState(WindowSampler(np.arange(100), 2, 8, seed=0), LossCounters(torch.device("cpu")))

    before = state()
    for finite in (True, False, False, False, True, False, False):  # 5 skipped, longest run 3, 2 in a row now
        before.counters.add_step(torch.tensor(2.0), torch.tensor(finite))
    before.wall_offset, before.eval_seconds = 100.0, 7.0
    after = state()
    after.load_state_dict(before.state_dict())
    c = after.counters
    assert (c.nonfinite_steps.item(), c.nonfinite_streak.item(), c.longest_streak.item()) == (5, 2, 3)
    assert (c.loss_sum.item(), c.loss_steps.item()) == (4.0, 2)
    assert after.wall_seconds() >= 100.0 and after.eval_seconds == 7.0
    assert after.diverged(3) and not after.diverged(4)
    for _ in range(2):
        after.counters.add_step(torch.tensor(float("nan")), torch.tensor(False))
    assert after.diverged(4) and after.counters.longest_streak.item() == 4  # the streak went on: 2 + 2


def test_a_seed_fixes_the_batches_whatever_the_model(parts):
    cfg, data, hw = parts
    first, second = _state(cfg, data, hw), _state(cfg, data, hw)
    torch.manual_seed(0)
    _trainable(cfg, data, hw)  # building a model draws from torch's generator, not the sampler's
    assert torch.equal(first.sampler.next_batch(), second.sampler.next_batch())


def test_stop_request_notes_the_first_signal_and_raises_on_the_second():
    # The signals go to this process: handlers of the test's own stand in for pytest's, so that a
    # StopRequest that failed to take them would fail this test instead of interrupting the session.
    strays = []
    stand_ins = {signum: signal.signal(signum, lambda signum, frame: strays.append(signum))
                 for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        handler_before = signal.getsignal(signal.SIGTERM)
        state = TrainState(WindowSampler(np.arange(100), 2, 8, seed=0), LossCounters(torch.device("cpu")), step=7)
        with StopRequest("runs/x", state) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.requested and stop.signum == signal.SIGTERM
            with pytest.raises(TrainingInterrupted) as caught:
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGTERM) == handler_before  # restored on the way out
    finally:
        for signum, handler in stand_ins.items():
            signal.signal(signum, handler)
    assert strays == []
    assert caught.value.step == 7 and caught.value.checkpoint is None and caught.value.exit_code == 130


def test_mfu_counts_every_device_peak():
    one = model_flops_utilization(1000.0, 6e6, 1e12, 1)
    assert one == pytest.approx(0.006)
    assert model_flops_utilization(2000.0, 6e6, 1e12, 2) == pytest.approx(one)  # twice the tokens on two devices
    assert model_flops_utilization(1000.0, 6e6, None, 1) is None


def test_ranks_draw_their_own_dropout_masks_and_rank_0_keeps_its_stream():
    def mask(rank: int) -> torch.Tensor:
        torch.manual_seed(1337)
        seed_rank(1337, rank, step=10)
        return torch.nn.functional.dropout(torch.ones(64), 0.5)

    assert not torch.equal(mask(0), mask(1)) and not torch.equal(mask(1), mask(2))
    rank0 = mask(0)
    torch.manual_seed(1337)  # a single process: no reseeding at all
    assert torch.equal(rank0, torch.nn.functional.dropout(torch.ones(64), 0.5))


def test_resuming_on_fewer_gpus_restores_the_first_ones_rng(parts, monkeypatch):
    # A torchrun checkpoint holds the generator of every GPU it saw (4 here); resumed where 2 are visible,
    # torch.cuda.set_rng_state_all would index past the last device (IndexError in the real one).
    from types import SimpleNamespace

    cfg, data, hw = parts
    saved = _state(cfg, data, hw).state_dict()
    saved["rng"]["cuda"] = [torch.full((16,), i, dtype=torch.uint8) for i in range(4)]
    restored = []

    def set_rng_state_all(states):
        for i, s in enumerate(states):
            if i >= 2:
                raise IndexError(f"no CUDA device {i}")
            restored.append(int(s[0]))

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", set_rng_state_all)
    state = _state(cfg, data, hw)
    state.counters = SimpleNamespace(device=torch.device("cuda"), load_state_dict=lambda s: None)
    state.load_state_dict(saved)
    assert restored == [0, 1]


def _step_losses(trainable, state, steps, injected=None) -> list[float]:
    """Train `steps` steps; each step's loss (nan for a skipped one), read from the counters."""
    out = []
    for step in range(1, steps + 1):
        train_step(trainable, state.sampler, state.counters, step, 1, 1.0, injected)
        out.append(state.counters.mean_loss().item())
        state.counters.reset_interval()
    return out


@pytest.mark.slow  # ~15 s on 2 cores
def test_the_grad_scaler_path_trains_and_skips_overflowing_gradients(parts):
    # float16 autocast on CPU is refused by the config (tests/e2e/test_bad_inputs.py, train-float16-on-cpu),
    # so the float16 path is taken here with an enabled CPU GradScaler around float32 compute.
    cfg, data, _ = parts
    with pytest.raises(ConfigError, match="float16 is not supported for training on CPU"):
        hardware.setup(micro_config("hardware.dtype=float16").hardware)
    hw = hardware.setup(cfg.hardware)
    trainable, state = _trainable(cfg, data, hw), _state(cfg, data, hw)
    trainable.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    assert trainable.scaler.is_enabled()
    weights, scales = [], []
    for step in range(1, 9):
        train_step(trainable, state.sampler, state.counters, step, 2, 1.0, faults.parse("inf_grad@4"))
        weights.append([p.detach().clone() for p in trainable.params])
        scales.append(trainable.scaler.get_scale())
    # Step 4's gradients overflowed: the scaler skipped it (no weight changed) and halved its scale.
    assert all(torch.equal(a, b) for a, b in zip(weights[2], weights[3]))
    assert scales[3] == scales[2] / 2
    assert all(torch.isfinite(p).all() for p in trainable.params)
    for before, after in zip(weights[3:], weights[4:]):  # and training goes on
        assert any(not torch.equal(a, b) for a, b in zip(before, after))
    # Only a non-finite loss counts as skipped under the scaler; the overflow is the scaler's to handle.
    assert state.counters.nonfinite_steps.item() == 0 and state.counters.loss_steps.item() == 8
    assert math.isfinite(state.counters.mean_loss().item())


def test_bfloat16_autocast_on_cpu_trains(parts):
    cfg, data, _ = parts
    hw = hardware.setup(micro_config("hardware.dtype=bfloat16").hardware)
    assert hw.dtype == torch.bfloat16 and hw.device.type == "cpu"
    bf16 = _step_losses(_trainable(cfg, data, hw), _state(cfg, data, hw), 12)
    fp32_hw = hardware.setup(cfg.hardware)
    fp32 = _step_losses(_trainable(cfg, data, fp32_hw), _state(cfg, data, fp32_hw), 1)
    assert all(math.isfinite(loss) for loss in bf16)
    assert bf16[0] != fp32[0]  # the same model and batch: autocast did run in bfloat16
    assert bf16[0] == pytest.approx(fp32[0], abs=0.05)
    assert sum(bf16[-3:]) / 3 < sum(bf16[:3]) / 3 - 0.1  # it learns


def test_train_py_validates_once_and_hands_train_its_secrets_by_name(monkeypatch, tmp_path):
    """train.py's body validates the composed config before importing torch; train() takes it as validated
    and gets the values the config took from the environment as `secrets`, the one Redactor setup() is given."""
    from helpers import MICRO, compose

    import tinyx.config.parse as parse
    import tinyx.training.loop as loop
    from tinyx.hydra_glue.train_main import run_train

    class SetUp(Exception):
        pass

    def stop_at_setup(cfg, run_dir, *, redactor, **parts):
        raise SetUp(redactor)

    validated = []
    validate = parse.validate
    monkeypatch.setattr(parse, "validate", lambda cfg: (validated.append(cfg), validate(cfg)))
    monkeypatch.setattr(loop, "setup", stop_at_setup)
    monkeypatch.setenv("TINYX_TEST_SAMPLE_PROMPT", "Once")
    with pytest.raises(SetUp) as reached:
        run_train(compose(MICRO + ["train.sample_prompt=${oc.env:TINYX_TEST_SAMPLE_PROMPT}"]), tmp_path / "run")
    assert len(validated) == 1
    assert reached.value.args[0].private == {"train.sample_prompt": "${oc.env:TINYX_TEST_SAMPLE_PROMPT}"}

    validated.clear()
    with pytest.raises(SetUp) as reached:  # the Python API: a hand-built config is validated by train() itself
        loop.train(RunConfig(), tmp_path / "api")
    assert len(validated) == 1 and reached.value.args[0].private == {}
    with pytest.raises(SetUp) as reached:  # secrets named in Python: the keys alone will do
        loop.train(RunConfig(), tmp_path / "api", secrets=["data.url"])
    assert reached.value.args[0].private == {"data.url": None}
