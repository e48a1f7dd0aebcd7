"""The network and how it is trained: the GPT with its ablation switches, decoding, the optimizers (AdamW, Muon) and the learning-rate schedule."""
