"""Do tinyx's ~1 MB cuts keep the tokens of the whole text? (issue 23, item 4)

    uv run python scripts/cut_exactness.py                        # 50,000 paragraphs of Tiny Shakespeare, gpt2
    uv run python scripts/cut_exactness.py --encoding cl100k_base --paragraphs 20000

Makes a file of --paragraphs blank-line separated paragraphs (lines of Tiny Shakespeare, one to three each,
seeded), cuts it as the token cache does (tinyx.data.text.file_fragments with the encoding's Cutter), and prints
the token count of the pieces tokenized apart, the count under the old rule (cut after a newline followed by a
non-space, tinyx before issue 23) and `encode_ordinary` of the whole text. Needs TIKTOKEN_CACHE_DIR offline.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from pathlib import Path

from tinyx.data.cuts import Cutter
from tinyx.data.text import BLOCK_BYTES, file_fragments
from tinyx.data.tokenizers import TiktokenTokenizer

ROOT = Path(__file__).resolve().parents[1]
_OLD_CUT = re.compile(r"\n(?=\S)")


def make_text(corpus: Path, paragraphs: int, seed: int) -> str:
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    return "\n\n".join("\n".join(rng.choice(lines) for _ in range(rng.randint(1, 3))) for _ in range(paragraphs))


def old_rule_pieces(text: str) -> list[str]:
    """The old cut: the last newline followed by a non-space in each ~1 MB block's last 64 KiB."""
    pieces, start = [], 0
    while len(text) - start > BLOCK_BYTES:
        end = start + BLOCK_BYTES
        cut = 0
        for m in _OLD_CUT.finditer(text, end - (64 << 10), end):
            cut = m.end()
        cut = cut or end
        pieces.append(text[start:cut])
        start = cut
    return pieces + [text[start:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--paragraphs", type=int, default=50_000)
    parser.add_argument("--encoding", default="gpt2")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tokenizer = TiktokenTokenizer(args.encoding)
    text = make_text(args.corpus, args.paragraphs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paragraphs.txt"
        path.write_text(text, encoding="utf-8")
        pieces = [piece for piece, _ in file_fragments(path, Cutter(tokenizer))]
    now = sum(len(tokenizer.encode(p)) for p in pieces)
    before = sum(len(tokenizer.encode(p)) for p in old_rule_pieces(text))
    whole = len(tokenizer.encode(text))
    print(f"{args.paragraphs:,} paragraphs, {len(text.encode()) / 1e6:.1f} MB, {args.encoding}: "
          f"{len(pieces)} pieces")
    print(f"| cut rule | tokens | encode_ordinary(whole) | difference |\n| --- | --- | --- | --- |")
    print(f"| before (after a newline) | {before:,} | {whole:,} | {before - whole:+,} |")
    print(f"| now (before whitespace, checked) | {now:,} | {whole:,} | {now - whole:+,} |")


if __name__ == "__main__":
    main()
