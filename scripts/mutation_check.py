"""Break tinyx on purpose, one change at a time, and check the tests aimed at each break catch it.

    uv run python scripts/mutation_check.py                 # every break (about 20 minutes on 2 cores)
    uv run python scripts/mutation_check.py --only probe     # the breaks whose name contains "probe"
    uv run python scripts/mutation_check.py --only '^(holm|launcher)-'   # a regular expression

Each break is one exact text replacement in one file, applied to a fresh copy of the committed tree (the
checkout is never touched), followed by the tests named for it. A break is caught when those tests, which
pass on the intact copy, fail with it. The tests run as the default `uv run pytest` selects them (tests
marked slow left out), unless the break is marked `slow=True`: then slow tests count too. A break whose
text is not in its file exactly once stops the check before any test runs (exit 2). Prints a Markdown
table and exits 1 if any break was missed.

A hand-written list rather than mutmut or cosmic-ray: those generate thousands of operator swaps across the
whole package, most of them equivalent or caught by anything; these are the breaks a reviewer found the suite
let through (issue 16), the bugs the house refactor fixed (issue 14), and the defects a reviewer would plant
in issues 17-19's code (issue 23: document windows, the cache key, Holm, seed dedupe, ablate's looks and spent
seeds, HF import and export, the launcher's devices and threads, resume checks), each aimed at the test that
now guards it, and the whole list runs in minutes on a laptop.
"""

from __future__ import annotations

import argparse
import re
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
    slow: bool = False  # True: tests marked slow may catch it (run with -m ""); False: the default suite must


