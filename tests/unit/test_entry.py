"""What an entry point does before its work: unknown config keys get a "did you mean"; the `tinyx` command and its
tools answer --help, and a command-line mistake is one line and exit code 2."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyx.hydra_glue.compose import (
    known_config_keys,
    suggest_keys,
    unknown_key_message,
)


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


TOOLS = {"compare": "tinyx.compare", "ablate": "tinyx.tools.ablate", "ladder": "tinyx.tools.ladder",
         "evaluate": "tinyx.tools.evaluate",
         "generate": "tinyx.tools.generate", "export": "tinyx.tools.export", "bench": "tinyx.tools.bench"}
HELP_WORDS = {
    "compare": ["--target", "--baseline", "--at-step"],
    "ablate": ["--round-seeds", "--max-seeds", "Everything after `--` goes to every train.py run"],
    "ladder": ["--depths", "--seeds", "--dry-run", "Everything after `--` goes to every train.py run"],
    "evaluate": ["--probes", "--tasks"],
    "generate": ["RUN", "--max-new-tokens", "--top-k", "--no-kv-cache"],
    "export": ["RUN", "--out", "--overwrite"],
    "bench": ["--steps", "--reference", "--experiments", "[-- OVERRIDE ...]"],
}


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_each_tool_prints_its_usage_on_help(tool, flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(TOOLS[tool]).main([flag])
    assert exit_.value.code in (0, None)
    out = capsys.readouterr()
    assert f"usage: tinyx {tool} " in out.out and f"uv run tinyx {tool} " in out.out, out.out  # the examples
    assert all(w in out.out for w in HELP_WORDS[tool]), out.out
    assert "error" not in out.err


def test_tinyx_help_lists_every_tool_and_the_scripts(capsys):
    from tinyx.cli import main

    for argv in (["--help"], []):
        assert main.main(argv) == 0
        out = capsys.readouterr().out
        listed = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
        assert listed.keys() == TOOLS.keys() == main.TOOLS.keys(), out
        assert all(len(line.split()) > 3 for line in listed.values()), out  # each with its summary
        assert "uv run train.py" in out and "uv run sweep.py" in out


@pytest.mark.parametrize("tool", TOOLS)
def test_tinyx_tool_runs_the_tools_main(tool, capsys, monkeypatch):
    from tinyx.cli import entry, main

    monkeypatch.setattr(entry, "load_env", lambda: None)  # a .env found from here must not leak into other tests

    with pytest.raises(SystemExit) as exit_:
        main.main([tool, "--help"])
    assert exit_.value.code in (0, None)
    assert f"usage: tinyx {tool} " in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["evalute", "runs/x"], ["unknown tool 'evalute'", "did you mean evaluate?", "compare, ablate, ladder, evaluate"]),
    (["generate", "runs/x", "--max-new-tokns", "5"], ["tinyx generate", "unknown option --max-new-tokns",
                                                     "did you mean --max-new-tokens?"]),
    (["compare", "runs/x", "--at-step", "many"], ["--at-step 'many' is not an integer"]),
    (["bench", "hardware=cpu"], ["'hardware=cpu' looks like a train.py override", "after `--`"]),
])
def test_a_command_line_mistake_is_one_line_and_exit_2(argv, words, capsys):
    from tinyx.cli import main

    with pytest.raises(SystemExit) as exit_:
        main.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert all(w in err for w in words), err


def test_split_overrides():
    from tinyx.cli.args import split_overrides

    assert split_overrides(["a", "--steps", "3", "--", "x=1", "--", "y=2"]) == (["a", "--steps", "3"],
                                                                                ["x=1", "--", "y=2"])
    assert split_overrides(["--steps", "3"]) == (["--steps", "3"], [])


def test_the_tinyx_command_is_installed_and_answers_help():
    """The console script pyproject.toml declares, as `uv sync` installs it beside this Python."""
    command = Path(sys.executable).parent / "tinyx"
    assert command.is_file(), f"{command} missing: run `uv sync`"
    result = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(f"  {tool} " in result.stdout for tool in TOOLS), result.stdout


def test_an_empty_value_means_unset_in_env_files_and_in_run_directories(tmp_path, monkeypatch):
    """`cp .env.example .env` leaves every value empty: no variable is set by it, and an empty TINYX_OUTPUTS
    (set in the shell) still puts runs under outputs/, as every tool looks for them (issue 25: runs went to /runs)."""
    from hydra import compose, initialize_config_dir

    from tinyx.cli.entry import load_env
    from tinyx.hydra_glue.compose import CONF_DIR, register_configs

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((CONF_DIR.parent / ".env.example").read_text() + "\nTINYX_TEST_SET=1\n")
    for name in ("TINYX_OUTPUTS", "WANDB_MODE", "TINYX_TEST_SET"):
        monkeypatch.delenv(name, raising=False)
    load_env()
    assert "TINYX_OUTPUTS" not in os.environ and "WANDB_MODE" not in os.environ
    assert os.environ.pop("TINYX_TEST_SET") == "1"

    register_configs()
    for value, root in (("", "outputs"), (str(tmp_path / "elsewhere"), str(tmp_path / "elsewhere"))):
        monkeypatch.setenv("TINYX_OUTPUTS", value)
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            run_dir = compose("train", return_hydra_config=True).hydra.run.dir
        assert run_dir.startswith(f"{root}/runs/"), run_dir
