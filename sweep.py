"""Run an Optuna study whose trials are train.py runs: `uv run sweep.py [search_space=...] [sweep.key=...]
[train.py overrides ...]` (see README, "Hyperparameter studies")."""

import sys

try:
    import hydra
    from omegaconf import DictConfig
except ModuleNotFoundError as e:  # `python sweep.py` outside tinyx's environment: say what to run instead
    from tinyx.cli.entry import exit_outside_environment

    exit_outside_environment("sweep.py", e)

from tinyx.hydra_glue.compose import check_override_keys, register_configs
from tinyx.cli.entry import load_env

load_env()
register_configs()


@hydra.main(config_path="conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from tinyx.sweep.main import run_sweep

    hydra_cfg = HydraConfig.get()
    return run_sweep(cfg, list(hydra_cfg.overrides.task), hydra_cfg.runtime.choices.get("search_space"))


if __name__ == "__main__":
    check_override_keys(sys.argv[1:], "sweep")  # before Hydra: a misspelt key gets "did you mean"
    main()
