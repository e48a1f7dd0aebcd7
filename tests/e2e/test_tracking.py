"""wandb and TensorBoard: what a user finds in their tracker, read back with the trackers' own readers."""

import json
import re

import pytest
from helpers import CORPUS, MICRO, compose, leet, micro_config

from tinyx.config import to_run_config
from tinyx.config.secrets import Redactor
from tinyx.loggers import build_loggers
from tinyx.rundir.contract import read_jsonl
from tinyx.training import train


def test_wandb_is_the_default_and_loggers_combine():
    assert compose([f"data.path={CORPUS}"]).logger.wandb.enabled is True  # the default logger
    both = to_run_config(compose(MICRO + ["logger=[wandb,tensorboard]"])).logger
    assert both.wandb.enabled and both.tensorboard.enabled and both.progress_bar is False
    only_tb = to_run_config(compose(MICRO + ["logger=tensorboard"])).logger
    assert only_tb.tensorboard.enabled and not only_tb.wandb.enabled
    off = to_run_config(compose(MICRO + ["logger=none"])).logger
    assert not off.tensorboard.enabled and not off.wandb.enabled


def test_offline_wandb_runs_hold_config_history_and_summary(tracked_multirun):
    sweep, result = tracked_multirun
    # One line per job tells the user the run is offline and how to upload it.
    offline_lines = [line for line in result.stdout.splitlines() if line.startswith("wandb: offline")]
    assert len(offline_lines) == 2
    assert all("no WANDB_API_KEY" in line and "uv run wandb sync " in line for line in offline_lines)

    run_ids = []
    for job, lr in [("0", 0.001), ("1", 0.003)]:
        run_dirs = list((sweep / job / "wandb").glob("offline-run-*"))
        assert len(run_dirs) == 1  # one wandb run per job, inside that job's run directory
        assert f"uv run wandb sync {sweep / job / 'wandb'}/offline-run-*\n" in result.stdout
        summary_view = json.loads(leet("--summary", str(run_dirs[0])))
        records = [json.loads(line) for line in leet(str(run_dirs[0])).splitlines()]
        metrics = read_jsonl(sweep / job / "metrics.jsonl")
        local_summary = json.loads((sweep / job / "summary.json").read_text())

        assert summary_view["state"] == "finished" and summary_view["exit_code"] == 0
        assert summary_view["project"] == "tinyx"
        assert summary_view["name"] == f"optim.lr={lr} seed=1337"  # the override that differs, and the seed
        run_record = next(r["run"] for r in records if r["type"] == "run")
        # The sweep directory is outside the outputs root: its last three folders, no machine path.
        assert run_record["run_group"] == "/".join(sweep.parts[-3:]) and run_record["job_type"] == "train"
        assert "model=tiny" in summary_view["tags"] and "optim=adamw" in summary_view["tags"]
        config = summary_view["config"]
        assert config["optim.lr"] == lr and config["model.d_model"] == 32 and config["seed"] == 1337
        assert config["model.vocab_size"] == 65
        assert not any(k.startswith("logger.") for k in config)

        history = [r["history"]["item"] for r in records if r["type"] == "history"]
        train_rows = [h for h in history if "train/loss" in h]
        val_rows = [h for h in history if "val/loss" in h]
        assert [h["step"] for h in train_rows] == [5, 10]
        assert [h["train/loss"] for h in train_rows] == [m["train/loss"] for m in metrics if "train/loss" in m]
        assert all({"lr", "grad_norm", "step_ms", "tokens_per_second", "mfu"} <= set(h) for h in train_rows)
        assert [(h["step"], h["val/loss"]) for h in val_rows] == [(m["step"], m["val/loss"]) for m in metrics
                                                                   if "val/loss" in m]
        assert sum(1 for h in history if "samples._type" in h) == 2  # the samples table at each evaluation

        summary = summary_view["summary"]
        assert summary["val/loss"]["min"] == min(h["val/loss"] for h in val_rows) == local_summary["val/loss_best"]
        assert summary["val/loss"]["last"] == local_summary["val/loss"]
        assert [h["val/bpb"] for h in val_rows] == [m["val/bpb"] for m in metrics if "val/bpb" in m]
        assert summary["val/bpb"]["min"] == local_summary["val/bpb_best"]
        assert summary["val/bpb"]["last"] == local_summary["val/bpb"]
        assert summary["status"] == "completed" and summary["params"] == local_summary["params"]
        assert summary["samples"]["nrows"] == 2
        run_ids.append(summary_view["run_id"])
    assert run_ids[0] != run_ids[1]


