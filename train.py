"""Train one model: `uv run train.py [group=option ...] [key=value ...]` (see README)."""

import hydra
from dotenv import load_dotenv
from omegaconf import DictConfig

from tinyx.compose import register_configs

load_dotenv()
register_configs()


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tinyx.cli import run_labels_from_hydra, run_train

    hydra_cfg = HydraConfig.get()
    return run_train(cfg, hydra_cfg.runtime.output_dir, labels=run_labels_from_hydra(hydra_cfg),
                     multirun=hydra_cfg.mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    main()
