"""Score checkpoints: validation loss, perplexity and bits per byte, and probe cases (prompt -> expected continuation).

    uv run tinyx evaluate outputs/runs/2026-11-21/01-04-15 --probes conf/probes/shakespeare.yaml
    uv run tinyx evaluate 'outputs/runs/2026-11-21/01-04-15/checkpoints/ckpt_*.pt' --eval-batches 20
    uv run tinyx evaluate outputs/runs/2026-11-21/01-04-15 --tasks lambada_openai --limit 200

Each argument is a checkpoint file, a run directory (its latest checkpoint), a directory of runs
(each one's latest) or a glob of these; probe files: tinyx.tools.probes. Validation loss is over the whole validation split, in
back-to-back windows of the model's context; with --eval-batches N it is over the N fixed batches
training evaluates (so it matches the run's logged val/loss at that step).
Prints a table and writes evaluation.csv (one row per checkpoint) into the directory evaluated (or --out).
With --tasks it runs EleutherAI's lm-evaluation-harness instead (tinyx.tools.lmeval), writing each run's
<run dir>/lm_eval/<checkpoint>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinyx.cli.args import add_device, add_paths, tool_parser
from tinyx.common.errors import EvaluateError, exit_on_user_error
from tinyx.common.files import check_writable
from tinyx.rundir.find import find_checkpoints, run_dir_of
from tinyx.tools.probes import DEFAULT_TOP_K, Probe, ProbeResult, load_probes, score_probe
from tinyx.tools.run_model import load_model

CSV_FILE = "evaluation.csv"
# Windows per batch over the whole split: big batches are faster, and the loss does not depend on them.
FULL_SPLIT_BATCH_SIZE = 64


@dataclass
class CheckpointScore:
    checkpoint: Path
    step: int
    val_loss: float
    val_ppl: float
    val_bpb: float  # bits per byte over the same target tokens
    val_tokens: int
    probes: list[ProbeResult] = field(default_factory=list)


# ---------------------------------------------------------------- scoring
def validation_score(model, val_ids, val_bytes, block_size: int, batch_size: int, eval_batches: int | None, hw):
    """(mean loss per token, bits per byte, tokens scored) over the whole split, or over training's fixed
    eval batches; bits per byte over the same target tokens (tinyx.training.evaluation.ValScore), whose bytes
    `val_bytes` gives (tinyx.data.token_bytes.SplitBytes: windows cut from it match those cut from the ids)."""
    from tinyx.data import fixed_eval_windows, sequential_windows
    from tinyx.training.evaluation import score, target_byte_counts

    if eval_batches:
        windows = fixed_eval_windows(val_ids, eval_batches, batch_size, block_size)
        val = score(model, windows, target_byte_counts(fixed_eval_windows(val_bytes, eval_batches, batch_size,
                                                                          block_size)), hw)
        return val.loss, val.bpb, eval_batches * batch_size * block_size
    batches = sequential_windows(val_ids, batch_size, block_size)
    byte_batches = target_byte_counts(sequential_windows(val_bytes, batch_size, block_size))
    scores = [score(model, [b], [n], hw) for b, n in zip(batches, byte_batches, strict=True)]
    rows = sum(len(b) for b in batches)
    # Batches differ in size only at the end: weight each batch's mean by its rows.
    loss = sum(s.loss * len(b) for s, b in zip(scores, batches)) / rows
    target_bytes = sum(s.target_bytes for s in scores)
    bpb = sum(s.nll_nats for s in scores) / (math.log(2) * target_bytes) if target_bytes else math.nan
    return loss, bpb, rows * block_size


def _data_config(train_config: dict, data_path: str | None):
    """The checkpoint's data config, with --data-path for a corpus that moved."""
    from tinyx.config import DataConfig

    known = DataConfig.__dataclass_fields__
    data_cfg = DataConfig(**{k: v for k, v in train_config["data"].items() if k in known})
    if data_path:
        data_cfg.path = data_path
    return data_cfg


