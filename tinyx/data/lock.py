"""One builder per token cache: an exclusive file lock beside the cache folder.

Concurrent starts on one corpus (a multirun's parallel jobs, torchrun's ranks, several nodes on one shared
cache) take turns: the first builds, the others wait on the lock and then open what it built. Waiting on a
lock is no collective, so no process group's timeout runs out however long the tokenizing takes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# A file system that cannot lock (some FUSE and old NFS mounts) or write (read-only, full): go on unlocked; at
# worst two starts both build (cache.install keeps the first), and a cache that cannot be written says so.
_NO_LOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC,
            errno.EDQUOT)


def lock_path(folder: Path) -> Path:
    return folder.parent / f".lock-{folder.name}"


@contextlib.contextmanager
def build_lock(folder: Path):
    """Hold the lock of `folder` (the cache it guards) for the block; the lock file is gone afterwards.

    flock is released by the kernel when its holder dies (a kill -9 or a crash): a killed builder never
    leaves a lock that blocks the next start; its lock file, left behind, is taken and removed by that start.
    """
    path = lock_path(folder)
    try:
        fd = _acquire(path, folder)
    except OSError as e:
        if e.errno not in _NO_LOCK:
            raise
        log.debug("no lock for the token cache %s (%s): building without one", folder, e)
        fd = None
    if fd is None:
        yield
        return
    try:
        yield
    finally:
        # Removed while held: a start that opened this file meanwhile finds it unlinked once it gets the lock,
        # and takes a fresh one (see _acquire), so no two starts ever hold locks on different files at once.
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _acquire(path: Path, folder: Path) -> int:
    """An open descriptor of the lock file at `path`, exclusively locked (waiting for its holder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another process to finish building the token cache %s", folder)
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed it while this start waited: lock the current one


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)
