"""Build english.txt, a corpus of real English for scaling ladders on CPU (data=english_char), from Debian packages.

    uv run python scripts/build_english_corpus.py [--install] [--sources gcide,wordnet,pydoc] [--out PATH]

gcide: the Collaborative International Dictionary of English (dict-gcide; Webster's 1913 and its supplements),
an entry per paragraph: the headword line without its pronunciation, then the definitions, a line each.
wordnet: WordNet 3.0's synsets (wordnet-base), a paragraph each: the words, the part of speech and the gloss.
pydoc: the paragraphs of prose in Python's documentation (python3-doc's reST sources; code and tables left out).
Text is NFKD-normalised and kept to printable ASCII, whitespace collapsed within lines, paragraphs separated by a
blank line. The same packages give the same bytes. Written whole or not at all (default: the tinyx cache's
corpora/english.txt, where data=english_char looks first). A package missing: one line naming it, exit 2.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Callable, Iterator

from tinyx.common.files import atomic_write
from tinyx.config import DataConfig
from tinyx.data.download import cache_root

FILENAME = "english.txt"
DEFAULT_SOURCES = ("gcide", "wordnet", "pydoc")
WORDNET_POS = {"noun": "n", "verb": "v", "adj": "adj", "adv": "adv"}
# source: (Debian package, the files it reads under the root)
PACKAGES = {
    "gcide": ("dict-gcide", ("usr/share/dictd/gcide.dict.dz", "usr/share/dictd/gcide.index")),
    "wordnet": ("wordnet-base", tuple(f"usr/share/wordnet/data.{pos}" for pos in WORDNET_POS)),
    "pydoc": ("python3-doc", ("usr/share/doc/python3-doc/html/_sources",)),
}


# ---------------------------------------------------------------- text
def printable(text: str) -> str:
    """NFKD, then printable ASCII and newlines only (accents fall off their letters; other symbols go)."""
    text = unicodedata.normalize("NFKD", text).replace("\t", " ")
    return "".join(c for c in text if " " <= c <= "~" or c == "\n")


def tidy_lines(text: str) -> str:
    """Each line's whitespace collapsed, empty lines dropped."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


# ---------------------------------------------------------------- GCIDE (dictd)
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# Where an entry's text came from ([1913 Webster], [WordNet 1.5 +PJC], ...): bookkeeping, not English.
_SOURCE_TAG = re.compile(r"\[(?:[^\]\n]*(?:Webster|WordNet|Wordnet|PJC|Century|RDH|MW10)[^\]\n]*|AS|JC|RN)\]")
_PRONUNCIATION = re.compile(r"\s*\\[^\\\n]*\\(?:\s*\([^()\n]*\))?")  # \A*ban"don\ and its respelling (...)
# Letters written with marks, GCIDE's ASCII for accents: [=a] [a^] ['e] [oo^] -> the letters.
_MARKED = re.compile(r"\[[=^~'\"`.,*\-]+([a-zA-Z]{1,2})\]|\[([a-zA-Z]{1,2})\^\]")
_NAMED = {"ae": "ae", "AE": "AE", "oe": "oe", "OE": "OE", "imac": "i", "aum": "a", "eth": "th", "thorn": "th",
          "th": "th", "ng": "ng", "udd": "u", "yogh": "y", "deg": " degrees", "sect": "section ", "root": "",
          "add": "", "asl": ""}
_NAMED_RE = re.compile(r"\[(" + "|".join(_NAMED) + r")\]")


def dictd_number(digits: str) -> int:
    """dictd's index numbers: base 64, most significant digit first."""
    n = 0
    for c in digits:
        n = n * 64 + _B64[c]
    return n


def gcide_entry(raw: bytes) -> str:
    """One dictionary entry as readable text: headword line, then a line per paragraph of definitions."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # a few entries carry Windows-1252 quotes
        text = raw.decode("cp1252", errors="replace")
    text = _SOURCE_TAG.sub("", text)
    text = _PRONUNCIATION.sub("", text, count=1)
    text = _MARKED.sub(lambda m: m.group(1) or m.group(2), text)
    text = _NAMED_RE.sub(lambda m: _NAMED[m.group(1)], text)
    text = text.replace("{", "").replace("}", "")
    paragraphs = re.split(r"\n\s*\n", printable(text))
    return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def gcide_entries(dict_path: Path, index_path: Path) -> Iterator[str]:
    """Each entry once (the index names an entry under every form it defines), in the file's order; the
    database's own notes (headwords 00-...) left out."""
    spans, notes = set(), set()
    for line in index_path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            span = (dictd_number(parts[1]), dictd_number(parts[2]))
            (notes if parts[0].startswith("00") else spans).add(span)
    with gzip.open(dict_path) as f:  # dictzip is gzip with an index in its header
        data = f.read()
    for offset, length in sorted(spans - notes):
        entry = gcide_entry(data[offset:offset + length])
        if entry:
            yield entry