def test_tensorboard_event_files_hold_loss_val_loss_bpb_lr_grad_norm(tracked_multirun):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep, _ = tracked_multirun
    for job in ("0", "1"):
        assert len(list((sweep / job).glob("events.out.tfevents.*"))) == 1
        events = EventAccumulator(str(sweep / job)).Reload()
        metrics = read_jsonl(sweep / job / "metrics.jsonl")
        for tag in ("train/loss", "val/loss", "val/bpb", "lr", "grad_norm"):
            logged = [(m["step"], m[tag]) for m in metrics if tag in m]
            read_back = [(e.step, e.value) for e in events.Scalars(tag)]
            assert [s for s, _ in read_back] == [s for s, _ in logged], tag
            assert [v for _, v in read_back] == pytest.approx([v for _, v in logged], rel=1e-6), tag
        assert "samples/text_summary" in events.Tags()["tensors"]


@pytest.mark.slow
def test_a_wandb_failure_warns_once_and_training_goes_on(tmp_path, monkeypatch, capsys):
    # A WANDB_MODE wandb refuses makes wandb.init raise: the run must still train and log locally.
    import wandb
    wandb.teardown()  # wandb reads WANDB_MODE at its first set-up in a process: undo an earlier test's
    monkeypatch.setenv("WANDB_MODE", "bogus")
    summary = train(micro_config("logger=wandb", "train.max_steps=5", "train.eval_every=5"), tmp_path / "bad_mode")
    out = capsys.readouterr().out
    assert summary.status == "completed"
    assert json.loads((tmp_path / "bad_mode" / "summary.json").read_text())["status"] == "completed"
    warnings = [line for line in out.splitlines() if line.startswith("warning: wandb")]
    assert len(warnings) == 1 and "WANDB_MODE) is 'bogus'" in warnings[0] and "training goes on" in warnings[0]

    # A failure mid-run (here: wandb refuses to log into a run that was finished behind our back).
    monkeypatch.setenv("WANDB_MODE", "offline")
    said = []
    (wandb_logger,) = build_loggers(micro_config("logger=wandb"), tmp_path / "mid_run", Redactor(), say=said.append)
    wandb_logger.run.finish()
    wandb_logger.log_metrics(1, {"train/loss": 4.0})
    wandb_logger.log_sample(1, "text")
    wandb_logger.finish({"status": "completed"})
    assert len([line for line in said if line.startswith("warning: wandb failed")]) == 1


