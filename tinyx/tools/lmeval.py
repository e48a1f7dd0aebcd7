"""EleutherAI's lm-evaluation-harness on tinyx checkpoints, through a tinyx `LM`.

    uv run tinyx evaluate <run> --tasks lambada_openai,hellaswag [--include-path DIR] [--limit N]

Why a tinyx LM rather than HFLM over an exported folder: it scores every tinyx model, the switches with
no Hugging Face equivalent included (attention sinks, learned positions with RMSNorm, ...), with the
run's own tokenizer (the character tokenizer has no BOS/EOS; HFLM assumes one), needs no export step,
and keeps scores comparable with tinyx's own val loss. A token's log-probability is computed with as
much context as the model's window allows: sequences longer than it are scored in windows tiled back
from the end, each token predicted exactly once.

Results go to <run dir>/lm_eval/<checkpoint>.json (one file per checkpoint; each task's latest scores),
and into the run's wandb summary when the run logged to wandb.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from tinyx.common.errors import EvaluateError
from tinyx.tools.lm_scoring import token_logprobs

RESULTS_DIR = "lm_eval"


def _lm_class():
    """The LM subclass, made when first needed so that importing this module never imports lm_eval."""
    from lm_eval.api.model import LM

    class TinyxLM(LM):
        def __init__(self, model, tokenizer, device, batch_size: int = 16):
            super().__init__()
            self.model, self.tokenizer, self._device = model.eval(), tokenizer, device
            self.batch_size = batch_size
            self.block_size = model.cfg.block_size
            self.prefix_id = _prefix_id(tokenizer)
            self.unknown_chars = 0  # characters a char tokenizer does not know (dropped from contexts)

        def _encode(self, text: str, is_context: bool) -> list[int] | None:
            """Token ids; for a char tokenizer, a context drops unknown characters, a continuation is None."""
            chars = getattr(self.tokenizer, "stoi", None)
            if chars is not None and any(c not in chars for c in text):
                if not is_context:
                    return None
                self.unknown_chars += sum(c not in chars for c in text)
                text = "".join(c for c in text if c in chars)
            return self.tokenizer.encode(text)

        def loglikelihood(self, requests) -> list[tuple[float, bool]]:
            seqs, cont_lens, results = [], [], {}
            for i, req in enumerate(requests):
                context, continuation = req.args
                ctx, cont = self._encode(context, True), self._encode(continuation, False)
                if cont is None or not cont:  # a character the model cannot write: probability 0
                    results[i] = (-math.inf if cont is None else 0.0, cont is not None)
                    continue
                seqs.append((i, [self.prefix_id] + ctx + cont if not ctx else ctx + cont))
                cont_lens.append(len(cont))
            scored = token_logprobs(self.model, [s for _, s in seqs], self.block_size, self.batch_size, self._device)
            for (i, _), n, (logp, greedy) in zip(seqs, cont_lens, scored):
                results[i] = (float(sum(logp[-n:])), bool(all(greedy[-n:])))
            return [results[i] for i in range(len(requests))]

        def loglikelihood_rolling(self, requests) -> list[float]:
            seqs = [[self.prefix_id] + self._encode(req.args[0], True) for req in requests]
            return [float(sum(logp)) for logp, _ in
                    token_logprobs(self.model, seqs, self.block_size, self.batch_size, self._device)]

        def generate_until(self, requests) -> list[str]:
            return [_greedy_until(self, *req.args) for req in requests]

    return TinyxLM


def _greedy_until(lm, context: str, kwargs: dict) -> str:
    """TinyxLM.generate_until for one request: greedy text after `context`, cut at the first `until` string."""
    import torch

    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    ids = lm._encode(context, True) or [lm.prefix_id]
    idx = torch.tensor([ids], dtype=torch.long, device=lm._device)
    new = lm.model.generate(idx, int(kwargs.get("max_gen_toks", 128)), temperature=0.0)
    text = lm.tokenizer.decode(new[0, len(ids):].tolist())
    cut = min([text.find(s) for s in until if s and s in text], default=len(text))
    return text[:cut]


def _prefix_id(tokenizer) -> int:
    """What an empty context starts from: the end-of-text token, else a char tokenizer's newline (or 0)."""
    if getattr(tokenizer, "eot", None) is not None:  # tiktoken's <|endoftext|>, an HF tokenizer's end-of-text
        return tokenizer.eot
    return getattr(tokenizer, "stoi", {}).get("\n", 0)


def task_manager(include_path: str | None):
    from lm_eval.tasks import TaskManager

    if include_path and not Path(include_path).exists():
        raise EvaluateError(f"--include-path {include_path} does not exist: pass a folder of lm-eval task YAML files.")
    return TaskManager(include_path=include_path) if include_path else TaskManager()


def check_tasks(tasks: list[str], manager) -> None:
    """Every name a task, group or tag lm-eval knows (or a pattern such as mmlu_* that matches some)."""
    import fnmatch

    known = manager.all_tasks
    unknown = [t for t in tasks if t not in known and not (any(c in t for c in "*?[") and fnmatch.filter(known, t))]
    if unknown:
        raise EvaluateError(f"lm-eval task {', '.join(unknown)} does not exist: check the name (`uv run lm-eval ls "
                            f"tasks` lists them) or pass --include-path with your task's YAML folder.")


