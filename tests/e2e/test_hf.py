"""Hugging Face interop end to end: `tinyx export` on a trained run, `model.init_from=hf:<folder>`
back into training (a tinyx export and a GPT-2 folder saved by transformers), and lm-evaluation-harness
through `tinyx evaluate --tasks` on a local task.

These import transformers or lm_eval and train or score a run: slow (.ci/run runs them).
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from helpers import CORPUS, micro_config, run_cli

from tinyx.common.errors import ExportError
from tinyx.rundir.contract import read_metrics, read_summary

pytestmark = pytest.mark.slow


def first_eval(run_dir):
    return next(row for row in read_metrics(run_dir) if "val/loss" in row)


def test_export_then_init_from_starts_where_the_run_ended(trained_run, tmp_path):
    """The user's command exports and checks itself; a run started from the folder evaluates, before its first
    step, exactly the validation loss the exported run ended with (same val windows)."""
    from tinyx.training import train

    run_dir, summary = trained_run
    out = tmp_path / "hf"
    result = run_cli("-m", "tinyx.cli", "export", str(run_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    diff = float(re.search(r"max \|logit\(tinyx\) - logit\(transformers\)\| = (\S+)", result.stdout).group(1))
    assert diff <= 1e-5
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
            "tinyx_tokenizer.json", "generation_config.json"} <= names
    card = (out / "README.md").read_text()
    assert "GPT2LMHeadModel" in card and f"| val/loss | {summary.val_loss} |" in card
    assert json.loads((out / "config.json").read_text())["activation_function"] == "gelu"

    again = run_cli("-m", "tinyx.tools.export", str(run_dir), "--out", str(out), "--overwrite")
    assert again.returncode == 0, again.stderr

    started = tmp_path / "started"
    train(micro_config(f"model.init_from=hf:{out}", "train.max_steps=1"), started)
    row = first_eval(started)
    print(f"exported run's final val loss {summary.val_loss}; init_from run's first val loss {row['val/loss']}")
    assert row["step"] == 0
    assert row["val/loss"] == pytest.approx(summary.val_loss, abs=1e-6)
    assert json.loads((started / "config.json").read_text())["model"]["init_from"] == f"hf:{out}"


def test_init_from_a_gpt2_folder_saved_by_transformers(tmp_path):
    """A GPT-2 checkpoint tinyx never saw: its shape must be the run's (the error lists the overrides), the
    tokenizer is taken as tiktoken gpt2, and the run starts from exactly the folder's model."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tinyx.data import fixed_eval_windows, load_tokens
    from tinyx.hf.tokenizer import tiktoken_to_tokenizer
    from tinyx.training import train

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64, activation_function="gelu",
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    hf = GPT2LMHeadModel(config).eval()
    folder = tmp_path / "gpt2_small"
    hf.save_pretrained(folder)
    tiktoken_to_tokenizer("gpt2").save(str(folder / "tokenizer.json"))

    with pytest.raises(ExportError, match=r"another shape .*\(bias=False\): add model.bias=true"):
        train(micro_config(f"model.init_from=hf:{folder}"), tmp_path / "refused")
    run_dir = tmp_path / "run"
    train(micro_config(f"model.init_from=hf:{folder}", "model.bias=true", "train.max_steps=1"), run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["data"]["tokenizer"] == "tiktoken" and cfg["data"]["encoding"] == "gpt2"

    run_cfg = micro_config("data.tokenizer=tiktoken")
    data = load_tokens(run_cfg.data)
    windows = fixed_eval_windows(data.val, run_cfg.train.eval_batches, run_cfg.train.eval_batch_size,
                                 run_cfg.model.block_size)
    with torch.no_grad():
        # Not HF's `labels=` (it shifts them and drops each window's last target, which tinyx scores).
        losses = [torch.nn.functional.cross_entropy(hf(input_ids=w[:, :-1]).logits.flatten(0, 1), w[:, 1:].flatten())
                  for w in windows]
    expected = float(torch.stack(losses).mean())
    assert first_eval(run_dir)["val/loss"] == pytest.approx(expected, abs=1e-5)


def write_local_task(folder, docs):
    """A multiple-choice lm-eval task over a local JSONL file (no network: HF_DATASETS_OFFLINE=1 holds)."""
    (folder / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "tinyx_local_mc.yaml").write_text(f"""task: tinyx_local_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {folder / 'docs.jsonl'}
test_split: test
target_delimiter: ""
output_type: multiple_choice
doc_to_text: "{{{{prompt}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""")


def test_lm_eval_on_a_local_task_writes_metric_and_stderr(trained_run, tmp_path, monkeypatch):
    """tinyx.tools.evaluate --tasks: the result file holds acc and its standard error, and acc is what the model's
    own log-probabilities say (the choice with the higher sum, scored here by teacher forcing)."""
    import shutil

    from tinyx.tools import evaluate
    from tinyx.tools.run_model import load_model

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run[0], run_dir)  # lm_eval/ is written into the run: the shared fixture stays as it was
    text = CORPUS.read_text()
    docs = []
    for i in range(12):
        start = 1000 + 700 * i
        prompt, right = text[start:start + 40], text[start + 40:start + 52]
        wrong = text[start + 40:start + 52][::-1]
        docs.append({"prompt": prompt, "choices": [right, wrong] if i % 2 else [wrong, right], "answer": i % 2 ^ 1})
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_local_task(tasks, docs)

    evaluate.main([str(run_dir), "--tasks", "tinyx_local_mc", "--include-path", str(tasks)])

    results = json.loads(next((run_dir / "lm_eval").glob("ckpt_*.json")).read_text())
    metrics = results["tasks"]["tinyx_local_mc"]["metrics"]
    acc, stderr = metrics["acc,none"], metrics["acc_stderr,none"]
    run = load_model(run_dir)
    expected = sum(_choice_logprob(run, d["prompt"], d["choices"][d["answer"]])
                   > _choice_logprob(run, d["prompt"], d["choices"][1 - d["answer"]]) for d in docs) / len(docs)
    assert acc == pytest.approx(expected)
    assert stderr == pytest.approx(math.sqrt(acc * (1 - acc) / (len(docs) - 1)))
    assert results["step"] == read_summary(run_dir).step


