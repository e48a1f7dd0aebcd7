"""One vocabulary: the run directory's file names, the runs' statuses and the metrics' names are spelled out once,
in their home.

Every other module of tinyx imports the name (tinyx.rundir.contract.SUMMARY_FILE, tinyx.rundir.records.COMPLETED),
so that a renamed file or a new status cannot leave a reader behind that still looks for the old one (as ablate
once took `"failed"` for the whole of `"failed: <Type>: <msg>"`). Read from the source, string constants only:
docstrings and comments may name the files.
"""

from __future__ import annotations

import ast

from helpers import ROOT

from tinyx.rundir import contract, records
from tinyx.rundir.checkpoints import CKPT_DIR

FILE_NAMES = {contract.CONFIG_FILE, contract.HYDRA_DIR, contract.PROVENANCE_FILE, contract.METRICS_FILE,
              contract.SAMPLES_FILE, contract.SUMMARY_FILE, contract.TOKENIZER_FILE, contract.LOG_FILE,
              contract.WANDB_DIR, CKPT_DIR}
STATUSES = {records.RUNNING, records.COMPLETED, records.INTERRUPTED, records.DIVERGED, records.PRUNED, records.FAILED}
METRIC_NAMES = {contract.TRAIN_LOSS, contract.VAL_LOSS, contract.VAL_PPL, contract.VAL_BPB, contract.VAL_LOSS_BEST,
                contract.VAL_BPB_BEST}
VOCABULARY = FILE_NAMES | STATUSES | METRIC_NAMES
HOMES = {"tinyx/rundir/contract.py", "tinyx/rundir/records.py", "tinyx/rundir/checkpoints.py"}

# (module, word): why the word is spelled out there. Each entry must still be needed (tested below).
ALLOWED = {
    ("tinyx/hf/load.py", "config.json"): "a Hugging Face model folder's config, not the run directory's",
    ("tinyx/hf/tokenizer.py", "tokenizer.json"): "a Hugging Face folder's tokenizer file, not the run's",
    ("tinyx/data/tokenizers.py", "tokenizer.json"): "a Hugging Face tokenizer folder (tokenizer=<folder>)",
    ("tinyx/tools/lmeval.py", "wandb"): "the config's logger.wandb group, not the folder",
    # tinyx.config sits below tinyx.rundir (records reads its key roles), so it cannot import the names: the sweep
    # metric's choices are checked against the vocabulary below instead.
    **{("tinyx/config/sweep.py", name): "the sweep metric's declared choices" for name in
       (contract.VAL_LOSS, contract.VAL_LOSS_BEST, contract.VAL_BPB, contract.VAL_BPB_BEST, contract.TRAIN_LOSS)},
}


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, kinds) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def spelled_out(source: str, words: set[str]) -> list[tuple[int, str]]:
    """(line, word) of each string constant in source that is one of words, docstrings left out."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
                  and isinstance(node.value, str) and node.value in words and id(node) not in docs)


def found_outside_homes() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted((ROOT / "tinyx").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if module not in HOMES:
            for line, word in spelled_out(path.read_text(), VOCABULARY):
                found.setdefault((module, word), []).append(line)
    return found


def test_file_names_statuses_and_metric_names_come_from_their_home():
    stray = [f"{module}:{lines[0]}: {word!r}" for (module, word), lines in found_outside_homes().items()
             if (module, word) not in ALLOWED]
    assert not stray, ("spelled out outside tinyx/rundir/contract.py, records.py and checkpoint.py (import the "
                       "name instead):\n" + "\n".join(stray))


def test_every_allowed_exception_is_still_needed():
    assert set(ALLOWED) <= set(found_outside_homes())


def test_the_check_reads_constants_and_f_strings_but_not_docstrings():
    source = '"""summary.json, in a docstring."""\nx = run / "summary.json"\ny = f"{run / \'wandb\'}"\n# "failed"\n'
    assert spelled_out(source, VOCABULARY) == [(2, "summary.json"), (3, "wandb")]


def test_the_sweep_metrics_are_the_vocabularys():
    from dataclasses import fields

    from tinyx.config import SweepConfig

    declared = next(f for f in fields(SweepConfig) if f.name == "metric").metadata["choices"]
    assert set(declared) == {*contract.FINAL_METRICS, contract.TRAIN_LOSS, "tokens_per_second"}
