"""What the tests share: paths, the offline environment, the micro preset, composing configs, running the CLI.

Imported as `from helpers import ...` (pyproject's pytest `pythonpath` puts tests/ on the path);
fixtures live in conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
CORPUS = SHARED / "data" / "tinyshakespeare.txt"
CONF_DIR = ROOT / "conf"

# Offline: tiktoken reads the shared cache; tinyx's token cache lives in a per-session folder.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken_cache"))
os.environ["WANDB_MODE"] = "offline"  # never online from a test, even with an exported WANDB_MODE=online
# Hugging Face libraries read these once, when first imported: set before any test imports them, so a hub name
# fails at once instead of after network timeouts (the tests make their data and models themselves).
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

# A shell starts a background job (`cmd &`, nohup, some CI runners) with SIGINT ignored, and an ignored signal
# is inherited by every process the tests start: their Ctrl-C tests would then test nothing (a train.py that
# never sees the SIGINT exits 0). A handled signal is reset to the default at exec, so handling it here gives
# the test processes a user's terminal's Ctrl-C.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# conf/debug/micro.yaml: a model small enough that a test run takes a second or two on 2 cores, no
# tracker (wandb, the default logger, costs a second per run; its own tests switch it on).
MICRO = ["debug=micro", f"data.path={CORPUS}"]


def compose(overrides: list[str] = (), config_name: str = "train"):
    """The config Hydra would compose for `train.py <overrides>` (Hydra's errors left as they are)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from tinyx.hydra_glue.compose import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def micro_config(*overrides: str):
    from tinyx.config import to_run_config

    return to_run_config(compose(MICRO + list(overrides)))


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command of the project (`train.py ...`, `-m tinyx.tools.generate ...`) as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def leet(*args: str) -> str:
    """wandb's own local reader of offline runs: `wandb leet inspect --json` (wandb 0.31)."""
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def nanogpt_prepare_char(folder, text: str) -> None:
    """nanoGPT data/shakespeare_char/prepare.py: 90/10 split, uint16 ids, meta.pkl with vocab_size/itos/stoi."""
    import pickle

    import numpy as np

    chars = sorted(set(text))
    stoi, itos = {ch: i for i, ch in enumerate(chars)}, {i: ch for i, ch in enumerate(chars)}
    n = len(text)
    np.array([stoi[c] for c in text[:int(n * 0.9)]], dtype=np.uint16).tofile(folder / "train.bin")
    np.array([stoi[c] for c in text[int(n * 0.9):]], dtype=np.uint16).tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": itos, "stoi": stoi}, f)
