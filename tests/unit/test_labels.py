"""What a tracker is told about a run: study groups without machine paths, `logger.wandb.*` winning over the
computed labels, and run names quoted for Hydra as tinyx ablate passes them."""

from pathlib import Path

import pytest
from helpers import compose

from tinyx.config import quoted_override, to_run_config
from tinyx.loggers.labels import RunLabels, study_group


def test_a_group_never_holds_a_machine_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path / "outputs"))
    assert study_group(tmp_path / "outputs" / "ablate" / "2026-12-07" / "20-15-00") == "ablate/2026-12-07/20-15-00"
    assert study_group("/data/team/sweeps/2026/muon") == "sweeps/2026/muon"  # absolute, outside the outputs root
    home_study = Path.home() / "studies" / "muon"
    assert study_group(home_study) == "studies/muon"  # the home folder's path names the user
    assert study_group("/") == "study"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYX_OUTPUTS", "")  # empty means unset: outputs/ of the current directory
    assert study_group("outputs/multirun/2026-12-07/20-15-00") == "multirun/2026-12-07/20-15-00"


def wandb_config(*overrides: str):
    return to_run_config(compose(["logger=wandb", *overrides])).logger.wandb


def test_logger_wandb_settings_win_over_the_computed_labels_and_a_resumed_runs_first_ones():
    computed = RunLabels(arm="optim.lr=0.003", group="multirun/a")
    settled = computed.settled(wandb_config(), seed=1)
    assert (settled.name, settled.arm, settled.group, settled.job_type) == ("optim.lr=0.003 seed=1", "optim.lr=0.003",
                                                                            "multirun/a", "train")
    assert settled.config_keys() == {"arm": "optim.lr=0.003"}
    ablate = wandb_config("logger.wandb.arm=muon", "logger.wandb.group=study", "logger.wandb.job_type=tuning")
    settled = computed.settled(ablate, seed=2)
    assert (settled.name, settled.arm, settled.group, settled.job_type) == ("muon seed=2", "muon", "study", "tuning")
    # Resumed in place: the labels it was first logged under, not those of the resume's overrides.
    first = RunLabels(name="optim.lr=0.003 seed=1", arm="optim.lr=0.003", group=None)
    resumed = RunLabels(arm="optim.lr=0.003,train.max_steps=600", group="x").settled(wandb_config(), 1, first)
    assert (resumed.name, resumed.arm, resumed.group) == ("optim.lr=0.003 seed=1", "optim.lr=0.003", None)
    assert RunLabels().settled(wandb_config(), seed=0).name == "defaults seed=0"


@pytest.mark.parametrize("value", ["experiment=llama_tiny, optim=muon seed=2", "it's [a], b\\c", "ends in \\",
                                   "a\\'b", "$x"])
def test_a_quoted_override_reaches_the_config_unchanged(value):
    assert wandb_config(quoted_override("logger.wandb.name", value)).name == value
