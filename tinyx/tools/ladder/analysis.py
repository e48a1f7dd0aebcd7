"""A ladder's numbers from its finished runs: per arm the fit L(C) = E + A*C^-alpha with 95% intervals and its band,
per variant the trend (tinyx.tools.ladder.trend: per-size difference, slope, extrapolation) and the verdict.

The arms' intervals use the trend's parametric bootstrap (the seed variance pooled over the sizes, noise added to the
fitted size means, every replicate refitted, the percentiles widened by t(df)/z): resampling 3 seeds under-covers
(tests/unit/test_ladder_stats.py measures both)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyx.tools.ladder import powerlaw, trend, verdict
from tinyx.tools.ladder.runs import ArmResults, paired

GRID_POINTS = 60  # the plots' compute grid, from the smallest run to the target
SEED = 0  # the bootstrap's: the same runs give the same report


@dataclass
class ArmFit:
    name: str
    depths: list[int]
    params: list[int]
    compute: list[float]
    values: list[list[float]]
    means: list[float]
    sds: list[float | None]
    tokens: list[int] = field(default_factory=list)
    flops_per_token: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # mean wall time of a run at each size
    fit: powerlaw.PowerLaw | None = None
    no_fit: str = ""
    E_ci: tuple = (None, None)
    A_ci: tuple = (None, None)
    alpha_ci: tuple = (None, None)
    at_target: float | None = None
    at_target_ci: tuple = (None, None)
    curve: list[float] = field(default_factory=list)
    band: tuple = ((), ())


@dataclass
class SizeDelta:
    depth: int
    compute: float
    baseline_mean: float
    variant_mean: float
    delta: float
    ci_low: float | None
    ci_high: float | None
    p: float | None
    p_holm: float | None
    test: str


@dataclass
class VariantTrend:
    arm: str
    sizes: list[SizeDelta]
    slope: float | None
    slope_ci: tuple
    target_compute: float
    delta_at_target: float | None
    delta_at_target_ci: tuple
    zero_at: float | None
    verdict: str
    direction: str | None
    reason: str
    note: str
    curve: list[float] | None = None
    band: tuple = ((), ())


@dataclass
class Ladder:
    metric: str
    baseline: str
    target: float  # multiple of the largest run's compute
    target_compute: float
    grid: list[float]
    arms: list[ArmFit]
    variants: list[VariantTrend]
    rule: str = verdict.RULE


def _arm(res: ArmResults) -> trend.Arm:
    return trend.Arm(np.asarray(res.compute, float), np.asarray(res.values, float))


def _sd(row: list[float]) -> float | None:
    vals = [v for v in row if not math.isnan(v)]
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else None


def fit_arm(res: ArmResults, grid: np.ndarray, target: float, n_boot: int, rng) -> ArmFit:
    """The arm's law, its parameters' and the band's calibrated 95% intervals (parametric bootstrap)."""
    a = _arm(res)
    means = powerlaw.size_means(a.values)
    out = ArmFit(res.arm.name, res.depths, res.params, res.compute, res.values, list(means),
                 [_sd(r) for r in res.values], res.tokens, res.flops_per_token,
                 [res.seconds(k) for k in range(len(res.depths))])
    try:
        out.fit = powerlaw.fit_power_law(a.compute, a.values)
    except powerlaw.FitError as error:
        out.no_fit = str(error)
        return out
    var, _, _, df = trend.noise_model(a, a, False)
    noise, _ = trend.noise_draws(var, var, np.zeros_like(var), n_boot, rng)
    draws = powerlaw.fit_many(a.compute, out.fit.predict(a.compute)[None, :] + noise)
    for name in ("E", "A", "alpha"):
        point = np.array([getattr(out.fit, name)])
        low, high = trend.calibrated_interval(point, getattr(draws, name)[:, None], df)[:, 0]
        setattr(out, f"{name}_ci", (float(low), float(high)))
    curve = out.fit.predict(grid)
    low, high = trend.calibrated_interval(curve, draws.predict(grid), df)
    out.curve, out.band = list(curve), (list(low), list(high))
    out.at_target = float(out.fit.predict(target))
    t_low, t_high = trend.calibrated_interval(np.array([out.at_target]), draws.predict(np.array([target])), df)[:, 0]
    out.at_target_ci = (float(t_low), float(t_high))
    return out


def _sizes(base: ArmFit, var: ArmFit, tr: trend.Trend) -> list[SizeDelta]:
    return [SizeDelta(depth, base.compute[k], base.means[k], var.means[k], d.delta, d.ci_low, d.ci_high, d.p,
                      tr.holm_p[k], d.test or d.note) for k, (depth, d) in enumerate(zip(base.depths, tr.sizes))]


def judge_variant(base_res: ArmResults, var_res: ArmResults, base: ArmFit, var: ArmFit, grid: np.ndarray,
                  target: float, n_boot: int, rng) -> VariantTrend:
    """The variant's trend against the baseline, its verdict, and the band of the fits' difference on the grid."""
    a_b, a_v = _arm(base_res), _arm(var_res)
    is_paired = all(paired(base_res, var_res, k) for k in range(len(base_res.depths)))
    tr = trend.trend(a_b, a_v, is_paired, target=target, n_boot=n_boot, rng=rng)
    v = verdict.decide(tr)
    x = tr.extrapolation
    out = VariantTrend(var.name, _sizes(base, var, tr), tr.slope.per_decade if tr.slope else None,
                       (tr.slope.ci_low, tr.slope.ci_high) if tr.slope else (None, None), target,
                       x.delta if x else None, (x.ci_low, x.ci_high) if x else (None, None), x.zero_at if x else None,
                       v.name, v.direction, v.reason, tr.note)
    if x is not None:
        model = trend.noise_model(a_b, a_v, is_paired)
        noise = trend.noise_draws(*model[:3], n_boot, rng)
        rows = trend.band(a_b.compute, powerlaw.size_means(a_b.values), a_v.compute, powerlaw.size_means(a_v.values),
                          noise, model[3], grid)
        out.curve, out.band = list(rows[0]), (list(rows[1]), list(rows[2]))
    return out


def analyse(results: list[ArmResults], opts) -> Ladder:
    """Fits, trends and verdicts of a ladder's results (the first arm the baseline); `opts`: target, boot, metric."""
    largest = max(c for r in results for c in r.compute)
    smallest = min(c for r in results for c in r.compute)
    target = opts.target * largest
    grid = np.geomspace(smallest, target, GRID_POINTS)
    rng = np.random.default_rng(SEED)
    fits = [fit_arm(r, grid, target, opts.boot, rng) for r in results]
    variants = [judge_variant(results[0], r, fits[0], f, grid, target, opts.boot, rng)
                for r, f in zip(results[1:], fits[1:])]
    return Ladder(opts.metric, fits[0].name, opts.target, target, list(grid), fits, variants)
