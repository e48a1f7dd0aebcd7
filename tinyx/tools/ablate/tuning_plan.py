"""Before anything runs: each arm's config composed (a typo fails here, once, not in every run), and with --tune
each arm's grid, from the value its config gives the key. Bad tuning input ends here in one line."""

from __future__ import annotations

from tinyx.common.errors import AblateError
from tinyx.config import MUON_ONLY_KEYS
from tinyx.tools.ablate.seeds import ArmSpec
from tinyx.tools.ablate.tuning import TuneSpec, fmt


def _uses(cfg, key: str) -> bool:
    """Whether a run of this config reads the key: it exists, and a Muon-only key only under optim=muon."""
    from omegaconf import OmegaConf

    section, _, name = key.partition(".")
    if OmegaConf.select(cfg, key, default=None) is None:
        return False
    return not (section == "optim" and name in MUON_ONLY_KEYS and cfg.optim.name != "muon")


def _number(cfg, key: str) -> float:
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise AblateError(f"--tune {key}: its value is {value!r}, not a positive number; a log grid tunes a positive "
                          f"number such as optim.lr.")
    return float(value)


def check_spec(spec: TuneSpec) -> None:
    grid = spec.values or spec.factors
    if len(set(grid)) < 3:
        what = "values" if spec.values else "--tune-factors"
        raise AblateError(f"{what} {','.join(map(fmt, grid))}: a grid of {len(set(grid))} value(s) cannot show "
                          f"where the best lies; give 3 or more, e.g. --tune-factors 0.5,1,2.")
    if min(grid) <= 0:
        raise AblateError(f"the grid {','.join(map(fmt, grid))} holds a value <= 0: a log grid needs positive values.")
    if spec.seeds < 1:
        raise AblateError(f"--tune-seeds={spec.seeds}: tune on at least 1 seed (2 average out some noise).")


def plan_grids(arms: list[ArmSpec], spec: TuneSpec | None, extra: list[str]) -> dict[str, list[float]]:
    """Compose every arm; with --tune, {arm name: its grid} for the arms whose runs use the key."""
    from tinyx.hydra_glue.compose import compose_train, known_config_keys, suggest_keys

    configs = {arm.name: compose_train([*arm.overrides, *extra]) for arm in arms}
    if spec is None:
        return {}
    check_spec(spec)
    if spec.key not in known_config_keys():
        hint = suggest_keys(spec.key, known_config_keys())
        raise AblateError(f"--tune {spec.key}: not a config key" + (f"; did you mean {hint[0]}?" if hint else
                                                                     ": e.g. --tune optim.lr."))
    using = {name: cfg for name, cfg in configs.items() if _uses(cfg, spec.key)}
    if not using:
        raise AblateError(f"--tune {spec.key}: no arm uses it (a Muon-only key needs an arm with optim=muon): "
                          f"tune a key the arms read, e.g. --tune optim.lr.")
    for name, cfg in using.items():
        if spec.steps is not None and spec.steps > cfg.train.max_steps:
            raise AblateError(f"--tune-steps {spec.steps} is longer than arm {name!r}'s runs (train.max_steps="
                              f"{cfg.train.max_steps}): tuning would cost more than the verdict; pass at most "
                              f"{cfg.train.max_steps}.")
    return {name: list(spec.values) or [_number(cfg, spec.key) * f for f in spec.factors]
            for name, cfg in using.items()}
