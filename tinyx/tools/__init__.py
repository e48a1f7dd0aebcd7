"""The tools over run directories: ablate, evaluate (with lm-eval), export, generate, bench."""
