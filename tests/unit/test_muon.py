"""optim=muon: the parameter split, the orthogonalised update, agreement with torch.optim.Muon, resume."""

import pytest
import torch
from helpers import micro_config

from tinyx.common.errors import ConfigError
from tinyx.config import ModelConfig, OptimConfig
from tinyx.nn.gpt import GPT
from tinyx.nn.muon import Muon, newton_schulz, orthogonalise
from tinyx.nn.optimizers import build_optimizers, hidden_matrices

CPU = torch.device("cpu")


@pytest.mark.parametrize("model_kw", [
    {}, {"tie_embeddings": False}, {"attn_sink": "token", "bias": True}, {"attn_sink": "logit", "n_kv_head": 1},
    {"mlp": "swiglu", "qk_norm": True, "norm": "rmsnorm"},
])
def test_every_parameter_in_exactly_one_optimizer(model_kw):
    model = GPT(ModelConfig(vocab_size=40, n_layer=2, n_head=4, d_model=32, block_size=16, **model_kw))
    muon, adamw = build_optimizers(model, OptimConfig(name="muon"), CPU)
    in_muon = [p for g in muon.param_groups for p in g["params"]]
    in_adamw = [p for g in adamw.param_groups for p in g["params"]]
    ids = [id(p) for p in in_muon + in_adamw]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    assert all(p.dim() == 2 for p in in_muon) and len(in_muon) == 2 * 4  # qkv, attn proj, fc, mlp proj per layer
    adamw_ids = {id(p) for p in in_adamw}
    assert id(model.tok_emb.weight) in adamw_ids and id(model.lm_head.weight) in adamw_ids
    for name, p in model.named_parameters():
        if "sink" in name or "norm" in name or name.endswith("bias"):
            assert id(p) in adamw_ids, name


def test_newton_schulz_brings_singular_values_near_one():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(64, 32))
    v, _ = torch.linalg.qr(torch.randn(32, 32))
    g = u @ torch.diag(torch.logspace(-1, 1, 32)) @ v.T  # singular values from 0.1 to 10
    s = torch.linalg.svdvals(newton_schulz(g[None], steps=5, dtype=torch.float32)[0])
    assert s.min() > 0.6 and s.max() < 1.25  # Muon's quintic lands in about [0.7, 1.2], not exactly 1
    assert torch.linalg.matrix_rank(newton_schulz(g[None], 5, torch.float32)[0]) == 32


def test_a_muon_step_is_an_orthogonalised_update():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.zeros(64, 32))
    opt = Muon([w], lr=0.1, momentum=0.0, nesterov=False)
    w.grad = torch.randn(64, 32) @ torch.diag(torch.logspace(-1, 0, 32))
    opt.step()
    s = torch.linalg.svdvals(-w.detach() / (0.1 * 2 ** 0.5))  # adjust_lr=original: x sqrt(64/32)
    assert s.min() > 0.6 and s.max() < 1.25


