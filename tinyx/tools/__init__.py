"""The tools over run directories, run as `tinyx <tool>` (tinyx.cli.main): ablate, evaluate (with lm-eval), export,
generate, bench; compare lives below them (tinyx.compare), as ablate reads its statistics."""

from tinyx.cli.entry import require_environment

require_environment()  # `python3 -m tinyx.tools.<tool>` outside the environment: one line, not a traceback
