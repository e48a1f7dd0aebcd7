"""muP's coordinate check (Tensor Programs V): after a few AdamW steps at one learning rate, the activations' RMS
stays flat across widths under model.parametrization=mup and grows with width under sp; at base_width mup is sp.

Run with -s for the table (`-m slow`: the width sweeps are in the slow suite). Thresholds from measurement (lr 3e-3,
4 steps, widths 32-256): mup's max/min ratio per layer ~1.6, sp's 4.4-8, and mup without the hidden lr / m (its
blocks) 3.2-3.4.
"""

from dataclasses import replace

import pytest
import torch

from tinyx.common.errors import ExportError
from tinyx.config import ModelConfig, OptimConfig
from tinyx.hf.architectures import architecture
from tinyx.nn.gpt import GPT
from tinyx.nn.mup import activation_rms
from tinyx.nn.optimizers import build_optimizers, hidden_matrices

WIDTHS = (32, 64, 128, 256)
ADAMW = OptimConfig(lr=3e-3, weight_decay=0.0, fused=False)


def _model(width: int, parametrization: str) -> GPT:
    torch.manual_seed(0)
    return GPT(ModelConfig(n_layer=2, n_head=width // 16, d_model=width, block_size=32, vocab_size=128,
                           parametrization=parametrization, base_width=128))


def _trained_rms(width: int, parametrization: str, hidden_lr_divided: bool = True, steps: int = 4) -> dict:
    model = _model(width, parametrization)
    tokens = torch.randint(0, 128, (8, 33), generator=torch.Generator().manual_seed(1))
    (opt,) = build_optimizers(model, ADAMW, torch.device("cpu"))
    if not hidden_lr_divided:  # mup broken on purpose: every group at the one lr
        for group in opt.param_groups:
            group["lr"] = ADAMW.lr
    for _ in range(steps):
        _, loss = model(tokens[:, :-1], tokens[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
    return activation_rms(model, tokens[:, :-1])


def _ratios(parametrization: str, **kwargs) -> dict[str, float]:
    """{layer: max/min RMS across WIDTHS}, printing the table."""
    rows = {w: _trained_rms(w, parametrization, **kwargs) for w in WIDTHS}
    ratios = {k: max(r[k] for r in rows.values()) / min(r[k] for r in rows.values()) for k in rows[WIDTHS[0]]}
    print(f"\n{parametrization}{'' if kwargs.get('hidden_lr_divided', True) else ' (no lr / m)'}: RMS at widths "
          f"{WIDTHS}")
    for k, ratio in ratios.items():
        print(f"  {k:8} " + " ".join(f"{rows[w][k]:7.3f}" for w in WIDTHS) + f"   max/min {ratio:.2f}")
    return ratios


@pytest.mark.slow  # eight short trainings: ~10 s on 2 free cores, more on a busy machine
def test_mup_keeps_every_layer_flat_across_widths_where_sp_grows():
    mup, sp = _ratios("mup"), _ratios("sp")
    assert all(r < 2.0 for r in mup.values()), mup
    assert all(r > 3.0 for r in sp.values()), sp


@pytest.mark.slow
def test_mup_without_the_hidden_lr_scaling_fails_the_check():
    broken = _ratios("mup", hidden_lr_divided=False)
    assert broken["block/0"] > 2.5 and broken["block/1"] > 2.5, broken


def test_mup_at_base_width_is_sp_exactly():
    tokens = torch.randint(0, 128, (4, 33), generator=torch.Generator().manual_seed(2))
    losses = {}
    for parametrization in ("sp", "mup"):
        model = _model(128, parametrization)
        (opt,) = build_optimizers(model, ADAMW, torch.device("cpu"))
        for _ in range(2):
            _, loss = model(tokens[:, :-1], tokens[:, 1:])
            loss.backward()
            opt.step()
            opt.zero_grad()
        losses[parametrization] = (loss.item(), model(tokens[:, :5])[0], [p.clone() for p in model.parameters()])
    sp, mup = losses["sp"], losses["mup"]
    assert sp[0] == mup[0] and torch.equal(sp[1], mup[1])
    assert all(torch.equal(a, b) for a, b in zip(sp[2], mup[2]))


def test_mup_scales_hidden_init_and_lr_by_the_width_multiplier_and_leaves_embeddings():
    model = _model(256, "mup")  # m = 2
    (opt,) = build_optimizers(model, ADAMW, torch.device("cpu"))
    hidden = {id(p) for p in hidden_matrices(model)}
    lrs = {id(p): g["base_lr"] for g in opt.param_groups for p in g["params"]}
    assert all(lrs[i] == ADAMW.lr / 2 for i in hidden)
    assert lrs[id(model.tok_emb.weight)] == ADAMW.lr and model.logit_mult == 0.5
    qkv = model.blocks[0].attn.qkv.weight
    assert abs(qkv.std().item() - 0.02 / 2 ** 0.5) < 0.001 and abs(model.tok_emb.weight.std().item() - 0.02) < 0.001
    (muon, _) = build_optimizers(model, replace(ADAMW, name="muon"), torch.device("cpu"))
    assert muon.param_groups[0]["base_lr"] == ADAMW.lr  # Muon's spectral scaling is already muP's


def test_export_refuses_a_mup_model_off_its_base_width():
    with pytest.raises(ExportError, match="model.parametrization=mup at model.d_model=256"):
        architecture(ModelConfig(d_model=256, parametrization="mup"))
    assert architecture(ModelConfig(parametrization="mup")) == "gpt2"  # at base_width it is sp
