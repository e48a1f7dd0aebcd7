"""Training a model: `train(cfg, run_dir)` (loop.py) and the parts it is made of.

setup.py (everything before step 1, in named phases), machine.py (device, torchrun world, DDP), run_files.py
(the run directory's records and loggers), run.py (Run: the set-up run, what it logs and reports), state.py
(TrainState: everything a checkpoint holds), step.py (one optimizer step), interrupts.py (SIGINT/SIGTERM),
evaluation.py, checkpointing.py, resume.py, budget.py (the size dial's run length: train.tokens_per_param,
train.flops_budget; size_figures for planning sizes without training).
"""

from tinyx.training.loop import train

__all__ = ["train"]
