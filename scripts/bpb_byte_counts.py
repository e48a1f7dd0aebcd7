"""How many bytes val/bpb divides by, for Hugging Face tokenizers (issue 23, item 1): counted now, counted by
decoding each token alone (tinyx before the fix), and the text's UTF-8 length.

    uv run python scripts/bpb_byte_counts.py                  # Tiny Shakespeare at ../shared/data
    uv run python scripts/bpb_byte_counts.py --corpus input.txt --sample-bytes 5000

Trains each tokenizer of tests/hf_tokenizers.py (in-process, nothing downloaded) on the corpus' first 90% (the
train split), encodes the first --sample-bytes of the rest as one document (and a line of non-ASCII text as
another) and counts its tokens' bytes.
Bits per byte divides the same loss by these counts: a count N below the text's B bytes overstates bpb by B/N.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NON_ASCII = "“Café”, she said — naïveté, 日本語 and 🙂.\n"
sys.path.insert(0, str(ROOT / "tests"))  # the tokenizers the tests train


def decoded_alone(tokenizer) -> np.ndarray:
    """The table tinyx used before: each id decoded alone (special and added tokens 0; byte-level: its length)."""
    added = tokenizer.tok.get_added_tokens_decoder()
    byte_level = (json.loads(tokenizer.json_text).get("decoder") or {}).get("type") == "ByteLevel"
    lengths = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    for i in range(tokenizer.vocab_size):
        token = tokenizer.tok.id_to_token(i)
        if token is not None and i not in added:
            lengths[i] = len(token) if byte_level else len(tokenizer.tok.decode([i]).encode("utf-8"))
    return lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / ".." / "shared" / "data" / "tinyshakespeare.txt"))
    parser.add_argument("--sample-bytes", type=int, default=5000)
    args = parser.parse_args()
    import hf_tokenizers

    from tinyx.data.token_bytes import split_bytes
    from tinyx.data.tokenizers import HFTokenizer

    text = Path(args.corpus).read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    sample = text[cut:][:args.sample_bytes]
    print("| tokenizer | text | tokens | bytes, each token decoded alone (before) | bytes counted now | UTF-8 bytes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in ("metaspace", "llama2", "byte_level"):
        trained = hf_tokenizers.BUILDERS[kind](text[:cut].split("\n\n"))
        tokenizer = HFTokenizer(trained.to_str(), kind)
        for label, document in ((f"val, first {len(sample)} characters", sample), ("non-ASCII line", NON_ASCII)):
            ids = np.array(tokenizer.encode(document))
            before = int(decoded_alone(tokenizer)[ids].sum())
            now = split_bytes(tokenizer, ids, np.array([0])).total()
            print(f"| {kind} | {label} | {len(ids)} | {before} | {now} | {len(document.encode('utf-8'))} |")


if __name__ == "__main__":
    main()
