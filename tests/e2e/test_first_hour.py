"""What a new user hits in the first hour: the wrong Python, a misspelt key, a .env beside their runs."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers import MICRO, SHARED, micro_config, run_cli


@pytest.mark.parametrize("script", ["train.py", "sweep.py"])
def test_entry_point_outside_the_environment_says_what_to_run(script):
    # -S: no site-packages, as a Python without tinyx's dependencies (the system python3 of a fresh clone).
    result = run_cli("-S", script, "model=tiny")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"uv run {script}" in lines[0] and ".venv/bin/activate" in lines[0] and "hydra" in lines[0]


@pytest.mark.parametrize("command", [["-m", "tinyx.cli", "export", "--help"], ["-m", "tinyx.tools.export", "--help"],
                                     ["-m", "tinyx.compare", "--help"]])
def test_a_tool_outside_the_environment_says_what_to_run(command):
    """issue 25: `python3 -m tinyx.export --help` ended in `ModuleNotFoundError: No module named 'omegaconf'`."""
    result = run_cli("-S", *command)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "uv run tinyx " in lines[0] and ".venv/bin/activate" in lines[0], result.stderr


def test_misspelt_key_gets_one_line_with_a_suggestion():
    result = run_cli("train.py", *MICRO, "train.max_step=200")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("error: unknown config key 'train.max_step': did you mean train.max_steps? "
                                     "(see docs/training.md#config-groups)")


@pytest.fixture(scope="module")
def bpe_run(tmp_path_factory):
    from tinyx.training import train

    run_dir = tmp_path_factory.mktemp("bpe_run")
    train(micro_config("data=shakespeare_bpe", "train.max_steps=10", "train.eval_every=10",
                       "train.ckpt_every=10", "train.sample_tokens=0"), run_dir)
    return run_dir


def test_generate_reads_dotenv_in_the_current_directory(bpe_run, tmp_path):
    """A BPE run sampled offline: tiktoken's files are found only through TIKTOKEN_CACHE_DIR in ./.env."""
    cache = shutil.copytree(SHARED / "tiktoken_cache", tmp_path / "tiktoken_cache")
    (tmp_path / ".env").write_text(f"TIKTOKEN_CACHE_DIR={cache}\n")
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    # tiktoken's default cache (under TMPDIR) empty and no way out: without the .env the files cannot be had.
    (tmp_path / "tmp").mkdir()
    env.update(TMPDIR=str(tmp_path / "tmp"), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    result = subprocess.run([sys.executable, "-m", "tinyx.cli", "generate", str(bpe_run), "--prompt", "ROMEO:",
                             "--max-new-tokens", "5"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ROMEO:")
