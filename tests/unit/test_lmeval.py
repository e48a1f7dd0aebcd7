"""tinyx's lm-eval LM scores tokens as tinyx does: every token once, with the most context the window
allows, the log-probabilities tinyx's own loss is made of. (The harness itself runs in tests/e2e/test_hf.py.)"""

from __future__ import annotations

import pytest
import torch

from tinyx.config import ModelConfig
from tinyx.tools.lm_scoring import token_logprobs, windows
from tinyx.tools.lmeval import metric_rows


@pytest.mark.parametrize("block_size", [1, 4, 32])
def test_windows_predict_every_token_once_with_the_most_context(block_size):
    for n in range(2, 90):
        ws = windows(n, block_size)
        targets = [t for _, first, end in ws for t in range(first, end)]
        assert targets == list(range(1, n))
        for start, first, end in ws:
            assert 0 <= start < first and end - 1 - start <= block_size  # the input fits the window
            assert end - 1 - start == min(block_size, end - 1)  # and fills it, as far as the text allows


@pytest.fixture(scope="module")
def model():
    from tinyx.nn.gpt import GPT

    torch.manual_seed(0)
    return GPT(ModelConfig(n_layer=2, n_head=2, d_model=32, block_size=16, vocab_size=50, init_std=0.3)).eval()


def test_token_logprobs_are_tinyx_loss(model):
    """Over one window, the mean negative log-probability is tinyx's cross-entropy loss on it."""
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(50, (17,), generator=g).tolist() for _ in range(3)] + [[3, 4, 5]]
    scored = token_logprobs(model, seqs, 16, batch_size=2, device="cpu")
    for seq, (logp, greedy) in zip(seqs, scored):
        x, y = torch.tensor([seq[:-1]]), torch.tensor([seq[1:]])
        with torch.no_grad():
            logits, loss = model(x, y)
        assert len(logp) == len(seq) - 1
        assert -sum(logp) / len(logp) == pytest.approx(loss.item(), abs=1e-5)
        assert greedy == (logits[0].argmax(-1) == y[0]).tolist()


def test_long_text_is_scored_with_full_windows(model):
    """Past the context, each token is predicted from the block_size tokens before it (the last window)."""
    seq = torch.randint(50, (40,), generator=torch.Generator().manual_seed(2)).tolist()
    (logp, _), = token_logprobs(model, [seq], 16, batch_size=8, device="cpu")
    x = torch.tensor([seq[23:39]])  # the last window: 16 tokens predicting seq[24:40]
    with torch.no_grad():
        direct = torch.log_softmax(model(x, x)[0][0], -1).gather(1, torch.tensor(seq[24:40])[:, None]).squeeze(1)
    assert logp[-16:] == pytest.approx(direct.tolist(), abs=1e-5)


def test_metric_rows_pair_each_metric_with_its_stderr():
    results = {"results": {"t": {"alias": "t", "sample_len": 8, "acc,none": 0.5, "acc_stderr,none": 0.1,
                                 "perplexity,none": 3.0, "perplexity_stderr,none": "N/A"}}}
    assert metric_rows(results) == [("t", "acc", 0.5, 0.1), ("t", "perplexity", 3.0, None)]
