"""Probe cases for `tinyx evaluate --probes`: a prompt and the continuation a trained model should give, scored
teacher-forced (the log-probability of the whole continuation and the worst rank of its tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyx.common.errors import ProbeError, TinyxError

PROBE_FIELDS = ("name", "prompt", "expected")
DEFAULT_TOP_K = 5


@dataclass
class Probe:
    name: str
    prompt: str
    expected: str


@dataclass
class ProbeResult:
    name: str
    logprob: float  # log-probability of the whole expected continuation (nats)
    tokens: int
    rank: int  # worst rank of its tokens, teacher-forced: 1 = greedy decoding writes exactly it
    in_top_k: bool


def load_probes(path: str | Path) -> tuple[list[Probe], int | None]:
    """Probes and the file's top_k (None if it sets none); every problem is one ProbeError naming the fix."""
    import yaml

    path = Path(path)
    example = "conf/probes/shakespeare.yaml"
    if not path.is_file():
        raise ProbeError(f"probe file {path} does not exist: pass --probes with a YAML file like {example}.")
    try:
        doc = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProbeError(f"probe file {path} is not valid YAML ({str(e).splitlines()[0]}): fix it (see "
                         f"{example}).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("probes"), list) or not doc["probes"]:
        raise ProbeError(f"probe file {path} needs a non-empty list `probes:` of {{prompt, expected}} entries "
                         f"(see {example}).")
    top_k = doc.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ProbeError(f"probe file {path}: top_k={top_k!r} must be a positive integer (e.g. top_k: 5).")
    probes = []
    for i, entry in enumerate(doc["probes"], start=1):
        where = f"probe file {path}, probe {i}"
        if not isinstance(entry, dict):
            raise ProbeError(f"{where} is {entry!r}, not a mapping: write it as {{prompt: ..., expected: ...}}.")
        if isinstance(entry.get("name"), str):
            where += f" ({entry['name']})"
        unknown = sorted(set(entry) - set(PROBE_FIELDS))
        if unknown:
            raise ProbeError(f"{where} has unknown field(s) {', '.join(unknown)}: the fields are "
                             f"{', '.join(PROBE_FIELDS)}.")
        for key in ("prompt", "expected"):
            if key not in entry:
                raise ProbeError(f"{where} has no `{key}` field: add {key}: \"...\" to it.")
            if not isinstance(entry[key], str) or not entry[key]:
                raise ProbeError(f"{where}: `{key}` is {entry[key]!r}; it must be non-empty text (quote it).")
        probes.append(Probe(name=str(entry.get("name") or f"probe {i}"), prompt=entry["prompt"],
                            expected=entry["expected"]))
    return probes, top_k


def score_probe(model, tokenizer, probe: Probe, top_k: int, device) -> ProbeResult:
    import torch

    block_size = model.cfg.block_size
    try:
        prompt_ids, expected_ids = tokenizer.encode(probe.prompt), tokenizer.encode(probe.expected)
    except TinyxError as e:
        raise ProbeError(f"probe {probe.name!r}: {e}") from None
    if not prompt_ids or not expected_ids:
        raise ProbeError(f"probe {probe.name!r}: its prompt or expected text encodes to no tokens: lengthen it.")
    if len(expected_ids) > block_size:
        raise ProbeError(f"probe {probe.name!r}: `expected` is {len(expected_ids)} tokens, longer than the model's "
                         f"context ({block_size}): shorten it.")
    ids = (prompt_ids + expected_ids)[:-1][-block_size:]  # the prompt is cut from the left to fit the context
    x = torch.tensor([ids], dtype=torch.long, device=device)
    model.eval()
    with torch.no_grad():
        logits, _ = model(x, x)  # targets only so the model returns every position's logits
    logp = torch.log_softmax(logits[0, -len(expected_ids):].float(), dim=-1)
    target = torch.tensor(expected_ids, device=device)
    token_logp = logp.gather(1, target[:, None])
    ranks = 1 + (logp > token_logp).sum(dim=1)
    rank = int(ranks.max())
    return ProbeResult(name=probe.name, logprob=float(token_logp.sum()), tokens=len(expected_ids), rank=rank,
                       in_top_k=rank <= top_k)
