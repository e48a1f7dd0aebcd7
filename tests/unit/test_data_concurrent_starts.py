"""Starts that meet on one token cache: parallel multirun jobs, torchrun's ranks, a killed builder.

The concurrent cases run in real processes (multiprocessing spawn, as the tokenizing workers do), since
the lock they share is the operating system's.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import time

import numpy as np
import pytest
from helpers import CORPUS

from tinyx.config import DataConfig
from tinyx.data import cache, load_tokens


def _slowed_build(counter: str, seconds: float):
    """Make this process's builds count themselves in `counter` and take `seconds` longer."""
    import tinyx.data.build as build

    original = build.build_text_cache

    def slow_build(*args, **kwargs):
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(seconds)
        original(*args, **kwargs)

    build.build_text_cache = slow_build
    return original


def _first_start(corpus: str, cache_dir: str, counter: str, barrier, results=None):
    """load_tokens once `barrier` lets every start go, a build slowed so that each start looks the cache up
    before any has built it. In a child, the outcome goes to `results`; in the test's process, it is returned."""
    original = _slowed_build(counter, 0.3)
    barrier.wait()
    try:
        data = load_tokens(DataConfig(path=corpus, cache_dir=cache_dir))
        outcome = ("ok", data.cache_hit, np.asarray(data.train).tobytes())
    except BaseException as e:  # reported to the test, not lost in the child's stderr
        outcome = ("error", repr(e), b"")
    finally:
        import tinyx.data.build as build

        build.build_text_cache = original
    if results is None:
        return outcome
    results.put(outcome)


def _small_corpus(tmp_path) -> str:
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS.read_text()[:50_000])
    return str(path)


def test_two_first_starts_on_one_corpus_both_succeed_and_tokenize_once(tmp_path):
    # hydra/launcher=parallel starts a multirun's jobs at once on a cold cache: this process and a child.
    corpus, cache_dir, counter = _small_corpus(tmp_path), str(tmp_path / "cache"), str(tmp_path / "builds")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    child = ctx.Process(target=_first_start, args=(corpus, cache_dir, counter, barrier, results))
    child.start()
    outcomes = [_first_start(corpus, cache_dir, counter, barrier), results.get(timeout=120)]
    child.join(timeout=60)
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert len(open(counter).read().split()) == 1, "tokenized more than once"
    assert sorted(o[1] for o in outcomes) == [False, True]  # one built, the other waited and opened it
    assert outcomes[0][2] == outcomes[1][2]
    assert [p.name for p in (tmp_path / "cache" / "tokens").iterdir()] == [load_tokens(
        DataConfig(path=corpus, cache_dir=cache_dir)).cache_dir.name], "no lock file or build folder left"


def _killed_builder(corpus: str, cache_dir: str, counter: str) -> None:
    _slowed_build(counter, 600)
    load_tokens(DataConfig(path=corpus, cache_dir=cache_dir))


@pytest.mark.timeout(120)
def test_a_builder_killed_mid_build_blocks_no_later_start(tmp_path):
    # The lock is the kernel's (flock): it goes with the process that held it, whatever killed it.
    corpus, cache_dir, counter = _small_corpus(tmp_path), str(tmp_path / "cache"), tmp_path / "builds"
    builder = multiprocessing.get_context("spawn").Process(target=_killed_builder,
                                                           args=(corpus, cache_dir, str(counter)))
    builder.start()
    while not counter.exists() and builder.is_alive():
        time.sleep(0.05)
    assert builder.is_alive(), "the builder stopped before it held the lock"
    os.kill(builder.pid, signal.SIGKILL)
    builder.join()
    data = load_tokens(DataConfig(path=corpus, cache_dir=cache_dir))
    assert not data.cache_hit and len(data.train) == int(50_000 * 0.9)
    assert [p.name for p in data.cache_dir.parent.iterdir()] == [data.cache_dir.name]


def test_install_keeps_a_valid_cache_another_build_put_there(tmp_path):
    # A job that installed its cache is reading it: a second build of the same fingerprint must not replace it.
    data = load_tokens(DataConfig(path=str(CORPUS), cache_dir=str(tmp_path)))
    folder, files = data.cache_dir, {p.name: p.stat().st_ino for p in data.cache_dir.iterdir()}
    second_build = folder.parent / f".building-{folder.name}-second"
    shutil.copytree(folder, second_build)
    cache.install(second_build, folder)
    assert {p.name: p.stat().st_ino for p in folder.iterdir()} == files
    assert not second_build.exists()
    assert load_tokens(DataConfig(path=str(CORPUS), cache_dir=str(tmp_path))).cache_hit


def test_a_torchrun_rank_loads_its_data_without_a_collective(tmp_path, monkeypatch):
    # A rank waiting at a collective while another tokenizes runs into the process group's timeout (NCCL's
    # 10 minutes: about 12 GB of text): loading must wait on the cache's lock only.
    import torch.distributed as dist

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(dist, "is_initialized", lambda: True)

    def collective(*args, **kwargs):
        raise AssertionError("a collective while loading data")

    for name in ("barrier", "broadcast", "broadcast_object_list", "all_reduce", "all_gather_object"):
        monkeypatch.setattr(dist, name, collective)
    cfg = DataConfig(path=_small_corpus(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert not load_tokens(cfg).cache_hit and load_tokens(cfg).cache_hit
