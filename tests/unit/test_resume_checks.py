"""What a resume checks before it trains (tinyx.training.resume), on hand-made checkpoint states: the model's
shape and the tokenizer must be the checkpoint's (dropout may change), and a checkpoint at max_steps has
nothing left to train. The messages hold the overrides that fix the run."""

from dataclasses import asdict
from pathlib import Path

import pytest

from tinyx.common.errors import CheckpointError
from tinyx.config import ModelConfig
from tinyx.training.resume import check_resumable, check_steps_left

CKPT = Path("run/checkpoints/ckpt_000040.pt")
CHARS = {"kind": "char", "chars": list("\n !abc")}
MODEL = asdict(ModelConfig(n_layer=2, n_head=2, d_model=32, block_size=32, vocab_size=6))


def state(**model) -> dict:
    return {"config": {"model": {**MODEL, **model}, "data": {"name": "shakespeare_char", "tokenizer": "char"}},
            "tokenizer": CHARS, "step": 40}


def test_the_same_model_resumes_and_a_new_dropout_is_allowed():
    check_resumable(state(), CKPT, MODEL, CHARS)
    check_resumable(state(dropout=0.1), CKPT, {**MODEL, "dropout": 0.0}, CHARS)


@pytest.mark.parametrize("key, trained, now", [("n_layer", 2, 3), ("d_model", 32, 64), ("norm", "layernorm", "rmsnorm"),
                                               ("tie_embeddings", True, False), ("block_size", 32, 16)])
def test_one_changed_shape_key_is_refused_with_the_override_that_fixes_it(key, trained, now):
    with pytest.raises(CheckpointError) as error:
        check_resumable(state(**{key: trained}), CKPT, {**MODEL, key: now}, CHARS)
    assert str(error.value) == (f"checkpoint {CKPT} was trained with model.{key}={trained} (this run: {now}): resume "
                                f"with the same model settings (add: model.{key}={trained}).")


def test_a_checkpoint_older_than_a_key_was_trained_with_its_default():
    older = {k: v for k, v in MODEL.items() if k not in ("depth", "aspect_ratio", "parametrization", "base_width")}
    check_resumable({**state(), "config": {**state()["config"], "model": older}}, CKPT, MODEL, CHARS)
    with pytest.raises(CheckpointError, match="model.parametrization=sp"):
        check_resumable({**state(), "config": {**state()["config"], "model": older}}, CKPT,
                        {**MODEL, "parametrization": "mup"}, CHARS)


def test_every_changed_key_is_named():
    with pytest.raises(CheckpointError, match=r"add: model.n_layer=2 model.d_model=32\)\.$"):
        check_resumable(state(), CKPT, {**MODEL, "n_layer": 4, "d_model": 64}, CHARS)


def test_another_tokenizer_is_refused_before_the_shape():
    other = {"kind": "char", "chars": list("\n !abd")}
    with pytest.raises(CheckpointError, match=r"trained with tokenizer char .* resume with the data it was trained on "
                                              r"\(data=shakespeare_char data.tokenizer=char\)"):
        check_resumable(state(), CKPT, {**MODEL, "n_layer": 4}, other)


def test_a_checkpoint_at_max_steps_has_nothing_left():
    check_steps_left({"step": 40}, CKPT, 41)
    for max_steps in (40, 30):
        with pytest.raises(CheckpointError, match=rf"is already at step 40 \(train.max_steps={max_steps}\): raise"):
            check_steps_left({"step": 40}, CKPT, max_steps)