def test_matches_torch_muon_in_bfloat16():
    torch.manual_seed(0)
    shapes = [(48, 16), (16, 16), (48, 16), (16, 64)]
    ours = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    kw = dict(lr=0.05, momentum=0.9, nesterov=True, ns_steps=5, weight_decay=0.1)
    opt = Muon(ours, adjust_lr="original", ns_dtype=torch.bfloat16, **kw)
    opt_ref = torch.optim.Muon(ref, adjust_lr_fn="original", **kw)
    for _ in range(3):
        grads = [torch.randn(*s) for s in shapes]
        for p, q, g in zip(ours, ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        opt_ref.step()
    for p, q in zip(ours, ref):
        assert torch.allclose(p, q, atol=2e-3, rtol=1e-2)


def test_batched_equals_one_matrix_at_a_time():
    torch.manual_seed(0)
    stack = torch.randn(4, 48, 16)
    batched = newton_schulz(stack, 5, torch.float32)
    single = torch.stack([newton_schulz(m[None], 5, torch.float32)[0] for m in stack])
    assert torch.allclose(batched, single, atol=1e-5)


def test_gram_form_equals_the_plain_iteration():
    # float32 runs the Gram form, batched over every matrix with the same short side (tall ones
    # transposed, square ones included); it must give the plain iteration's result, matrix by matrix.
    torch.manual_seed(0)
    shapes = [(96, 32), (32, 32), (32, 128), (128, 32), (96, 32), (16, 48)]
    mats = [torch.randn(*s) for s in shapes]
    gram = orthogonalise(mats, 5, torch.float32)
    for m, g in zip(mats, gram):
        plain = newton_schulz(m[None].double(), 5, torch.float64)[0]
        assert g.shape == m.shape and g.dtype == torch.float32
        assert (g.double() - plain).abs().max() < 1e-4
    # bfloat16 keeps the plain iteration (the Gram matrix would square the condition number there).
    bf16 = orthogonalise(mats, 5, torch.bfloat16)
    assert all(torch.equal(b, newton_schulz(m[None], 5, torch.bfloat16)[0]) for m, b in zip(mats, bf16))


@pytest.mark.parametrize("override, words", [
    ("optim.lr=0", ["optim.lr=0", "0.02"]),
    ("optim.lr=-0.01", ["optim.lr=-0.01"]),
    ("optim.ns_steps=0", ["optim.ns_steps=0", ">= 1"]),
    ("optim.adjust_lr=spectral", ["optim.adjust_lr='spectral'", "match_rms_adamw"]),
    ("optim.adamw_lr=0", ["optim.adamw_lr=0"]),
    ("optim.muon_split_qkv=true optim.muon_impl=torch", ["optim.muon_split_qkv=true", "optim.muon_impl=tinyx"]),
])
def test_bad_muon_values(override, words):
    with pytest.raises(ConfigError) as e:
        micro_config("optim=muon", *override.split())
    for w in words:
        assert w in str(e.value)


def test_hidden_matrices_are_the_block_linears():
    model = GPT(ModelConfig(vocab_size=40, n_layer=3, n_head=2, d_model=16, block_size=8))
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted({names[id(p)].split(".", 2)[-1] for p in hidden_matrices(model)}) == [
        "attn.proj.weight", "attn.qkv.weight", "mlp.fc.weight", "mlp.proj.weight"]


def test_recommended_recipe_composes():
    from helpers import compose

    from tinyx.config import to_run_config

    cfg = to_run_config(compose(["experiment=muon_tiny"]))
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.adamw_lr, cfg.model.d_model) == ("muon", 0.01, 3e-3, 128)


def test_upstream_muon_is_selectable_for_comparison():
    model = GPT(ModelConfig(vocab_size=40, n_layer=1, n_head=2, d_model=16, block_size=8))
    muon, _ = build_optimizers(model, OptimConfig(name="muon", muon_impl="torch"), CPU)
    assert type(muon) is torch.optim.Muon
    with pytest.raises(ConfigError, match="optim.muon_impl='jax'"):
        micro_config("optim=muon", "optim.muon_impl=jax")


@pytest.mark.parametrize("n_head, n_kv_head", [(4, 4), (4, 2), (4, 1)])  # MHA, GQA, MQA
def test_split_qkv_orthogonalises_q_k_and_v_each_on_its_own(n_head, n_kv_head):
    """optim.muon_split_qkv: each block of the fused weight steps by Newton-Schulz of its own gradient block,
    scaled for its own shape; fused, the blocks' steps are slices of one matrix's."""
    model = GPT(ModelConfig(vocab_size=40, n_layer=1, n_head=n_head, n_kv_head=n_kv_head, d_model=32, block_size=16))
    cfg = OptimConfig(name="muon", muon_split_qkv=True, momentum=0.0, nesterov=False, lr=0.1, weight_decay=0.0)
    muon, _ = build_optimizers(model, cfg, CPU)
    attn = model.blocks[0].attn
    w = attn.qkv.weight
    head_dim = 32 // n_head
    rows = [n_head * head_dim, n_kv_head * head_dim, n_kv_head * head_dim]
    assert muon.row_splits == {id(w): rows}
    torch.manual_seed(0)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    before = w.detach().clone()
    muon.step()
    step = before - w.detach()
    for block_step, block_grad in zip(step.split(rows), w.grad.split(rows)):
        scale = 0.1 * max(1.0, block_grad.shape[0] / block_grad.shape[1]) ** 0.5
        assert torch.allclose(block_step, scale * newton_schulz(block_grad[None], 5, torch.float32)[0], atol=2e-5)

    fused, _ = build_optimizers(model, OptimConfig(name="muon", momentum=0.0, nesterov=False, lr=0.1,
                                                  weight_decay=0.0), CPU)
    before = w.detach().clone()
    fused.step()
    whole = 0.1 * (w.shape[0] / w.shape[1]) ** 0.5 * newton_schulz(w.grad[None], 5, torch.float32)[0]
    assert torch.allclose(before - w.detach(), whole, atol=2e-5)
    assert not torch.allclose(before - w.detach(), step, atol=1e-3)  # the two options differ
