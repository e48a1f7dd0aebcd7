"""Is the comparison fair? Arms that differ in the optimizer, or in a key that moves the best learning rate, are
judged fairly only when each ran at its own tuned learning rate: an untuned baseline flatters the variant (on
llama_tiny at 300 steps AdamW's default 1e-3 ends 0.035 above AdamW at its best, 2.9e-3: about twice the gap
between the two optimizers each tuned, docs/optimizers.md). compare warns unless the arms are an lr sweep themselves or a tuning record
(`tinyx ablate --tune optim.lr`, tinyx.compare.tuning) covers them."""

from __future__ import annotations

import shlex

from tinyx.compare.arms import Arm
from tinyx.compare.runs import comparable
from tinyx.compare.tuning import find_tuning

LR_KEY = "optim.lr"
# Keys whose change moves the best learning rate: the optimizer, the model's width and depth, the batch size.
LR_MOVING_KEYS = ("optim.name", "model.n_embd", "model.n_layer", "train.batch_size")


def _config(arm: Arm, key: str):
    return arm.runs[0].config.get(key)


def is_lr_sweep(arms: list[Arm], moved: list[str]) -> bool:
    """Each setting of the moved keys ran at more than one learning rate: the arms are the tuning itself."""
    lrs: dict[str, set[str]] = {}
    for arm in arms:
        lrs.setdefault(comparable([_config(arm, k) for k in moved]), set()).add(comparable(_config(arm, LR_KEY)))
    return all(len(values) > 1 for values in lrs.values())


def is_tuned(arms: list[Arm], record: dict | None) -> bool:
    """A tuning record of optim.lr above the runs covers the arms: by name, by their chosen values, or (leniently)
    the arms all ran at different learning rates."""
    if not isinstance(record, dict) or record.get("key") != LR_KEY or not isinstance(record.get("arms"), dict):
        return False
    tuned = record["arms"]
    chosen = {comparable(t.get("chosen")) for t in tuned.values() if isinstance(t, dict)}
    lrs = [comparable(_config(a, LR_KEY)) for a in arms]
    return ({a.name for a in arms} <= set(tuned) or set(lrs) <= chosen or len(set(lrs)) == len(arms))


def tuning_warning(keys: list[str], arms: list[Arm]) -> str | None:
    """One warning when the arms differ in a key of LR_MOVING_KEYS, are no lr sweep, and no record says they
    were tuned; None otherwise."""
    moved = [k for k in LR_MOVING_KEYS if k in keys]
    if not moved or is_lr_sweep(arms, moved):
        return None
    if is_tuned(arms, find_tuning(sorted({r.path.parent for a in arms for r in a.runs}))):
        return None
    differ = " and ".join(f"{k} ({', '.join(dict.fromkeys(str(_config(a, k)) for a in arms))})" for k in moved)
    listed = " ".join(shlex.quote(a.name) for a in arms)
    return (f"the arms differ in {differ} and ran at their configs' learning rates, untuned: an untuned baseline "
            f"flatters the variant; tune each arm: uv run tinyx ablate {listed} --tune {LR_KEY} "
            f"(docs/optimizers.md)")
