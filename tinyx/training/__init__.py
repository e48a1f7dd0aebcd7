"""Training a model: `train(cfg, run_dir)` (loop.py) and the parts it is made of.

state.py (TrainState: everything a checkpoint holds), step.py (one optimizer step), interrupts.py
(SIGINT/SIGTERM), evaluation.py, checkpointer.py, resume.py, setup.py (everything before step 1).
"""

from tinyx.training.loop import train

__all__ = ["train"]
