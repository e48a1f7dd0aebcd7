"""Log-probabilities of token sequences longer than the model's context: each token predicted exactly once, with
as much context as the window allows (windows tiled back from the end), batched by length with no padding.
What tinyx's lm-eval LM (tinyx.tools.lmeval) scores with."""

from __future__ import annotations


def windows(n: int, block_size: int) -> list[tuple[int, int, int]]:
    """(input_start, first_target, end) windows that predict tokens 1..n-1 of a sequence of n exactly once,
    each with the most context the model's window allows (tiled back from the end)."""
    out, end = [], n
    while end > 1:
        first = max(1, end - block_size)
        out.append((max(0, end - 1 - block_size), first, end))
        end = first
    return out[::-1]


def token_logprobs(model, seqs: list[list[int]], block_size: int, batch_size: int, device):
    """For each sequence: (log-probabilities of tokens 1..n-1, whether each was the greedy choice)."""
    import torch

    jobs = [(s, w) for s, seq in enumerate(seqs) for w in windows(len(seq), block_size)]
    jobs.sort(key=lambda job: job[1][2] - job[1][0])  # equal lengths batch together, with no padding
    parts: dict[tuple[int, int], tuple[list[float], list[bool]]] = {}
    for i in range(0, len(jobs), batch_size):
        group = jobs[i:i + batch_size]
        by_len: dict[int, list] = {}
        for job in group:
            by_len.setdefault(job[1][2] - job[1][0], []).append(job)
        for rows in by_len.values():
            x = torch.tensor([seqs[s][a:e - 1] for s, (a, _, e) in rows], dtype=torch.long, device=device)
            with torch.no_grad():
                logits, _ = model(x, x)  # targets, so that the model returns every position's logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            for r, (s, (a, first, e)) in enumerate(rows):
                target = torch.tensor(seqs[s][first:e], device=device)
                pos = torch.arange(first - 1 - a, e - 1 - a, device=device)
                rows_logp = logp[r, pos]
                parts[(s, first)] = (rows_logp.gather(1, target[:, None]).squeeze(1).tolist(),
                                     (rows_logp.argmax(-1) == target).tolist())
    out = []
    for s, seq in enumerate(seqs):
        logp, greedy = [], []
        for _, first, _ in windows(len(seq), block_size):
            logp += parts[(s, first)][0]
            greedy += parts[(s, first)][1]
        out.append((logp, greedy))
    return out
