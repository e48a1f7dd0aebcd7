"""Where a long text may be cut into pieces tokenized apart, so that their tokens are the whole text's.

A cut goes between a letter or digit and the whitespace after it (q with text[q-1] in \\p{L} or \\p{N},
text[q] whitespace). For tiktoken's patterns (gpt2 and r50k, cl100k, o200k) that is exact:
- no alternative that takes a letter or digit goes on into whitespace (letters, numbers and contractions stop
  there; only whitespace and punctuation runs take newlines), so the whole text has a token boundary at q;
- the patterns have no lookbehind, so the text from q on splits as it would alone;
- the piece before q ends in that letter or digit, whose token ends at q alone as well, and neither piece
  ends in whitespace, so `\\s++$` (whitespace at the end of the text: "\\n\\n" as one token) never fires at a
  cut. A cut after a newline breaks exactly that: "a\\n\\n" + "b" gives 628 where the whole text gives
  198, 198, which is why the cut is before the whitespace, not after it.
A tokenizer with other rules (a Hugging Face one that prepends "▁" or a space to every text it encodes, a
Unicode version that does not know a letter) could still differ, so each cut is checked: the text around
it, tokenized whole and as the two pieces, must give the same tokens. A character tokenizer may be cut
anywhere. Text with no such place within 8 blocks is cut anyway, with a warning (tinyx.data.text).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

TAIL_CHARS = 64 << 10  # a cut is looked for in the last this many characters of the text offered
CONTEXT = 256  # characters each side of a cut that the tokenizer checks
TRIES = 16  # candidates checked, latest first, before giving up on this text
CUT_VERSION = 2  # in the cache's fingerprint: 2 cuts before whitespace (1 cut after "\n", not always exact)
_CANDIDATE = re.compile(r"(?<=[^\W_])\s")  # [^\W_]: exactly the characters of \p{L} and \p{N}


class Cutter:
    """Finds cuts for one tokenizer (None or a character tokenizer: every place is exact)."""

    def __init__(self, tokenizer=None):
        exact_anywhere = tokenizer is None or tokenizer.to_dict()["kind"] == "char"
        self.encode = None if exact_anywhere else tokenizer.encode
        self.name = "" if exact_anywhere else _name(tokenizer)
        self.warned = False

    def cut(self, text: str, end: int) -> int:
        """The last exact cut in text[:end] (within its last TAIL_CHARS); 0 when there is none."""
        if self.encode is None:
            return end
        candidates = [m.start() for m in _CANDIDATE.finditer(text, max(0, end - TAIL_CHARS), end - CONTEXT)]
        return next((q for q in reversed(candidates[-TRIES:]) if self._exact(text, q)), 0)

    def force(self, text: str, end: int, where: str) -> int:
        """A cut for text[:end] that has no exact one: said once, since tokens next to it may differ."""
        if self.encode is None:
            return end
        if not self.warned:
            log.warning("%s: no place in %d characters where %s gives the same tokens cut as whole; cut there "
                        "anyway (and at any such place after): the tokens next to those cuts may differ from "
                        "tokenizing the whole text at once", where, end, self.name)
            self.warned = True
        found = [m.start() for m in _CANDIDATE.finditer(text, max(0, end - TAIL_CHARS), end)]
        return found[-1] if found else end

    def _exact(self, text: str, q: int) -> bool:
        before, after = text[max(0, q - CONTEXT):q], text[q:q + CONTEXT]
        return list(self.encode(before + after)) == list(self.encode(before)) + list(self.encode(after))


def _name(tokenizer) -> str:
    d = tokenizer.to_dict()
    return f"tiktoken {d['encoding']}" if d["kind"] == "tiktoken" else f"the tokenizer {d.get('source', d['kind'])}"
