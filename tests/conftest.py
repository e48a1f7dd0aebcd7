"""Shared fixtures: the token cache, one trained micro run, a tracked multirun, a PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import MICRO, micro_config, run_cli


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tinyx_cache")
    with pytest.MonkeyPatch.context() as env:  # the variable is put back as it was after the session
        env.setenv("TINYX_CACHE_DIR", str(folder))
        yield folder


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
    result = run_cli("train.py", "-m", *MICRO, "logger=[wandb,tensorboard]", "train.max_steps=10",
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
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, timeout=120)
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "--auth=trust", "-U", "tinyx")
    port = _start_on_a_free_port(run, bin_dir, data)
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tinyx", "tinyx")
        yield f"postgresql://tinyx@127.0.0.1:{port}/tinyx"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def _start_on_a_free_port(run, bin_dir: Path, data: Path, attempts: int = 5) -> int:
    """Start the server on a port no one else holds and return it.

    PostgreSQL cannot pick a port itself: a port found free may be taken by another process before the
    server binds it, so a start that fails on a port in use is retried on another one."""
    for attempt in range(1, attempts + 1):  # returns or raises
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = data / f"server-{port}.log"
        try:
            run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(log), "-w", "start",
                "-o", f"-p {port} -k {data} -h 127.0.0.1")
            return port
        except subprocess.CalledProcessError:
            lost_the_port = log.is_file() and "could not bind" in log.read_text(errors="replace")
            if not lost_the_port or attempt == attempts:
                raise
