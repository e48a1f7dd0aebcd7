"""Reading one run directory as compare sees it: its config, status, evaluations, throughput, and the records that
decide which arm it belongs to and whether its seeds pair (provenance.json's data content, summary.json's
data_order: tinyx.rundir.records)."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyx.compare.extras import evaluation_extras
from tinyx.rundir import contract, records
from tinyx.rundir.contract import FLOPS_PER_TOKEN, METRICS_FILE, SUMMARY_FILE, VAL_BPB, VAL_LOSS, WORLD_SIZE

SEED_KEY = "seed"
COMPLETED = records.COMPLETED
TIME_TO_TARGET = "time_to_target"
# Not a config key: what the data is (provenance.json's data.content), which tells arms apart where only where
# the data lives differs (these keys, machine settings that compare otherwise ignores).
DATA_CONTENT = "data content"
DATA_LOCATION_KEYS = ("data.path", "data.tokenizer_path", "data.val_path")


@dataclass
class RunResult:
    """One run directory as compare reads it."""

    path: Path
    config: dict[str, Any]  # flat `a.b.c` keys
    status: str  # summary.json's, or "incomplete" without one (killed, or still running)
    step: int  # the last step it logged
    summary: dict[str, Any]  # summary.json as written ({} without one)
    curves: dict[str, list[tuple[int, float]]]  # per validation metric: (step, value) of every evaluation
    tokens_per_second: float | None
    params: float | None
    wall_seconds: float | None
    seconds_to_target: float | None = None  # wall time at the first evaluation <= the target, if reached
    commit: str | None = None  # the git commit of the code that trained it (provenance.json), if known
    overrides: list[str] | None = None  # the command line's overrides (.hydra/overrides.yaml), if any
    finished_at: float = 0.0  # when summary.json was written (its mtime): the newest completed run is kept
    data: dict[str, Any] = field(default_factory=dict)  # provenance.json's data record ({} without one)
    extras: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> evaluation metrics beyond the loss
    eval_times: list[tuple[int, float]] = field(default_factory=list)  # (step, wall_seconds) of every evaluation
    flops_per_token: float | None = None  # provenance.json's; None for a run older than the record
    world_size: int = 1  # processes that each trained a batch a step (provenance.json's; 1 for older runs)

    @property
    def seed(self):
        return self.config.get(SEED_KEY)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def data_order(self) -> str | None:
        """summary.json's: equal for two runs exactly when they drew the same windows (tinyx.rundir.records)."""
        order = self.summary.get("data_order")
        return order if isinstance(order, str) else None

    @property
    def data_content(self) -> str | None:
        """What the data is, wherever it was read from (tinyx.rundir.data_record.data_content); None for older runs."""
        content = self.data.get("content")
        return content if isinstance(content, str) else None

    def data_label(self) -> str:
        """`<content digest> (<corpus file>, <tokenizer>)`: an arm's data, named."""
        corpus = Path(str(self.data.get("corpus") or "")).name
        named = ", ".join(str(x) for x in (corpus, self.data.get("tokenizer")) if x)
        return f"{(self.data_content or '')[:8]} ({named})" if named else (self.data_content or "")[:8]

    @property
    def tokens_per_step(self) -> int:
        """Tokens one optimizer step trains on, every process's together (batch_size x grad_accum x block_size x
        world size; a run older than the world-size record counts as one process)."""
        c = self.config
        per_process = int(c.get("train.batch_size", 1)) * int(c.get("train.grad_accum", 1))
        return per_process * int(c.get("model.block_size", 1)) * self.world_size

    def value(self, metric: str, at_step: int | None) -> float | None:
        """The metric of this run (at `at_step`: from the evaluations up to that step); None if it has none."""
        if metric == TIME_TO_TARGET:
            return self.seconds_to_target
        name, best = metric.removesuffix("_best"), metric.endswith("_best")
        curve = self.curves.get(name, [])
        if at_step is not None:
            curve = [(s, v) for s, v in curve if s <= at_step]
            return (min(v for _, v in curve) if best else curve[-1][1]) if curve else None
        written = _finite(self.summary.get(metric))  # summary.json's own figure, when the run wrote one
        if written is not None and self.completed:
            return written
        return (min(v for _, v in curve) if best else curve[-1][1]) if curve else None



# ---------------------------------------------------------------- reading runs
def comparable(value) -> str:
    """A recorded value (a config value, a seed: lists, dicts and None included) as a string that is equal for two
    values exactly when they are, so it can key a dict."""
    return json.dumps(value, sort_keys=True)


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _first(*values):
    return next((v for v in values if v is not None), None)


