"""Judging arms against the baseline: the paired or Welch test (paired when the runs' records say a seed gave
both arms the same batches: tinyx.rundir.records), Holm's adjustment, the verdict, the rank (shared by arms whose
difference is not significant)."""

from __future__ import annotations

from dataclasses import replace

from tinyx.common.errors import CompareError
from tinyx.compare import stats
from tinyx.compare.arms import Arm
from tinyx.compare.runs import RunResult, comparable
from tinyx.rundir import records


def _seed_range(arm: Arm) -> str:
    return ",".join(map(str, arm.seeds))


def seed_pairs(baseline: Arm, variant: Arm) -> list[tuple[RunResult, RunResult]]:
    """The runs of each seed both arms ran: what the pairing rule (tinyx.rundir.records) reads."""
    return records.seed_pairs(*({comparable(r.seed): r for r in arm.runs} for arm in (baseline, variant)))


def against_baseline(baseline: Arm, variant: Arm, alpha: float) -> stats.Difference:
    """The paired t-test when both arms ran the same seeds with the same data order, else Welch's, saying why."""
    differs = records.arms_order_differences(seed_pairs(baseline, variant))
    if differs:
        note = f"unpaired: {', '.join(differs)} differ, so a seed does not give both arms the same batches"
        return stats.difference(baseline.observations, variant.observations, False, note, 1 - alpha)
    if sorted(map(comparable, baseline.seeds)) != sorted(map(comparable, variant.seeds)):
        note = f"unpaired: seeds differ (baseline {_seed_range(baseline)}; this arm {_seed_range(variant)})"
        return stats.difference(baseline.observations, variant.observations, False, note, 1 - alpha)
    by_seed = {comparable(r.seed): v for r, v in zip(baseline.runs, baseline.observations)}
    paired_baseline = [by_seed[comparable(r.seed)] for r in variant.runs]
    paired = stats.difference(paired_baseline, variant.observations, True, "paired over seeds", 1 - alpha)
    welch = stats.difference(baseline.observations, variant.observations, False, "", 1 - alpha)
    if paired.ci_low is not None and welch.ci_low is not None:  # what pairing bought: the figure users ask for
        width, unpaired = paired.ci_high - paired.ci_low, welch.ci_high - welch.ci_low
        ratio = ("" if width == 0 or unpaired == 0 else f", {unpaired / width:.1f}x narrower" if unpaired >= width
                 else f", {width / unpaired:.1f}x wider: the arms share little seed noise, and pairing halves the "
                      f"degrees of freedom")
        paired = replace(paired, note=f"paired over seeds; CI width {width:.4g} against {unpaired:.4g} unpaired "
                                      f"(Welch, p {welch.p:.4g}){ratio}")
    return paired


def find_baseline(arms: list[Arm], name: str | None) -> Arm:
    """The arm --baseline names: its exact name, else the one arm whose name contains it; default the first."""
    if name is None:
        return arms[0]
    exact = [a for a in arms if a.name == name]
    matches = exact or [a for a in arms if name in a.name]
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(repr(a.name) for a in arms)
    how = "matches no arm" if not matches else f"matches {len(matches)} arms"
    raise CompareError(f"--baseline={name!r} {how}: pass one of {listed}.")


def judge(arms: list[Arm], alpha: float, min_effect: float) -> None:
    """Per arm its estimate; per variant the test against the baseline (arms[0]), Holm-adjusted, and a verdict."""
    baseline = arms[0]
    baseline.is_baseline = True
    for arm in arms:
        arm.estimate = stats.estimate(arm.observations, 1 - alpha)
    for arm in arms[1:]:
        arm.difference = against_baseline(baseline, arm, alpha)
        paired = arm.difference.test == stats.PAIRED
        arm.seeds_needed = stats.seeds_needed(arm.difference.delta, arm.difference.sd, paired, alpha)
        arm.seeds_no_difference = stats.seeds_for_no_difference(arm.difference.delta, arm.difference.sd, paired,
                                                                min_effect, alpha)
    for arm, p in zip(arms[1:], stats.holm([a.difference.p for a in arms[1:]])):
        arm.p_adjusted = p
        arm.verdict = stats.verdict(arm.difference, p, alpha, min_effect)
    shared_ranks(arms, alpha)


def shared_ranks(arms: list[Arm], alpha: float) -> None:
    """Each arm's rank by mean (1 = the lowest), shared by arms whose difference is not significant.

    Every pair of arms is tested (the test against_baseline picks), Holm-adjusted over all the pairs. In the order
    of the means, a pair that is not significant ties the two arms and every arm between them: ranks are a
    line, so two arms with different ranks differ significantly; two with one rank may still differ (a chain).
    Competition ranking: after two arms at 1, the next is 3.
    """
    order = sorted(arms, key=lambda a: a.estimate.mean)
    pairs = [(i, j) for i in range(len(order)) for j in range(i + 1, len(order))]
    adjusted = stats.holm([against_baseline(order[i], order[j], alpha).p for i, j in pairs])
    reach = list(range(len(order)))  # the last position each arm is tied with
    for (i, j), p in zip(pairs, adjusted):
        if p is None or p >= alpha:
            reach[i] = max(reach[i], j)
    start, end = 0, 0
    for position, arm in enumerate(order):
        if position > end:  # a new group: nothing before it reaches this far
            start = position
        end = max(end, reach[position])
        arm.rank = start + 1


def seed_differences(baseline: Arm, variant: Arm) -> list[float]:
    """What each seed of the variant says about Δ: variant - baseline of the same seed when the test was paired,
    else the variant's value - the baseline's mean (the dots of comparison_delta.png)."""
    if variant.difference is not None and variant.difference.test == stats.PAIRED:
        by_seed = {comparable(r.seed): v for r, v in zip(baseline.runs, baseline.observations)}
        return [v - by_seed[comparable(r.seed)] for r, v in zip(variant.runs, variant.observations)]
    mean = sum(baseline.observations) / len(baseline.observations)
    return [v - mean for v in variant.observations]
