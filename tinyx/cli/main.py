"""`tinyx <tool> ...`: one command for the tools over run directories (the console script, `python -m tinyx.cli`).

Each tool's module is imported by name only when it runs, so `tinyx --help` stays fast and this floor imports
nothing above it; the one-line summaries are the first lines of the tools' docstrings, read without importing.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import sys
from pathlib import Path

from tinyx.cli.args import EXIT_USAGE

# tool -> the module whose main(argv) runs it and whose docstring says what it does.
TOOLS = {
    "compare": "tinyx.compare",
    "ablate": "tinyx.tools.ablate.cli",
    "ladder": "tinyx.tools.ladder.cli",
    "evaluate": "tinyx.tools.evaluate",
    "generate": "tinyx.tools.generate",
    "export": "tinyx.tools.export",
    "bench": "tinyx.tools.bench",
}
SCRIPTS = "Training and sweeps are scripts beside conf/: `uv run train.py ...`, `uv run sweep.py ...` (docs/training.md)."


def summary(module: str) -> str:
    """The first line of a module's docstring, read from its source (importing it would import torch)."""
    spec = importlib.util.find_spec(module)
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) if spec and spec.origin else None
    return (doc or "").splitlines()[0] if doc else ""


def usage() -> str:
    width = max(map(len, TOOLS))
    lines = ["usage: tinyx <tool> [arguments]   (tinyx <tool> --help: the tool's arguments and examples)", "",
             "tools:"]
    lines += [f"  {tool:<{width}}  {summary(module)}" for tool, module in TOOLS.items()]
    return "\n".join(lines + ["", SCRIPTS])


def main(argv: list[str] | None = None) -> int:
    """Run `tinyx <tool> ...`; returns the exit code (0) for the console script, exits non-zero on an error."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    tool, rest = argv[0], argv[1:]
    if tool not in TOOLS:
        close = difflib.get_close_matches(tool, TOOLS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        print(f"error: unknown tool {tool!r}: {hint}The tools: {', '.join(TOOLS)} (tinyx --help).", file=sys.stderr,
              flush=True)
        sys.exit(EXIT_USAGE)
    from tinyx.cli.entry import load_env, require_environment

    require_environment(tool)
    load_env()  # e.g. TIKTOKEN_CACHE_DIR, which a BPE run needs offline
    importlib.import_module(TOOLS[tool]).main(rest)
    return 0
