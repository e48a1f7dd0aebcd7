"""`tinyx ablate`: run an ablation until it is decided (seeds in rounds, each variant stopped once its verdict is in).

The parts: rule (the verdict of a look, at α over the planned looks), seeds (arms and their run directories),
pool (every run of a round through the launcher's slots), rounds (the loop), table (ablation.md), tuning,
tuning_plan and tuning_report (each arm at its own best learning rate first), cli (the command). Why seeds in rounds and this rule: docs/ablations.md.
"""

from tinyx.tools.ablate.cli import main, parse_args
from tinyx.tools.ablate.rounds import Look, Options, ablate, look, same_data_order
from tinyx.tools.ablate.rule import decide, schedule, sequential
from tinyx.tools.ablate.pool import Job, run_pool, train_command
from tinyx.tools.ablate.seeds import ArmSpec, parse_arm, pending_jobs, read_seed, seed_dir
from tinyx.tools.ablate.table import report, seed_notes
from tinyx.tools.ablate.tuning import ArmTuning, TuneSpec, tune

__all__ = ["ArmSpec", "ArmTuning", "Job", "Look", "Options", "TuneSpec", "ablate", "decide", "look", "main",
           "parse_arm", "parse_args", "pending_jobs", "read_seed", "report", "run_pool", "same_data_order", "schedule",
           "seed_dir", "seed_notes", "sequential", "train_command", "tune"]
