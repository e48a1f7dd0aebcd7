"""The catalogue of bad inputs: every tool, every kind of mistake, one clear error and nothing half-written.

Each case runs a command the way a user would (in-process through the same entry function the
command line uses, or as a real subprocess where only that is faithful) and asserts: a non-zero exit
code, a short message naming the bad value and the fix (the case's `words`), no traceback, and no
file written or changed (Hydra's own `.hydra/` and `train.log` aside).

Adding a case is one line in CASES. Placeholders in args: {tmp} (the case's folder, holding the bad
files made by `bad_files`), {run} (a trained micro run), {ckpt} (its latest checkpoint), {corpus}.
Tools: "train" (tinyx.hydra_glue.train_main.run_train on the composed config, as train.py calls it; `hydra.run.dir=`
picks the run directory), "train.py" (a real subprocess), "generate", "evaluate", "compare", "ablate", "ladder", "export",
"bench" (their main(argv)), "tinyx" (the `tinyx <tool>` command's main(argv)), and "script" (`python <args>` as a subprocess, e.g. for another entry point).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers import CORPUS, MICRO, ROOT, compose, run_cli
from omegaconf import OmegaConf

from tinyx.rundir.checkpoints import find_checkpoint


@dataclass
class Case:
    tool: str
    args: list[str]
    words: list[str]  # each must be in the message: the bad value and the fix
    exit_code: int = 2
    mount: str | None = None  # "ro" or "tiny": run inside a read-only or almost full filesystem (train.py)
    needs: str | None = None  # "non-root" or "no-cuda": skipped where the mistake cannot happen
    slow: bool = False  # over a few seconds (lm-eval indexes its thousands of tasks): in the slow suite


CACHE = "data.cache_dir={tmp}/cache"  # the data cases' token cache: inside the case folder, so leftovers show

CASES = {
    # ---- train.py: config values (unknown keys and tinyx's checks exit 2, Hydra's own composition errors 1)
    "train-key-typo": Case("train.py", ["model.n_layr=3"],
                           ["unknown config key 'model.n_layr'", "did you mean model.n_layer?"]),
    "train-key-without-group": Case("train.py", ["max_steps=3"], ["'max_steps'", "did you mean train.max_steps?"]),
    "train-wrong-type": Case("train.py", ["train.max_steps=lots"], ["train.max_steps=lots", "Integer"],
                             exit_code=1),
    "train-unknown-option": Case("train.py", ["model=tinyy"], ["model/tinyy", "tiny"], exit_code=1),
    "train-shape-not-divisible": Case("train", ["model.d_model=33"], ["model.d_model=33", "model.n_head=2"]),
    "train-rope-odd-head-dim": Case("train", ["model.pos=rope", "model.n_head=4", "model.d_model=12"],
                                    ["model.pos=rope", "even head dimension", "model.d_model=16"]),
    "train-kv-heads-not-divisor": Case("train", ["model.n_kv_head=3"],
                                       ["model.n_kv_head=3", "does not divide model.n_head=2", "use a divisor"]),
    "train-negative-lr": Case("train", ["optim.lr=-1"], ["optim.lr=-1", "must be > 0"]),
    "train-unknown-schedule": Case("train", ["optim.schedule=linearish"],
                                   ["optim.schedule='linearish'", "cosine, constant"]),
    "train-max-nonfinite-zero": Case("train", ["train.max_nonfinite_steps=0"],
                                     ["train.max_nonfinite_steps=0", "must be a positive integer"]),
    "train-vocab-too-small": Case("train", ["model.vocab_size=10"],
                                  ["model.vocab_size=10", "smaller than the tokenizer's 65", "leave it null"]),
    "train-float16-on-cpu": Case("train", ["hardware.dtype=float16"],
                                 ["hardware.dtype=float16", "not supported", "float32 or bfloat16"]),
    "train-cuda-without-gpu": Case("train", ["hardware.device=cuda"], ["hardware.device=cuda", "hardware=cpu"],
                                   needs="no-cuda"),
    "train-unknown-encoding": Case("train", ["data=shakespeare_bpe", "data.encoding=gpt3_not_real"],
                                   ["data.encoding='gpt3_not_real'", "gpt2"]),
    "train-window-start-unknown": Case("train", ["data.window_start=docs"],
                                       ["data.window_start='docs' is not one of random, document"]),
    "train-window-start-without-documents": Case("train", ["data.window_start=document"],
                                                 ["data.window_start=document needs a source split into documents",
                                                  "data.name=shakespeare_char", "use data.window_start=random"]),
    "train-dial-no-head-split": Case("train", ["model.depth=3", "model.aspect_ratio=24"],
                                     ["model.depth=3 with model.aspect_ratio=24 gives d_model 72",
                                      "model.head_dim=16 does not divide", "use model.aspect_ratio=32"]),
    "train-dial-no-kv-split": Case("train", ["model.n_kv_head=1", "model.depth=1", "model.aspect_ratio=16"],
                                   ["model.depth=1 gives n_head 1", "use model.depth=2 or model.n_kv_head=null"]),
    "train-dial-tokens-per-param-zero": Case("train", ["model.depth=2", "train.tokens_per_param=0"],
                                             ["train.tokens_per_param=0", "must be > 0"]),
    # ---- train.py: files
    "train-corpus-missing": Case("train", ["data.path={tmp}/nope.txt"],
                                 ["data.path={tmp}/nope.txt does not exist", "UTF-8 text file"]),
    "train-corpus-is-a-folder": Case("train", ["data.path={tmp}/empty_dir"],
                                     ["data.path={tmp}/empty_dir is a folder with no .txt/.md/.text/.rst files",
                                      "pass a glob"]),
    "train-corpus-empty": Case("train", ["data.path={tmp}/empty.txt"], ["empty.txt is empty", "point data.path"]),
    "train-corpus-binary": Case("train", ["data.path={tmp}/binary.bin"], ["binary.bin is not UTF-8", "convert it"]),
    "train-corpus-too-short": Case("train", ["data.path={tmp}/short.txt"], ["short.txt is too short",
                                                                            "model.block_size"]),
    # Long enough, but 3 documents give val none at data.val_fraction=0.1: the rule's doing, not the corpus'.
    "train-val-split-empty-by-rule": Case("train", ["data=text", "data.path={tmp}/three_paragraphs.txt",
                                                    "data.split_documents=paragraph"],
                                          ["three_paragraphs.txt holds 8,949 tokens, but its val split has 0",
                                           "val: document i when floor((i+1)*0.1) > floor(i*0.1)",
                                           "raise data.val_fraction=0.1 to at least 0.334",
                                           "or set data.split_documents=none"]),
    # data.max_tokens caps train and keeps val (a one-stream corpus): a cap below one window is named as the cause.
    "train-max-tokens-below-one-window": Case("train", ["data.max_tokens=20"],
                                              ["its train split has 20", "model.block_size+1=",
                                               "raise data.max_tokens=20 to at least"]),
    "train-resume-missing": Case("train", ["train.resume={tmp}/nope"],
                                 ["train.resume={tmp}/nope does not exist", "train.resume=auto"]),
    "train-resume-no-checkpoint": Case("train", ["train.resume={tmp}/empty_dir"],
                                       ["train.resume={tmp}/empty_dir holds no checkpoint",
                                        "a run directory that saved one"]),
    "train-resume-other-shape": Case("train", ["train.resume={run}", "model.d_model=64"],
                                     ["model.d_model=32 (this run: 64)", "add: model.d_model=32"]),
    "train-resume-other-tokenizer": Case("train", ["train.resume={run}", "data=shakespeare_bpe"],
                                         ["trained with tokenizer char (65 characters), but this data gives tiktoken "
                                          "gpt2", "resume with the data it was trained on",
                                          "data=shakespeare_char data.tokenizer=char"]),
    "train-resume-other-corpus": Case("train", ["train.resume={run}", "data.path={tmp}/other_corpus.txt"],
                                      ["trained with tokenizer char (65 characters), but this data gives char "
                                       "(18 characters)", "only in the checkpoint's",
                                       "resume with the data it was trained on"]),
    "train-resume-truncated": Case("train", ["train.resume={tmp}/truncated.pt"],
                                   ["{tmp}/truncated.pt is corrupt, truncated or not a checkpoint", "use another one"]),
    "train-resume-pickled-object": Case("train", ["train.resume={tmp}/pickled_object.pt"],
                                        ["{tmp}/pickled_object.pt holds Python objects", "will not unpickle",
                                         "load only checkpoints written by tinyx"]),
    "train-resume-not-a-checkpoint": Case("train", ["train.resume={tmp}/tensors.pt"],
                                          ["tensors.pt is not a tinyx checkpoint", "checkpoints/ folder"]),
    "train-resume-at-max-steps": Case("train", ["train.resume={run}"],
                                      ["error: {ckpt} is already at step 40 (train.max_steps=40): raise "
                                       "train.max_steps to continue"]),
    "train-resume-auto-all-corrupt": Case("train", ["train.resume=auto", "hydra.run.dir={tmp}/all_corrupt"],
                                          ["every checkpoint in {tmp}/all_corrupt", "move that folder away"]),
    # ---- train.py: outputs
    "train-run-dir-under-a-file": Case("train", ["hydra.run.dir={tmp}/a_file/run"],
                                       ["{tmp}/a_file/run is not writable", "hydra.run.dir="]),
    "train-run-dir-read-only-fs": Case("train.py", ["hydra.run.dir={tmp}/mount/run"],
                                       ["mount/run is not writable (Read-only file system)", "hydra.run.dir="],
                                       mount="ro"),
    "train-run-dir-disk-full": Case("train.py", ["hydra.run.dir={tmp}/mount/run"],
                                    ["MB free", "lower train.keep_checkpoints", "hydra.run.dir="], mount="tiny"),
    "train-run-dir-no-permission": Case("train.py", ["hydra.run.dir={tmp}/read_only_dir/run"],
                                        ["read_only_dir/run is not writable (Permission denied)", "hydra.run.dir="],
                                        needs="non-root"),
    # ---- train.py: data sources (tinyx/data; the cache goes to {tmp}/cache, so a half-written one would show)
    "train-text-glob-matches-nothing": Case("train", ["data=text", "data.path={tmp}/nothing_here*.txt", CACHE],
                                            ["data.path='{tmp}/nothing_here*.txt' matches nothing",
                                             "check the pattern"]),
    "train-text-folder-without-text": Case("train", ["data=text", "data.path={tmp}/images_only", CACHE],
                                           ["data.path={tmp}/images_only is a folder with no .txt", "pass a glob"]),
    "train-text-binary-among-text": Case("train", ["data=text", "data.path={tmp}/mixed", CACHE],
                                         ["{tmp}/mixed/b_image.txt is not UTF-8", "leave it out of data.path"]),
    "train-jsonl-line-not-json": Case("train", ["data=jsonl", "data.path={tmp}/broken.jsonl", CACHE],
                                      ["{tmp}/broken.jsonl:2 is not JSON", "fix or remove that line"]),
    "train-jsonl-line-without-field": Case("train", ["data=jsonl", "data.path={tmp}/no_field.jsonl", CACHE],
                                           ["{tmp}/no_field.jsonl:1 has no text in data.field='text'",
                                            "set data.field"]),
    "train-parquet-without-column": Case("train", ["data=parquet", "data.path={tmp}/no_column.parquet", CACHE],
                                         ["no_column.parquet has no column data.field='text'", "set data.field"]),
    "train-hf-not-available-offline": Case("train", ["data=hf", "data.name=nobody/no-such-dataset", "data.path=null", CACHE],
                                           ["data.name=nobody/no-such-dataset", "is not available here",
                                            "data.path=<that folder>"]),
    "train-shard-wrong-magic": Case("train", ["data=shards", "data.path={tmp}/shard_magic/s_train.bin", CACHE],
                                    ["s_train.bin has magic 67305985", "pass llm.c / modded-nanogpt shards"]),
    "train-shard-wrong-version": Case("train", ["data=shards", "data.path={tmp}/shard_version/s_train.bin", CACHE],
                                      ["s_train.bin has version 7", "regenerate it"]),
    "train-shard-cut-short": Case("train", ["data=shards", "data.path={tmp}/shard_short/s_train.bin", CACHE],
                                  ["s_train.bin is cut short", "copy it again"]),
    "train-shard-ids-outside-vocabulary": Case("train", ["data=shards", "data.path={tmp}/shard_ids/s_train.bin",
                                                         CACHE],
                                               ["holds token id 50300", "set data.tokenizer/data.encoding"]),
    "train-shards-tokenizer-contradicts-meta-pkl": Case("train", ["data=shards", "data.path={tmp}/nanogpt_char",
                                                                  "data.tokenizer=tiktoken", CACHE],
                                                        ["nanogpt_char/meta.pkl says", "character vocabulary of 2 "
                                                         "symbols", "but data.tokenizer=tiktoken was given",
                                                         "leave data.tokenizer unset"]),
    # The tokenizer is compared before the model's shape: a vocabulary padded to the same size is no excuse.
    "train-resume-other-corpus-same-vocab-size": Case("train", ["train.resume={run}", "data.path={tmp}/other_corpus.txt",
                                                                "model.vocab_size=65"],
                                                      ["trained with tokenizer char (65 characters), but this data "
                                                       "gives char (18 characters)",
                                                       "resume with the data it was trained on"]),
    "train-cache-disk-full": Case("train.py", ["data.cache_dir={tmp}/mount/cache"],
                                  ["could not write the token cache {tmp}/mount/cache/tokens/",
                                   "free space there or set data.cache_dir"], mount="tiny"),
    # ---- generate
    "generate-flag-typo": Case("generate", ["{run}", "--max-new-tokns", "5"],
                               ["--max-new-tokns", "did you mean --max-new-tokens?"]),
    "generate-wrong-type": Case("generate", ["{run}", "--max-new-tokens", "many"],
                                ["--max-new-tokens 'many' is not an integer", "--max-new-tokens 300"]),
    "generate-two-positionals": Case("generate", ["{run}", "ROMEO"], ["unexpected argument 'ROMEO'",
                                                                    "options start with --"]),
    "generate-no-run": Case("generate", ["--prompt", "hi"], ["missing RUN", "tinyx generate outputs/runs"]),
    "generate-zero-tokens": Case("generate", ["{run}", "--max-new-tokens", "0"],
                                 ["max_new_tokens=0", "must both be >= 1"]),
    "generate-run-missing": Case("generate", ["{tmp}/nope"], ["{tmp}/nope does not exist",
                                                              "a run directory or a checkpoint file"]),
    "generate-run-without-checkpoint": Case("generate", ["{tmp}/empty_dir"],
                                            ["{tmp}/empty_dir holds no checkpoint", "a run directory that saved one"]),
    "generate-truncated-checkpoint": Case("generate", ["{tmp}/truncated.pt"],
                                          ["{tmp}/truncated.pt is corrupt", "use another one"]),
    "generate-pickled-object": Case("generate", ["{tmp}/pickled_object.pt"],
                                    ["{tmp}/pickled_object.pt holds Python objects", "load only checkpoints"]),
    "generate-text-file-as-checkpoint": Case("generate", ["{corpus}"],
                                             ["tinyshakespeare.txt is corrupt, truncated or not a checkpoint",
                                              "use another one"]),
    "generate-top-p-above-one": Case("generate", ["{run}", "--top-p", "1.5"],
                                     ["--top-p 1.5 is outside (0, 1]", "use e.g. --top-p 0.9"]),
    "generate-top-p-zero": Case("generate", ["{run}", "--top-p", "0"], ["--top-p 0.0 is outside (0, 1]", "--top-p 0.9"]),
    "generate-top-k-negative": Case("generate", ["{run}", "--top-k", "-5"], ["--top-k -5 must be >= 0", "--top-k 50"]),
    "generate-prompt-outside-vocabulary": Case("generate", ["{run}", "--prompt", "\u20ac"],
                                               ["'\u20ac'", "not in this run's vocabulary", "remove them"]),
    # ---- evaluate
    "evaluate-path-missing": Case("evaluate", ["{tmp}/nope"], ["{tmp}/nope does not exist", "pass a checkpoint file"]),
    "evaluate-glob-matches-nothing": Case("evaluate", ["{tmp}/nothing_here*"],
                                          ["'{tmp}/nothing_here*' matches nothing", "check it"]),
    "evaluate-folder-without-checkpoints": Case("evaluate", ["{tmp}/empty_dir"],
                                                ["no checkpoints in {tmp}/empty_dir", "run directories that saved"]),
    "evaluate-truncated-checkpoint": Case("evaluate", ["{tmp}/truncated.pt"],
                                          ["{tmp}/truncated.pt is corrupt", "use another one"]),
    "evaluate-pickled-object": Case("evaluate", ["{tmp}/pickled_object.pt"],
                                    ["{tmp}/pickled_object.pt holds Python objects", "load only checkpoints"]),
    "evaluate-another-corpus": Case("evaluate", ["{ckpt}", "--data-path", "{tmp}/other_corpus.txt"],
                                    ["trained with tokenizer char (65 characters), but this data gives char "
                                     "(18 characters)",
                                     "from {tmp}/other_corpus.txt: pass --data-path with the corpus"]),
    "evaluate-probe-no-expected": Case("evaluate", ["{run}", "--probes", "{tmp}/probes_no_expected.yaml"],
                                       ["probe 1 (lord) has no `expected` field", "add expected:"]),
    "evaluate-probe-unknown-field": Case("evaluate", ["{run}", "--probes", "{tmp}/probes_typo.yaml"],
                                         ["unknown field(s) expect", "name, prompt, expected"]),
    "evaluate-probe-file-no-probes": Case("evaluate", ["{run}", "--probes", "{tmp}/probes_empty.yaml"],
                                          ["probes_empty.yaml needs a non-empty list `probes:`",
                                           "see conf/probes/shakespeare.yaml"]),
    "evaluate-probe-file-bad-yaml": Case("evaluate", ["{run}", "--probes", "{tmp}/probes_broken.yaml"],
                                         ["probes_broken.yaml is not valid YAML", "fix it"]),
    "evaluate-probe-file-binary": Case("evaluate", ["{run}", "--probes", "{tmp}/binary.bin"],
                                       ["binary.bin is not valid YAML", "fix it"]),
    "evaluate-probe-file-missing": Case("evaluate", ["{run}", "--probes", "{tmp}/nope.yaml"],
                                        ["nope.yaml does not exist", "--probes"]),
    "evaluate-out-unwritable": Case("evaluate", ["{run}", "--out", "{tmp}/a_file/out"],
                                    ["{tmp}/a_file/out is not writable", "choose another with --out="]),
    "evaluate-zero-batches": Case("evaluate", ["{run}", "--eval-batches", "0"],
                                  ["--eval-batches=0", "positive integer"]),
    "evaluate-unknown-lm-eval-task": Case("evaluate", ["{run}", "--tasks", "no_such_task_xyz"],
                                          ["lm-eval task no_such_task_xyz does not exist", "--include-path"],
                                          slow=True),
    # ---- export and model.init_from (Hugging Face folders)
    "export-attention-sinks": Case("export", ["{tmp}/sink_run", "--out", "{tmp}/exported"],
                                   ["model.attn_sink=logit has no Hugging Face equivalent", "what exports"]),
    "export-out-not-empty": Case("export", ["{run}", "--out", "{tmp}/run_with_val"],
                                 ["--out {tmp}/run_with_val exists and is not empty", "pass --overwrite"]),
    "export-out-is-the-run": Case("export", ["{run}", "--out", "{run}", "--overwrite"],
                                  ["holds the run being exported", "choose another folder"]),
    "export-out-is-a-file": Case("export", ["{run}", "--out", "{tmp}/a_file"],
                                 ["--out {tmp}/a_file is a file", "pass a folder path"]),
    "export-flag-typo": Case("export", ["{run}", "--ovewrite"], ["--ovewrite", "did you mean --overwrite?"]),
    "train-init-from-missing": Case("train", ["model.init_from=hf:{tmp}/nope"],
                                    ["model.init_from=hf:{tmp}/nope", "`tinyx export` or transformers' save_pretrained"]),
    "train-init-from-without-prefix": Case("train", ["model.init_from={tmp}/hf_other_shape"],
                                           ["model.init_from={tmp}/hf_other_shape is not hf:<an existing folder>"]),
    "train-init-from-other-shape": Case("train", ["model.init_from=hf:{tmp}/hf_other_shape"],
                                        ["hf_other_shape is a model of another shape", "add model.n_layer=3",
                                         "model.bias=true"]),
    # ---- compare
    "compare-no-runs": Case("compare", ["{tmp}/empty_dir"], ["no run directories in {tmp}/empty_dir",
                                                            "pass outputs/runs/<date>/<time>"]),
    "compare-path-missing": Case("compare", ["{tmp}/nope"], ["{tmp}/nope does not exist", "pass a run directory"]),
    "compare-glob-matches-nothing": Case("compare", ["{tmp}/nothing_here*"],
                                         ["'{tmp}/nothing_here*' matches nothing", "check it"]),
    "compare-run-without-val-loss": Case("compare", ["{tmp}/run_without_val"],
                                         ["run_without_val: incomplete at step 5", "--include-incomplete"]),
    "compare-completed-run-without-val-loss": Case("compare", ["{tmp}/completed_without_val"],
                                                   ["completed_without_val: no val/loss logged", "train.eval_every"]),
    "compare-baseline-matches-no-arm": Case("compare", ["{tmp}/ablation", "--baseline", "gelu"],
                                            ["--baseline='gelu' matches no arm", "pass one of 'model.norm=layernorm'"]),
    "compare-baseline-matches-two-arms": Case("compare", ["{tmp}/ablation", "--baseline", "norm"],
                                              ["--baseline='norm' matches 2 arms", "pass one of"]),
    "compare-arm-without-completed-run": Case("compare", ["{tmp}/arm_interrupted"],
                                              ["arm 'model.norm=rmsnorm' has no run to compare",
                                               "interrupted at step 20", "--include-incomplete"]),
    "compare-at-step-beyond-runs": Case("compare", ["{tmp}/ablation", "--at-step", "1000"],
                                        ["stopped at step 20, before step 1000", "choose an earlier --at-step=1000"]),
    "compare-at-step-zero": Case("compare", ["{tmp}/ablation", "--at-step", "0"],
                                 ["--at-step=0", "positive integer"]),
    "compare-at-step-and-at-tokens": Case("compare", ["{tmp}/ablation", "--at-step", "10", "--at-tokens", "100"],
                                          ["--at-step and --at-tokens", "pass one of them"]),
    "compare-at-flops-and-at-seconds": Case("compare", ["{tmp}/ablation", "--at-flops", "1e9", "--at-seconds", "30"],
                                            ["--at-flops and --at-seconds", "pass one of them"]),
    "compare-at-seconds-negative": Case("compare", ["{tmp}/ablation", "--at-seconds", "-5"],
                                        ["--at-seconds=-5", "positive number"]),
    "compare-at-flops-without-the-record": Case("compare", ["{tmp}/ablation", "--at-flops", "1e9"],
                                                ["records no flops_per_token", "--at-tokens"]),
    "compare-unknown-metric": Case("compare", ["{tmp}/ablation", "--metric", "val/acc"],
                                   ["--metric='val/acc'", "val/loss, val/loss_best, val/bpb"]),
    "compare-time-to-target-without-target": Case("compare", ["{tmp}/ablation", "--metric", "time_to_target"],
                                                  ["--metric=time_to_target", "--target LOSS"]),
    "compare-out-unwritable": Case("compare", ["{tmp}/run_with_val", "--out", "{tmp}/a_file/out"],
                                   ["{tmp}/a_file/out is not writable", "choose another with --out="]),
    "compare-target-not-a-number": Case("compare", ["{tmp}/run_with_val", "--target", "low"], ["--target", "'low'"]),
    # ---- bench (before any run starts)
    "bench-override-without-dashes": Case("bench", ["--steps", "3", "hardware=cpu"],
                                          ["'hardware=cpu' looks like a train.py override", "after `--`"]),
    "bench-flag-typo": Case("bench", ["--stps", "3"], ["--stps", "did you mean --steps?"]),
    "bench-reference-missing": Case("bench", ["--reference", "{tmp}/nope.py"],
                                    ["--reference {tmp}/nope.py does not exist", "../shared/bench/reference_gpt.py"]),
    # ---- the tinyx command
    "tinyx-unknown-tool": Case("tinyx", ["generat", "{run}"], ["unknown tool 'generat'", "did you mean generate?"]),
    # ---- tinyx ablate (before any run starts)
    "ablate-one-arm": Case("ablate", ["baseline", "--out", "{tmp}/ablation_out"],
                           ["one arm (experiment=baseline)", "at least one variant"]),
    "ablate-round-of-one-seed": Case("ablate", ["baseline", "llama_tiny", "--round-seeds", "1"],
                                     ["--round-seeds=1", "pass 2 or more"]),
    "ablate-max-below-round": Case("ablate", ["baseline", "llama_tiny", "--round-seeds", "4", "--max-seeds", "3"],
                                   ["--max-seeds=3", "raise it"]),
    "ablate-arm-sets-seed": Case("ablate", ["baseline", "model.norm=rmsnorm seed=3"],
                                 ["'model.norm=rmsnorm seed=3' sets the seed", "leave seed= out"]),
    "ablate-unknown-metric": Case("ablate", ["baseline", "llama_tiny", "--metric", "val/acc"],
                                  ["--metric='val/acc'", "val/loss, val/loss_best"]),
    "ablate-sets-seed-for-all": Case("ablate", ["baseline", "llama_tiny", "--", "debug=micro", "seed=3"],
                                     ["seed=3 after --", "leave it out"]),
    "ablate-other-overrides-in-same-out": Case("ablate", ["baseline", "llama_tiny", "--out", "{tmp}/ablate_out", "--",
                                                          "train.max_steps=50"],
                                               ["holds an ablation of baseline 'experiment=baseline' with overrides "
                                                "'train.max_steps=20'", "pass another --out"]),
    "ablate-same-arm-twice": Case("ablate", ["baseline", "baseline"], ["two arms are the same", "each arm once"]),
    # ---- tinyx ladder (before any run starts; a size whose seeds lack the metric: tests/unit/test_ladder.py)
    "ladder-single-size": Case("ladder", ["baseline", "llama_tiny", "--depths", "3"],
                               ["--depths 3: one size, so no fit and no trend is possible", "--depths 2,3,4",
                                "tinyx ablate"]),
    "ladder-one-seed": Case("ladder", ["baseline", "llama_tiny", "--depths", "2,3", "--seeds", "1"],
                            ["--seeds 1: one seed gives no spread", "pass 2 or more"]),
    "ladder-dial-no-head-split": Case("ladder", ["baseline", "llama_tiny", "--depths", "2,3", "--out",
                                                 "{tmp}/ladder_out", "--", "model.aspect_ratio=16"],
                                      ["model.depth=3 gives n_head 3", "use model.depth=4 or model.n_kv_head=null"]),
    "ladder-beyond-the-cap": Case("ladder", ["baseline", "llama_tiny", "--depths", "2,3", "--max-flops", "1e9",
                                             "--out", "{tmp}/ladder_out", "--", "debug=micro", "data.path={corpus}"],
                                  ["experiment=baseline at model.depth=2 trains", "beyond --max-flops 1e+09",
                                   "raise the cap"]),
    # ---- sweep.py (more search-space and storage cases, in-process: tests/test_sweep.py)
    "sweep-key-typo": Case("script", ["sweep.py", "sweep.n_trialz=3", "sweep.root={tmp}/sweeps"],
                           ["unknown config key 'sweep.n_trialz'", "did you mean sweep.n_trials?"]),
    "sweep-unknown-search-space": Case("script", ["sweep.py", "search_space=lrr", "sweep.root={tmp}/sweeps"],
                                       ["search_space/lrr", "arch_lr"], exit_code=1),
    "sweep-storage-unreachable": Case("script", ["sweep.py", "search_space=lr", "sweep.root={tmp}/sweeps",
                                                 "data.path={corpus}",
                                                 "sweep.storage=postgresql://tinyx:secret@127.0.0.1:9/tinyx"],
                                      ["sweep.storage=postgresql://tinyx:***@127.0.0.1:9/tinyx cannot be opened",
                                       "check the URL"]),
    "sweep-unknown-pruner": Case("script", ["sweep.py", "sweep.pruner=asha", "sweep.root={tmp}/sweeps"],
                                 ["sweep.pruner='asha'", "median, hyperband, none"]),
    # ---- train.py -m hydra/launcher=parallel (more settings in-process: tests/unit/test_launcher.py)
    "launcher-cap-below-one": Case("script", ["train.py", "-m", "hydra/launcher=parallel", "hydra.launcher.max_jobs=0",
                                              *MICRO, "seed=0,1", "hydra.sweep.dir={tmp}/sweep"],
                                   ["hydra.launcher.max_jobs=0", "whole number >= 1"]),
    "launcher-more-gpus-than-exist": Case("script", ["train.py", "-m", "hydra/launcher=parallel",
                                                     "hydra.launcher.gpus=64", *MICRO, "seed=0,1",
                                                     "hydra.sweep.dir={tmp}/sweep"],
                                          ["hydra.launcher.gpus=64", "hydra.launcher.gpus="]),
}


class WritesOpen:
    """A payload that opens (creates) a file when unpickled: proof that a load did not unpickle it."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, trained_run):
    """Every bad file the cases point at, made once (the cases must leave them as they are)."""
    tmp = tmp_path_factory.mktemp("bad_files")
    run_dir, _ = trained_run
    ckpt = find_checkpoint(run_dir)
    (tmp / "empty_dir").mkdir()
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "short.txt").write_text("First Citizen: before we proceed any further, hear me speak.\n" * 3)
    (tmp / "a_file").write_text("a regular file, where a directory is expected\n")
    (tmp / "other_corpus.txt").write_text("abcdefghij klmnop\n" * 500)  # another alphabet
    data = ckpt.read_bytes()
    (tmp / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"model": {}, "config": {}, "payload": WritesOpen(tmp / "unpickled")}, tmp / "pickled_object.pt")
    torch.save({"weights": torch.zeros(3)}, tmp / "tensors.pt")
    (tmp / "all_corrupt" / "checkpoints").mkdir(parents=True)
    (tmp / "all_corrupt" / "checkpoints" / "ckpt_000010.pt").write_bytes(data[:1000])
    (tmp / "all_corrupt" / "checkpoints" / "ckpt_000020.pt").write_bytes(data[:2000])
    (tmp / "probes_no_expected.yaml").write_text("probes:\n  - name: lord\n    prompt: 'my good '\n")
    (tmp / "probes_typo.yaml").write_text("probes:\n  - prompt: 'a'\n    expect: 'b'\n")
    (tmp / "probes_empty.yaml").write_text("top_k: 5\n")
    (tmp / "probes_broken.yaml").write_text("probes: [\n")
    (tmp / "run_without_val" / ".hydra").mkdir(parents=True)
    OmegaConf.save(compose(MICRO), tmp / "run_without_val" / ".hydra" / "config.yaml")
    (tmp / "run_without_val" / "metrics.jsonl").write_text('{"step": 5, "train/loss": 4.1}\n')
    shutil.copytree(tmp / "run_without_val", tmp / "run_with_val")
    (tmp / "run_with_val" / "metrics.jsonl").write_text('{"step": 5, "train/loss": 4.1}\n'
                                                        '{"step": 5, "val/loss": 4.2}\n')
    _sink_checkpoint(ckpt, tmp / "sink_run")
    (tmp / "hf_other_shape").mkdir()  # a GPT-2 folder's config (3 layers, biases) beside the micro run's 2, none
    (tmp / "hf_other_shape" / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_layer": 3, "n_head": 2, "n_embd": 32, "n_positions": 32, "vocab_size": 65,
         "activation_function": "gelu"}))
    (tmp / "hf_other_shape" / "tinyx_tokenizer.json").write_text(json.dumps(
        {"kind": "char", "chars": sorted(set(CORPUS.read_text()))}))
    _make_bad_data(tmp)
    _write_ablation(tmp)
    (tmp / "mount").mkdir()
    (tmp / "read_only_dir").mkdir()
    (tmp / "read_only_dir").chmod(0o555)
    yield tmp
    (tmp / "read_only_dir").chmod(0o755)
    assert not (tmp / "unpickled").exists(), "a load unpickled an object it should have refused"


