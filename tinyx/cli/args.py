"""One grammar for every tool: `tinyx <tool> PATHS... --flag value [-- train.py overrides]`.

Each tool builds its parser with `tool_parser` (prog `tinyx <tool>`, its module docstring as the help text) and
the shared arguments below, so a flag means the same in every tool. A mistake on the command line is one line
on stderr naming the bad word and the fix (a misspelt flag gets "did you mean"), exit code 2, as every other
user error of tinyx. Standard library only: `tinyx --help` stays fast.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap

EXIT_USAGE = 2
DASHES = "--"
# argparse's type names as a user reads them ("'many' is not an integer").
TYPE_WORDS = {"int": "an integer", "float": "a number", "int_or_none": "an integer or none",
              "float_or_none": "a number or none"}


class ToolParser(argparse.ArgumentParser):
    """argparse with one-line errors that name the fix; `overrides_after_dashes` for tools that pass train.py
    overrides (ablate, bench), so that an override typed without `--` gets told where it goes."""

    overrides_after_dashes = False

    def parse_args(self, args=None, namespace=None):
        # A misspelt option first: argparse would report a missing required argument before it.
        args = sys.argv[1:] if args is None else list(args)
        for word in args[:args.index(DASHES)] if DASHES in args else args:
            name = word.split("=")[0]
            if word.startswith(DASHES) and not any(o.startswith(name) for o in self._option_string_actions):
                self.error(f"unrecognized arguments: {word}")
        return super().parse_args(args, namespace)

    def error(self, message: str):
        print(f"error: {self.prog}: {explain(self, message)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USAGE)


def tool_parser(tool: str, doc: str, overrides: bool = False, prog: str | None = None) -> ToolParser:
    """The parser of `tinyx <tool>` (or of a script, `prog`): its help shows the module docstring (what it does,
    examples)."""
    parser = ToolParser(prog=prog or f"tinyx {tool}", description=doc.strip(),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.overrides_after_dashes = overrides
    return parser


def explain(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's message, rewritten to name the bad word and the fix (its own checks' messages pass as they are)."""
    if message.startswith("unrecognized arguments: "):
        return unknown_word(parser, message.removeprefix("unrecognized arguments: ").split()[0])
    bad_type = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid (\w+) value: '(.*)'", message)
    if bad_type:
        flag, kind, value = bad_type.groups()
        return f"{flag} {value!r} is not {TYPE_WORDS.get(kind, kind)}: pass e.g. {flag} {example(parser, flag)}."
    if message.startswith("the following arguments are required: "):
        missing = message.removeprefix("the following arguments are required: ").split(", ")
        names = ", ".join(m if m.startswith("-") else m.upper() for m in missing)
        return f"missing {names}: {usage_hint(parser)}"
    needs_value = re.fullmatch(r"argument (\S+?)(?:/\S+)?: expected (?:one|at least one) argument", message)
    if needs_value:
        flag = needs_value.group(1)
        return f"{flag} needs a value: pass e.g. {flag} {example(parser, flag)}."
    return message


def unknown_word(parser: argparse.ArgumentParser, word: str) -> str:
    if word.startswith("-"):
        flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
        close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.6)
        fix = f"did you mean {close[0]}?" if close else f"`{parser.prog} --help` lists them."
        return f"unknown option {word}: {fix}"
    if "=" in word and getattr(parser, "overrides_after_dashes", False):
        return f"{word!r} looks like a train.py override: put overrides after `--` ({parser.prog} ... -- {word})."
    return f"unexpected argument {word!r}: options start with -- ({usage_hint(parser)})"


def usage_hint(parser: argparse.ArgumentParser) -> str:
    """The first example of the tool's help, else a pointer to --help."""
    for line in (parser.description or "").splitlines():
        if line.strip().startswith(("tinyx ", "uv run tinyx ")):
            return f"e.g. {line.strip()}"
    return f"see `{parser.prog} --help`"


def example(parser: argparse.ArgumentParser, flag: str) -> str:
    """A value that fits `flag`: its default, else one of its own type."""
    action = next((a for a in parser._actions if flag in a.option_strings), None)
    if action is not None and action.default not in (None, argparse.SUPPRESS):
        return str(action.default)
    kind = getattr(getattr(action, "type", None), "__name__", "")
    return {"int": "1", "float": "0.5"}.get(kind, "VALUE")


def split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the tool's own arguments, what follows `--`: train.py overrides for every run)."""
    if DASHES not in argv:
        return list(argv), []
    cut = argv.index(DASHES)
    return list(argv[:cut]), list(argv[cut + 1:])


def int_or_none(text: str) -> int | None:
    return None if text.lower() in ("none", "null") else int(text)


def float_or_none(text: str) -> float | None:
    return None if text.lower() in ("none", "null") else float(text)


# ---------------------------------------------------------------- arguments several tools share
def add_run(parser: argparse.ArgumentParser) -> None:
    """The one run a tool reads (generate, export)."""
    parser.add_argument("run", metavar="RUN", help="a run directory (its latest checkpoint), a checkpoint file, or "
                                                    "`last` (the newest run)")


def add_paths(parser: argparse.ArgumentParser, what: str) -> None:
    """The runs or checkpoints a tool reads several of (compare, evaluate)."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help=what)


def add_device(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    parser.add_argument("--device", default=default, help="auto | cpu | cuda | cuda:N | mps (default: auto)")


def add_overrides_help(parser: argparse.ArgumentParser, runs: str) -> None:
    """Says in --help what `--` does (the parser never sees the overrides: split_overrides cuts them off).
    Call it after the tool's own arguments: the usage line is made from them."""
    parser.usage = parser.format_usage().removeprefix("usage: ").strip() + " [-- OVERRIDE ...]"
    text = (f"Everything after `--` goes to {runs} as Hydra overrides, e.g. "
            f"`-- debug=micro hardware=cpu train.max_steps=400`.")
    parser.add_argument_group("train.py overrides (after --)", textwrap.fill(text, 100))
