"""How a study searches: the sampler that draws a trial's values, and the pruner that stops a bad trial early."""

from __future__ import annotations

from tinyx.config import SweepConfig


def make_sampler(sweep: SweepConfig):
    """The study's sampler, seeded per trial with sweep.seed + the trial's number: a study run in one go,
    continued after an interruption, or spread over workers draws each trial number's values alike,
    and two workers never draw alike (their trials' numbers differ)."""
    import optuna

    def seeded(seed: int):
        if sweep.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        # constant_liar: a parallel worker treats the others' running trials as bad, so they spread out.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.startup_trials, multivariate=True,
                                          constant_liar=True)

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def __init__(self):
            self.inner = seeded(sweep.seed)

        def before_trial(self, study, trial):
            self.inner = seeded(sweep.seed + trial.number)
            self.inner.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):
            return self.inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self.inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study, trial, state, values):
            self.inner.after_trial(study, trial, state, values)

    return TrialSeededSampler()


def make_pruner(sweep: SweepConfig, max_steps: int, eval_every: int):
    import optuna

    if sweep.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=sweep.pruner_startup_trials,
                                           n_warmup_steps=sweep.pruner_warmup_steps)
    if sweep.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=max_steps)
    return optuna.pruners.NopPruner()