def _sink_checkpoint(ckpt: Path, run_dir: Path) -> None:
    """The micro run's checkpoint as a model with logit sinks (zero sink logits): a real model export refuses."""
    from tinyx.rundir.checkpoints import load_checkpoint, save_checkpoint

    state = load_checkpoint(ckpt)
    state["config"]["model"]["attn_sink"] = "logit"
    n_head = state["config"]["model"]["n_head"]
    for i in range(state["config"]["model"]["n_layer"]):
        state["model"][f"blocks.{i}.attn.sink_logit"] = torch.zeros(n_head)
    save_checkpoint(run_dir, state["step"], state, keep=1)


def _write_shard(path: Path, tokens: list[int], magic: int = 20240520, version: int = 1) -> None:
    """An llm.c shard (dev/data/data_common.py's layout): 256 int32 header, then the tokens."""
    import numpy as np

    header = np.zeros(256, dtype=np.int32)
    header[:3] = magic, version, len(tokens)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(header.tobytes() + np.array(tokens, dtype=np.uint16 if version == 1 else np.uint32).tobytes())


def _make_bad_data(tmp: Path) -> None:
    """The bad files of the data-source cases."""
    import pickle

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp / "images_only").mkdir()
    (tmp / "images_only" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (tmp / "mixed").mkdir()
    (tmp / "mixed" / "a_story.txt").write_text(CORPUS.read_text()[:20_000])
    (tmp / "mixed" / "b_image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp / "broken.jsonl").write_text('{"text": "fine"}\n{"text": "cut sho\n')
    paragraphs = [CORPUS.read_text()[i * 3000:(i + 1) * 3000].replace("\n\n", "\n") for i in range(3)]
    (tmp / "three_paragraphs.txt").write_text("\n\n".join(paragraphs))
    (tmp / "no_field.jsonl").write_text('{"body": "the text is under another key"}\n')
    pq.write_table(pa.table({"body": ["a document"] * 3}), tmp / "no_column.parquet")
    tokens = list(range(1000))
    for name, magic, version, cut in (("shard_magic", 67305985, 1, None), ("shard_version", 20240520, 7, None),
                                      ("shard_short", 20240520, 1, 1500), ("shard_ids", 20240801, 7, None)):
        _write_shard(tmp / name / "s_train.bin", tokens + ([50300] if name == "shard_ids" else []), magic, version)
        _write_shard(tmp / name / "s_val.bin", tokens[:100], 20240801 if name == "shard_ids" else 20240520,
                     7 if name == "shard_ids" else 1)
        if cut:
            path = tmp / name / "s_train.bin"
            path.write_bytes(path.read_bytes()[:cut])
    (tmp / "nanogpt_char").mkdir()
    for split in ("train", "val"):
        (tmp / "nanogpt_char" / f"{split}.bin").write_bytes(bytes(4000))
    with open(tmp / "nanogpt_char" / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": 2, "itos": {0: "a", 1: "b"}, "stoi": {"a": 0, "b": 1}}, f)


def _write_ablation(tmp: Path) -> None:
    """Finished micro runs for compare's cases: `ablation` (2 arms x 2 seeds), `arm_interrupted` (its second arm
    only interrupted), `completed_without_val`; run_with_val completes too."""
    import json
    from dataclasses import asdict

    from tinyx.config import to_run_config
    from tinyx.rundir.contract import RunSummary, write_config, write_summary

    def run(path: Path, seed: int, norm: str, status: str = "completed", val: float | None = 2.0) -> None:
        path.mkdir(parents=True)
        write_config(path, asdict(to_run_config(compose(MICRO + [f"model.norm={norm}", f"seed={seed}"]))))
        (path / "metrics.jsonl").write_text(f'{{"step": 20, "val/loss": {val}}}\n' if val else '{"step": 20}\n')
        write_summary(path, RunSummary(status=status, step=20, val_loss=val))

    for seed in (0, 1):
        run(tmp / "ablation" / f"ln{seed}", seed, "layernorm", val=2.0 + seed / 10)
        run(tmp / "ablation" / f"rms{seed}", seed, "rmsnorm", val=1.9 + seed / 10)
        run(tmp / "arm_interrupted" / f"ln{seed}", seed, "layernorm")
        run(tmp / "arm_interrupted" / f"rms{seed}", seed, "rmsnorm", status="interrupted")
    run(tmp / "completed_without_val", 0, "layernorm", val=None)
    (tmp / "ablate_out").mkdir()
    (tmp / "ablate_out" / "ablation.json").write_text(json.dumps({"baseline": "experiment=baseline",
                                                                  "overrides": ["train.max_steps=20"]}))
    write_summary(tmp / "run_with_val", RunSummary(status="completed", step=5, val_loss=4.2))


def _files(*roots: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for root in roots for p in root.rglob("*") if p.is_file()}


def _fill(arg: str, tmp: Path, run: Path) -> str:
    return arg.format(tmp=tmp, run=run, ckpt=find_checkpoint(run), corpus=CORPUS)


def _mount_prefix(kind: str, where: Path) -> list[str]:
    """A command prefix that runs the rest inside a new mount namespace where `where` is a tmpfs,
    read-only ("ro") or of 256 KiB ("tiny"): a real read-only or full filesystem, even for root."""
    options = "ro" if kind == "ro" else "size=256k"
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            f'mount -t tmpfs -o {options} tmpfs "{where}" && exec "$@"', "sh"]


@functools.cache
def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def _run(case: Case, args: list[str], tmp: Path, capsys) -> tuple[int, str]:
    """(exit code, stderr) of the case's command."""
    if case.tool in ("train.py", "script"):
        cmd = list(args)
        env = {}
        if case.tool == "train.py":
            run_dir = [a for a in args if a.startswith("hydra.run.dir=")] or [f"hydra.run.dir={tmp}/run"]
            cmd = ["train.py", *MICRO, "hardware.threads=1", *[a for a in args if a not in run_dir], *run_dir]
        if case.mount:
            prefix = _mount_prefix(case.mount, tmp / "mount")
            result = subprocess.run([*prefix, sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True,
                                    timeout=300, env={**os.environ, **env})
        else:
            result = run_cli(*cmd, env=env)
        return result.returncode, result.stderr
    with pytest.raises(SystemExit) as exit_info:
        if case.tool == "train":
            from tinyx.hydra_glue.train_main import run_train

            run_dir = next((a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")), str(tmp / "run"))
            run_train(compose(MICRO + [a for a in args if not a.startswith("hydra.run.dir=")]), Path(run_dir))
        else:
            import importlib

            module = {"compare": "tinyx.compare", "tinyx": "tinyx.cli.main"}.get(case.tool, f"tinyx.tools.{case.tool}")
            importlib.import_module(module).main(args)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if c.slow else n for n, c in CASES.items()])
def test_bad_input_is_one_clear_error_and_writes_nothing(name, bad_files, trained_run, capsys):
    case = CASES[name]
    if case.needs == "non-root" and os.geteuid() == 0:
        pytest.skip("root writes into a chmod 555 directory; the read-only filesystem case covers root")
    if case.needs == "no-cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    if case.mount and not _can_mount():
        pytest.skip("no user namespaces here to mount a test filesystem (unshare)")
    run_dir, _ = trained_run
    args = [_fill(a, bad_files, run_dir) for a in case.args]
    before = _files(bad_files, run_dir)

    code, err = _run(case, args, bad_files, capsys)

    assert code == case.exit_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= 16, err  # Hydra lists a group's options, one per line
    if case.exit_code == 1:  # Hydra's own composition errors: a few lines, no traceback
        message = err
    else:  # tinyx's (and argparse's): one line
        message = next((line for line in lines if "error:" in line), "")
        assert message and len(message) < 450, err
    for word in case.words:
        assert _fill(word, bad_files, run_dir) in message, (word, err)
    after = _files(bad_files, run_dir)
    written = {p for p in after if before.get(p) != after[p]}
    hydra_own = {p for p in written if ".hydra" in p.parts or p.name == "train.log"}
    assert written == hydra_own, f"written or changed: {sorted(map(str, written - hydra_own))}"
    assert not [p for p in bad_files.rglob("summary.json") if p not in before]  # compare's own runs have one


def test_hydra_full_error_shows_the_traceback(bad_files, monkeypatch):
    from tinyx.common.errors import DataError
    from tinyx.hydra_glue.train_main import run_train

    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(DataError, match="is empty"):
        run_train(compose(MICRO + [f"data.path={bad_files}/empty.txt"]), bad_files / "run")


def test_pickled_object_is_refused_without_running_it(tmp_path):
    from tinyx.common.errors import CheckpointError
    from tinyx.rundir.checkpoints import load_checkpoint

    path = tmp_path / "pickled_object.pt"
    torch.save({"model": {}, "config": {}, "payload": WritesOpen(tmp_path / "unpickled")}, path)
    with pytest.raises(CheckpointError, match="will not unpickle"):
        load_checkpoint(path)
    assert not (tmp_path / "unpickled").exists()
    torch.load(path, weights_only=False)  # what trusting the file would have done
    assert (tmp_path / "unpickled").exists()
