"""Write conf/lm_eval/shakespeare_cloze.jsonl: a small local lm-eval task for models trained on Tiny Shakespeare.

    uv run python scripts/make_shakespeare_cloze.py [path/to/tinyshakespeare.txt]

Each document: 64 characters of the play's validation part (the last 10%, which training never sees), and
two continuations of 24 characters: the true one and one from elsewhere in the text. A model that learned
the corpus ranks the true one higher; chance is 0.5. Deterministic (seed 0), 200 documents.
"""

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
text = corpus.read_text()
val = text[int(len(text) * 0.9):]
rng = random.Random(0)
docs = []
for i in range(200):
    start = rng.randrange(0, len(val) - 100)
    other = rng.randrange(0, len(val) - 100)
    prompt, right, wrong = val[start:start + 64], val[start + 64:start + 88], val[other:other + 24]
    answer = i % 2  # the true continuation is first or second, alternately
    docs.append({"prompt": prompt, "choices": [wrong, right] if answer else [right, wrong], "answer": answer})
out = ROOT / "conf" / "lm_eval" / "shakespeare_cloze.jsonl"
out.write_text("".join(json.dumps(d) + "\n" for d in docs))
print(f"wrote {len(docs)} documents to {out}")
