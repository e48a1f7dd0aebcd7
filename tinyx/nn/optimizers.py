"""Optimizers with their parameter groups, and the learning-rate schedule.

The trainer drives a list of optimizers, each param group carrying its own
`base_lr`; the schedule is one multiplier applied to all of them.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys

import torch
import torch.nn as nn

from tinyx.common.errors import ConfigError
from tinyx.config import OptimConfig
from tinyx.nn.muon import Muon
from tinyx.nn.mup import width_mult


def _fused_ok(cfg: OptimConfig, device: torch.device) -> bool:
    # Fused AdamW on MPS ignored the `found_inf` skip signal (the trainer's skip of a non-finite step)
    # until mid-2026 releases: there it would apply the step it was told to skip, so never on MPS.
    if device.type == "mps":
        if cfg.fused:
            raise ConfigError("optim.fused=true on MPS: fused AdamW there applies the non-finite steps the "
                              "trainer skips. Leave optim.fused unset (null) or set it to false.")
        return False
    if cfg.fused is not None:
        return cfg.fused
    return device.type in ("cuda", "cpu")


def hidden_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The 2-D weights of the linear layers inside the transformer blocks (Muon's share).

    Embeddings, the LM head (tied or not), norms, biases and sink parameters are not hidden matrices.
    """
    blocks = getattr(model, "blocks", [])
    return [m.weight for block in blocks for m in block.modules()
            if isinstance(m, nn.Linear) and m.weight.requires_grad]


def qkv_row_splits(model: nn.Module) -> dict[int, list[int]]:
    """{id(fused Q/K/V weight): [Q rows, K rows, V rows]} of every attention layer (GQA: K and V are smaller)."""
    return {id(m.qkv.weight): [m.n_head * m.head_dim, m.n_kv_head * m.head_dim, m.n_kv_head * m.head_dim]
            for m in model.modules() if hasattr(m, "qkv") and hasattr(m, "n_kv_head")}


def _adamw(params: list[nn.Parameter], lr: float, betas, weight_decay: float, cfg: OptimConfig,
           device: torch.device, hidden: list[nn.Parameter] = (), hidden_lr: float | None = None) -> torch.optim.AdamW:
    """AdamW over `params`; the `hidden` matrices among them in a group of their own at `hidden_lr` (mup's lr / m),
    which only a mup model of another width than its base_width has (elsewhere the groups are as they always were).
    """
    # Matrices (linear weights, embeddings) decay; biases, norm gains and scalars do not.
    hidden_ids = {id(p) for p in hidden}
    groups = [{"params": [p for p in params if p.dim() >= 2 and id(p) not in hidden_ids],
               "weight_decay": weight_decay, "base_lr": lr},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0, "base_lr": lr}]
    if hidden_ids:
        groups.insert(1, {"params": [p for p in params if id(p) in hidden_ids], "weight_decay": weight_decay,
                          "lr": hidden_lr, "base_lr": hidden_lr})
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=tuple(betas), eps=cfg.eps,
                             fused=_fused_ok(cfg, device))


def build_optimizers(model: nn.Module, cfg: OptimConfig, device: torch.device) -> list[torch.optim.Optimizer]:
    params = [p for p in model.parameters() if p.requires_grad]  # a tied weight appears once
    if cfg.name == "adamw":
        # mup (tinyx.nn.mup): the hidden matrices' lr / m. Muon's own lr is not divided (its spectral scaling is
        # already muP's), and the AdamW it drives holds no hidden matrix.
        mult = width_mult(model.cfg) if hasattr(model, "cfg") else 1.0
        hidden = hidden_matrices(model) if mult != 1.0 else []
        return [_adamw(params, cfg.lr, cfg.betas, cfg.weight_decay, cfg, device, hidden, cfg.lr / mult)]
    hidden = hidden_matrices(model)
    hidden_ids = {id(p) for p in hidden}
    rest = [p for p in params if id(p) not in hidden_ids]
    ns_dtype = cfg.ns_dtype if cfg.ns_dtype != "auto" else ("bfloat16" if device.type == "cuda" else "float32")
    if cfg.muon_impl == "torch":  # the upstream optimizer, kept for comparison (tinyx.tools.bench)
        muon = torch.optim.Muon([{"params": hidden, "base_lr": cfg.lr}], lr=cfg.lr, weight_decay=cfg.weight_decay,
                                momentum=cfg.momentum, nesterov=cfg.nesterov, ns_steps=cfg.ns_steps,
                                adjust_lr_fn=cfg.adjust_lr)
        return [muon, _adamw(rest, cfg.adamw_lr, cfg.adamw_betas, cfg.adamw_weight_decay, cfg, device)]
    muon = Muon([{"params": hidden, "base_lr": cfg.lr}], lr=cfg.lr, weight_decay=cfg.weight_decay,
                momentum=cfg.momentum, nesterov=cfg.nesterov, ns_steps=cfg.ns_steps, adjust_lr=cfg.adjust_lr,
                ns_dtype=getattr(torch, ns_dtype), row_splits=qkv_row_splits(model) if cfg.muon_split_qkv else None)
    return [muon, _adamw(rest, cfg.adamw_lr, cfg.adamw_betas, cfg.adamw_weight_decay, cfg, device)]


