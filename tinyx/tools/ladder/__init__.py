"""`tinyx ladder`: does an ablation's difference hold at scale? One baseline and its variants, each run at several
model sizes (a ladder) and seeds; the loss against compute fitted per arm, the difference extrapolated.

The statistics (pure numpy/scipy, no files): powerlaw (L(C) = E + A·C^-α per arm, fitted robustly, vectorised,
and its seed bootstrap), trend (the difference per size, its slope in log compute, the extrapolated difference and
its calibrated interval), verdict (holds / grows / fades / undecided, and the rule in words).
"""