def _choice_logprob(run, prompt: str, choice: str) -> float:
    ids = run.tokenizer.encode(prompt + choice)
    x = torch.tensor([ids[:-1][-run.model.cfg.block_size:]])  # the most context the model takes
    with torch.no_grad():
        logp = torch.log_softmax(run.model(x, x)[0][0], dim=-1)
    n = len(run.tokenizer.encode(choice))
    return float(logp[-n:].gather(1, torch.tensor(ids[-n:])[:, None]).sum())


def test_lm_eval_results_go_into_the_runs_wandb_summary(tracked_multirun, tmp_path, monkeypatch):
    """A run that logged to wandb gets the harness's figures in its summary, under its own run id (read back
    with wandb's offline reader)."""
    import shutil

    from helpers import leet

    from tinyx.tools import evaluate

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    sweep, _ = tracked_multirun
    run_dir = tmp_path / "run"
    shutil.copytree(sweep / "0", run_dir)  # the shared fixture stays as it was
    before = set((run_dir / "wandb").glob("offline-run-*"))
    run_id = (run_dir / "wandb" / "run_id").read_text().strip()
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_local_task(tasks, [{"prompt": "ROMEO:\nWhat", "choices": [" light", " xqzv"], "answer": i % 2}
                             for i in range(4)])

    evaluate.main([str(run_dir), "--tasks", "tinyx_local_mc", "--include-path", str(tasks)])

    new, = set((run_dir / "wandb").glob("offline-run-*")) - before
    assert new.name.endswith(run_id)
    summary = json.loads(leet("--summary", str(new)))["summary"]
    results = json.loads(next((run_dir / "lm_eval").glob("ckpt_*.json")).read_text())
    metrics = results["tasks"]["tinyx_local_mc"]["metrics"]
    assert summary["lm_eval/tinyx_local_mc/acc"] == pytest.approx(metrics["acc,none"])
    assert summary["lm_eval/tinyx_local_mc/acc_stderr"] == pytest.approx(metrics["acc_stderr,none"])
