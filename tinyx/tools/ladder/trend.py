"""The difference between two arms of a ladder (variant - baseline; lower loss is better): per size, its slope
against log10 compute, and extrapolated to a target compute C* from each arm's power law.

Per size: tinyx.compare.stats.difference (the paired t-test on the seeds both arms have, or Welch's), Holm-adjusted
over the sizes. The slope: weighted least squares of the per-size differences on log10 C (the baseline's compute),
each weighted by its seeds, the seed variance pooled over the sizes; a t interval, and one from the bootstrap below.

The extrapolated difference δ* = L_v(C*) - L_b(C*), each arm's law at its own compute (arms may spend different
compute at one size), and its interval, by a parametric bootstrap made for few seeds. A seed-resampling
(cluster) bootstrap under-covers with S = 3 seeds: it sees only (S-1)/S of the seed variance and 10 distinct
resamples, and ignores that the variance itself is estimated from a handful of seeds. Here instead:
  1. the seed variance of each arm is pooled over the sizes (the deviations of seeds from their size's mean),
     and for paired arms their correlation (the seed's shared part, which cancels in the difference);
  2. each replicate adds to every size's observed mean a Gaussian draw with that (co)variance / seeds, both arms
     refitted (paired arms: correlated draws, so the pairing is kept), δ*_b = L_v*(C*) - L_b*(C*);
  3. the interval is δ̂* plus the 2.5 and 97.5 percentiles of δ*_b - δ̂* (median-unbiased quantiles: numpy's
     default interpolation puts them inside the tails with a few hundred replicates), each widened by t(df)/z —
     the t-interval's correction for a variance estimated with df = Σ_k (seeds_k - 1) degrees of freedom
     (paired: of the per-seed differences; independent arms: the smaller arm's).
The unit tests simulate 1,000 ladders from known laws (K = 4, S = 3): these intervals cover the true δ* 94.1% of
the time (a seed bootstrap 71%, a straight line through the per-size differences with its t interval 54%).
Three sizes fit the three parameters exactly: the interval is then flagged as less reliable. The draws are
independent across sizes: a seed's part shared by all sizes alike moves E, which the difference cancels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from tinyx.compare.stats import ALPHA, Difference, difference, holm
from tinyx.tools.ladder.powerlaw import MIN_SIZES, FitError, fit_many, size_means

TARGET_FACTOR = 10.0  # the default C*: this many times the largest compute of either arm
GRID_POINTS = 25  # the log grid between the largest measured compute and C* where the interval is followed
RELIABLE_SIZES = 4  # fewer sizes (three) interpolate the law: the interval is flagged


@dataclass(frozen=True)
class Arm:
    """One arm of a ladder: the compute (FLOPs) of each of K sizes, and its values (K sizes x S seeds, NaN missing)."""

    compute: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Slope:
    """d(δ)/d(log10 C): the change of the difference per decade of compute, with its t and bootstrap intervals."""

    per_decade: float
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float
    df: int


@dataclass(frozen=True)
class Extrapolation:
    """δ* at `target` and its calibrated interval; `zero_at`: the first compute (from the largest measured one to
    the target, log grid) where the interval of δ reaches 0, None if it never does."""

    target: float
    delta: float
    ci_low: float
    ci_high: float
    zero_at: float | None
    reliable: bool
    note: str


@dataclass(frozen=True)
class Trend:
    """Everything the verdict reads: the per-size differences (and Holm's p), the slope, the extrapolation."""

    sizes: list[Difference]
    holm_p: list[float | None]
    slope: Slope | None
    extrapolation: Extrapolation | None
    note: str = ""


def _columns(baseline: Arm, variant: Arm, paired: bool, k: int) -> tuple[list[float], list[float]]:
    """Size k's values of both arms without NaN; paired: only the seeds both arms have."""
    b, v = np.asarray(baseline.values[k], float), np.asarray(variant.values[k], float)
    if paired:
        both = np.isfinite(b) & np.isfinite(v)
        return list(b[both]), list(v[both])
    return list(b[np.isfinite(b)]), list(v[np.isfinite(v)])


def per_size(baseline: Arm, variant: Arm, paired: bool) -> list[Difference]:
    """The difference at each size (compare's paired or Welch t), in the order of the sizes."""
    out = []
    for k in range(len(baseline.compute)):
        b, v = _columns(baseline, variant, paired, k)
        if not b or not v:
            out.append(Difference(None, math.nan, None, None, None, None, 0, "no seeds"))
        else:
            out.append(difference(b, v, paired))
    return out


def _pooled(values, mask=None) -> tuple[np.ndarray, int]:
    """Deviations of each seed from its size's mean (0 where missing), and the pooled degrees of freedom."""
    values = np.where(mask, values, np.nan) if mask is not None else np.asarray(values, float)
    present = np.isfinite(values)
    deviations = np.where(present, values - size_means(values)[:, None], 0.0)
    return deviations, int(np.maximum(present.sum(1) - 1, 0).sum())


def noise_model(baseline: Arm, variant: Arm, paired: bool):
    """The covariance of each size's two means (var_b, var_v, cov: arrays of K) and the df of the difference."""
    dev_b, df_b = _pooled(baseline.values)
    dev_v, df_v = _pooled(variant.values)
    n_b, n_v = np.isfinite(baseline.values).sum(1), np.isfinite(variant.values).sum(1)
    var_b, var_v = (dev_b ** 2).sum() / max(df_b, 1), (dev_v ** 2).sum() / max(df_v, 1)
    cov, df = np.zeros(len(n_b)), min(df_b, df_v)
    if paired:
        both = np.isfinite(baseline.values) & np.isfinite(variant.values)
        pair_b, df = _pooled(baseline.values, both)
        pair_v, _ = _pooled(variant.values, both)
        shared = both.sum(1)
        if df > 0:
            cov = (pair_b * pair_v).sum() / df * shared / np.maximum(n_b * n_v, 1)
    return var_b / np.maximum(n_b, 1), var_v / np.maximum(n_v, 1), cov, df


def noise_draws(var_b, var_v, cov, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian draws of both arms' size-mean noise with per-size (co)variances (..., K): each (..., n_boot, K)."""
    var_b, var_v, cov = (np.asarray(x, float)[..., None, :] for x in (var_b, var_v, cov))
    z1, z2 = rng.standard_normal((2, *var_b.shape[:-2], n_boot, var_b.shape[-1]))
    scale = np.sqrt(var_b * var_v)
    rho = np.clip(np.divide(cov, scale, out=np.zeros(np.broadcast(cov, scale).shape), where=scale > 0), -1, 1)
    return np.sqrt(var_b) * z1, np.sqrt(var_v) * (rho * z1 + np.sqrt(1 - rho ** 2) * z2)


def inflation(df, level: float = 1 - ALPHA) -> np.ndarray:
    """t(df)/z at `level`: how much wider an interval is when its variance is estimated with df degrees of freedom."""
    from scipy import stats

    tail = (1 + level) / 2
    return stats.t.ppf(tail, np.maximum(df, 1)) / stats.norm.ppf(tail)


def calibrated_interval(point, draws, df, level: float = 1 - ALPHA) -> np.ndarray:
    """point (..., G) + the percentiles of (draws - point) over the bootstrap (draws: (..., B, G)), widened by
    t(df)/z (df: a number or (...)): shape (2, ..., G)."""
    tail = 50 * (1 - level)
    deviations = draws - point[..., None, :]
    quantiles = np.nanpercentile if np.isnan(deviations).any() else np.percentile  # the former loops in Python
    with warnings.catch_warnings():  # a ladder no law fits: all NaN, and its interval NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = quantiles(deviations, [tail, 100 - tail], axis=-2, method="median_unbiased")
    return point + np.asarray(inflation(df, level))[..., None] * spread


def band(compute_b, means_b, compute_v, means_v, noise, df, grid) -> np.ndarray:
    """δ(C) = L_v(C) - L_b(C) on `grid` (G,) from the laws fitted to the size means (..., K), and its calibrated
    interval from the fits to means + noise (noise_b, noise_v: (..., B, K)): rows point, low, high (3, ..., G)."""
    noise_b, noise_v = noise
    law_b, law_v = fit_many(compute_b, means_b), fit_many(compute_v, means_v)
    point = law_v.predict(grid) - law_b.predict(grid)
    fitted_b = np.where(np.isfinite(means_b), law_b.predict(compute_b), np.nan)
    fitted_v = np.where(np.isfinite(means_v), law_v.predict(compute_v), np.nan)
    boot = (fit_many(compute_v, fitted_v[..., None, :] + noise_v).predict(grid)
            - fit_many(compute_b, fitted_b[..., None, :] + noise_b).predict(grid))
    return np.concatenate([point[None], calibrated_interval(point, boot, df)])


def slope(baseline: Arm, variant: Arm, deltas: np.ndarray, model, draws_delta: np.ndarray) -> Slope | None:
    """Weighted least squares of the per-size δ on log10 C; `draws_delta` (B, K): bootstrapped per-size δ."""
    var_b, var_v, cov, df = model
    x = np.log10(np.asarray(baseline.compute, float))
    variance = var_b + var_v - 2 * cov
    ok = np.isfinite(deltas) & (variance > 0)
    if ok.sum() < 2 or df < 1:
        return None
    w = 1 / variance[ok]
    centred = x[ok] - (w * x[ok]).sum() / w.sum()
    sxx = (w * centred ** 2).sum()
    fit = (w * centred * deltas[ok]).sum() / sxx
    from scipy import stats

    half = stats.t.ppf(1 - ALPHA / 2, df) / math.sqrt(sxx)
    boot = (w * centred * draws_delta[:, ok]).sum(1) / sxx
    low, high = calibrated_interval(np.array([fit]), boot[:, None], df)[:, 0]
    return Slope(float(fit), float(fit - half), float(fit + half), float(low), float(high), df)


def extrapolation(baseline: Arm, variant: Arm, grid: np.ndarray, rows: np.ndarray) -> Extrapolation:
    """δ* at the grid's end from `rows` (point, low, high on the grid), and where the interval first reaches 0.
    FitError when an arm has fewer than three sizes."""
    sizes = int(min(np.isfinite(size_means(baseline.values)).sum(), np.isfinite(size_means(variant.values)).sum()))
    if sizes < MIN_SIZES:
        raise FitError(f"{'one size' if sizes <= 1 else 'two sizes'}: no fit possible")
    point, low, high = rows
    reaches = np.flatnonzero((low <= 0) & (high >= 0))
    reliable = sizes >= RELIABLE_SIZES
    note = "" if reliable else "three sizes: the law interpolates them, the interval is less reliable"
    return Extrapolation(float(grid[-1]), float(point[-1]), float(low[-1]), float(high[-1]),
                         float(grid[reaches[0]]) if len(reaches) else None, reliable, note)


def _assemble(baseline: Arm, variant: Arm, paired: bool, model, rows, draws_delta, grid) -> Trend:
    """One ladder's Trend from its noise model, its band on the grid and its bootstrapped per-size δ."""
    sizes = per_size(baseline, variant, paired)
    deltas = np.array([d.delta for d in sizes])
    try:
        extrapolated, note = extrapolation(baseline, variant, grid, rows), ""
        note = extrapolated.note
    except FitError as error:
        extrapolated, note = None, str(error)
    return Trend(sizes, holm([d.p for d in sizes]), slope(baseline, variant, deltas, model, draws_delta),
                 extrapolated, note)


def trends(ladders: list[tuple[Arm, Arm]], paired: bool, target: float | None = None, n_boot: int = 1000,
           rng: np.random.Generator | None = None) -> list[Trend]:
    """`trend` of many (baseline, variant) ladders that share their compute, the bootstrap's fits all at once."""
    rng = rng if rng is not None else np.random.default_rng(0)
    first_b, first_v = ladders[0]
    largest = float(max(np.max(first_b.compute), np.max(first_v.compute)))
    grid = np.geomspace(largest, target if target is not None else TARGET_FACTOR * largest, GRID_POINTS)
    models = [noise_model(b, v, paired) for b, v in ladders]
    var_b, var_v, cov, df = (np.array([m[i] for m in models]) for i in range(4))
    noise_b, noise_v = noise_draws(var_b, var_v, cov, n_boot, rng)
    means_b = np.array([size_means(b.values) for b, _ in ladders])
    means_v = np.array([size_means(v.values) for _, v in ladders])
    bands = band(first_b.compute, means_b, first_v.compute, means_v, (noise_b, noise_v), df, grid)
    return [_assemble(b, v, paired, models[i], bands[:, i], noise_v[i] - noise_b[i], grid)
            for i, (b, v) in enumerate(ladders)]


def trend(baseline: Arm, variant: Arm, paired: bool, target: float | None = None, n_boot: int = 1000,
          rng: np.random.Generator | None = None) -> Trend:
    """The per-size differences, their slope and the extrapolated difference at `target` (default: TARGET_FACTOR
    times the largest compute of either arm). `paired`: seed i of both arms had the same data order."""
    return trends([(baseline, variant)], paired, target, n_boot, rng)[0]
