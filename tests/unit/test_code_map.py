"""The docs name what exists: README's code map is the folder tree, the run-directory tree holds every name the
contract defines, and every module path or dotted name the README and the manual mention is in the checkout.

Each of these drifted once: the code map left out five modules, three copies of the run-directory tree disagreed
about train.log, and docs/training.md named tinyx/data.py long after it was gone. A map is written as a fenced
block of `name   description` lines, indented two spaces a level; a folder ends in `/`.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MANUAL = sorted((ROOT / "docs").glob("*.md"))  # docs/benchmarks/ is a dated record: it names what was there then


def fenced_block(path: Path, heading: str) -> str:
    """The first fenced block after `heading` (a Markdown heading line) in `path`."""
    text = path.read_text()
    assert f"\n{heading}\n" in text, f"{path.name} has no heading {heading!r}"
    section = text.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"^```[^\n]*\n(.*?)^```", section, re.S | re.M)
    assert match, f"no fenced block under {heading!r} in {path.name}"
    return match.group(1)


def parse_tree(block: str) -> dict[str, str]:
    """{path: description} of a tree block; a child's path is its folder's path plus its name."""
    tree: dict[str, str] = {}
    folders: list[str] = []  # the path of the folder open at each indentation level
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0 and indent // 2 <= len(folders), f"bad indentation in the tree: {line!r}"
        name, _, description = line.strip().partition("  ")
        folders = folders[:indent // 2]
        path = (folders[-1] if folders else "") + name
        tree[path] = description.strip()
        if name.endswith("/"):
            folders.append(path)
    return tree


def code_map() -> dict[str, str]:
    return parse_tree(fenced_block(README, "## Where things are"))


def children(tree: dict[str, str], folder: str) -> list[str]:
    """The entries listed directly under `folder` ("" for the top), in the tree's order."""
    return [p for p in tree if p.startswith(folder) and p != folder and "/" not in p[len(folder):].rstrip("/")]


def tinyx_packages() -> set[str]:
    return {p.name for p in (ROOT / "tinyx").iterdir() if (p / "__init__.py").is_file()}


# ---------------------------------------------------------------- README's code map


def test_every_entry_of_the_code_map_exists_and_says_what_it_holds():
    tree = code_map()
    missing = [p for p in tree if not (ROOT / p).exists() or p.endswith("/") != (ROOT / p).is_dir()]
    assert not missing, f"README's code map lists what the checkout does not hold: {missing}"
    silent = [p for p, description in tree.items() if not description and not children(tree, p)]
    assert not silent, f"README's code map names these without a line on what they hold: {silent}"


def test_the_code_map_lists_every_package_of_tinyx():
    listed = {p.removeprefix("tinyx/").rstrip("/") for p in children(code_map(), "tinyx/")}
    assert listed == tinyx_packages(), (
        f"README's code map and tinyx/ differ: missing from the map {sorted(tinyx_packages() - listed)}, "
        f"listed but not packages {sorted(listed - tinyx_packages())}")


def test_a_folder_whose_contents_are_listed_lists_all_its_folders():
    tree = code_map()
    for folder in (p for p in tree if children(tree, p)):
        on_disk = {f"{folder}{d.name}/" for d in (ROOT / folder).iterdir()
                   if d.is_dir() and not d.name.startswith((".", "__"))}
        assert on_disk <= set(tree), f"README's code map lists {folder}'s contents but not {sorted(on_disk - set(tree))}"


def test_the_code_map_lists_every_top_level_folder_and_entry_point():
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which top-level folders are the project's is git's answer")
    tops = {line.split("/")[0] + "/" for line in tracked.splitlines() if "/" in line}
    tops |= {line for line in tracked.splitlines() if "/" not in line and line.endswith(".py")}
    assert tops <= set(code_map()), f"README's code map leaves out {sorted(tops - set(code_map()))}"


