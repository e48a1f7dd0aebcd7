"""Break tinyx on purpose, one change at a time, and check the tests aimed at each break catch it.

    uv run python scripts/mutation_check.py              # every break (about 5 minutes on 2 cores)
    uv run python scripts/mutation_check.py --only probe  # the breaks whose name contains "probe"

Each break is one exact text replacement in one file, applied to a fresh copy of the committed tree (the
checkout is never touched), followed by the tests named for it (slow ones included). A break is caught
when those tests, which pass on the intact copy, fail with it. Prints a Markdown table and exits 1 if any break was missed.

A hand-written list rather than mutmut or cosmic-ray: those generate thousands of operator swaps across the
whole package, most of them equivalent or caught by anything; these are the breaks a reviewer found the suite
let through (issue 16) and the bugs the house refactor fixed (issue 14), each aimed at the test that now
guards it, and the whole list runs in minutes on a laptop.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Break:
    name: str
    file: str
    old: str
    new: str
    tests: list[str]  # pytest arguments selecting the tests that must catch it


BREAKS = [
    Break("ddp-no-sync-on-the-last-micro-step", "tinyx/training/step.py",
          "if t.ddp_model is not None and not last else", "if t.ddp_model is not None and last else",
          ["tests/e2e/test_distributed.py", "-k", "grad_accumulation"]),
    Break("host-side-skip-steps-anyway", "tinyx/training/step.py",
          "        elif not skip.item():", "        else:",
          ["tests/e2e/test_faults.py", "-k", "unfused or muon-torch"]),
    Break("grad-scaler-bypassed", "tinyx/training/step.py",
          "            scaler.step(opt)", "            optimizer_step(opt)",
          ["tests/unit/test_training_parts.py", "-k", "grad_scaler"]),
    Break("autocast-off", "tinyx/hardware.py",
          "        if self.dtype == torch.float32:", "        if True:",
          ["tests/unit/test_training_parts.py", "-k", "bfloat16"]),
    Break("compile-never-applied", "tinyx/training/setup.py",
          "trainable.step_model = torch.compile(outer) if hw.compile else outer", "trainable.step_model = outer",
          ["tests/unit/test_training_parts.py", "-k", "compile_on_cpu"]),
    Break("compare-median-for-mean", "tinyx/stats.py",
          "mean = statistics.fmean(values)", "mean = statistics.median(values)",
          ["tests/unit/test_compare.py", "-k", "mean_not_the_median"]),
    Break("compare-ranks-by-best", "tinyx/compare/runs.py",
          "written = _finite(self.summary.get(metric))", 'written = _finite(self.summary.get(name + "_best"))',
          ["tests/unit/test_compare.py", "-k", "mean_not_the_median"]),
    Break("compare-paired-data-tested-unpaired", "tinyx/compare/arms.py",
          "stats.difference(paired_baseline, variant.observations, True,",
          "stats.difference(paired_baseline, variant.observations, False,",
          ["tests/unit/test_compare.py", "-k", "equal_scipy"]),
    Break("compare-counts-incomplete-runs", "tinyx/compare/arms.py",
          "if run.completed or include_incomplete:", "if True:",
          ["tests/unit/test_compare.py", "-k", "incomplete_runs"]),
    Break("compare-keeps-the-oldest-rerun", "tinyx/compare/arms.py",
          "str(r.path)), reverse=True)", "str(r.path)), reverse=False)",
          ["tests/unit/test_compare.py", "-k", "newest_completed"]),
    Break("ablate-no-correction-for-repeated-looks", "tinyx/ablate.py",
          "level = alpha / looks", "level = alpha",
          ["tests/unit/test_ablate.py", "-k", "aa_comparisons"]),
    Break("resume-drops-the-partial-loss-sum", "tinyx/training/state.py",
          'self.loss_sum = state["loss_sum"].to(self.device).float()',
          'self.loss_sum = 0 * state["loss_sum"].to(self.device).float()',
          ["tests/unit/test_trainer.py", "-k", "between_log_steps"]),
    Break("hyperband-prunes-nothing", "tinyx/sweep/samplers.py",
          "return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=max_steps)",
          "return optuna.pruners.NopPruner()",
          ["tests/e2e/test_sweep.py", "-k", "hyperband"]),
    Break("probe-logprobs-shifted", "tinyx/evaluate.py",
          "logits[0, -len(expected_ids):]", "logits[0, -len(expected_ids) - 1:-1]",
          ["tests/unit/test_evaluate.py", "-k", "teacher_forced"]),
    Break("attention-not-causal", "tinyx/model.py",
          "is_causal=True, dropout_p", "is_causal=False, dropout_p",
          ["tests/unit/test_architecture.py", "-k", "attention_module"]),
    Break("mfu-over-one-device", "tinyx/training/setup.py",
          "/ (peak_flops * devices)", "/ peak_flops",
          ["tests/unit/test_training_parts.py", "-k", "mfu"]),
    Break("resume-keeps-the-checkpoints-optimizer-settings", "tinyx/training/checkpointer.py",
          "                group.update(values)", "                pass",
          ["tests/e2e/test_run_directories.py", "-k", "new_optimizer_settings"]),
    Break("wandb-resumed-run-starts-empty", "tinyx/loggers.py",
          "        if resume_id is None:\n            for row in history.metrics:",
          "        if False:\n            for row in history.metrics:",
          ["tests/e2e/test_tracking.py", "-k", "resume_continues"]),
    Break("wandb-resume-relogs-old-steps", "tinyx/loggers.py",
          "        if resume_id is None:\n            for row in history.metrics:",
          "        if True:\n            for row in history.metrics:",
          ["tests/e2e/test_tracking.py", "-k", "resume_continues"]),
    Break("sweep-stale-trial-not-retried", "tinyx/sweep/storage.py",
          "heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))",
          "heartbeat_stale_trial_callback=None)",
          ["tests/e2e/test_sweep.py", "-k", "killed_workers_trial"]),
    Break("sweep-stale-trial-retried-forever", "tinyx/sweep/storage.py",
          "RetryHeartbeatStaleTrialCallback(max_retry=1)", "RetryHeartbeatStaleTrialCallback(max_retry=None)",
          ["tests/e2e/test_sweep.py", "-k", "retried_only_once"]),
    Break("sweep-heartbeat-grace-ignored", "tinyx/sweep/storage.py",
          "grace_period=heartbeat_grace,", "grace_period=180,",
          ["tests/e2e/test_sweep.py", "-k", "killed_workers_trial"]),
    Break("sweep-sigterm-exits-130", "tinyx/cli.py",
          'sys.exit(getattr(e, "exit_code", 130))', "sys.exit(130)",
          ["tests/e2e/test_sweep.py", "-k", "sigterm"]),
    Break("sweep-interrupted-trial-not-requeued", "tinyx/sweep/runner.py",
          'study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})', "pass",
          ["tests/e2e/test_sweep.py", "-k", "sigterm"]),
    Break("kv-cache-rope-positions-not-offset", "tinyx/model.py",
          "rope = (self.rope_cos[start:], self.rope_sin[start:])", "rope = (self.rope_cos, self.rope_sin)",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and rope and not combination"]),
    Break("kv-cache-learned-positions-not-offset", "tinyx/model.py",
          "torch.arange(start, start + t, device=idx.device)", "torch.arange(t, device=idx.device)",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and default"]),
    Break("kv-cache-used-past-the-context", "tinyx/sampling.py",
          "if cache is not None and idx.shape[1] <= block_size:", "if cache is not None:",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and default"]),
    Break("top-p-keeps-one-token-too-few", "tinyx/sampling.py",
          "mass_before = probs.cumsum(dim=-1) - probs", "mass_before = probs.cumsum(dim=-1)",
          ["tests/unit/test_generate.py", "-k", "smallest_set"]),
    Break("a-run-directory-is-overwritten", "tinyx/rundir.py",
          "    if not holds_run(run_dir):", "    if True:",
          ["tests/e2e/test_run_directories.py", "-k", "reusing or refuses"]),
    Break("export-gpt2-with-tanh-gelu", "tinyx/hf/mapping.py",
          '"activation_function": "gelu" if cfg.mlp == "gelu"', '"activation_function": "gelu_new" if cfg.mlp == "gelu"',
          ["tests/unit/test_export.py", "-k", "gpt2-no-bias"]),
    Break("export-swiglu-gate-and-up-swapped", "tinyx/hf/mapping.py",
          'gate, up = sd[f"{p}mlp.fc.{suffix}"].chunk(2, dim=0)', 'up, gate = sd[f"{p}mlp.fc.{suffix}"].chunk(2, dim=0)',
          ["tests/unit/test_export.py", "-k", "llama-gqa"]),
    Break("init-from-leaves-the-random-init", "tinyx/training/setup.py",
          "        hf_load.load_weights(trainable.model, cfg.model.init_from)", "        pass",
          ["tests/e2e/test_hf.py", "-m", "slow", "-k", "init_from_starts"]),
]


def _copy_of_head(dest: Path) -> None:
    """The committed tree, as CI would check it out (untracked and ignored files left behind)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    local = ROOT / "conf" / "local" / "default.yaml"  # this machine's corpus folder, if it has one
    if local.is_file():
        (dest / "conf" / "local" / "default.yaml").write_text(local.read_text())