BREAKS = [
    Break("ddp-no-sync-on-the-last-micro-step", "tinyx/training/step.py",
          "if t.ddp_model is not None and not last else", "if t.ddp_model is not None and last else",
          ["tests/e2e/test_distributed.py", "-k", "grad_accumulation"], slow=True),
    Break("host-side-skip-steps-anyway", "tinyx/training/step.py",
          "        elif not skip.item():", "        else:",
          ["tests/e2e/test_faults.py", "-k", "unfused or muon-torch"]),
    Break("grad-scaler-bypassed", "tinyx/training/step.py",
          "            scaler.step(opt)", "            optimizer_step(opt)",
          ["tests/unit/test_training_parts.py", "-k", "grad_scaler"], slow=True),
    Break("autocast-off", "tinyx/runtime/hardware.py",
          "        if self.dtype == torch.float32:", "        if True:",
          ["tests/unit/test_training_parts.py", "-k", "bfloat16"]),
    Break("compile-never-applied", "tinyx/training/machine.py",
          "trainable.step_model = torch.compile(outer) if hw.compile else outer", "trainable.step_model = outer",
          ["tests/e2e/test_training_parts_runs.py", "-k", "compile_on_cpu"], slow=True),
    Break("compare-median-for-mean", "tinyx/compare/stats.py",
          "mean = statistics.fmean(values)", "mean = statistics.median(values)",
          ["tests/unit/test_compare.py", "-k", "mean_not_the_median"]),
    Break("compare-ranks-by-best", "tinyx/compare/runs.py",
          "written = _finite(self.summary.get(metric))", 'written = _finite(self.summary.get(name + "_best"))',
          ["tests/unit/test_compare.py", "-k", "mean_not_the_median"]),
    Break("compare-paired-data-tested-unpaired", "tinyx/compare/judging.py",
          "stats.difference(paired_baseline, variant.observations, True,",
          "stats.difference(paired_baseline, variant.observations, False,",
          ["tests/unit/test_compare.py", "-k", "equal_scipy"]),
    Break("compare-counts-incomplete-runs", "tinyx/compare/observations.py",
          "if run.completed or include_incomplete:", "if True:",
          ["tests/unit/test_compare.py", "-k", "incomplete_runs"]),
    Break("compare-keeps-the-oldest-rerun", "tinyx/compare/observations.py",
          "str(r.path)), reverse=True)", "str(r.path)), reverse=False)",
          ["tests/unit/test_compare.py", "-k", "newest_completed"]),
    Break("ablate-no-correction-for-repeated-looks", "tinyx/tools/ablate/rule.py",
          "level = alpha / looks", "level = alpha",
          ["tests/unit/test_ablate.py", "-k", "aa_comparisons"]),
    Break("resume-drops-the-partial-loss-sum", "tinyx/training/state.py",
          'self.loss_sum = state["loss_sum"].to(self.device).float()',
          'self.loss_sum = 0 * state["loss_sum"].to(self.device).float()',
          ["tests/e2e/test_trainer.py", "-k", "between_log_steps"]),
    Break("hyperband-prunes-nothing", "tinyx/sweep/samplers.py",
          "return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=max_steps)",
          "return optuna.pruners.NopPruner()",
          ["tests/e2e/test_sweep.py", "-k", "hyperband"], slow=True),
    Break("probe-logprobs-shifted", "tinyx/tools/probes.py",
          "logits[0, -len(expected_ids):]", "logits[0, -len(expected_ids) - 1:-1]",
          ["tests/e2e/test_evaluate.py", "-k", "teacher_forced"]),
    Break("attention-not-causal", "tinyx/nn/attention.py",
          "is_causal=True, dropout_p", "is_causal=False, dropout_p",
          ["tests/unit/test_architecture.py", "-k", "attention_module"]),
    Break("mfu-over-one-device", "tinyx/training/run.py",
          "/ (peak_flops * devices)", "/ peak_flops",
          ["tests/unit/test_training_parts.py", "-k", "mfu"]),
    Break("resume-keeps-the-checkpoints-optimizer-settings", "tinyx/training/checkpointing.py",
          "                group.update(values)", "                pass",
          ["tests/e2e/test_run_directories.py", "-k", "new_optimizer_settings"]),
    Break("wandb-resumed-run-starts-empty", "tinyx/loggers/wandb_logger.py",
          "        if resume_id is None:\n            for row in history.metrics:",
          "        if False:\n            for row in history.metrics:",
          ["tests/e2e/test_tracking.py", "-k", "resume_continues"]),
    Break("wandb-resume-relogs-old-steps", "tinyx/loggers/wandb_logger.py",
          "        if resume_id is None:\n            for row in history.metrics:",
          "        if True:\n            for row in history.metrics:",
          ["tests/e2e/test_tracking.py", "-k", "resume_continues"]),
    Break("sweep-stale-trial-not-retried", "tinyx/sweep/storage.py",
          "heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))",
          "heartbeat_stale_trial_callback=None)",
          ["tests/e2e/test_sweep.py", "-k", "killed_workers_trial"], slow=True),
    Break("sweep-stale-trial-retried-forever", "tinyx/sweep/storage.py",
          "RetryHeartbeatStaleTrialCallback(max_retry=1)", "RetryHeartbeatStaleTrialCallback(max_retry=None)",
          ["tests/e2e/test_sweep.py", "-k", "retried_only_once"], slow=True),
    Break("sweep-heartbeat-grace-ignored", "tinyx/sweep/storage.py",
          "grace_period=heartbeat_grace,", "grace_period=180,",
          ["tests/e2e/test_sweep.py", "-k", "killed_workers_trial"], slow=True),
    Break("sweep-sigterm-exits-130", "tinyx/sweep/main.py",
          'sys.exit(getattr(e, "exit_code", 130))', "sys.exit(130)",
          ["tests/e2e/test_sweep.py", "-k", "sigterm"], slow=True),
    Break("sweep-interrupted-trial-not-requeued", "tinyx/sweep/runner.py",
          'study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})', "pass",
          ["tests/e2e/test_sweep.py", "-k", "sigterm"], slow=True),
    Break("kv-cache-rope-positions-not-offset", "tinyx/nn/gpt.py",
          "rope = (self.rope_cos[start:], self.rope_sin[start:])", "rope = (self.rope_cos, self.rope_sin)",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and rope and not combination"]),
    Break("kv-cache-learned-positions-not-offset", "tinyx/nn/gpt.py",
          "torch.arange(start, start + t, device=idx.device)", "torch.arange(t, device=idx.device)",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and default"]),
    Break("kv-cache-used-past-the-context", "tinyx/nn/decoding.py",
          "if cache is not None and idx.shape[1] <= block_size:", "if cache is not None:",
          ["tests/unit/test_generate.py", "-k", "greedy_tokens and default"]),
    Break("top-p-keeps-one-token-too-few", "tinyx/nn/decoding.py",
          "mass_before = probs.cumsum(dim=-1) - probs", "mass_before = probs.cumsum(dim=-1)",
          ["tests/unit/test_generate.py", "-k", "smallest_set"]),
    Break("a-run-directory-is-overwritten", "tinyx/rundir/contract.py",
          "    if not holds_run(run_dir):", "    if True:",
          ["tests/e2e/test_run_directories.py", "-k", "reusing or refuses"]),
    Break("export-gpt2-with-tanh-gelu", "tinyx/hf/architectures.py",
          '"activation_function": "gelu" if cfg.mlp == "gelu"', '"activation_function": "gelu_new" if cfg.mlp == "gelu"',
          ["tests/unit/test_export.py", "-k", "gpt2-no-bias"]),
    Break("export-swiglu-gate-and-up-swapped", "tinyx/hf/weights.py",
          'gate, up = sd[f"{p}mlp.fc.{suffix}"].chunk(2, dim=0)', 'up, gate = sd[f"{p}mlp.fc.{suffix}"].chunk(2, dim=0)',
          ["tests/unit/test_export.py", "-k", "llama-gqa"]),
    Break("init-from-leaves-the-random-init", "tinyx/training/setup.py",
          "        hf_load.load_weights(model, run_cfg.model.init_from)", "        pass",
          ["tests/e2e/test_hf.py", "-m", "slow", "-k", "init_from_starts"], slow=True),
    # ---- issue 23: the code of issues 17-19, each break caught by the default `uv run pytest` (no slow test)
    Break("document-windows-last-fitting-start-dropped", "tinyx/data/windows.py",
          "(starts <= len(ids) - block_size - 1)", "(starts < len(ids) - block_size - 1)",
          ["tests/unit/test_sampling.py", "-k", "too_close_to_the_end"]),
    Break("document-windows-run-past-the-split-end", "tinyx/data/windows.py",
          "(starts <= len(ids) - block_size - 1)", "(starts <= len(ids) - block_size)",
          ["tests/unit/test_sampling.py", "-k", "too_close_to_the_end"]),
    Break("document-windows-every-rank-takes-rank-0s", "tinyx/data/windows.py",
          "picks = picks[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].numpy()",
          "picks = picks[:self.batch_size].numpy()",
          ["tests/unit/test_sampling.py", "-k", "ranks_share_out"]),
    Break("document-windows-one-document-accepted", "tinyx/data/windows.py",
          "if data.doc_starts is None or len(data.doc_starts) < 2:", "if data.doc_starts is None:",
          ["tests/unit/test_sampling.py", "-k", "make_sampler_follows"]),
    Break("cache-key-without-the-tokenizer", "tinyx/data/cache.py",
          '"tokenizer": tokenizer_identity(tokenizer), "settings": settings}', '"settings": settings}',
          ["tests/unit/test_cache_key.py"]),
    Break("cache-key-without-the-split-settings", "tinyx/data/cache.py",
          '"tokenizer": tokenizer_identity(tokenizer), "settings": settings}',
          '"tokenizer": tokenizer_identity(tokenizer)}',
          ["tests/unit/test_cache_key.py"]),
    Break("cache-key-without-the-hub-dataset", "tinyx/data/cache.py",
          '"files": files, "identity": source.identity,', '"files": files,',
          ["tests/unit/test_cache_key.py"]),
    Break("holm-not-monotone", "tinyx/compare/stats.py",
          "running = max(running, min(1.0, (len(tested) - rank) * p))",
          "running = min(1.0, (len(tested) - rank) * p)",
          ["tests/unit/test_stats.py"]),
    Break("holm-multiplier-off-by-one", "tinyx/compare/stats.py",
          "(len(tested) - rank) * p", "(len(tested) - rank - 1) * p",
          ["tests/unit/test_stats.py"]),
    Break("holm-counts-arms-without-a-test", "tinyx/compare/stats.py",
          "(len(tested) - rank) * p", "(len(pvalues) - rank) * p",
          ["tests/unit/test_stats.py"]),
    Break("holm-not-capped-at-one", "tinyx/compare/stats.py",
          "min(1.0, (len(tested) - rank) * p)", "(len(tested) - rank) * p",
          ["tests/unit/test_stats.py"]),
    Break("compare-keeps-a-newer-incomplete-rerun", "tinyx/compare/observations.py",
          "key=lambda r: (r.completed, r.finished_at, str(r.path))", "key=lambda r: (r.finished_at, str(r.path))",
          ["tests/unit/test_compare.py", "-k", "newest_completed"]),
    Break("ablate-level-from-the-looks-so-far", "tinyx/tools/ablate/rounds.py",
          "look(baseline, v, n, len(looks_at), opts.alpha", "look(baseline, v, n, k, opts.alpha",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("ablate-ci-at-the-uncorrected-level", "tinyx/tools/ablate/rounds.py",
          "stats.difference(a, b, paired, confidence=1 - alpha / looks)",
          "stats.difference(a, b, paired, confidence=1 - alpha)",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("ablate-no-difference-from-the-uncorrected-interval", "tinyx/tools/ablate/rule.py",
          "ci = result.confidence_interval(1 - level)", "ci = result.confidence_interval(1 - alpha)",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("ablate-spent-seeds-not-counted", "tinyx/tools/ablate/table.py",
          "spent = len(arm.seeds_done) + len(arm.seeds_spent)", "spent = len(arm.seeds_done)",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("ablate-pairs-a-spent-seed", "tinyx/tools/ablate/rounds.py",
          "if s in baseline.seeds_done and s in variant.seeds_done]", "if s in baseline.seeds_done]",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("ablate-one-arm-at-a-time", "tinyx/tools/ablate/rounds.py",
          "        run_pool(jobs, opts.extra, opts.jobs, say)\n",
          "        for job in jobs:\n            run_pool([job], opts.extra, opts.jobs, say)\n",
          ["tests/unit/test_ablate_rounds.py"]),
    Break("tuning-verdict-on-the-tuning-seeds", "tinyx/tools/ablate/tuning.py",
          "TUNING_SEED = 1000  #", "TUNING_SEED = 0  #", ["tests/unit/test_ablate_tuning.py", "-k", "fresh_seeds"]),
    Break("tuning-best-grid-value-chosen", "tinyx/tools/ablate/tuning.py",
          'return float(f"{math.exp(parabola_vertex(x, y)):.3g}")', "return self.best",
          ["tests/unit/test_ablate_tuning.py", "-k", "fresh_seeds or aa_two"]),
    Break("tuning-grid-never-grows", "tinyx/tools/ablate/tuning.py",
          "todo = [t for t in todo if _extend(t, extensions[t.arm.name])]", "todo = []",
          ["tests/unit/test_ablate_tuning.py", "-k", "fresh_seeds"]),
    Break("compare-untuned-arms-not-warned", "tinyx/compare/fairness.py",
          "if not moved or is_lr_sweep(arms, moved):", "if True:", ["tests/unit/test_compare_report.py"]),
    Break("compare-ranks-split-a-tie", "tinyx/compare/judging.py",
          "if p is None or p >= alpha:", "if p is None:", ["tests/unit/test_compare_report.py"]),
    Break("import-gpt2-conv1d-not-transposed", "tinyx/hf/weights.py",
          'weight if ours.startswith("norm") else weight.t()', "weight",
          ["tests/unit/test_export.py", "-k", "round_trip or loads_back"]),
    Break("import-q-and-k-swapped", "tinyx/hf/weights.py",
          'hf_sd[f"{h}self_attn.{n}_proj.{suffix}"] for n in "qkv"',
          'hf_sd[f"{h}self_attn.{n}_proj.{suffix}"] for n in "kqv"',
          ["tests/unit/test_export.py", "-k", "round_trip or loads_back"]),
    Break("import-untied-head-from-the-embeddings", "tinyx/hf/weights.py",
          'sd["lm_head.weight"] = sd["tok_emb.weight"] if cfg.tie_embeddings else hf_sd["lm_head.weight"]',
          'sd["lm_head.weight"] = sd["tok_emb.weight"]',
          ["tests/unit/test_export.py", "-k", "round_trip or loads_back"]),
    Break("import-qwen3-qk-norms-dropped", "tinyx/hf/weights.py",
          '            sd[p + "attn.q_norm.weight"] = hf_sd[h + "self_attn.q_norm.weight"]\n'
          '            sd[p + "attn.k_norm.weight"] = hf_sd[h + "self_attn.k_norm.weight"]\n', "            pass\n",
          ["tests/unit/test_export.py", "-k", "round_trip or loads_back"]),
    Break("import-gpt2-positions-not-cut-to-the-context", "tinyx/hf/weights.py",
          'hf_sd["transformer.wpe.weight"][: cfg.block_size]', 'hf_sd["transformer.wpe.weight"]',
          ["tests/unit/test_export.py", "-k", "round_trip"]),
    Break("import-rope-theta-ignored", "tinyx/hf/architectures.py",
          'theta = rope.get("rope_theta", hf.get("rope_theta", 10000.0))', 'theta = hf.get("rope_theta", 10000.0)',
          ["tests/unit/test_export.py", "-k", "reads_the_shape"]),
    Break("export-untied-head-tied-in-config", "tinyx/hf/architectures.py",
          '"tie_word_embeddings": cfg.tie_embeddings,', '"tie_word_embeddings": True,',
          ["tests/unit/test_export.py", "-k", "matches_transformers and untied"]),
    Break("export-qwen3-head-dim-dropped", "tinyx/hf/architectures.py",
          '"head_dim": cfg.d_model // cfg.n_head, ', "",
          ["tests/unit/test_export.py", "-k", "matches_transformers and qwen3"]),
    Break("export-qwen3-qk-norms-dropped", "tinyx/hf/weights.py",
          '    if cfg.qk_norm:\n        out[h + "self_attn.q_norm.weight"]',
          '    if False:\n        out[h + "self_attn.q_norm.weight"]',
          ["tests/unit/test_export.py", "-k", "matches_transformers and qwen3"]),
    Break("launcher-every-job-on-gpu-0", "tinyx/runtime/launcher.py",
          "gpu_slots = [names[d] for _ in range(jobs_per_gpu) for d in devices]",
          "gpu_slots = [names[0] for _ in range(jobs_per_gpu) for d in devices]",
          ["tests/unit/test_launcher.py", "-k", "gpu_slots"]),
    Break("launcher-gpu-index-not-mapped", "tinyx/runtime/launcher.py",
          "names = gpu_names or [str(i) for i in range(visible_gpus)]", "names = [str(i) for i in range(visible_gpus)]",
          ["tests/unit/test_launcher.py", "-k", "gpu_slots"]),
    Break("launcher-gpu-job-threads-per-gpu", "tinyx/runtime/launcher.py",
          "max(1, cpu_count // len(gpu_slots))", "max(1, cpu_count // len(devices))",
          ["tests/unit/test_launcher.py", "-k", "gpu_slots"]),
    Break("launcher-cpu-jobs-see-the-gpu", "tinyx/runtime/launcher.py",
          'hide = "" if visible_gpus else None', "hide = None",
          ["tests/unit/test_launcher.py", "-k", "gpu_slots"]),
    Break("launcher-job-started-outside-its-slot", "tinyx/runtime/launcher.py",
          "with _environment(slot.env()):", "with _environment({}):",
          ["tests/unit/test_launcher.py", "-k", "new_process_with_its_slot"]),
    Break("resume-accepts-one-changed-shape-key", "tinyx/training/resume.py",
          "    if differing:", "    if len(differing) > 1:",
          ["tests/unit/test_resume_checks.py"]),
    Break("resume-refuses-a-new-dropout", "tinyx/training/resume.py",
          'if k != "dropout" and trained.get(k)', "if trained.get(k)",
          ["tests/unit/test_resume_checks.py"]),
    Break("resume-at-max-steps-trains-on", "tinyx/training/resume.py",
          'if state["step"] >= max_steps:', 'if state["step"] > max_steps:',
          ["tests/unit/test_resume_checks.py"]),
    Break("resume-forgets-the-nonfinite-streak", "tinyx/training/state.py",
          '"streak": self.nonfinite_streak.item(),', "",
          ["tests/unit/test_training_parts.py", "-k", "counters_and_clocks"]),
    Break("resume-restarts-the-wall-clock", "tinyx/training/state.py",
          'self.wall_offset, self.eval_seconds = state.get("wall_seconds", 0.0),',
          "self.wall_offset, self.eval_seconds = 0.0,",
          ["tests/unit/test_training_parts.py", "-k", "counters_and_clocks"]),
    # Issue 26: the ladder, the size dial, muP and budget-matched comparisons.
    Break("ladder-interval-not-widened-for-few-seeds", "tinyx/tools/ladder/trend.py",
          "return point + np.asarray(inflation(df, level))[..., None] * spread", "return point + spread",
          ["tests/unit/test_ladder_stats.py", "-k", "covers"], slow=True),
    Break("ladder-holds-though-the-interval-reaches-0", "tinyx/tools/ladder/verdict.py",
          "_sign(x.delta) == sign and x.zero_at is None", "_sign(x.delta) == sign",
          ["tests/unit/test_ladder_stats.py", "-k", "verdict"]),
    Break("ladder-variant-seeds-not-offset", "tinyx/tools/ladder/runs.py",
          "start = 0 if rung.arm is baseline else variant_offset", "start = 0",
          ["tests/e2e/test_ladder_command.py"], slow=True),
    Break("dial-width-ignores-aspect-ratio", "tinyx/config/dial.py", "    d_model = depth * aspect",
          "    d_model = depth * 32", ["tests/unit/test_dial.py"]),
    Break("mup-hidden-lr-not-divided", "tinyx/nn/optimizers.py", "cfg, device, hidden, cfg.lr / mult)]",
          "cfg, device, hidden, cfg.lr)]", ["tests/unit/test_coordinate_check.py", "tests/unit/test_dial.py"], slow=True),
    Break("at-flops-ignores-flops-per-token", "tinyx/compare/budget.py",
          "(run.tokens_per_step * run.flops_per_token) * (1 + 1e-12))", "(run.tokens_per_step * 1000) * (1 + 1e-12))",
          ["tests/unit/test_compare.py", "-k", "at_flops"]),
]


def _copy_of_head(dest: Path) -> None:
    """The committed tree, as CI would check it out (untracked and ignored files left behind)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    local = ROOT / "conf" / "local" / "default.yaml"  # this machine's corpus folder, if it has one
    if local.is_file():
        (dest / "conf" / "local" / "default.yaml").write_text(local.read_text())


NO_TESTS = 5  # pytest's exit code when the arguments select no test


def _run_tests(workdir: Path, brk: Break) -> tuple[int, float]:
    """(pytest's exit code, seconds) of `brk`'s tests in `workdir`: the default suite's selection (pyproject's
    -m 'not slow'), or every test for a break marked slow."""
    started = time.monotonic()
    markers = ["-m", ""] if brk.slow else []
    # `python -m pytest` in the copy: its own tinyx comes first on sys.path, not the checkout's.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", *markers, "-p", "no:cacheprovider",
                             *brk.tests], cwd=workdir, capture_output=True, text=True, timeout=900)
    return result.returncode, time.monotonic() - started


def pattern_errors(breaks: list[Break], workdir: Path) -> list[str]:
    """The breaks whose text is not in their file exactly once: checked before any test runs."""
    errors = []
    for brk in breaks:
        path = workdir / brk.file
        found = path.read_text().count(brk.old) if path.is_file() else 0
        if found != 1:
            errors.append(f"error: break {brk.name}: {brk.old!r} is found {found} times in {brk.file}, not once: "
                          f"update scripts/mutation_check.py to the code as it is now.")
    return errors


def run_break(brk: Break, workdir: Path) -> tuple[str, float]:
    """Run `brk`'s tests on the intact copy (they must pass), then with the break applied (they must fail)."""
    path = workdir / brk.file
    original = path.read_text()
    code, _ = _run_tests(workdir, brk)
    if code == NO_TESTS:  # e.g. only slow tests selected for a break the default suite must catch
        return "no test selected" + ("" if brk.slow else " in the default suite"), 0.0
    if code != 0:  # a failure here would say nothing about the break
        return "tests fail without the break", 0.0
    path.write_text(original.replace(brk.old, brk.new))
    try:
        code, seconds = _run_tests(workdir, brk)
    finally:
        path.write_text(original)
    return ("missed" if code == 0 else "caught"), seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the breaks whose name this regular expression "
                                                   "matches (re.search: plain text matches where it occurs)")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKS if re.search(args.only, b.name)]
    if not chosen:
        print(f"error: --only {args.only!r} matches no break's name", file=sys.stderr)
        return 2
    rows, missed, started = [], 0, time.monotonic()
    # Beside the checkout, so that the copy finds ../shared (the corpus, tiktoken's files) as the checkout does.
    with tempfile.TemporaryDirectory(prefix=".tinyx-mutation-", dir=ROOT.parent) as tmp:
        workdir = Path(tmp)
        _copy_of_head(workdir)
        errors = pattern_errors(chosen, workdir)
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 2
        for brk in chosen:
            result, seconds = run_break(brk, workdir)
            missed += result != "caught"
            suite = "all" if brk.slow else "default"
            rows.append(f"| {brk.name} | `{brk.file}` | `{' '.join(brk.tests)}` | {suite} | "
                        f"{result if result == 'caught' else f'**{result}**'} | {seconds:.0f} |")
            print(rows[-1], flush=True)
    print("\n| break | file | tests | suite | result | seconds |\n|---|---|---|---|---|---|\n" + "\n".join(rows))
    print(f"\n{len(chosen) - missed} of {len(chosen)} breaks caught in {(time.monotonic() - started) / 60:.1f} minutes")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
