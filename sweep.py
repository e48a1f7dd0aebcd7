"""Run an Optuna study whose trials are train.py runs: `uv run sweep.py [search_space=...] [sweep.key=...]
[train.py overrides ...]` (see README, "Hyperparameter studies")."""

import hydra
from dotenv import load_dotenv
from omegaconf import DictConfig

from tinyx.compose import register_configs

load_dotenv()
register_configs()


@hydra.main(config_path="conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from tinyx.cli import run_sweep

    hydra_cfg = HydraConfig.get()
    return run_sweep(cfg, list(hydra_cfg.overrides.task), hydra_cfg.runtime.choices.get("search_space"))


if __name__ == "__main__":
    main()