def evaluate_checkpoints(checkpoints: list[Path], probes: list[Probe] = (), top_k: int = DEFAULT_TOP_K,
                         eval_batches: int | None = None, batch_size: int | None = None, device: str = "auto",
                         data_path: str | None = None, threads: int = 0) -> list[CheckpointScore]:
    """Validation loss/perplexity and probe results of each checkpoint, in the order given."""
    from tinyx.config import HardwareConfig
    from tinyx.data import load_tokens
    from tinyx.data.token_bytes import split_bytes
    from tinyx.rundir.data_record import tokenizer_mismatch
    from tinyx.runtime import hardware

    hw = hardware.setup(HardwareConfig(device=device, threads=threads))
    datasets: dict[str, object] = {}  # checkpoints of one run share their corpus: tokenized once
    val_bytes: dict[str, object] = {}
    scores = []
    for ckpt in checkpoints:
        run = load_model(ckpt, hw.device)
        key = json.dumps(run.config["data"], sort_keys=True)
        if key not in datasets:
            datasets[key] = data = load_tokens(_data_config(run.config, data_path))
            val_bytes[key] = split_bytes(data.tokenizer, data.val, data.val_doc_starts)
        data = datasets[key]
        mismatch = tokenizer_mismatch(run.state["tokenizer"], data.tokenizer.to_dict())
        if mismatch:
            raise EvaluateError(f"checkpoint {ckpt} was trained with {mismatch}, from {data.corpus_path}: pass "
                                f"--data-path with the corpus it was trained on.")
        train_cfg = run.config.get("train", {})
        # --eval-batches reproduces training's batches, so it takes training's batch size.
        rows = batch_size or (train_cfg.get("eval_batch_size", 12) if eval_batches else FULL_SPLIT_BATCH_SIZE)
        loss, bpb, n_tokens = validation_score(run.model, data.val, val_bytes[key], run.model.cfg.block_size,
                                               rows, eval_batches, hw)
        score = CheckpointScore(checkpoint=ckpt, step=run.step, val_loss=loss, val_ppl=math.exp(min(loss, 50.0)),
                                val_bpb=bpb, val_tokens=n_tokens)
        score.probes = [score_probe(run.model, run.tokenizer, p, top_k, hw.device) for p in probes]
        scores.append(score)
    return scores


