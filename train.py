"""Train one model: `uv run train.py [group=option ...] [key=value ...]` (see README)."""

import sys

try:
    import hydra
    from omegaconf import DictConfig
except ModuleNotFoundError as e:  # `python train.py` outside tinyx's environment: say what to run instead
    from tinyx.cli.entry import exit_outside_environment

    exit_outside_environment("train.py", e)

from tinyx.hydra_glue.compose import check_override_keys, register_configs
from tinyx.cli.entry import load_env

load_env()
register_configs()


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tinyx.hydra_glue.train_main import run_labels_from_hydra, run_train

    hydra_cfg = HydraConfig.get()
    return run_train(cfg, hydra_cfg.runtime.output_dir, labels=run_labels_from_hydra(hydra_cfg),
                     multirun=hydra_cfg.mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    check_override_keys(sys.argv[1:], "train")  # before Hydra: a misspelt key gets "did you mean"
    main()