def run_tasks(run, tasks: list[str], include_path: str | None = None, limit: float | None = None,
              num_fewshot: int | None = None, batch_size: int = 16, device=None, bootstrap_iters: int = 1000):
    """lm-eval's results dict for a LoadedRun (tinyx.tools.run_model.load_model) on `tasks`."""
    import lm_eval

    manager = task_manager(include_path)
    check_tasks(tasks, manager)
    lm = _lm_class()(run.model, run.tokenizer, device or next(run.model.parameters()).device, batch_size)
    results = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit,
                                      num_fewshot=num_fewshot, bootstrap_iters=bootstrap_iters, log_samples=False)
    results["tinyx"] = {"checkpoint": str(run.checkpoint), "step": run.step, "unknown_characters": lm.unknown_chars}
    return results


def metric_rows(results: dict) -> list[tuple[str, str, float, float | None]]:
    """(task, metric, value, stderr) for each metric lm-eval reported (stderr None where it has none)."""
    rows = []
    for task, values in results["results"].items():
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if metric.endswith("_stderr") or metric == "sample_len" or not isinstance(value, (int, float)):
                continue
            stderr = values.get(f"{metric}_stderr,{filt}")
            rows.append((task, metric, float(value), float(stderr) if isinstance(stderr, (int, float)) else None))
    return rows


def write_results(run_dir: Path, checkpoint: Path, results: dict) -> Path:
    """<run dir>/lm_eval/<checkpoint stem>.json: each task's latest results for this checkpoint, merged."""
    from tinyx.common.files import atomic_write_json

    folder = run_dir / RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{checkpoint.stem}.json"
    try:
        doc = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        doc = {}
    doc.setdefault("tasks", {})
    when = time.strftime("%Y-%m-%dT%H:%M:%S")
    for task, values in results["results"].items():
        doc["tasks"][task] = {"metrics": values, "n-shot": results.get("n-shot", {}).get(task),
                              "version": results.get("versions", {}).get(task), "evaluated_at": when}
    doc.update(checkpoint=str(checkpoint), step=results["tinyx"]["step"],
               unknown_characters=results["tinyx"]["unknown_characters"])
    atomic_write_json(path, doc)
    return path


def log_to_wandb(run_dir: Path, rows, say=print) -> None:
    """Into the run's wandb summary (`lm_eval/<task>/<metric>`), when the run logged to wandb: the same run id
    and project, offline when WANDB_MODE says so (a new offline-run-* folder for `wandb sync`)."""
    import os

    from tinyx.loggers.wandb_env import offline_reason, wandb_mode
    from tinyx.loggers.wandb_logger import WANDB_ID_FILE
    from tinyx.rundir.contract import WANDB_DIR, read_config

    id_file = run_dir / WANDB_DIR / WANDB_ID_FILE
    mode = wandb_mode()
    if not id_file.is_file() or mode == "disabled":
        return
    run_id = id_file.read_text().strip()
    wandb_cfg = read_config(run_dir).get("logger", {}).get("wandb", {})
    try:
        import wandb

        # Offline by the same rule as training (WANDB_MODE=offline, or no API key), passed explicitly: wandb's
        # process-wide settings may come from an earlier wandb run of this process with another environment.
        wb = wandb.init(dir=str(run_dir), id=run_id, resume="allow",
                        project=wandb_cfg.get("project") or os.environ.get("WANDB_PROJECT") or "tinyx",
                        entity=wandb_cfg.get("entity") or os.environ.get("WANDB_ENTITY") or None,
                        mode="offline" if offline_reason(mode) else None, settings=wandb.Settings(silent=True))
        wb.summary.update({f"lm_eval/{task}/{metric}": value for task, metric, value, _ in rows})
        wb.summary.update({f"lm_eval/{task}/{metric}_stderr": se for task, metric, _, se in rows if se is not None})
        wb.finish()
        say(f"wandb: lm-eval results in run {run_id}'s summary")
    except Exception as e:  # wandb is a convenience: the results file is written either way
        say(f"warning: wandb failed ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); the "
            f"results are in {run_dir / RESULTS_DIR}")


def to_markdown(rows) -> str:
    lines = ["| task | metric | value | stderr |", "|---|---|---|---|"]
    lines += [f"| {t} | {m} | {v:.4f} | {'' if se is None else f'{se:.4f}'} |" for t, m, v, se in rows]
    return "\n".join(lines) + "\n"


def main(checkpoints: list[Path], tasks: list[str], include_path: str | None, limit: float | None,
         num_fewshot: int | None, batch_size: int, device: str) -> list[dict[str, Any]]:
    """`tinyx evaluate --tasks`: score each checkpoint, print a table, write results into its run directory."""
    from tinyx.hf import require
    from tinyx.rundir.find import run_dir_of
    from tinyx.runtime.hardware import resolve_device
    from tinyx.tools.run_model import load_model

    require("lm_eval", extra="eval", what="tinyx evaluate --tasks", error=EvaluateError)
    check_tasks(tasks, task_manager(include_path))  # before loading any model: a typo fails at once
    dev = resolve_device(device)
    every = []
    for ckpt in checkpoints:
        run = load_model(ckpt, dev)
        results = run_tasks(run, tasks, include_path, limit, num_fewshot, batch_size, dev)
        rows = metric_rows(results)
        path = write_results(run_dir_of(ckpt), ckpt, results)
        print(f"{ckpt} (step {run.step})\n{to_markdown(rows)}wrote {path}", flush=True)
        log_to_wandb(run_dir_of(ckpt), rows)
        every.append(results)
    return every
