"""A variant's verdict over a ladder: holds, grows, fades or undecided, and its direction (better / worse).

Read from a tinyx.tools.ladder.trend.Trend: the per-size differences with Holm's p over the sizes, the slope of the
difference per decade of compute (its t interval), and the extrapolated difference δ* at C* with its calibrated
interval. RULE says it in words, for the note under the ladder table. "Toward 0" means against the sign of the
difference: a variant better (δ < 0) whose δ rises with compute is fading. The unit tests run 1,000 A/A ladders
(variant = baseline, seed noise only; K = 4, S = 3) and check that at most 5% are declared holds, grows or fades
(measured: 1.1%). The rule is strict: with 3 seeds a gain constant at 0.02 on every size is called holds or grows
in ~9% of such ladders, as the extrapolated interval 10x beyond the largest size is ±0.034 wide.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyx.compare.stats import ALPHA, BETTER, WORSE
from tinyx.tools.ladder.trend import Trend

HOLDS, GROWS, FADES, UNDECIDED = "holds", "grows", "fades", "undecided"

RULE = (f"Verdict (variant - baseline, lower is better): holds = Δ at the largest size significant (paired/Welch t, "
        f"Holm-adjusted over the sizes, p < {ALPHA:g}) and the 95% interval of the extrapolated Δ on the same side of "
        f"0 all the way from the largest run to the target C* (it may shrink, but not to 0);\n"
        f"grows = holds, and the slope of Δ per decade of compute significantly away from 0 (95% t interval);\n"
        f"fades = Δ significant (Holm) at some size, the interval of Δ reaches 0 before C*, and the slope "
        f"significantly toward 0;\nundecided = anything else, including a ladder no power law fits (fewer than "
        f"three sizes).")


@dataclass(frozen=True)
class Verdict:
    """The verdict, its direction (BETTER / WORSE, None when nothing is significant) and why, in a few words."""

    name: str
    direction: str | None
    reason: str


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _slope_side(trend: Trend, sign: int) -> int:
    """+1: the slope significantly away from 0 for a difference of `sign`; -1: significantly toward 0; 0: neither."""
    if trend.slope is None:
        return 0
    low, high = sorted((trend.slope.ci_low * sign, trend.slope.ci_high * sign))  # in the difference's direction
    return 1 if low > 0 else -1 if high < 0 else 0


def _significant(trend: Trend) -> list[int]:
    """The sizes whose difference is significant after Holm's adjustment, in order."""
    return [k for k, p in enumerate(trend.holm_p) if p is not None and p < ALPHA]


def _direction(sign: int) -> str:
    return BETTER if sign < 0 else WORSE


def decide(trend: Trend) -> Verdict:
    """holds / grows / fades / undecided by RULE, with the direction of the difference it is about."""
    significant = _significant(trend)
    x = trend.extrapolation
    if not significant:
        return Verdict(UNDECIDED, None, "no size with a significant difference")
    if x is None:
        return Verdict(UNDECIDED, None, trend.note or "no power law fitted")
    last = len(trend.sizes) - 1
    sign = _sign(trend.sizes[last].delta) if last in significant else _sign(trend.sizes[significant[-1]].delta)
    side = _slope_side(trend, sign)
    excludes = (x.ci_low > 0 or x.ci_high < 0) and _sign(x.delta) == sign and x.zero_at is None
    if last in significant and excludes:
        name = GROWS if side > 0 else HOLDS
        return Verdict(name, _direction(sign), f"Δ* = {x.delta:+.4g} [{x.ci_low:+.4g}, {x.ci_high:+.4g}] at C*")
    if side < 0 and x.zero_at is not None:
        where = f"at C = {x.zero_at:.3g}" if x.zero_at is not None else "by C*"
        return Verdict(FADES, _direction(sign), f"the interval of Δ reaches 0 {where}")
    return Verdict(UNDECIDED, _direction(sign), "significant, but the extrapolation does not settle it")