def imported_packages(package: str) -> set[str]:
    """The other packages of tinyx that `tinyx/<package>/` imports, at module level or inside functions."""
    found = set()
    for path in (ROOT / "tinyx" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + ([f"tinyx.{a.name}" for a in node.names] if node.module == "tinyx" else [])
            found.update(n.split(".")[1] for n in names if n.startswith("tinyx."))
    return (found & tinyx_packages()) - {package}


def test_the_code_map_lists_tinyx_in_layers_each_importing_only_those_below_it():
    order = [p.removeprefix("tinyx/").rstrip("/") for p in children(code_map(), "tinyx/")]
    upward = [f"tinyx/{a}/ imports tinyx/{b}/" for i, a in enumerate(order) for b in sorted(imported_packages(a))
              if b in order[:i]]
    assert not upward, f"README's code map lists these packages below what they import (reorder it): {upward}"


# ---------------------------------------------------------------- the run-directory tree


def run_directory_tree() -> set[str]:
    tree = parse_tree(fenced_block(ROOT / "docs" / "training.md", "## What a run writes"))
    root = next(iter(tree))
    assert root == "<run dir>/", f"the tree in docs/training.md should start at <run dir>/, not {root}"
    return {p.removeprefix(root).rstrip("/") for p in tree if p != root}


def contract_names() -> dict[str, str]:
    """Every file and folder name a run directory's writers and readers define: {constant: path in the run dir}."""
    from tinyx.loggers import wandb_logger
    from tinyx.rundir import checkpoints, contract
    from tinyx.sweep import objective

    names = {f"contract.{k}": v for k, v in vars(contract).items()
             if k.endswith(("_FILE", "_DIR")) and isinstance(v, str)}
    names.update({f"checkpoints.{k}": f"{checkpoints.CKPT_DIR}/{getattr(checkpoints, k)}" for k in ("LATEST", "BEST")})
    names["wandb_logger.WANDB_ID_FILE"] = f"{contract.WANDB_DIR}/{wandb_logger.WANDB_ID_FILE}"
    names["objective.ERROR_FILE"] = objective.ERROR_FILE
    return names


def test_the_run_directory_tree_holds_every_name_of_the_contract():
    tree = run_directory_tree()
    missing = {k: v for k, v in contract_names().items() if v not in tree}
    assert not missing, f"docs/training.md's run-directory tree (What a run writes) leaves out {missing}"


def test_the_run_directory_tree_is_written_once():
    # README and contract.py's docstring link to docs/training.md instead of repeating the tree.
    copies = [str(p.relative_to(ROOT)) for p in [README, *MANUAL, *(ROOT / "tinyx").rglob("*.py")]
              if p.name != "training.md" and re.search(r"^\s*<run dir>/\s*$", p.read_text(), re.M)]
    assert not copies, f"a second copy of the run-directory tree (link to docs/training.md#what-a-run-writes): {copies}"


# ---------------------------------------------------------------- paths and names the docs mention

PATH = re.compile(r"(?<![\w/.~<-])(?:tinyx|tests|scripts)/[\w./-]*[\w/]|(?<![\w/.~<-])(?:tinyx|tests|scripts)/")
DOTTED = re.compile(r"(?<![\w/.~<-])tinyx(?:\.\w+)+")


def mentions(pattern: re.Pattern) -> set[tuple[str, str]]:
    return {(m.group(0), p.name) for p in [README, *MANUAL] for m in pattern.finditer(p.read_text())}


def test_every_path_the_docs_mention_exists():
    missing = sorted((path, doc) for path, doc in mentions(PATH) if not (ROOT / path).exists())
    assert not missing, f"the docs name paths that do not exist (moved or gone?): {missing}"


def resolves(dotted: str) -> bool:
    """Whether `tinyx.a.b[.name...]` names a module, or a name its longest module prefix holds (a word in it)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.is_file():
            return cut == len(parts) or re.search(rf"\b{parts[cut]}\b", source.read_text()) is not None
    return False


def test_every_dotted_tinyx_name_the_docs_mention_exists():
    missing = sorted((name, doc) for name, doc in mentions(DOTTED) if not resolves(name))
    assert not missing, f"the docs name tinyx modules or names that do not exist (moved or gone?): {missing}"


def test_unit_tests_train_no_model():
    """README and docs/testing.md promise tests/unit trains no model (fast, in-process): a test there that calls
    train() or run_train(), or takes a fixture that trains, belongs in tests/e2e."""
    trains = {"train", "run_train"}
    training_fixtures = {"trained_run", "tracked_multirun"}
    found = []
    for path in sorted((ROOT / "tests" / "unit").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                called = {c.func.id if isinstance(c.func, ast.Name) else getattr(c.func, "attr", None)
                          for c in ast.walk(node) if isinstance(c, ast.Call)}
                if called & trains or {a.arg for a in node.args.args} & training_fixtures:
                    found.append(f"{path.name}::{node.name}")
    # run_train stopped before setup (it checks what train.py hands train(), not training)
    allowed = {"test_training_parts.py::test_train_py_validates_once_and_hands_train_its_secrets_by_name"}
    assert set(found) <= allowed, sorted(set(found) - allowed)
