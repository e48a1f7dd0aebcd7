"""Shared fixtures: offline data from ../shared, a micro model config, one trained micro run."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
CORPUS = SHARED / "data" / "tinyshakespeare.txt"
CONF_DIR = ROOT / "conf"

# Offline: tiktoken reads the shared cache; tinyx's token cache lives in a per-session folder.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken_cache"))
os.environ.setdefault("WANDB_MODE", "offline")

# A model small enough that a test run takes a second or two on 2 cores.
MICRO = [
    "hardware=cpu", f"data.path={CORPUS}",
    "model.n_layer=2", "model.n_head=2", "model.d_model=32", "model.block_size=32",
    "train.batch_size=4", "train.max_steps=40", "train.eval_every=20", "train.eval_batches=2",
    "train.log_every=5", "train.ckpt_every=10", "train.sample_tokens=16", "optim.warmup_steps=5",
    "logger.progress_bar=false",
    "logger=none",  # wandb (the default logger) costs a second per run; its own tests switch it on
]
MICRO_NO_LOGGER = [o for o in MICRO if not o.startswith("logger=")]


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tinyx_cache")
    os.environ["TINYX_CACHE_DIR"] = str(folder)
    return folder


def compose(overrides: list[str] = (), config_name: str = "train"):
    """The config Hydra would compose for `train.py <overrides>` (Hydra's errors left as they are)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from tinyx.compose import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def micro_config(*overrides: str):
    from tinyx.config import to_run_config

    return to_run_config(compose(MICRO + list(overrides)))


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command of the project (`train.py ...`, `-m tinyx.generate ...`) as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def leet(*args: str) -> str:
    """wandb's own local reader of offline runs: `wandb leet inspect --json` (wandb 0.31)."""
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One micro run trained to the end (40 steps, checkpoints at 10..40), shared by read-only tests."""
    from tinyx.training import train

    run_dir = tmp_path_factory.mktemp("trained_run")
    summary = train(micro_config(), run_dir)
    return run_dir, summary


@pytest.fixture(scope="session")
def tracked_multirun(tmp_path_factory):
    """A 2-job multirun (optim.lr=1e-3,3e-3, 10 steps) with logger=[wandb,tensorboard], run as a user would
    with a .env copied from .env.example: empty WANDB_* values, so no API key -> wandb writes offline."""
    sweep = tmp_path_factory.mktemp("tracked_multirun")
    no_key = {"WANDB_MODE": "", "WANDB_API_KEY": "", "WANDB_PROJECT": "", "WANDB_ENTITY": "",
              "NETRC": str(sweep / "no_netrc")}
    # One torch thread: on a shared 2-core machine two threads per process oversubscribe the cores.
    result = run_cli("train.py", "-m", *MICRO_NO_LOGGER, "logger=[wandb,tensorboard]", "train.max_steps=10",
                     "train.eval_every=5", "train.ckpt_every=10", "hardware.threads=1", "optim.lr=1e-3,3e-3",
                     f"hydra.sweep.dir={sweep}", env=no_key)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return sweep, result


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or ([shutil.which("pg_ctl")] if shutil.which("pg_ctl") else [])
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this test session (Debian's `postgresql` package; .ci/run installs it):
    a fresh cluster in a temporary folder on a free port, trust authentication, database `tinyx`."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    # Outside pytest's private temporary folder: as root, the server runs as the package's `postgres`
    # user (PostgreSQL refuses root), which must reach its data folder.
    data = Path(tempfile.mkdtemp(prefix="tinyx-postgres-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, timeout=120)
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "--auth=trust", "-U", "tinyx")
    run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "server.log"), "-w", "start",
        "-o", f"-p {port} -k {data} -h 127.0.0.1")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tinyx", "tinyx")
        yield f"postgresql://tinyx@127.0.0.1:{port}/tinyx"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)