# ---------------------------------------------------------------- reports
def _short(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def to_markdown(scores: list[CheckpointScore], base: Path, top_k: int) -> str:
    lines = ["| checkpoint | step | val loss | val ppl | val bpb | tokens scored |"
             + (f" probes in top-{top_k} | probe log-prob (sum) |" if scores[0].probes else ""),
             "|---|---|---|---|---|---|" + ("---|---|" if scores[0].probes else "")]
    for s in scores:
        cells = [_short(s.checkpoint, base), str(s.step), f"{s.val_loss:.4f}", f"{s.val_ppl:.2f}", f"{s.val_bpb:.4f}",
                 f"{s.val_tokens:,}"]
        if s.probes:
            cells += [f"{sum(p.in_top_k for p in s.probes)}/{len(s.probes)}",
                      f"{sum(p.logprob for p in s.probes):.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if scores[0].probes:
        lines += ["", f"| probe | checkpoint | step | log-prob | per token | rank | in top-{top_k} |",
                  "|---|---|---|---|---|---|---|"]
        for i in range(len(scores[0].probes)):
            for s in scores:
                p = s.probes[i]
                lines.append(f"| {p.name} | {_short(s.checkpoint, base)} | {s.step} | {p.logprob:.3f} | "
                             f"{p.logprob / p.tokens:.3f} | {p.rank} | {'yes' if p.in_top_k else 'no'} |")
        lines += ["", "log-prob: of the whole expected continuation (nats); rank: the worst rank of its tokens "
                  "(1 = greedy decoding writes it); in top-k: every token among the k most likely."]
    return "\n".join(lines) + "\n"


def write_csv(scores: list[CheckpointScore], path: Path) -> None:
    header = ["checkpoint", "step", "val_loss", "val_ppl", "val_bpb", "val_tokens"]
    for p in scores[0].probes:
        header += [f"probe:{p.name}:logprob", f"probe:{p.name}:rank", f"probe:{p.name}:in_top_k"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for s in scores:
            row = [str(s.checkpoint), s.step, s.val_loss, s.val_ppl, s.val_bpb, s.val_tokens]
            for p in s.probes:
                row += [p.logprob, p.rank, p.in_top_k]
            writer.writerow(row)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = tool_parser("evaluate", __doc__)
    add_paths(parser, "checkpoint files, run directories, directories of runs, or globs")
    parser.add_argument("--probes", help="YAML file of probe cases (e.g. conf/probes/shakespeare.yaml)")
    parser.add_argument("--top-k", type=int, default=None,
                        help=f"k for 'in top-k' (default: the probe file's top_k, else {DEFAULT_TOP_K})")
    parser.add_argument("--eval-batches", type=int, default=None,
                        help="score training's N fixed validation batches instead of the whole split")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"windows per batch (default: {FULL_SPLIT_BATCH_SIZE} over the whole split; the "
                             f"checkpoint's train.eval_batch_size with --eval-batches)")
    add_device(parser)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    parser.add_argument("--data-path", help="the corpus file, when the checkpoint's data.path is not on this machine")
    parser.add_argument("--out", help=f"directory for {CSV_FILE} (default: the directory evaluated)")
    harness = parser.add_argument_group("lm-evaluation-harness (tinyx.tools.lmeval)")
    harness.add_argument("--tasks", help="comma-separated lm-eval task or group names: run the harness instead")
    harness.add_argument("--include-path", help="a folder of your own lm-eval task YAML files")
    harness.add_argument("--limit", type=float, default=None,
                         help="documents per task (a fraction if < 1), for a quick look; not for reporting")
    harness.add_argument("--num-fewshot", type=int, default=None, help="few-shot examples (default: the task's)")
    args = parser.parse_args(argv)
    if args.tasks and (args.probes or args.eval_batches):
        parser.error("--tasks runs lm-eval alone: pass --probes/--eval-batches in a separate command")
    if args.threads < 0:
        parser.error(f"--threads={args.threads} must be >= 0 (0: torch's choice)")
    for name in ("top_k", "eval_batches", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}={value} must be a positive integer")
    return args


@exit_on_user_error
def main(argv: list[str]) -> list[CheckpointScore]:
    args = parse_args(argv)
    if args.tasks:
        from tinyx.tools import lmeval

        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        return lmeval.main(find_checkpoints(args.paths), tasks, args.include_path, args.limit, args.num_fewshot,
                           args.batch_size or 16, args.device)
    probes, file_top_k = load_probes(args.probes) if args.probes else ([], None)
    top_k = args.top_k or file_top_k or DEFAULT_TOP_K
    checkpoints = find_checkpoints(args.paths)
    run_dirs = {run_dir_of(c) for c in checkpoints}
    out_dir = Path(args.out) if args.out else Path(os.path.commonpath([str(d) for d in run_dirs]))
    check_writable(out_dir, "--out")  # before scoring, which may take a while
    scores = evaluate_checkpoints(checkpoints, probes, top_k, args.eval_batches, args.batch_size, args.device,
                                  args.data_path, args.threads)
    try:
        write_csv(scores, out_dir / CSV_FILE)
    except OSError as e:
        raise EvaluateError(f"cannot write {CSV_FILE} to {out_dir} ({e.strerror}): pass --out DIR.") from None
    print(to_markdown(scores, out_dir, top_k), end="")
    print(f"\nwrote {CSV_FILE} to {out_dir}", flush=True)
    return scores


if __name__ == "__main__":
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
