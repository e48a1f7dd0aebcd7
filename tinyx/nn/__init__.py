"""The network and how it is trained: the GPT with its ablation switches, decoding, the optimizers (AdamW, Muon) and the learning-rate schedule.

    gpt.py         the model: blocks, embeddings, init, tying, parameter counts, FLOPs per token, the forward
    attention.py   causal self-attention (GQA, QK-norm, sinks) and the KV cache
    layers.py      norms, rotary position tables, the MLP
    decoding.py    sampling tokens from a model (temperature, top-k, top-p, the KV cache)
    optimizers.py  the optimizers and the learning-rate schedule; muon.py the Muon optimizer
    mup.py         muP's width multiplier (model.parametrization=mup) and activation_rms for a coordinate check
"""
