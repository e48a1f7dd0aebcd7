"""L(C) = E + A·C^-α fitted to one arm's loss per compute, robustly and fast enough for thousands of bootstraps.

The loss, as OLMo-core's model ladder fits its scaling laws: the Huber loss (δ = HUBER_DELTA) of the residual on
the log scale, log L_pred - log L_obs, summed over the sizes (each size's mean over its seeds). Constraints: E >= 0,
A > 0, 0 < α <= ALPHA_MAX. How, vectorised over any number of ladders at once: α is profiled — for a fixed α the
law is linear in (E, A), so E and A come in closed form from weighted least squares on (L_pred - L_obs) / L_obs
(the log residual to first order), with Huber's weights by iteratively reweighted least squares (IRLS_STEPS) —
over a grid of α (ALPHA_GRID), then refined by golden-section search between the best grid point's neighbours.

Three sizes fix three parameters exactly: the fit interpolates them (no residual is left to judge it by). Two
sizes or one cannot fit three parameters: FitError. The seed bootstrap here resamples seed indices with
replacement (a cluster bootstrap; for paired arms the same indices in both, so the pairing is kept); its
percentile intervals see only (S-1)/S of the seed variance and few distinct resamples with few seeds — the
calibrated interval of an extrapolated difference lives in tinyx.tools.ladder.trend.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

HUBER_DELTA = 1e-3  # on log L: a residual beyond 0.1% of the loss counts linearly, as in OLMo-core's fits
ALPHA_MAX = 2.0
ALPHA_GRID = np.linspace(0.05, ALPHA_MAX, 21)
IRLS_STEPS = 2
REFINE_STEPS = 14  # golden section: the bracket of two grid steps shrinks to 0.618^14 of it (~2e-4 in α)
MIN_SIZES = 3  # three parameters
CHUNK = 4000  # ladders fitted at once: bounds the memory of the grid (grid x chunk x sizes floats)


class FitError(ValueError):
    """The ladder cannot be fitted (too few sizes with a value, or a loss that is not positive)."""


@dataclass(frozen=True)
class PowerLaw:
    """One fitted law L(C) = E + A·C^-α (A in the units of the compute given)."""

    E: float
    A: float
    alpha: float

    def predict(self, compute):
        """L at `compute` (a number or an array)."""
        return self.E + np.exp(np.log(self.A) - self.alpha * np.log(np.asarray(compute, float)))


@dataclass(frozen=True)
class PowerLaws:
    """Many fitted laws (arrays of one shape; NaN where a ladder could not be fitted)."""

    E: np.ndarray
    A: np.ndarray
    alpha: np.ndarray

    def predict(self, compute) -> np.ndarray:
        """L at each of `compute` (M,) for every law: shape (*laws, M)."""
        log_c = np.log(np.asarray(compute, float))
        return self.E[..., None] + np.exp(np.log(self.A)[..., None] - self.alpha[..., None] * log_c)


def _solve(x, y, w):
    """Weighted least squares of y = E + a·x per column (sizes on the first axis), E >= 0 and a > 0 (else 0+)."""
    wx = w * x  # sizes on the first axis: the sums run over a few long rows, which numpy does fast
    sw, sx, sy, sxx, sxy = w.sum(0), wx.sum(0), (w * y).sum(0), (wx * x).sum(0), (wx * y).sum(0)
    a = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    e = (sy - a * sx) / sw
    through_origin = e < 0
    a = np.where(through_origin, sxy / sxx, a)
    e = np.where(through_origin, 0.0, e)
    flat = a <= 0  # no decrease with compute: the best allowed law is the constant (A -> 0+)
    return np.where(flat, sy / sw, e), np.where(flat, 1e-300, a)


def _profile(log_c, y, mask, alpha):
    """E, a (A at the ladder's centre compute) and the Huber loss at `alpha`, by IRLS; sizes on the first axis."""
    x = np.exp(-alpha * log_c)
    base = mask / (y * y)
    w = base
    for _ in range(IRLS_STEPS):  # Huber's weights from the residual to first order, (L_pred - L) / L
        e, a = _solve(x, y, w)
        w = base * np.minimum(1.0, HUBER_DELTA / np.maximum(np.abs((e + a * x) / y - 1), 1e-300))
    e, a = _solve(x, y, w)
    r = np.log(e + a * x) - np.log(y)
    abs_r = np.abs(r)
    huber = np.where(abs_r <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (abs_r - 0.5 * HUBER_DELTA))
    return e, a, (mask * huber).sum(0)


def _fit_chunk(log_c, y, mask):
    """The profiled fit of ladders (K, N): grid over α, then golden section between the best point's neighbours."""
    grid = ALPHA_GRID[:, None] * np.ones(y.shape[1])
    losses = _profile(log_c[:, None], y[:, None], mask[:, None], grid)[2]
    best = np.nanargmin(np.where(np.isfinite(losses), losses, np.inf), axis=0)
    low = ALPHA_GRID[np.maximum(best - 1, 0)]
    high = ALPHA_GRID[np.minimum(best + 1, len(ALPHA_GRID) - 1)]
    golden = (np.sqrt(5) - 1) / 2
    left, right = high - golden * (high - low), low + golden * (high - low)
    loss_left, loss_right = _profile(log_c, y, mask, left)[2], _profile(log_c, y, mask, right)[2]
    for _ in range(REFINE_STEPS):  # one new point a step: the survivor is the other's golden point
        left_wins = loss_left <= loss_right
        low, high = np.where(left_wins, low, left), np.where(left_wins, right, high)
        probe = np.where(left_wins, high - golden * (high - low), low + golden * (high - low))
        loss_probe = _profile(log_c, y, mask, probe)[2]
        left, right, loss_left, loss_right = (
            np.where(left_wins, probe, right), np.where(left_wins, left, probe),
            np.where(left_wins, loss_probe, loss_right), np.where(left_wins, loss_left, loss_probe))
    refined = (low + high) / 2
    alpha = np.where(_profile(log_c, y, mask, refined)[2] <= losses[best, np.arange(len(best))],
                     refined, ALPHA_GRID[best])
    e, a, _ = _profile(log_c, y, mask, alpha)
    return e, a, alpha


def fit_many(compute, means) -> PowerLaws:
    """Fit every ladder of `means` (..., K: the loss per size, NaN where a size has none) at `compute` ((K,) or
    (..., K)). A ladder with fewer than MIN_SIZES values gets NaN parameters."""
    means = np.asarray(means, float)
    compute = np.broadcast_to(np.asarray(compute, float), means.shape)
    shape = means.shape[:-1]
    y, log_c = means.reshape(-1, means.shape[-1]), np.log(compute).reshape(-1, means.shape[-1])
    mask = np.isfinite(y)
    centre = np.where(mask, log_c, 0).sum(-1, keepdims=True) / np.maximum(mask.sum(-1, keepdims=True), 1)
    log_c = np.where(mask, log_c - centre, 0.0)
    fittable = mask.sum(-1) >= MIN_SIZES
    y = np.where(mask, y, 1.0)
    out = np.full((3, y.shape[0]), np.nan)
    rows = np.flatnonzero(fittable)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            e, a, alpha = _fit_chunk(log_c[chunk].T, y[chunk].T, mask[chunk].T.astype(float))
            out[:, chunk] = e, np.log(a) + alpha * centre[chunk, 0], alpha  # A = a·C0^α, kept as log A
    return PowerLaws(out[0].reshape(shape), np.exp(out[1]).reshape(shape), out[2].reshape(shape))


def size_means(values) -> np.ndarray:
    """Each size's mean over its seeds (values: K sizes x S seeds, NaN where missing; a 1-D array is the means)."""
    values = np.asarray(values, float)
    if values.ndim == 1:
        return values
    with warnings.catch_warnings():  # a size without any seed: NaN, which the fit leaves out
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


def fit_power_law(compute, values) -> PowerLaw:
    """The law of one arm: `values` K sizes x S seeds (or K means) at `compute` (K,). FitError below 3 sizes."""
    means = size_means(values)
    present = int(np.isfinite(means).sum())
    if present < MIN_SIZES:
        raise FitError(f"{present} size{'s' if present != 1 else ''} with a value: a power law E + A·C^-α needs "
                       f"at least {MIN_SIZES} sizes, no fit possible")
    if np.any(means[np.isfinite(means)] <= 0):
        raise FitError("a loss <= 0: the fit is on log L, losses must be positive")
    laws = fit_many(compute, means)
    return PowerLaw(float(laws.E), float(laws.A), float(laws.alpha))


def resampled_means(values, seeds) -> np.ndarray:
    """Each size's mean over the resampled seed indices `seeds` (B, S): shape (B, K)."""
    values = np.asarray(values, float)
    return size_means(np.moveaxis(values[:, seeds], 0, 1))


@dataclass(frozen=True)
class BootstrapFits:
    """The point fit of one arm and its fits on the bootstrap's resamples of seeds."""

    point: PowerLaw
    draws: PowerLaws

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of "E", "A" or "alpha" over the resamples that could be fitted."""
        values = getattr(self.draws, name)
        tail = 50 * (1 - level)
        return tuple(float(q) for q in np.nanpercentile(values, [tail, 100 - tail]))

    def predict_interval(self, compute, level: float = 0.95) -> np.ndarray:
        """Percentile interval of L at each of `compute` (M,): shape (2, M)."""
        tail = 50 * (1 - level)
        return np.nanpercentile(self.draws.predict(compute), [tail, 100 - tail], axis=0)


def bootstrap_fits(compute, values, n_boot: int, rng: np.random.Generator, paired_with=None):
    """Cluster bootstrap over seeds: `n_boot` resamples of the seed indices, with replacement, each ladder refitted.
    `paired_with` = (compute, values) of the other arm, paired by seed index: the same resamples for it, and the
    pair (this arm's BootstrapFits, the other's) is returned."""
    values = np.asarray(values, float)
    seeds = rng.integers(0, values.shape[1], size=(n_boot, values.shape[1]))
    mine = BootstrapFits(fit_power_law(compute, values), fit_many(compute, resampled_means(values, seeds)))
    if paired_with is None:
        return mine
    other_compute, other_values = paired_with
    other_values = np.asarray(other_values, float)
    if other_values.shape[1] != values.shape[1]:
        raise ValueError("paired arms need the same seeds: the two value matrices differ in their seed columns")
    return mine, BootstrapFits(fit_power_law(other_compute, other_values),
                               fit_many(other_compute, resampled_means(other_values, seeds)))