def describe(optimizers: list[torch.optim.Optimizer]) -> str:
    """One line: each optimizer, its LR (a mup model's AdamW: also its hidden matrices' lr / m) and its share of
    the parameters."""
    counts = [sum(p.numel() for g in opt.param_groups for p in g["params"]) for opt in optimizers]
    total = sum(counts)

    def lrs(opt) -> str:
        first, *others = dict.fromkeys(g["base_lr"] for g in opt.param_groups)
        return f"{first:g}" + "".join(f" (hidden matrices {lr:g})" for lr in others)

    return " | ".join(f"{type(opt).__name__} lr {lrs(opt)} on {n:,} params ({n / total:.1%})"
                      for opt, n in zip(optimizers, counts))


def lr_factor(step: int, cfg: OptimConfig, max_steps: int) -> float:
    """Multiplier of base_lr at `step` (0-based): linear warmup, then cosine or constant.

    The cosine runs from 1 at the first step after warm-up to exactly min_lr_ratio at the last one,
    step max_steps - 1 (the trainer's step max_steps calls lr_factor(max_steps - 1)).
    """
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    if cfg.schedule == "constant":
        return 1.0
    decay_steps = max_steps - 1 - cfg.warmup_steps  # from the first step after warm-up to the last
    # No room to decay (warm-up fills all but the last step): that last step is already the end.
    progress = min(1.0, (step - cfg.warmup_steps) / decay_steps) if decay_steps > 0 else 1.0
    # At progress 1, cos(pi) is exactly -1.0, so the factor is exactly min_lr_ratio.
    return cfg.min_lr_ratio + 0.5 * (1.0 - cfg.min_lr_ratio) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizers: list[torch.optim.Optimizer], factor: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor


# torch.optim wraps these Optimizer methods in torch._disable_dynamo, which imports torch._dynamo on
# their first call (~1.4 s of start-up on a 2-core CPU) only to mark them "not for torch.compile".
_DYNAMO_DISABLED_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


@contextlib.contextmanager
def eager_optimizers():
    """Within this context, while nothing has imported torch._dynamo, torch.optim does not import it.

    Outside torch.compile, dynamo's disable wrappers and graph breaks do nothing; only the import
    costs. Each wrapped method is given itself as its cached "disabled" version (the cache
    torch._disable_dynamo fills on first use), undone on exit. `optimizer_step` does the same for
    step(). Runs that compile (hardware.compile=true) import dynamo anyway and take torch's path.
    """
    if "torch._dynamo" in sys.modules:
        yield
        return
    seeded = []
    for name in _DYNAMO_DISABLED_METHODS:
        fn = getattr(getattr(torch.optim.Optimizer, name), "__wrapped__", None)
        if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
            fn.__dynamo_disable = fn
            seeded.append(fn)
    try:
        yield
    finally:
        for fn in seeded:
            if getattr(fn, "__dynamo_disable", None) is fn:
                del fn.__dynamo_disable


def optimizer_step(opt: torch.optim.Optimizer) -> None:
    """opt.step(); without step hooks and while torch._dynamo is not loaded, without torch's wrappers.

    torch.optim's step wrapper imports torch._dynamo on every call (for its graph breaks, no-ops
    outside torch.compile) and runs the step hooks under a profiler label; tinyx registers no hooks,
    so while none is registered the step function runs directly, under no_grad as the wrapper does.
    """
    from torch.optim import optimizer as torch_optimizer

    hooks = (opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
             or torch_optimizer._global_optimizer_pre_hooks or torch_optimizer._global_optimizer_post_hooks)
    if hooks or "torch._dynamo" in sys.modules:
        opt.step()
        return
    with torch.no_grad(), torch.autograd.profiler.record_function(f"Optimizer.step#{type(opt).__name__}.step"):
        inspect.unwrap(type(opt).step)(opt)
