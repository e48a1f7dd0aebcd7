"""One study in one place: a multirun's jobs, runs named by `logger.wandb.*` (as tinyx ablate names them) and
`compare --wandb` land in one wandb group, each run named by its arm and seed with its `arm` and job type; read back
with wandb's own offline reader."""

import json

import pytest
from helpers import MICRO, leet, micro_config, run_cli

from tinyx.config import quoted_override

# As a user runs it with a .env copied from .env.example: empty WANDB_* values mean "not set".
EMPTY_WANDB = {"WANDB_MODE": "", "WANDB_API_KEY": "", "WANDB_PROJECT": "", "WANDB_ENTITY": ""}
STEPS = ["train.max_steps=4", "train.eval_every=4", "train.ckpt_every=4", "hardware.threads=1"]


def run_record(run_dir) -> dict:
    """The `run` record of the newest wandb run in a run directory (its name, group, job type and config)."""
    (record,) = [r["run"] for r in map(json.loads, leet(str(run_dir / "wandb" / "latest-run")).splitlines())
                 if r["type"] == "run"]
    return record


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A multirun of 2 learning rates x 2 seeds in a sweep directory under the outputs root ($TINYX_OUTPUTS)."""
    outputs = tmp_path_factory.mktemp("study_outputs")
    sweep = outputs / "multirun" / "muon_study"
    result = run_cli("train.py", "-m", *MICRO, "logger=wandb", *STEPS, "optim.lr=1e-3,3e-3", "seed=0,1",
                     f"hydra.sweep.dir={sweep}", env={**EMPTY_WANDB, "TINYX_OUTPUTS": str(outputs),
                                                      "NETRC": str(outputs / "no_netrc")})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return sweep


@pytest.mark.slow  # a 4-job multirun with wandb and four reads by `wandb leet`: ~40 s on 2 busy cores
def test_a_multiruns_jobs_share_a_path_free_group_and_are_named_by_arm_and_seed(study):
    records = [run_record(study / str(job)) for job in range(4)]
    assert {r["run_group"] for r in records} == {"multirun/muon_study"}  # the sweep dir below the outputs root
    assert {r["job_type"] for r in records} == {"train"}
    names = sorted(r["display_name"] for r in records)
    assert names == ["optim.lr=0.001 seed=0", "optim.lr=0.001 seed=1", "optim.lr=0.003 seed=0",
                     "optim.lr=0.003 seed=1"]
    for r in records:  # each run's own arm, the seed left out: a dashboard groups an arm's seeds by it
        assert r["display_name"] == f"{r['config']['update']['arm']} seed={r['config']['update']['seed']}"
    assert sorted(r["config"]["update"]["arm"] for r in records) == ["optim.lr=0.001"] * 2 + ["optim.lr=0.003"] * 2


@pytest.mark.slow
def test_compare_wandb_lands_in_the_runs_group_with_an_empty_wandb_mode(study, tmp_path, monkeypatch, capsys):
    from tinyx.compare import main

    for key, value in EMPTY_WANDB.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NETRC", str(tmp_path / "no_netrc"))
    main([str(study), "--out", str(tmp_path), "--wandb"])
    captured = capsys.readouterr()
    assert "wandb: offline comparison run" in captured.out and "warning" not in captured.err
    record = run_record(tmp_path)
    assert record["job_type"] == "compare" and record["run_group"] == "multirun/muon_study"

    main([str(study), "--out", str(tmp_path / "named"), "--wandb-group", "my study"])  # an explicit group
    assert run_record(tmp_path / "named")["run_group"] == "my study"


@pytest.mark.slow
def test_the_names_ablate_passes_are_honoured_through_hydras_quoting(tmp_path):
    # What tinyx ablate passes each train.py run: a name with spaces, `=` and commas needs Hydra's quotes.
    name, arm = "experiment=llama_tiny, optim=muon seed=2", "optim=muon, lr=3e-3"
    run_dir = tmp_path / "tuned"
    result = run_cli("train.py", *MICRO, "logger=wandb", *STEPS, "seed=2", quoted_override("logger.wandb.name", name),
                     quoted_override("logger.wandb.arm", arm), "logger.wandb.group=sinks_study",
                     "logger.wandb.job_type=tuning", f"hydra.run.dir={run_dir}", env=EMPTY_WANDB)
    assert result.returncode == 0, result.stderr[-3000:]
    record = run_record(run_dir)
    assert record["display_name"] == name and record["config"]["update"]["arm"] == arm
    assert record["run_group"] == "sinks_study" and record["job_type"] == "tuning"


def test_a_run_resumed_in_place_keeps_its_name_group_and_arm(tmp_path, monkeypatch):
    from tinyx.loggers.labels import RunLabels
    from tinyx.training import train

    monkeypatch.setenv("WANDB_MODE", "offline")
    run_dir = tmp_path / "run"
    common = ["logger=wandb", "train.eval_every=4", "train.ckpt_every=4", "train.sample_tokens=0"]
    train(micro_config(*common, "train.max_steps=4"), run_dir, quiet=True, labels=RunLabels(arm="optim.lr=0.003"))
    first = run_record(run_dir)
    # Resumed with more steps: train.py's labels now hold train.max_steps=8 among the overrides.
    train(micro_config(*common, "train.max_steps=8", "train.resume=auto"), run_dir, quiet=True,
          labels=RunLabels(arm="optim.lr=0.003,train.max_steps=8", group="other"))
    resumed = run_record(run_dir)
    assert resumed["run_id"] == first["run_id"]
    assert resumed["display_name"] == first["display_name"] == "optim.lr=0.003 seed=1337"
    assert resumed["config"]["update"]["arm"] == "optim.lr=0.003" and resumed.get("run_group", "") == ""


@pytest.mark.slow
def test_an_invalid_wandb_mode_is_one_line_naming_the_setting_and_what_wandb_takes(study, tmp_path, monkeypatch,
                                                                                   capsys):
    import wandb

    from tinyx.compare import main

    wandb.teardown()  # wandb reads WANDB_MODE at its first set-up in a process: undo an earlier test's
    monkeypatch.setenv("WANDB_MODE", "bogus")
    main([str(study), "--out", str(tmp_path), "--wandb"])
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "wandb" in line]
    assert line.startswith("warning: wandb failed (wandb setting mode (WANDB_MODE) is 'bogus': Input should be ")
    assert "'online', 'offline'" in line and f"the comparison is in {tmp_path}" in line
    assert (tmp_path / "comparison.md").is_file()  # the reports are written all the same


@pytest.mark.slow  # a 2-job multirun, an ablate of ~10 tuning and 4 verdict runs, a compare: 2-5 min on 2 cores
def test_a_study_of_a_multirun_an_ablate_and_a_compare_is_one_group(tmp_path, monkeypatch, capsys):
    from tinyx.compare import main as compare
    from tinyx.tools.ablate import main as ablate

    for key, value in {**EMPTY_WANDB, "NETRC": str(tmp_path / "no_netrc")}.items():
        monkeypatch.setenv(key, value)
    study = ["logger=wandb", "logger.wandb.group=fair_study", *STEPS]
    first = run_cli("train.py", "-m", *MICRO, *study, "optim=adamw,muon", "seed=0",
                    f"hydra.sweep.dir={tmp_path / 'first_look'}")
    assert first.returncode == 0, first.stderr[-3000:]
    out = tmp_path / "fair"
    ablate(["optim=adamw", "optim=muon", "--tune", "optim.lr=1e-3,3e-3,1e-2", "--tune-seeds", "1", "--round-seeds",
            "2", "--max-seeds", "2", "--min-effect", "0", "--out", str(out), "--", *MICRO, *study])
    tuned = json.loads((out / "tuning.json").read_text())["arms"]
    compare([str(out / "optim-adamw"), str(out / "optim-muon"), "--out", str(tmp_path / "cmp"), "--wandb"])

    runs = [*(tmp_path / "first_look").glob("[0-9]"), *(out / "tuning").glob("*/*/seed_*"), *out.glob("optim-*/seed_*")]
    records = {path: run_record(path) for path in [*runs, tmp_path / "cmp"]}
    assert len(records) == 2 + sum(len(arm["values"]) for arm in tuned.values()) + 4 + 1  # grids may grow
    assert {r["run_group"] for r in records.values()} == {"fair_study"}
    job_types = {path.relative_to(tmp_path).parts[0] + ("/tuning" if "tuning" in path.parts else ""): r["job_type"]
                 for path, r in records.items()}
    assert job_types == {"first_look": "train", "fair/tuning": "tuning", "fair": "train", "cmp": "compare"}
    for path, r in records.items():
        if path.name.startswith("seed_") and "tuning" not in path.parts:  # a verdict run: its arm at its tuned lr
            arm = "optim=" + path.parent.name.removeprefix("optim-")
            lr = f"{tuned[arm]['chosen']:.6g}"
            assert r["config"]["update"]["arm"] == f"{arm} optim.lr={lr}"
            assert r["display_name"] == f"{arm} optim.lr={lr} {path.name.replace('_', '=')}"
        elif path.name.startswith("seed_"):  # a tuning run: its arm at one grid value
            assert r["display_name"] == f"{r['config']['update']['arm']} {path.name.replace('_', '=')}"
            assert r["config"]["update"]["arm"].endswith(path.parent.name.replace("_", "=", 1))
