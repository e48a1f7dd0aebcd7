"""Train one model: `uv run train.py [group=option ...] [key=value ...]` (see README)."""

import hydra
from dotenv import load_dotenv
from omegaconf import DictConfig

from tinyx.config import register_configs

load_dotenv()
register_configs()


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    from tinyx.cli import run_train

    return run_train(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
