"""Secrets: a real train.py run with wandb (offline) and TensorBoard, fake secrets planted in a .env file
and in the environment, one of them used by the config through `${oc.env:...}`; no file the run
writes (run directory, wandb's and tinyx's caches, the home directory) holds any of them."""

import os
import subprocess
import sys

from conftest import MICRO_NO_LOGGER, ROOT
from tinyx.checkpoint import load_checkpoint

# Values no file could hold by chance.
DOTENV_SECRETS = {
    "WANDB_API_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0fedcba98",  # wandb's 40-character form
    "TINYX_DATA_TOKEN": "tok-planted-7c1d9e55b0a2-not-for-files",  # used by the config below
}
ENVIRONMENT_SECRETS = {
    "HF_TOKEN": "hf_plantedSecretToken4242424242424242",  # in the environment, unrelated to tinyx
    "AWS_SECRET_ACCESS_KEY": "planted/aws+secret/31415926535897932384",
}

# train.py itself, run as a script after loading the test's .env, as train.py's own load_dotenv()
# loads the project's (which never overrides a variable already set).
RUN_TRAIN_PY = ("import runpy, sys, dotenv; dotenv.load_dotenv(sys.argv[1]); sys.argv = ['train.py', *sys.argv[2:]]; "
                "runpy.run_path('train.py', run_name='__main__')")


def test_no_planted_secret_reaches_any_file_a_run_writes(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    dotenv = tmp_path / "secrets.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in DOTENV_SECRETS.items()))
    run_dir = tmp_path / "run"
    env = {**os.environ, **ENVIRONMENT_SECRETS, "HOME": str(home), "WANDB_MODE": "offline",
           "WANDB_CONFIG_DIR": str(home / ".config" / "wandb"), "WANDB_CACHE_DIR": str(home / ".cache" / "wandb"),
           "WANDB_DATA_DIR": str(home / ".local" / "share" / "wandb"), "TINYX_CACHE_DIR": str(tmp_path / "cache")}
    for key in DOTENV_SECRETS:
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", RUN_TRAIN_PY, str(dotenv), *MICRO_NO_LOGGER, "logger=[wandb,tensorboard]",
         "train.max_steps=10", "train.eval_every=5", "train.ckpt_every=5", "hardware.threads=1",
         "data.url=https://${oc.env:TINYX_DATA_TOKEN}@data.example.org/tinyshakespeare.txt",
         f"hydra.run.dir={run_dir}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != dotenv]
    names = {p.name for p in written}
    # The run wrote what it should: Hydra's files, the logs, checkpoints, wandb's offline run, TensorBoard's events.
    assert {"config.yaml", "overrides.yaml", "hydra.yaml", "summary.json", "metrics.jsonl", "ckpt_000010.pt",
            "tokenizer.json"} <= names
    assert any(n.endswith(".wandb") for n in names) and any(n.startswith("events.out.tfevents") for n in names)
    assert any(p.name == "output.log" and "wandb" in p.parts for p in written)  # wandb's copy of the console
    secrets = {**DOTENV_SECRETS, **ENVIRONMENT_SECRETS}
    leaks = [f"{name} in {path.relative_to(tmp_path)}" for path in written for name, value in secrets.items()
             if value.encode() in path.read_bytes()]
    assert leaks == [], f"{len(leaks)} leaks in {len(written)} files"
    assert secrets["TINYX_DATA_TOKEN"] not in result.stdout + result.stderr

    # The checkpoint holds the value's source; a process with the variable set gets the value back.
    url_source = "https://${oc.env:TINYX_DATA_TOKEN}@data.example.org/tinyshakespeare.txt"
    monkeypatch.delenv("TINYX_DATA_TOKEN", raising=False)
    assert load_checkpoint(run_dir / "checkpoints" / "ckpt_000010.pt")["config"]["data"]["url"] == url_source
    monkeypatch.setenv("TINYX_DATA_TOKEN", DOTENV_SECRETS["TINYX_DATA_TOKEN"])
    assert load_checkpoint(run_dir / "checkpoints" / "ckpt_000010.pt")["config"]["data"]["url"] == \
        url_source.replace("${oc.env:TINYX_DATA_TOKEN}", DOTENV_SECRETS["TINYX_DATA_TOKEN"])
