"""Reading text files in bounded fragments: a file (or each blank-line paragraph of it) is a document, given as
one or more fragments of about a megabyte, cut only where the tokens stay the whole text's (tinyx.data.cuts).

Time is linear in the file and memory bounded by a few blocks: each block is decoded once, paragraph breaks
are looked for in text not yet searched, and a document longer than a block is handed on in fragments
(a file without blank lines, read by paragraph, is one document of many fragments, not one string).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from tinyx.common.errors import DataError
from tinyx.data.cuts import Cutter

BLOCK_BYTES = 1 << 20
FORCED_CUT_BLOCKS = 8  # text with no exact cut is cut anyway once this many blocks long (bounded memory)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def decode_blocks(path: Path) -> Iterator[str]:
    """The file's text, a block at a time; a byte that is not UTF-8 names the file and offset."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while True:
            raw = f.read(BLOCK_BYTES)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                raise DataError(f"{path} is not UTF-8 text (bad byte at offset {offset + e.start}): convert it to "
                                f"UTF-8, or leave it out of data.path.") from None
            offset += len(raw)
            if text:
                yield text
            if not raw:
                return


def count_chars(files: list[Path]) -> int:
    """Characters in these UTF-8 files (bytes that do not continue a multi-byte character), without decoding."""
    n = 0
    for path in files:
        with open(path, "rb") as f:
            while raw := f.read(BLOCK_BYTES * 16):
                n += int(np.count_nonzero((np.frombuffer(raw, dtype=np.uint8) & 0xC0) != 0x80))
    return n


def file_fragments(path: Path, cutter: Cutter | None = None, paragraphs: bool = False) -> Iterator[tuple[str, bool]]:
    """(text, starts a document) for the file: one document, or with `paragraphs` one per blank-line separated
    paragraph (stripped of the newlines around it; those of whitespace alone left out)."""
    reader = _Fragments(cutter or Cutter(), paragraphs, str(path))
    for block in decode_blocks(path):
        yield from reader.add(block)
    yield from reader.finish()


class _Fragments:
    """The text read so far and not yet handed on: at most the open paragraph's last few blocks."""

    def __init__(self, cutter: Cutter, paragraphs: bool, where: str):
        self.cutter, self.paragraphs, self.where = cutter, paragraphs, where
        self.buf = ""
        self.settled = 0  # no paragraph break starts before this position of buf
        self.new_doc = True

    def add(self, block: str) -> Iterator[tuple[str, bool]]:
        self.buf += block
        if self.paragraphs:
            yield from self._paragraphs(final=False)
        else:
            self.settled = len(self.buf)
        while self.settled >= BLOCK_BYTES:
            cut = self.cutter.cut(self.buf, self.settled)
            if not cut and self.settled < FORCED_CUT_BLOCKS * BLOCK_BYTES:
                return  # no exact cut yet: read on
            cut = cut or self.cutter.force(self.buf, self.settled, self.where)
            yield from self._emit(self.buf[:cut], last=False)
            self.buf, self.settled = self.buf[cut:], self.settled - cut

    def finish(self) -> Iterator[tuple[str, bool]]:
        if self.paragraphs:
            yield from self._paragraphs(final=True)
        yield from self._emit(self.buf, last=True)
        self.buf = ""

    def _paragraphs(self, final: bool) -> Iterator[tuple[str, bool]]:
        """Hand on the paragraphs a break ends; keep the open one. Only text after `settled` is searched."""
        start = 0
        for m in _PARAGRAPH_BREAK.finditer(self.buf, self.settled):
            if m.end() == len(self.buf) and not final:  # the break may go on in the next block
                self.settled = m.start()
                break
            yield from self._emit(self.buf[start:m.start()], last=True)
            start = m.end()
        else:
            self.settled = _open_break(self.buf, start)
        self.buf, self.settled = self.buf[start:], self.settled - start

    def _emit(self, text: str, last: bool) -> Iterator[tuple[str, bool]]:
        if self.paragraphs:
            text = text.lstrip("\n") if self.new_doc else text
            text = text.rstrip("\n") if last else text
            if self.new_doc and not text.strip():
                return  # a paragraph of whitespace is no document
        if text:
            yield text, self.new_doc
            self.new_doc = False
        if last:
            self.new_doc = True


def _open_break(text: str, start: int) -> int:
    """Where a paragraph break may begin at the end of `text` (a newline and spaces or tabs); else its end."""
    end = len(text)
    while end > start and text[end - 1] in " \t":
        end -= 1
    return end - 1 if end > start and text[end - 1] == "\n" else len(text)