# ---------------------------------------------------------------- WordNet
def wordnet_synset(line: str, pos: str) -> str | None:
    """`entity (n.): that which is perceived ...` from a data.<pos> line; None for the licence's lines."""
    if line.startswith(" ") or " | " not in line:
        return None
    fields, _, gloss = line.partition(" | ")
    parts = fields.split()
    count = int(parts[3], 16)
    words = [re.sub(r"\([a-z]+\)$", "", w).replace("_", " ") for w in parts[4:4 + 2 * count:2]]
    return f"{', '.join(words)} ({pos}.): {' '.join(gloss.split())}"


def wordnet_synsets(data_paths: list[Path]) -> Iterator[str]:
    for path in data_paths:
        pos = WORDNET_POS[path.suffix.lstrip(".")]
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                synset = wordnet_synset(line, pos)
                if synset:
                    yield printable(synset)


# ---------------------------------------------------------------- Python's documentation
_ROLE = re.compile(r":[a-z:]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`")  # :func:`len` -> len; :ref:`text <label>` -> text
_HEADING_RULE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}$")


def rst_paragraphs(text: str) -> Iterator[str]:
    """The prose paragraphs of a reST file: flush-left paragraphs that are not directives, headings, lists of
    options or tables; markup stripped (roles, literals, emphasis, link targets)."""
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if not lines or lines[0][:1] in (" ", "\t", "", ".", "|", "+", "=", ":", "*", "-", ">"):
            continue
        if any(_HEADING_RULE.match(line.strip()) for line in lines) or len(lines) == 1 and len(block) < 60:
            continue
        prose = _ROLE.sub(r"\1", " ".join(line.strip() for line in lines))
        prose = re.sub(r"``([^`]*)``", r"\1", prose)
        prose = re.sub(r"`([^`<]*?)\s*(?:<[^>]*>)?`_{0,2}", r"\1", prose)
        prose = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", prose).replace("::", ":")
        yield " ".join(printable(prose).split())


def pydoc_paragraphs(folder: Path) -> Iterator[str]:
    for path in sorted(folder.rglob("*.rst.txt")):
        yield from rst_paragraphs(path.read_text(encoding="utf-8", errors="replace"))


# ---------------------------------------------------------------- building
def source_records(source: str, root: Path) -> Iterator[str]:
    files = [root / p for p in PACKAGES[source][1]]
    if source == "gcide":
        return gcide_entries(*files)
    if source == "wordnet":
        return wordnet_synsets(files)
    return pydoc_paragraphs(files[0])


def missing_packages(sources: list[str], root: Path) -> list[str]:
    return [PACKAGES[s][0] for s in sources if not all((root / p).exists() for p in PACKAGES[s][1])]


def package_versions(sources: list[str]) -> dict[str, str]:
    """Each source's Debian package and its installed version (what the corpus' bytes depend on)."""
    versions = {}
    for s in sources:
        try:
            run = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGES[s][0]], capture_output=True, text=True)
        except OSError:  # no dpkg here (files copied from a Debian machine, or the tests' own)
            run = None
        versions[PACKAGES[s][0]] = run.stdout.strip() if run and run.returncode == 0 and run.stdout else "unknown"
    return versions


def write_corpus(out: Path, sources: list[str], root: Path) -> tuple[str, dict[str, tuple[int, int]]]:
    """Write the records of each source in turn, a paragraph each; (sha256, {source: (records, characters)})."""
    digest, counts = hashlib.sha256(), {}

    def write(tmp: Path) -> None:
        first = True
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            for source in sources:
                records = chars = 0
                for record in source_records(source, root):
                    piece = ("" if first else "\n\n") + record
                    first = False
                    f.write(piece)
                    digest.update(piece.encode("ascii"))
                    records, chars = records + 1, chars + len(piece)
                counts[source] = (records, chars)
            f.write("\n")
            digest.update(b"\n")

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, write)
    return digest.hexdigest(), counts


def install(packages: list[str]) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=cache_root(DataConfig()) / "corpora" / FILENAME,
                        help="the corpus file (default: %(default)s)")
    parser.add_argument("--sources", default=",".join(DEFAULT_SOURCES),
                        help=f"comma-separated, in this order in the file: {', '.join(PACKAGES)} (%(default)s)")
    parser.add_argument("--install", action="store_true", help="apt-get install the packages that are missing")
    parser.add_argument("--root", type=Path, default=Path("/"), help="read the packages' files under this folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    args = parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [s for s in sources if s not in PACKAGES]
    if unknown or not sources:
        say(f"error: --sources={args.sources}: choose from {', '.join(PACKAGES)}")
        return 2
    missing = missing_packages(sources, args.root)
    if missing and args.install:
        install(missing)
        missing = missing_packages(sources, args.root)
    if missing:
        say(f"error: Debian package {', '.join(missing)} is not installed: sudo apt-get install -y {' '.join(missing)}"
            f" (or pass --install)")
        return 2
    sha256, counts = write_corpus(args.out.expanduser(), sources, args.root)
    total = sum(chars for _, chars in counts.values()) + 1
    say(f"wrote {args.out}: {total:,} characters, sha256 {sha256}")
    for source, (records, chars) in counts.items():
        say(f"  {source:8s} {records:>9,} paragraphs {chars:>12,} characters ({chars / total:.1%})")
    say("  packages: " + ", ".join(f"{p} {v}" for p, v in package_versions(sources).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
