"""How many bytes of text each token stands for: what bits per byte (val/bpb) divides by.

A token's bytes are those it adds to the text, counted from its place in running text, not from decoding it
alone: a SentencePiece (Metaspace) decoder drops the space before a text's first word ('▁the' decodes alone to
'the', 3 bytes, but stands for ' the', 4, after another word), a byte-fallback token ('<0xE2>') decodes alone to
U+FFFD (3 bytes; it stands for 1), an added token stands for its text, a special token for none.

Tokenizers that put a space before every text they encode (Metaspace's prepend_scheme `first` or `always`, a
Prepend('▁') normalizer, ByteLevel's add_prefix_space) make the first token of each encoded text stand for
one byte fewer than the same token inside a text: its count "at a text's start", used at each document's first
token (the token cache records where documents start). Left inexact: Metaspace and ByteLevel encode a text that
begins with a space as the text without it (the decoder drops that space too), so that document counts a byte
short; and a document over a megabyte is tokenized in pieces (tinyx/data/sources.py), each given that space,
of which only the first is counted out (a byte per megabyte).

Some tokenizers cannot spell the text they encode (a normalizer that lower-cases or strips accents, WordPiece
dropping whitespace, characters mapped to an unknown token): `inexact_reason` finds that out on probe texts,
and the evaluation says so in one warning line rather than print a wrong figure silently.
"""

from __future__ import annotations

import json
import logging
import re

import numpy as np

log = logging.getLogger(__name__)

_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")
# Probes of what corpora hold: punctuation, digits, runs of spaces, tabs, newlines, accents, quotes, CJK, emoji.
PROBES = ("To be, or not to be: that is the question.\nROMEO:  Good  night,\tsweet prince (2 of 3)!\n\n",
          "Café — “quoted” naïveté, 日本語 and 🙂.")


def _components(node) -> list[dict]:
    """A tokenizer.json pipeline stage (decoder, pre-tokenizer, normalizer) and the stages a Sequence holds."""
    if not isinstance(node, dict):
        return []
    inner = node.get("decoders") or node.get("pretokenizers") or node.get("normalizers") or []
    return [node] + [c for n in inner for c in _components(n)]


def hf_token_bytes(tok, json_text: str) -> tuple[np.ndarray, np.ndarray]:
    """(bytes inside a text, bytes as a text's first token) of every id of a `tokenizers.Tokenizer`."""
    spec = json.loads(json_text)
    size = tok.get_vocab_size(with_added_tokens=True)
    added = tok.get_added_tokens_decoder()
    ids = [i for i in range(size) if i not in added and tok.id_to_token(i) is not None]
    tokens = [tok.id_to_token(i) for i in ids]
    inside, start = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    if any(c.get("type") == "ByteLevel" for c in _components(spec.get("decoder"))):
        # One character per byte (GPT-2's byte alphabet): a token holding part of a character decodes to U+FFFD.
        inside[ids] = [len(t) for t in tokens]
        prefix_space = any(c.get("type") == "ByteLevel" and c.get("add_prefix_space")
                           for c in _components(spec.get("pre_tokenizer")))
        start[ids] = inside[ids] - [prefix_space and t.startswith("Ġ") for t in tokens]
    else:
        # Decoded twice in a row, the second copy is in running text; decoded alone, it starts a text.
        alone = [len(s.encode("utf-8")) for s in tok.decode_batch([[i] for i in ids], skip_special_tokens=False)]
        twice = [len(s.encode("utf-8")) for s in tok.decode_batch([[i, i] for i in ids], skip_special_tokens=False)]
        inside[ids] = np.subtract(twice, alone)
        start[ids] = alone
    if (spec.get("model") or {}).get("byte_fallback"):
        byte_ids = [i for i, t in zip(ids, tokens) if _BYTE_TOKEN.fullmatch(t)]
        inside[byte_ids] = start[byte_ids] = 1
    for i, token in added.items():
        if i < size and not token.special:
            inside[i] = start[i] = len(token.content.encode("utf-8"))
    # No token stands for more at a text's start than inside one (WordPiece's '##ing' shows its '##' alone).
    return inside, np.minimum(start, inside)


def inexact_reason(tokenizer, inside: np.ndarray, start: np.ndarray) -> str | None:
    """Why this tokenizer's byte counts do not add up to the text's bytes (the first probe they miss), or None."""
    added = [t.content for t in tokenizer.tok.get_added_tokens_decoder().values() if not t.special]
    probes = [*PROBES, "x".join(["a", *added, "b"])] if added else PROBES
    for text in probes:
        ids = tokenizer.encode(text)
        counted = int(start[ids[0]] + inside[ids[1:]].sum()) if ids else 0
        if counted != len(text.encode("utf-8")):
            return f"on a probe text of {len(text.encode('utf-8'))} bytes its tokens count {counted}"
    return None


class SplitBytes:
    """The bytes of text each token of a split stands for, indexed like the split's ids.

    fixed_eval_windows and sequential_windows cut their windows from where the split's length alone puts them,
    so cut from this they give the byte counts of the windows they cut from the ids. Read lazily like the ids
    (a memmap of the cache): only the windows' positions are looked up.
    """

    def __init__(self, ids: np.ndarray, doc_starts: np.ndarray | None, inside: np.ndarray, start: np.ndarray):
        self.ids, self.inside, self.start = ids, inside, start
        differ = doc_starts is not None and not np.array_equal(inside, start)
        self.doc_starts = np.asarray(doc_starts, dtype=np.int64) if differ else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index) -> np.ndarray:
        index = np.asarray(index)
        ids = np.asarray(self.ids[index])
        counts = self.inside[ids]
        if len(self.doc_starts):
            nearest = self.doc_starts[np.minimum(np.searchsorted(self.doc_starts, index), len(self.doc_starts) - 1)]
            counts = np.where(nearest == index, self.start[ids], counts)
        return counts

    def total(self, chunk: int = 1 << 22) -> int:
        """All the split's bytes (the UTF-8 length of its text, where the tokenizer spells it exactly)."""
        return sum(int(self[np.arange(a, min(a + chunk, len(self)))].sum()) for a in range(0, len(self), chunk))


def split_bytes(tokenizer, ids: np.ndarray, doc_starts: np.ndarray | None) -> SplitBytes:
    """The byte counts of a split's tokens (documents starting at `doc_starts`); a warning if they are inexact."""
    reason = tokenizer.bytes_mismatch()
    if reason:
        log.warning("val/bpb is approximate with the tokenizer %s: %s (it changes or drops text, or lacks a "
                    "character); compare its bits per byte only with runs of the same tokenizer.",
                    tokenizer.to_dict().get("source"), reason)
    return SplitBytes(ids, doc_starts, *tokenizer.token_bytes())