def test_wandb_disabled_turns_it_off(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    said = []
    assert build_loggers(micro_config("logger=wandb"), tmp_path, Redactor(), say=said.append) == []
    assert said == ["wandb: off (WANDB_MODE=disabled); the run is logged locally only"]
    assert not (tmp_path / "wandb").exists()


def wandb_history(run_dir) -> list[dict]:
    """The history rows wandb's own reader finds in a run directory's wandb folders, oldest attempt first.

    A run resumed in place writes one offline-run-* folder per attempt, all with one run id: wandb
    uploads them as one run, so their rows together are what the user's dashboard shows."""
    folders = sorted((run_dir / "wandb").glob("offline-run-*"), key=lambda p: p.stat().st_mtime)
    return [r["history"]["item"] for folder in folders for r in map(json.loads, leet(str(folder)).splitlines())
            if r["type"] == "history"]


def logged(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in rows if r.get(key) is not None]


def test_resume_continues_the_wandb_run_in_place_and_replays_history_elsewhere(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    common = ["logger=[wandb,tensorboard]", "train.eval_every=5", "train.ckpt_every=5", "train.sample_tokens=0"]
    first = tmp_path / "first"
    train(micro_config(*common, "train.max_steps=10"), first, quiet=True)
    run_id = (first / "wandb" / "run_id").read_text().strip()
    train(micro_config(*common, "train.max_steps=15", "train.resume=auto"), first, quiet=True)  # in place
    assert (first / "wandb" / "run_id").read_text().strip() == run_id
    # wandb names its folders offline-run-<date>_<time>-<run id> (plus -1 for a second one within the same
    # second): both attempts wrote to the same run id.
    folder_ids = {re.match(r"offline-run-\d+_\d+-([^-]+)", p.name).group(1)
                  for p in (first / "wandb").glob("offline-run-*")}
    assert folder_ids == {run_id}
    # The wandb run holds every step once: the resumed attempt adds step 15 and re-logs nothing.
    metrics = read_jsonl(first / "metrics.jsonl")
    history = wandb_history(first)
    for key in ("train/loss", "val/loss"):
        assert logged(history, key) == logged(metrics, key) and [s for s, _ in logged(metrics, key)] == [5, 10, 15]
    events = EventAccumulator(str(first)).Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [5, 10, 15]  # no step twice

    elsewhere = tmp_path / "elsewhere"  # a resumed run in a new directory starts a new wandb run with the history
    train(micro_config(*common, "train.max_steps=15", f"train.resume={first / 'checkpoints' / 'ckpt_000010.pt'}"),
          elsewhere, quiet=True)
    assert (elsewhere / "wandb" / "run_id").read_text().strip() != run_id
    assert len(list((elsewhere / "wandb").glob("offline-run-*"))) == 1
    history = wandb_history(elsewhere)  # the history carried over (steps 5 and 10), then step 15, each once
    for key in ("train/loss", "val/loss"):
        assert logged(history, key) == logged(read_jsonl(elsewhere / "metrics.jsonl"), key) == logged(metrics, key)
    events = EventAccumulator(str(elsewhere)).Reload()
    assert [e.step for e in events.Scalars("val/loss")] == [5, 10, 15]


def test_the_offline_sync_hint_names_every_folder_of_a_run_resumed_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    said = []
    [logger] = build_loggers(micro_config("logger=wandb"), tmp_path, Redactor(), say=said.append)
    logger.finish({})
    # A run resumed in place writes one offline-run-* folder per attempt, all with one id: sync them all.
    assert said[-1].endswith(f"upload later with: uv run wandb sync {tmp_path}/wandb/offline-run-*")


def test_tracked_config_is_flat_and_leaves_out_logger_and_environment_values(monkeypatch):
    from tinyx.hydra_glue.compose import env_config_keys
    from tinyx.loggers.labels import tracked_config

    monkeypatch.setenv("TINYX_TEST_CACHE", "/home/someone/private-cache")
    composed = compose(MICRO + ["data.cache_dir=${oc.env:TINYX_TEST_CACHE}", "optim.lr=0.003"])
    assert env_config_keys(composed) == {"data.cache_dir": "${oc.env:TINYX_TEST_CACHE}"}
    config = tracked_config(to_run_config(composed), Redactor(env_config_keys(composed)))
    assert config["optim.lr"] == 0.003 and config["model.n_layer"] == 2 and config["optim.betas"] == [0.9, 0.99]
    assert "data.cache_dir" not in config and "/home/someone/private-cache" not in map(str, config.values())
    assert not any(k.startswith("logger.") for k in config)


def test_hyperparameters_named_like_secrets_reach_the_tracker_and_muon_keys_only_for_muon():
    from tinyx.loggers.labels import tracked_config

    adamw = tracked_config(micro_config("model.attn_sink=token", "model.n_sink_tokens=2",
                                        "data=shakespeare_bpe", "train.sample_tokens=16"), Redactor())
    # Keys an ablation varies, though their names hold "token": not secrets.
    assert adamw["model.n_sink_tokens"] == 2 and adamw["data.tokenizer"] == "tiktoken"
    assert adamw["train.sample_tokens"] == 16
    assert "optim.momentum" not in adamw and "optim.ns_steps" not in adamw  # AdamW ignores them
    muon = tracked_config(micro_config("optim=muon"), Redactor())
    assert muon["optim.momentum"] == 0.95 and muon["optim.adamw_lr"] == 3e-3
    # A secret by exact name is left out, whatever its value.
    assert "logger.wandb.api_key" not in Redactor().tracked({"logger": {"wandb": {"api_key": "k"}}, "seed": 1})
    assert Redactor().redact({"logger": {"wandb": {"api_key": "k"}}})["logger"]["wandb"]["api_key"] == "***"