def _run_tests(workdir: Path, tests: list[str]) -> tuple[bool, float]:
    """(passed, seconds) of `tests` in `workdir`."""
    started = time.monotonic()
    # `python -m pytest` in the copy: its own tinyx comes first on sys.path, not the checkout's.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "", "-p", "no:cacheprovider", *tests],
                            cwd=workdir, capture_output=True, text=True, timeout=900)
    return result.returncode == 0, time.monotonic() - started


def run_break(brk: Break, workdir: Path) -> tuple[str, float]:
    """Run `brk`'s tests on the intact copy (they must pass), then with the break applied (they must fail)."""
    path = workdir / brk.file
    original = path.read_text()
    if original.count(brk.old) != 1:
        raise SystemExit(f"error: break {brk.name}: {brk.old!r} is not found exactly once in {brk.file}: "
                         f"update scripts/mutation_check.py to the code as it is now.")
    passed, _ = _run_tests(workdir, brk.tests)
    if not passed:  # a failure here would say nothing about the break
        return "tests fail without the break", 0.0
    path.write_text(original.replace(brk.old, brk.new))
    try:
        passed, seconds = _run_tests(workdir, brk.tests)
    finally:
        path.write_text(original)
    return ("missed" if passed else "caught"), seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the breaks whose name contains this text")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKS if args.only in b.name]
    rows, missed = [], 0
    # Beside the checkout, so that the copy finds ../shared (the corpus, tiktoken's files) as the checkout does.
    with tempfile.TemporaryDirectory(prefix=".tinyx-mutation-", dir=ROOT.parent) as tmp:
        workdir = Path(tmp)
        _copy_of_head(workdir)
        for brk in chosen:
            result, seconds = run_break(brk, workdir)
            missed += result != "caught"
            rows.append(f"| {brk.name} | `{brk.file}` | `{' '.join(brk.tests)}` | "
                        f"{result if result == 'caught' else f'**{result}**'} | {seconds:.0f} |")
            print(rows[-1], flush=True)
    print("\n| break | file | tests | result | seconds |\n|---|---|---|---|---|\n" + "\n".join(rows))
    print(f"\n{len(chosen) - missed} of {len(chosen)} breaks caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
