"""Run an Optuna study whose trials are train.py runs: `uv run sweep.py [search_space=...] [sweep.key=...]
[train.py overrides ...]` (see README, "Hyperparameter studies")."""

from tinyx.cli.entry import start

start("sweep.py")

from tinyx.hydra_glue.entry_points import hydra_main  # noqa: E402  (after start: .env first, or one hint)


@hydra_main("sweep")
def main(cfg) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from tinyx.sweep.main import run_sweep

    hydra_cfg = HydraConfig.get()
    return run_sweep(cfg, list(hydra_cfg.overrides.task), hydra_cfg.runtime.choices.get("search_space"))


if __name__ == "__main__":
    main()
