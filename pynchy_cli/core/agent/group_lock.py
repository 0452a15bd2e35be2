"""One agent run per group at a time, across processes: `pynchy serve`'s workers and
`pynchy agent run` beside them take the group's lock file (DATA/locks/group-ID.lock) for
the whole run. The kernel releases a flock when its holder dies, so a crash leaves no stale
lock. Waiting polls without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from pynchy_cli.core.file_modes import PRIVATE_FILE, private_dir
from pynchy_cli.core.groups import Group
from pynchy_cli.core.paths import Paths

POLL_SECONDS = 0.2


def lock_path(paths: Paths, group_id: int) -> Path:
    return paths.data_dir / "locks" / f"group-{group_id}.lock"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def group_run_lock(
    paths: Paths, group: Group, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold the group's run lock. When another process (or worker) holds it, `on_wait` is
    called once and this waits until it is free; cancelling the wait gives up."""
    fd = _open(paths, group.id)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            while not _try_lock(fd):
                await asyncio.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def group_busy(paths: Paths, group_id: int) -> bool:
    """Whether a live process holds the group's run lock now."""
    fd = _open(paths, group_id)
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


def _open(paths: Paths, group_id: int) -> int:
    path = lock_path(paths, group_id)
    private_dir(path.parent, quiet=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
