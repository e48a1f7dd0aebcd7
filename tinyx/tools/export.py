"""Export a run to a Hugging Face folder that `transformers` loads with no tinyx installed.

    uv run tinyx export outputs/runs/2026-11-21/01-04-15 [--out DIR] [--overwrite]

Without --out the folder is a new one under the outputs root ($TINYX_OUTPUTS, else outputs/):
exports/<run name>-step<N>, e.g. outputs/exports/2026-11-21_01-04-15-step5000 (then _2, _3, ...).

Writes config.json, model.safetensors, generation_config.json, the tokenizer (tokenizer.json and its
config; tinyx_tokenizer.json and tinyx_model.json so `model.init_from=hf:<folder>` recovers both exactly)
and README.md, a model card with the run's config and final metrics. Every export checks itself: it
loads the folder with `transformers`, compares the logits with tinyx's on a fixed batch and prints the
largest difference; over --tolerance (float32) it is an error and nothing is left at --out.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tinyx.common.errors import ConfigError, ExportError, exit_on_user_error
from tinyx.rundir.contract import TRAIN_LOSS, VAL_LOSS, VAL_LOSS_BEST, VAL_PPL
from tinyx.tools.export_out import check_out_dir, default_out

CHECK_ROWS = 2  # the fixed batch: 2 rows of the model's whole context, seeded random token ids
PROMPT, NEW_TOKENS = "ROMEO:", 100  # the model card's generate snippet: its prompt, and at most this many tokens


@dataclass
class ExportResult:
    folder: Path
    architecture: str  # the transformers class, e.g. GPT2LMHeadModel
    max_abs_diff: float  # max |logit_tinyx - logit_transformers| on the check batch


def _hf_model(model, cfg):
    """The transformers model with tinyx's weights (float32)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from tinyx.hf.architectures import hf_config
    from tinyx.hf.weights import to_hf_state_dict

    hf_logging.disable_progress_bar()  # the export prints its own lines

    kwargs = hf_config(cfg)
    config = AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
    with torch.device("cpu"):
        hf = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = hf.load_state_dict(to_hf_state_dict(model.state_dict(), cfg), strict=False)
    tied = {"lm_head.weight"} if cfg.tie_embeddings else set()
    if set(missing) - tied or unexpected:  # a mapping bug, not a user error: say what did not fit
        raise RuntimeError(f"weight mapping incomplete: missing {missing}, unexpected {unexpected}")
    hf.tie_weights()
    return hf.eval()


