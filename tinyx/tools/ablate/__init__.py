"""`tinyx ablate`: run an ablation until it is decided (seeds in rounds, each variant stopped once its verdict is in).

The parts: rule (the verdict of a look, at α over the planned looks), seeds (arms and their run directories),
rounds (the loop), table (ablation.md), cli (the command). Why seeds in rounds and this rule: docs/ablations.md.
"""

from tinyx.tools.ablate.cli import main, parse_args
from tinyx.tools.ablate.rounds import Look, Options, ablate, look, same_data_order
from tinyx.tools.ablate.rule import decide, schedule, sequential
from tinyx.tools.ablate.seeds import ArmSpec, parse_arm, read_seed, run_seeds, seed_dir, train_command
from tinyx.tools.ablate.table import report, seed_notes

__all__ = ["ArmSpec", "Look", "Options", "ablate", "decide", "look", "main", "parse_arm", "parse_args", "read_seed",
           "report", "run_seeds", "same_data_order", "schedule", "seed_dir", "seed_notes", "sequential",
           "train_command"]