def _read_overrides(path: Path) -> list[str] | None:
    try:
        from omegaconf import OmegaConf

        overrides = OmegaConf.to_container(OmegaConf.load(path / contract.HYDRA_OVERRIDES_FILE))
    except Exception:  # a run started from Python has none; a broken file names nothing
        return None
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


def _read_summary(path: Path, warn) -> dict[str, Any]:
    try:
        data = json.loads((path / SUMMARY_FILE).read_text())
    except OSError:
        return {}
    except ValueError:
        warn(f"{path / SUMMARY_FILE} is not valid JSON: figures taken from {METRICS_FILE}.")
        return {}
    return data if isinstance(data, dict) else {}


def read_run(path: Path, warn, target: float | None = None) -> RunResult | None:
    """A run's figures from its summary and metrics (every evaluation, for --at-step and the curves)."""
    from tinyx.config import flatten_config

    try:
        config = flatten_config(contract.read_config(path))
    except Exception as e:
        warn(f"{contract.config_path(path)} is unreadable ({type(e).__name__}): run skipped.")
        return None
    rows = contract.read_metrics(path, on_bad_line=lambda number, line: warn(
        f"{path / METRICS_FILE} line {number} is not a JSON object ({line[:40]!r}...): line skipped."))
    curves = {name: [(int(r["step"]), v) for r in rows if "step" in r and (v := _finite(r.get(name))) is not None]
              for name in (VAL_LOSS, VAL_BPB)}
    summary = _read_summary(path, warn)
    throughput = [v for r in rows if (v := _finite(r.get("tokens_per_second"))) is not None]
    seconds_to_target = None
    if target is not None:
        seconds_to_target = next((_finite(r.get("wall_seconds")) for r in rows
                                  if (v := _finite(r.get(VAL_LOSS))) is not None and v <= target), None)
    last_step = max((int(r["step"]) for r in rows if isinstance(r.get("step"), int)), default=0)
    provenance = contract.read_provenance(path) or {}
    data = provenance.get("data")
    world_size = provenance.get(WORLD_SIZE)
    eval_times = [(int(r["step"]), t) for r in rows if isinstance(r.get("step"), int) and
                  (VAL_LOSS in r or VAL_BPB in r) and (t := _finite(r.get("wall_seconds"))) is not None]
    return RunResult(
        path=path, config=config, status=str(summary.get("status", "incomplete")),
        step=max(last_step, int(summary.get("step") or 0)), summary=summary, curves=curves,
        tokens_per_second=_first(_finite(summary.get("tokens_per_second")),
                                 statistics.median(throughput) if throughput else None),
        params=_finite(summary.get("params")), wall_seconds=_finite(summary.get("wall_seconds")),
        seconds_to_target=seconds_to_target, commit=contract.git_commit(path), overrides=_read_overrides(path),
        finished_at=(path / SUMMARY_FILE).stat().st_mtime if summary else 0.0,
        data=data if isinstance(data, dict) else {}, extras=evaluation_extras(rows), eval_times=eval_times,
        flops_per_token=_finite(provenance.get(FLOPS_PER_TOKEN)),
        world_size=world_size if isinstance(world_size, int) and world_size > 0 else 1)


def commit_warning(runs: list[RunResult]) -> str | None:
    """One warning when the runs' code came from different git commits (runs without provenance not counted).

    A difference between arms is then not only the config's: the code changed under them too.
    """
    commits = Counter(r.commit for r in runs if r.commit is not None)
    if len(commits) < 2:
        return None
    listed = ", ".join(f"{c[:12]} ({n} run{'s' if n > 1 else ''})" for c, n in commits.most_common())
    return (f"the runs come from {len(commits)} git commits: {listed}. Differences may come from code changes, "
            f"not only from the config: rerun the arms on one commit to compare like with like.")



def data_warning(groups: list[list[RunResult]]) -> str | None:
    """One warning when runs grouped into one arm read their data from different places and some of them do not
    record what it is (run before tinyx recorded it): they may be two corpora or tokenizers counted as one arm."""
    merged = [(g, k) for g in groups for k in DATA_LOCATION_KEYS if len({str(r.config.get(k)) for r in g}) > 1
              and any(r.data_content is None for r in g)]
    if not merged:
        return None
    keys = sorted({k for _, k in merged})
    runs = sorted({str(r.path) for g, _ in merged for r in g if r.data_content is None})
    return (f"{', '.join(keys)} differ between runs of one arm, and {len(runs)} of them ({', '.join(runs[:3])}"
            f"{', ...' if len(runs) > 3 else ''}) do not record what their data is (provenance.json's data.content, "
            f"written since tinyx recorded it): they count as one arm even if they trained different corpora or "
            f"tokenizers. Rerun them with this tinyx, or compare them separately.")
