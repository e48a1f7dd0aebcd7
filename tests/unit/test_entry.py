"""What an entry point does before Hydra: unknown command-line keys get a "did you mean", tools answer --help."""

import pytest

from tinyx import compare
from tinyx.tools import ablate
from tinyx.tools import bench
from tinyx.tools import evaluate
from tinyx.tools import generate
from tinyx.hydra_glue.compose import known_config_keys, suggest_keys, unknown_key_message


@pytest.mark.parametrize("key, expected", [
    ("train.max_step", ["train.max_steps"]),       # misspelt
    ("max_steps", ["train.max_steps"]),            # the group prefix left out
    ("max_step", ["train.max_steps"]),             # both
    ("model.n_layr", ["model.n_layer"]),
    ("lr", ["optim.lr"]),
    ("model.lr", ["optim.lr"]),                    # the wrong group
    ("modle", ["model"]),                          # a group name
])
def test_suggest_keys_for_train(key, expected):
    assert suggest_keys(key, known_config_keys("train"))[:len(expected)] == expected


def test_suggest_keys_for_sweep_knows_its_own_keys():
    known = known_config_keys("sweep")
    assert suggest_keys("sweep.n_trial", known)[0] == "sweep.n_trials"
    assert suggest_keys("n_trials", known) == ["sweep.n_trials"]
    assert "sweep.n_trials" not in known_config_keys("train")


@pytest.mark.parametrize("argv", [
    ["model=tiny", "optim=muon", "seed=1", "train.max_steps=200", "optim.lr=1e-3,3e-4"],
    ["-m", "hydra.run.dir=runs/x", "hydra/launcher=submitit_local", "hydra.job.chdir=false"],
    ["logger=[wandb,tensorboard]", "optim.betas=[0.9,0.95]", "logger.wandb.tags=[a,b]", "experiment=llama_tiny"],
    ["+experiment=baseline", "~logger", "++train.max_steps=3", "debug=micro", "local=default"],
    ["--cfg", "job", "--config-name", "train", "-cn=train", "--info", "defaults"],
])
def test_valid_overrides_pass(argv):
    assert unknown_key_message(argv, "train") is None


def test_sweep_overrides_pass_for_sweep_only():
    argv = ["sweep.n_trials=3", "search_space=lr", "search_space.optim.lr.high=1e-2", "model=nano"]
    assert unknown_key_message(argv, "sweep") is None
    assert "sweep.n_trials" in unknown_key_message(argv, "train")


def test_unknown_key_message_names_key_suggestion_and_docs():
    message = unknown_key_message(["model=tiny", "train.max_step=200"], "train")
    assert message == ("unknown config key 'train.max_step': did you mean train.max_steps? "
                       "(see docs/training.md#config-groups)")
    assert "did you mean" not in unknown_key_message(["zzzzzz=1"], "train")


@pytest.mark.parametrize("tool, words", [
    (generate, ["python -m tinyx.tools.generate", "run=", "max_new_tokens=300"]),
    (bench, ["python -m tinyx.tools.bench", "bench.steps=200", "bench.reference=False"]),
    (evaluate, ["python -m tinyx.tools.evaluate", "--probes"]),
    (compare, ["python -m tinyx.compare", "--target", "--baseline", "--at-step"]),
    (ablate, ["python -m tinyx.tools.ablate", "--round-seeds", "--max-seeds"]),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_tools_print_usage_on_help(tool, words, flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main([flag])
    assert exit_.value.code in (0, None)
    out = capsys.readouterr()
    assert all(w in out.out for w in words), out.out
    assert "error" not in out.err
