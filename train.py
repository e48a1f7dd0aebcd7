"""Train one model: `uv run train.py [group=option ...] [key=value ...]` (see README)."""

from tinyx.cli.entry import start

start("train.py")

from tinyx.hydra_glue.entry_points import hydra_main  # noqa: E402  (after start: .env first, or one hint)


@hydra_main("train")
def main(cfg) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tinyx.hydra_glue.train_main import run_labels_from_hydra, run_train

    hydra_cfg = HydraConfig.get()
    return run_train(cfg, hydra_cfg.runtime.output_dir, labels=run_labels_from_hydra(hydra_cfg),
                     multirun=hydra_cfg.mode == RunMode.MULTIRUN)


if __name__ == "__main__":
    main()
