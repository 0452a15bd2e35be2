"""Runtimes whose wait() polls: remembered exit codes, the poll loop, and a base class.

Polling instead of a blocking wait: a wait request to podman's or Docker's API that a client
timeout cuts keeps waiting inside the service until the container exits, one per call, and
Apple's `container` CLI has no wait at all.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from pynchy_cli.core.runtimes.base import ContainerHandle
from pynchy_cli.core.runtimes.common import EXIT_GONE


class ExitCodes:
    """Exit codes of containers this runtime stopped and removed, so wait() can still answer."""

    def __init__(self, size: int = 512):
        self._codes: OrderedDict[str, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, keys: Iterable[str], code: int) -> None:
        with self._lock:
            for key in keys:
                self._codes[key] = code
                self._codes.move_to_end(key)
            while len(self._codes) > self._size:
                self._codes.popitem(last=False)

    def get(self, *keys: str) -> int | None:
        with self._lock:
            for key in keys:
                if key in self._codes:
                    return self._codes[key]
        return None


def poll_exit(
    exit_code: Callable[[], int | None],
    timeout: float | None,
    *,
    interval: float = 0.02,
    max_interval: float = 0.25,
) -> int | None:
    """Call `exit_code` (None while running) until it answers or `timeout` seconds pass;
    the pause between calls starts at `interval` and doubles up to `max_interval`."""
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    delay = interval
    while True:
        code = exit_code()
        if code is not None:
            return code
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(delay, remaining))
        else:
            time.sleep(delay)
        delay = min(delay * 2, max_interval)


class PollingRuntime:
    """What a runtime that polls for exit codes shares: wait(), the memory of the exit codes
    of containers it removed, and cleanup_orphans() over list_pynchy().

    A subclass gives the rest of the Runtime protocol (name, isolated, start, stop, logs,
    remove, list_pynchy) and two steps: _exit_code (None while running) and _remove_orphan.
    """

    poll_interval = 0.02  # seconds between the first polls of wait(), doubled each time
    max_poll_interval = 0.25

    def __init__(self) -> None:
        self._exits = ExitCodes()

    def _reach(self) -> contextlib.AbstractContextManager[None]:
        """Around each engine call: where a subclass turns 'the engine is not there' into
        one line with a hint."""
        return contextlib.nullcontext()

    def _exit_code(self, handle: ContainerHandle) -> int | None:
        """The container's exit code, None while it runs (_remembered_exit once it is gone)."""
        raise NotImplementedError

    def _remove_orphan(self, name: str) -> bool:
        """Remove the container `name`; False if it was already gone."""
        raise NotImplementedError

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    def _remember_exit(self, code: int, *keys: str) -> None:
        self._exits.put(keys, code)

    def _remembered_exit(self, handle: ContainerHandle) -> int:
        """The exit code of a container removed before wait() read it: the one stop()
        remembered, else EXIT_GONE."""
        code = self._exits.get(handle.id, handle.name)
        return EXIT_GONE if code is None else code

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        with self._reach():
            return poll_exit(
                lambda: self._exit_code(handle),
                timeout,
                interval=self.poll_interval,
                max_interval=self.max_poll_interval,
            )

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        return [
            name
            for name, run_id, _state in self.list_pynchy()
            if run_id not in keep and self._remove_orphan(name)
        ]
