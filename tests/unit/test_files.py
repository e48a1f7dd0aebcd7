"""tinyx.common.files: atomic writes and the writable probe hold when processes race on one file or folder."""

from __future__ import annotations

import threading

import pytest

from tinyx.common.errors import ConfigError
from tinyx.common.files import atomic_write_text, check_writable, is_temporary


def _at_once(n: int, fn) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            for _ in range(50):
                fn(i)
        except BaseException as e:  # noqa: BLE001 (collected, asserted below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_probing_one_directory_from_many_writers_at_once_never_fails(tmp_path):
    # Two sweep workers probe `.` at the same instant: a fixed probe name made one of them fail.
    assert _at_once(8, lambda i: check_writable(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []  # no probe left behind


def test_writers_of_one_file_at_once_all_succeed_and_leave_one_whole_file(tmp_path):
    target = tmp_path / "trials.csv"
    assert _at_once(8, lambda i: atomic_write_text(target, f"writer {i}\n" * 1000)) == []
    lines = set(target.read_text().splitlines())
    assert len(lines) == 1 and len(target.read_text().splitlines()) == 1000  # one writer's file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    from tinyx.common.files import atomic_write

    with pytest.raises(OSError):
        atomic_write(tmp_path / "summary.json", broken)
    assert list(tmp_path.iterdir()) == []
    assert is_temporary(tmp_path / ".summary.json.abc123.tmp") and not is_temporary(tmp_path / "summary.json")


def test_an_unwritable_directory_is_one_error_naming_the_setting(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"output directory .*a_file/run is not writable .* hydra.run.dir=\.\.\."):
        check_writable(blocker / "run")