def check_batch(cfg, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randint(cfg.vocab_size, (CHECK_ROWS, cfg.block_size), generator=g)


def max_logit_diff(model, folder: Path, seed: int = 0) -> float:
    """Load `folder` with transformers and compare its logits with `model`'s on the fixed batch (float32)."""
    import torch
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    x = check_batch(model.cfg, seed)
    with torch.no_grad():
        ours, _ = model.float()(x, x)  # targets, so that the model returns every position's logits
        theirs = hf(input_ids=x).logits
    return float((ours - theirs).abs().max())


def _metric_rows(summary: dict | None) -> str:
    """The model card's table of final metrics (summary.json's), one `| key | value |` row each."""
    metrics = {k: summary.get(k) for k in ("status", "step", "params", VAL_LOSS, VAL_PPL, VAL_LOSS_BEST, TRAIN_LOSS,
                                          "tokens_per_second", "wall_seconds")} if summary else {}
    return "\n".join(f"| {k} | {v} |" for k, v in metrics.items() if v is not None) or "| (no summary.json) | |"


def snippet_new_tokens(block_size: int, prompt_tokens: int) -> int:
    """The card snippet's max_new_tokens: what the context leaves after the prompt, at most NEW_TOKENS (a GPT-2
    folder has no position past block_size: generating beyond it fails)."""
    return max(1, min(NEW_TOKENS, block_size - prompt_tokens))


def model_card(run, architecture: str, diff: float, summary: dict | None) -> str:
    """README.md: what the model is, how it was trained and scored, and how to load it. A card is written to be
    published: it shows the config as config.json does, never a value the run took from the environment."""
    cfg = run.public_config
    m = cfg["model"]
    rows = _metric_rows(summary)
    model_rows = "\n".join(f"| model.{k} | {v} |" for k, v in m.items())
    data = cfg.get("data", {})
    new_tokens = snippet_new_tokens(m["block_size"], len(run.tokenizer.encode(PROMPT)))
    return f"""---
library_name: transformers
pipeline_tag: text-generation
tags: [tinyx, {architecture}]
---
# tinyx model ({architecture})

Trained with tinyx on `{data.get('name')}` ({data.get('tokenizer')} tokenizer), exported
from `{run.checkpoint}` (step {run.step}). The export checked itself: on a fixed batch of {CHECK_ROWS} x
{m['block_size']} tokens, max |logit(tinyx) - logit(transformers)| = {diff:.3g} (float32).

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("<this folder>")
tokenizer = AutoTokenizer.from_pretrained("<this folder>")
out = model.generate(**tokenizer("{PROMPT}", return_tensors="pt"), max_new_tokens={new_tokens}, do_sample=False)
print(tokenizer.decode(out[0]))
```

Back into tinyx: `uv run train.py model.init_from=hf:<this folder> ...` (see docs/export.md).
The context is {m['block_size']} tokens: longer inputs are outside what the model was trained on.

## Final metrics (summary.json)

| metric | value |
|---|---|
{rows}

## Model config

| key | value |
|---|---|
{model_rows}

<details><summary>The whole run config (config.json of the run)</summary>

```json
{json.dumps(cfg, indent=2, default=str)}
```
</details>
"""


def write_folder(model, tokenizer, folder: Path) -> str:
    """The model, its tokenizer and tinyx's records into `folder` (no model card); returns the transformers class."""
    from tinyx.hf.architectures import ARCHITECTURES, TINYX_MODEL_FILE, architecture
    from tinyx.hf.tokenizer import write_tokenizer

    cfg = model.cfg
    name = ARCHITECTURES[architecture(cfg)]
    hf = _hf_model(model, cfg)
    eos_id = write_tokenizer(tokenizer, folder)
    hf.config.bos_token_id = hf.config.eos_token_id = eos_id
    hf.generation_config.bos_token_id = hf.generation_config.eos_token_id = eos_id
    hf.save_pretrained(folder)
    (folder / TINYX_MODEL_FILE).write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    return name


def export(run_or_checkpoint: str | Path, out: str | Path | None = None, overwrite: bool = False,
           tolerance: float = 1e-4, seed: int = 0, say=print) -> ExportResult:
    """Export a run (its latest checkpoint) or a checkpoint to `out` (None: a new folder under the outputs root),
    checked; nothing is left at `out` on error."""
    from tinyx.hf import require
    from tinyx.hf.architectures import architecture
    from tinyx.rundir.contract import read_summary
    from tinyx.rundir.find import run_dir_of
    from tinyx.tools.run_model import load_model

    require("transformers", "tokenizers", "safetensors", extra="hf", what="tinyx.tools.export")
    run = load_model(run_or_checkpoint, "cpu")
    architecture(run.model.cfg)  # a switch with no HF equivalent stops here, before anything is written
    out = Path(out).expanduser() if out is not None else default_out(run_dir_of(run.checkpoint), run.step)
    check_out_dir(out, overwrite, [run.checkpoint.resolve(), run_dir_of(run.checkpoint).resolve()])
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        name = write_folder(run.model, run.tokenizer, staging)
        diff = max_logit_diff(run.model, staging, seed)
        say(f"check: max |logit(tinyx) - logit(transformers)| = {diff:.3g} on {CHECK_ROWS}x{run.model.cfg.block_size} "
            f"tokens (float32, tolerance {tolerance:g})")
        if not diff <= tolerance:  # NaN fails too
            raise ExportError(f"the exported {name} differs from the tinyx model by {diff:.3g} in logits (more than "
                              f"--tolerance {tolerance:g}): nothing was written to {out}; please report this run's "
                              f"model config.")
        summary = read_summary(run_dir_of(run.checkpoint))
        (staging / "README.md").write_text(model_card(run, name, diff, summary.to_dict() if summary else None))
        if out.exists():
            shutil.rmtree(out) if any(out.iterdir()) else out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"exported {run.checkpoint} (step {run.step}) as {name} to {out}")
    return ExportResult(folder=out, architecture=name, max_abs_diff=diff)


def parse_args(argv: list[str]):
    from tinyx.cli.args import add_run, tool_parser

    parser = tool_parser("export", __doc__)
    add_run(parser)
    parser.add_argument("--out", metavar="DIR", help="the folder to write (new or empty; default: a new one, "
                                                     "<outputs root>/exports/<run name>-step<N>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="the largest |logit difference| (float32) the check accepts (default 1e-4)")
    parser.add_argument("--seed", type=int, default=0, help="of the check batch's token ids (default 0)")
    args = parser.parse_args(argv)
    if not args.tolerance > 0:
        raise ConfigError(f"--tolerance {args.tolerance} must be > 0 (the default is 1e-4).")
    return args


@exit_on_user_error
def main(argv: list[str]) -> ExportResult:
    args = parse_args(argv)
    return export(args.run, args.out, args.overwrite, args.tolerance, args.seed)


if __name__ == "__main__":
    from tinyx.cli.entry import load_env

    load_env()
    main(sys.argv[1:])
